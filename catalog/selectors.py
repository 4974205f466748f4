"""Reads of the catalog. `price_lookup` is the one answer to "what does this SKU cost here, now"."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog import sql
from catalog.errors import NoPrice
from catalog.models import SKU, Channel, Price
from config.sql import Batch, Pending


def live_prices(at: datetime) -> QuerySet[Price]:
    """Price rows whose half-open window [valid_from, valid_to) contains `at`."""
    return Price.objects.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at), valid_from__lte=at)


def price_lookup(*, sku: SKU | int, channel: Channel | int, at: datetime | None = None) -> Price:
    """The price of a SKU on a channel at an instant, in one query.

    A channel's own price wins over the all-channels price (channel NULL sorts last);
    unified SKUs only ever have the all-channels price.
    """
    at = at or timezone.now()
    sku_id = sku if isinstance(sku, int) else sku.pk
    channel_id = channel if isinstance(channel, int) else channel.pk
    price = sql.live_prices([sku_id], channel_id, at).get(sku_id)
    if price is None:
        raise NoPrice(
            _("SKU %(sku)s has no price on channel %(channel)s at %(at)s.")
            % {"sku": sku_id, "channel": channel_id, "at": at.isoformat()},
            fields={"sku": [_("No live price.")]},
        )
    return price


def live_prices_for(*, skus: list[SKU], channel: Channel, at: datetime) -> dict[int, Price]:
    """`price_lookup` for many SKUs on one channel in one query: {sku id: price}, missing if none.
    Plain SQL (catalog.sql.live_prices): it runs on every order, and building the ORM query cost
    more Python than the database spends on it."""
    return sql.live_prices([s.pk for s in skus], channel.pk, at)


def live_prices_read(batch: Batch, *, skus: list[SKU], channel: Channel, at: datetime) -> Pending:
    """`live_prices_for` queued on `batch` (its `value` once the batch ran), so the order's other
    reads go to the database in the same round trip."""
    sku_ids = [s.pk for s in skus]
    if not sku_ids:
        return Pending.of({})
    return batch.read(*sql.live_prices_statement(sku_ids, channel.pk, at), sql.live_prices_from_rows)


@dataclass
class ConsistencyRow:
    sku: SKU
    prices: dict[str, Decimal] = field(default_factory=dict)  # channel code -> effective price

    @property
    def lowest(self) -> Decimal:
        return min(self.prices.values())

    @property
    def highest(self) -> Decimal:
        return max(self.prices.values())

    @property
    def difference(self) -> Decimal:
        return self.highest - self.lowest


# Layers above the catalog lower a price on the shelf (marketing's catalogue promotions). They say
# how here, from their app's ready(), so the report compares what a customer pays on each channel
# while the catalog imports nothing above it. Each entry, called with the instant, answers an
# adjuster with `candidates()` (SKUs whose shelf price may differ across channels because of it)
# and `adjust(prices)` (prices: {sku id: {channel id: amount}}, changed in place).
SHELF_PRICE_ADJUSTERS: list = []


def price_consistency_report(*, at: datetime) -> list[ConsistencyRow]:
    """SKUs whose effective prices (after catalogue promotions) differ across active channels at
    `at`, widest gap first.

    Only a SKU with a live channel-specific price, or under a promotion limited to some channels,
    can disagree, so we start from those (bounded by the number of channel prices and promoted
    SKUs, not the size of the catalog).
    """
    channels = list(Channel.objects.filter(is_active=True).order_by("code"))
    live = live_prices(at)
    candidate_ids = set(live.filter(channel__isnull=False).values_list("sku_id", flat=True))
    adjusters = [make(at) for make in SHELF_PRICE_ADJUSTERS]
    for adjuster in adjusters:
        candidate_ids |= set(adjuster.candidates())
    rows: dict[int, dict[int | None, Decimal]] = {}
    skus: dict[int, SKU] = {}
    for price in live.filter(sku_id__in=candidate_ids).select_related("sku").order_by("valid_from"):
        rows.setdefault(price.sku_id, {})[price.channel_id] = price.amount
        skus[price.sku_id] = price.sku
    effective: dict[int, dict[int, Decimal]] = {}
    for sku_id, by_channel in rows.items():
        default = by_channel.get(None)
        effective[sku_id] = {
            channel.pk: by_channel.get(channel.pk, default)
            for channel in channels
            if by_channel.get(channel.pk, default) is not None
        }
    for adjuster in adjusters:
        adjuster.adjust(effective)
    report = []
    codes = {channel.pk: channel.code for channel in channels}
    for sku_id, by_channel in effective.items():
        if len(set(by_channel.values())) > 1:
            report.append(
                ConsistencyRow(sku=skus[sku_id], prices={codes[c]: a for c, a in by_channel.items()})
            )
    report.sort(key=lambda row: (-row.difference, row.sku.code))
    return report
