"""Every write to the catalog and price list goes through here, with the pricing rules."""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.choices import ChannelKind, PriceAction
from catalog.errors import BelowMarginFloor, PriceOverlap, PriceRefused, UnifiedPriceRefused
from catalog.models import SKU, Category, Channel, Price, PriceChange
from catalog.policies import price_set_require
from config.money import quantize_money
from integrations.authentication import actor as person_of
from integrations.outbox import price_event


def dealer_floor(*, sku: SKU, channel: Channel) -> Decimal | None:
    """Lowest price that leaves a dealer channel its margin: dealer cost x (1 + floor%)."""
    if channel.kind != ChannelKind.DEALER or sku.dealer_cost is None:
        return None
    if channel.margin_floor_percent is None:
        return None
    return quantize_money(sku.dealer_cost * (1 + channel.margin_floor_percent / 100))


def _check_margin_floor(*, sku: SKU, channel: Channel | None, amount: Decimal) -> None:
    # A price for all channels applies to every dealer channel too, so it must clear each floor.
    if channel is not None:
        channels = [channel]
    else:
        channels = list(Channel.objects.filter(kind=ChannelKind.DEALER, is_active=True))
    for dealer in channels:
        floor = dealer_floor(sku=sku, channel=dealer)
        if floor is not None and amount < floor:
            message = _(
                "%(amount)s is below the margin floor of %(channel)s for %(sku)s: dealer cost "
                "%(cost)s + %(percent)s%% margin = %(floor)s."
            ) % {
                "amount": amount,
                "channel": dealer.name,
                "sku": sku.code,
                "cost": sku.dealer_cost,
                "percent": dealer.margin_floor_percent,
                "floor": floor,
            }
            raise BelowMarginFloor(message, fields={"amount": [message]})


# No price of this business starts before this instant: an earlier date is a typo (1800 for 2018),
# and Asia/Shanghai's offset before 1901 (local mean time, +08:05:43) is not valid RFC 3339.
PRICE_DATES_FROM = datetime(2000, 1, 1, tzinfo=UTC)


def _check_window_dates(*, valid_from: datetime, valid_to: datetime | None, now: datetime) -> None:
    for name, value in (("valid_from", valid_from), ("valid_to", valid_to)):
        if value is not None and value < PRICE_DATES_FROM:
            message = _("Prices cannot be dated before 2000-01-01.")
            raise PriceRefused(message, fields={name: [message]})
    if valid_to is not None and valid_to <= now:
        message = _("This window ends in the past, so the price would never apply.")
        raise PriceRefused(message, fields={"valid_to": [message]})


def _overlapping(*, sku: SKU, channel: Channel | None, valid_from: datetime, valid_to: datetime | None):
    rows = Price.objects.filter(sku=sku, channel=channel).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=valid_from)
    )
    if valid_to is not None:
        rows = rows.filter(valid_from__lt=valid_to)
    return list(rows.order_by("valid_from"))


def _window(price: Price) -> str:
    end = timezone.localtime(price.valid_to).strftime("%Y-%m-%d %H:%M") if price.valid_to else "…"
    return f"{timezone.localtime(price.valid_from).strftime('%Y-%m-%d %H:%M')} – {end}"


@transaction.atomic
def price_set(
    *,
    sku: SKU,
    channel: Channel | None,
    amount: Decimal,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    actor,
    now: datetime | None = None,
) -> Price:
    """Add a price version for a SKU on a channel (None: all channels), checking every rule.

    Changing a price is the usual case: an open-ended price of the same scope that started
    earlier is closed where the new one starts. Any other overlap is refused, so at most one
    price per scope is live at any instant. `actor` (pages and API): refused unless
    catalog.policies lets them set this channel's prices. `now`: the instant a window must not
    end before (default: now).
    """
    price_set_require(actor, channel)
    user = person_of(actor)
    now = now or timezone.now()
    valid_from = valid_from or now
    if timezone.is_naive(valid_from) or (valid_to is not None and timezone.is_naive(valid_to)):
        raise PriceRefused(
            _("Price windows need a time zone."), fields={"valid_from": [_("Naive datetime.")]}
        )
    _check_window_dates(valid_from=valid_from, valid_to=valid_to, now=now)
    if amount is None or Decimal(amount) <= 0:
        raise PriceRefused(
            _("A price must be greater than zero."), fields={"amount": [_("Must be greater than zero.")]}
        )
    amount = quantize_money(amount)
    if valid_to is not None and valid_to <= valid_from:
        raise PriceRefused(
            _("The window ends before it starts."), fields={"valid_to": [_("Must be after valid from.")]}
        )
    # Serialise price writes per SKU: the overlap check below must see every committed row.
    sku = SKU.objects.select_for_update().get(pk=sku.pk)
    if sku.unified and channel is not None:
        message = _(
            "%(sku)s is sold at one price on every channel; set its price for all channels, "
            "not for %(channel)s."
        ) % {"sku": sku.code, "channel": channel.name}
        raise UnifiedPriceRefused(message, fields={"channel": [message]})
    _check_margin_floor(sku=sku, channel=channel, amount=amount)

    overlapping = _overlapping(sku=sku, channel=channel, valid_from=valid_from, valid_to=valid_to)
    superseded = None
    if len(overlapping) == 1 and overlapping[0].valid_to is None and overlapping[0].valid_from < valid_from:
        superseded = overlapping[0]
    elif overlapping:
        scope = channel.name if channel else _("all channels")
        message = _(
            "%(sku)s already has a price for %(scope)s in %(windows)s; two prices cannot be live at once."
        ) % {"sku": sku.code, "scope": scope, "windows": ", ".join(_window(p) for p in overlapping)}
        raise PriceOverlap(message, fields={"valid_from": [message]})

    if superseded is not None:
        superseded.valid_to = valid_from
        superseded.save(update_fields=["valid_to"])
    price = Price(
        sku=sku, channel=channel, amount=amount, valid_from=valid_from, valid_to=valid_to, created_by=user
    )
    price.full_clean()
    price.save()
    PriceChange.objects.create(
        price=price,
        sku=sku,
        channel=channel,
        action=PriceAction.SET,
        old_amount=superseded.amount if superseded else None,
        new_amount=amount,
        valid_from=valid_from,
        valid_to=valid_to,
        changed_by=user,
    )
    price_event(price, old_amount=superseded.amount if superseded else None)
    return price


@transaction.atomic
def price_end(*, price: Price, at: datetime | None = None, actor) -> Price:
    """Close a price's window at `at` (default now): from then the SKU has no price in that scope."""
    at = at or timezone.now()
    price = Price.objects.select_for_update().get(pk=price.pk)
    price_set_require(actor, price.channel)
    user = person_of(actor)
    if at <= price.valid_from or (price.valid_to is not None and at >= price.valid_to):
        raise PriceRefused(
            _("A price can only be ended inside its window (%(window)s).") % {"window": _window(price)},
            fields={"valid_to": [_("Outside the price's window.")]},
        )
    old_to = price.valid_to
    price.valid_to = at
    price.save(update_fields=["valid_to"])
    PriceChange.objects.create(
        price=price,
        sku_id=price.sku_id,
        channel_id=price.channel_id,
        action=PriceAction.ENDED,
        old_amount=price.amount,
        new_amount=None,
        valid_from=price.valid_from,
        valid_to=old_to if old_to else at,
        changed_by=user,
    )
    return price


def _channel_prices_blocking_unified(sku_ids, at: datetime):
    """Channel-specific prices live now or later: they would break one product, one price."""
    return (
        Price.objects.filter(sku_id__in=sku_ids, channel__isnull=False)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at))
        .select_related("sku", "channel")
        .order_by("sku__code", "channel__code")
    )


@dataclass
class UnifiedResult:
    changed: int
    unchanged: int


@transaction.atomic
def sku_set_unified(*, skus, unified: bool, actor) -> UnifiedResult:
    """Mark SKUs as one product, one price (or unmark them); all or none.

    Marking is refused while any of them has a channel-specific price live now or later,
    and the message lists them so HQ can end those prices first.
    """
    price_set_require(actor, None)  # the all-channels price's setter: HQ
    sku_ids = [s.pk if isinstance(s, SKU) else s for s in skus]
    if unified:
        blocking = list(_channel_prices_blocking_unified(sku_ids, timezone.now())[:20])
        if blocking:
            listed = "; ".join(f"{p.sku.code} on {p.channel.name} ({p.amount})" for p in blocking)
            message = _(
                "These SKUs still have channel-specific prices; end them before marking the SKUs "
                "one product, one price: %(listed)s"
            ) % {"listed": listed}
            raise UnifiedPriceRefused(message, fields={"unified": [message]})
    changed = SKU.objects.filter(pk__in=sku_ids).exclude(unified=unified).update(unified=unified)
    return UnifiedResult(changed=changed, unchanged=len(sku_ids) - changed)


def category_set_unified(*, category: Category, unified: bool, actor) -> UnifiedResult:
    """Bulk flag every SKU in a category and its sub-categories (the brand's pilot)."""
    category_ids = [category.pk]
    frontier = [category.pk]
    while frontier:  # one query per tree level, never per category
        frontier = list(Category.objects.filter(parent_id__in=frontier).values_list("pk", flat=True))
        category_ids.extend(frontier)
    sku_ids = list(SKU.objects.filter(product__category_id__in=category_ids).values_list("pk", flat=True))
    return sku_set_unified(skus=sku_ids, unified=unified, actor=actor)
