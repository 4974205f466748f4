"""Every write to an order: create, pay, cancel. Store-side steps (accept, reject, ship, pickup)
are in orders/fulfilment.py; where an order goes is decided by orders/routing.py.

Hot path (flash sales): an order is a handful of statements and the stock rows are touched
last, in SKU order, so two orders never deadlock and a hot row is locked only until COMMIT.
"""

import hashlib
import json
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from catalog.errors import NoPrice
from catalog.models import SKU, Channel
from catalog.selectors import live_prices_read
from config.errors import DomainError, IllegalTransition
from config.money import quantize_money
from config.sql import Batch, fetch
from integrations.models import OutboxEvent
from integrations.outbox import order_event, order_payload
from marketing.pricing import codes_read, price_basket
from marketing.services import redeem_codes, release_codes, wallet_balance, wallet_refund, wallet_spend
from marketing.tenders import tender_plan
from members.models import Member, PointsEntry
from members.services import points_earn, points_redeem, points_refund, points_reverse
from orders import reactions
from orders.choices import (
    EXTERNAL_METHODS,
    MEMBER_TENDERS,
    DeliveryMethod,
    OrderStatus,
    Origin,
    PaymentKind,
    PaymentMethod,
    ShareParty,
)
from orders.errors import (
    IdempotencyConflict,
    NoFulfilmentLocation,
    OrderRefused,
    PaymentRefused,
    PriceMismatch,
)
from orders.models import (
    LineDiscount,
    Order,
    OrderLine,
    OrderStatusChange,
    Payment,
    RevenueRule,
    RevenueShare,
    RoutingDecision,
    SoldUnit,
)
from orders.policies import order_actionable_by, order_place_require, order_require, person_of
from orders.routing import Candidate, route_candidates
from orders.sql import line_discounts_insert, replay_statement
from orders.states import order_transition
from stores.choices import StoreKind, StoreStatus
from stores.errors import InsufficientStock
from stores.models import Store
from stores.services import stock_release, stock_reserve_lines

# Bounds that keep every line and total inside the money columns, whoever calls.
MAX_LINES = 200
MAX_LINE_QUANTITY = 100_000
# The reason columns (status history, routing decisions, offers) hold this many characters.
REASON_MAX_LENGTH = OrderStatusChange._meta.get_field("reason").max_length


def clip(text: str, limit: int = REASON_MAX_LENGTH) -> str:
    """A sentence the system composes (a store's name and reason, a route's) cut to fit its column."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class LineRequest:
    sku: SKU
    quantity: int
    unit_price: Decimal | None = None  # what the caller expects to pay; checked against the price list


def request_fingerprint(payload: dict) -> str:
    """A stable hash of a request body, to tell a replay from a different request under one key."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _new_number(at: datetime) -> str:
    return f"{timezone.localtime(at):%y%m%d}{secrets.token_hex(5).upper()}"


def _replay(
    *,
    channel: Channel,
    external_reference: str | None,
    idempotency_key: str | None,
    fingerprint: str,
    actor,
):
    """The order a retried request already made, or None. A different body under the same key: 409."""
    # One query for both ways of retrying, as plain SQL (building the ORM query was a noticeable
    # part of an order's Python time); first by the model's ordering, as .first() would.
    if not idempotency_key and not external_reference:
        return None
    sql, params = replay_statement(
        idempotency_key=idempotency_key, channel_id=channel.pk, external_reference=external_reference
    )
    existing = next(iter(fetch(Order, sql, params)), None)
    if existing is None:
        return None
    if existing.channel_id != channel.pk or (fingerprint and existing.request_fingerprint != fingerprint):
        if order_actionable_by(actor, existing, "see"):
            message = _(
                "Order %(number)s was already made with this key or reference but a different request."
            ) % {"number": existing.number}
        else:  # another caller's order: say nothing about it
            message = _("This key or reference was already used for a different request.")
        raise IdempotencyConflict(
            message,
            fields={"idempotency_key" if idempotency_key else "external_reference": [_("Already used.")]},
        )
    existing.replayed = True
    return existing


def _check_lines(lines: list[LineRequest]) -> dict[int, int]:
    if not lines:
        raise OrderRefused(
            _("An order needs at least one line."), fields={"lines": [_("This field is required.")]}
        )
    if len(lines) > MAX_LINES:
        raise OrderRefused(
            _("An order has at most %(n)s lines.") % {"n": MAX_LINES},
            fields={"lines": [_("Too many lines.")]},
        )
    quantities: dict[int, int] = {}
    for index, line in enumerate(lines):
        if (
            not isinstance(line.quantity, int)
            or isinstance(line.quantity, bool)
            or not 0 < line.quantity <= MAX_LINE_QUANTITY
        ):
            raise OrderRefused(
                _("Line %(n)s: quantity must be a whole number from 1 to %(max)s.")
                % {"n": index + 1, "max": MAX_LINE_QUANTITY},
                fields={f"lines[{index}].quantity": [_("Out of range.")]},
            )
        if not line.sku.is_active:
            raise OrderRefused(
                _("Line %(n)s: %(sku)s is no longer sold.") % {"n": index + 1, "sku": line.sku.code},
                fields={f"lines[{index}].sku": [_("Not sold.")]},
            )
        if line.sku.pk in quantities:
            raise OrderRefused(
                _("%(sku)s appears twice; put it on one line with the total quantity.")
                % {"sku": line.sku.code},
                fields={f"lines[{index}].sku": [_("Duplicate.")]},
            )
        quantities[line.sku.pk] = line.quantity
    return quantities


def _priced(lines: list[LineRequest], channel: Channel, prices: dict) -> list[OrderLine]:
    """The order's lines at the live `prices` ({sku id: price}, catalog.selectors.live_prices_read)."""
    priced = []
    for index, line in enumerate(lines):
        price = prices.get(line.sku.pk)
        if price is None:
            raise NoPrice(
                _("%(sku)s has no price on %(channel)s now.")
                % {"sku": line.sku.code, "channel": channel.name},
                fields={f"lines[{index}].sku": [_("No live price.")]},
            )
        if line.unit_price is not None and quantize_money(line.unit_price) != price.amount:
            raise PriceMismatch(
                _("%(sku)s costs %(live)s on %(channel)s, not %(asked)s.")
                % {
                    "sku": line.sku.code,
                    "live": price.amount,
                    "channel": channel.name,
                    "asked": line.unit_price,
                },
                fields={f"lines[{index}].unit_price": [_("Does not match the live price.")]},
            )
        priced.append(
            OrderLine(
                sku=line.sku,
                quantity=line.quantity,
                unit_price=price.amount,
                price=price,
                line_total=price.amount * line.quantity,
            )
        )
    return priced


def _check_delivery(
    *, delivery_method, origin, origin_store, pickup_store, latitude, longitude, address
) -> None:
    if delivery_method == DeliveryMethod.CARRY_OUT and (origin_store is None or origin != Origin.IN_STORE):
        raise OrderRefused(
            _("Carry-out orders are placed in a store by its staff."),
            fields={"delivery_method": [_("Not here.")]},
        )
    if delivery_method == DeliveryMethod.PICKUP:
        if (
            pickup_store is None
            or pickup_store.status != StoreStatus.OPEN
            or pickup_store.kind == StoreKind.WAREHOUSE
        ):
            raise OrderRefused(
                _("Choose an open store for pickup."), fields={"pickup_store": [_("This field is required.")]}
            )
    if delivery_method == DeliveryMethod.SHIP:
        errors = {}
        if not (address or "").strip():
            errors["address"] = [_("This field is required.")]
        if latitude is None or not (-90 <= float(latitude) <= 90):
            errors["latitude"] = [_("Give the address's latitude (-90 to 90).")]
        if longitude is None or not (-180 <= float(longitude) <= 180):
            errors["longitude"] = [_("Give the address's longitude (-180 to 180).")]
        if errors:
            raise OrderRefused(_("Shipping needs an address with its coordinates."), fields=errors)


def _reserve_all(
    *, location: Store, lines: list[OrderLine], number: str, user, ledger_first: bool, batch=None, then=None
) -> None:
    stock_reserve_lines(
        location=location,
        lines=[(line.sku, line.quantity) for line in lines],
        reference=number,
        user=user,
        ledger_first=ledger_first,
        batch=batch,
        then=then,
    )


def reserve_at_first_candidate(
    *,
    candidates: list[Candidate],
    lines,
    number: str,
    user,
    refusal_ends_transaction: bool = False,
    batch: Batch | None = None,
    then: Batch | None = None,
) -> Candidate | None:
    """Reserve at the first candidate that still has everything (another order may have just
    taken the last units); None when nobody has, with nothing written.

    A several-line try runs in a savepoint, so its reserved lines are undone; a single line
    UPDATEs first, so a refusal has written nothing. With `refusal_ends_transaction` (order
    intake: no candidate left means the whole order rolls back) the last candidate writes its
    ledger rows first and needs no savepoint, so its stock UPDATEs are the transaction's last
    statements and a hot row is held only until COMMIT. `batch` (the caller's other writes) goes
    with that one candidate's stock statements in one round trip; with several candidates it is
    written first, outside their savepoints. `then` (writes that must follow the stock) goes right
    after the stock statements in that same round trip, or, with several candidates, once one has
    reserved everything; a refusal of `then` refuses the whole reservation (the caller rolls back)."""
    joined = len(candidates) <= 1 and refusal_ends_transaction
    if batch is not None and not joined:
        batch.run()
    for index, candidate in enumerate(candidates):
        last = index + 1 == len(candidates)
        reserve = partial(_reserve_all, location=candidate.store, lines=lines, number=number, user=user)
        try:
            if last and refusal_ends_transaction:
                reserve(ledger_first=True, batch=batch, then=then if joined else None)
            elif len(lines) > 1:
                with transaction.atomic():
                    reserve(ledger_first=True)
            else:
                reserve(ledger_first=False)
            if then is not None and not joined:
                then.run()
            return candidate
        except InsufficientStock:
            continue
    return None


class _KeyTaken(Exception):
    """The order's key or reference was committed by a concurrent retry: look for it again."""


def order_create(
    *,
    channel: Channel,
    lines: list[LineRequest],
    delivery_method: str,
    origin: str = Origin.ONLINE,
    member: Member | None = None,
    origin_store: Store | None = None,
    pickup_store: Store | None = None,
    placed_by=None,
    recipient_name: str = "",
    recipient_phone: str = "",
    address: str = "",
    city: str = "",
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    external_reference: str | None = None,
    idempotency_key: str | None = None,
    fingerprint: str = "",
    at: datetime | None = None,
    coupons: tuple | list = (),
    actor,
) -> Order:
    """Create an order priced from the price list, decide where it is fulfilled, reserve its stock.

    `actor` places it (orders.policies.order_placeable_by): HQ, a store's staff for an in-store
    sale of that store, a channel's key on its own channel; SYSTEM for a customer's own order.

    Idempotent: the same Idempotency-Key or (channel, external reference) returns the first order
    (marked `replayed`); the same key with a different request is refused.

    Round trips (a 2-line order shipped from one store): prices, the route, the order's INSERT,
    then ONE batch with its lines, history row, routing row, outbox row, ledger rows and one stock
    UPDATE per line, then COMMIT. A retry is not looked for first: the unique key or reference
    refuses the second INSERT (or the order is refused, say its price changed since), and only then
    is the first order looked up and returned. Outside a caller's transaction the order's INSERT
    needs no savepoint: a concurrent retry that committed the same key first rolls this one back,
    and its order is returned.
    """
    order_place_require(actor, channel=channel, origin_store=origin_store)
    if placed_by is None:  # the person placing it, unless seeding records a clerk for the product
        placed_by = person_of(actor)
    args = dict(locals())
    retry = partial(
        _replay,
        channel=channel,
        external_reference=external_reference,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        actor=actor,
    )
    try:
        if connection.in_atomic_block:  # a caller's transaction: a savepoint keeps it usable
            return _order_create(**args, savepoint=True)
        return _order_create(**args, savepoint=False)
    except _KeyTaken:
        replay = retry()
        if replay is None:
            raise IntegrityError("order key or reference taken, but no order found") from None
        return replay
    except DomainError:
        # A retry of an order made before (its price or stock may have changed since) is answered
        # with that order; a new order is refused.
        replay = retry() if idempotency_key or external_reference else None
        if replay is None:
            raise
        return replay


@transaction.atomic
def _order_create(
    *,
    channel: Channel,
    lines: list[LineRequest],
    delivery_method: str,
    origin: str = Origin.ONLINE,
    member: Member | None = None,
    origin_store: Store | None = None,
    pickup_store: Store | None = None,
    placed_by=None,
    recipient_name: str = "",
    recipient_phone: str = "",
    address: str = "",
    city: str = "",
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    external_reference: str | None = None,
    idempotency_key: str | None = None,
    fingerprint: str = "",
    at: datetime | None = None,
    coupons: tuple | list = (),
    actor,
    savepoint: bool,
) -> Order:
    """order_create's work in one transaction; `savepoint` around the order's INSERT or not."""
    at = at or timezone.now()
    if member is not None and member.is_merged:
        raise OrderRefused(
            _("Member %(id)s was merged into member %(into)s; order for that member.")
            % {"id": member.pk, "into": member.merged_into_id},
            fields={"member": [_("Merged.")]},
        )
    quantities = _check_lines(lines)
    _check_delivery(
        delivery_method=delivery_method,
        origin=origin,
        origin_store=origin_store,
        pickup_store=pickup_store,
        latitude=latitude,
        longitude=longitude,
        address=address,
    )
    # The prices, the member's guide binding (orders.reactions) and coupon codes: one round trip.
    reads = Batch()
    prices = live_prices_read(reads, skus=[line.sku for line in lines], channel=channel, at=at)
    bound = (
        reactions.attribution_read(reads, member=member, channel=channel, at=at)
        if member is not None
        else None
    )
    found = codes_read(reads, coupons) if coupons else None
    if len(reads):
        reads.run()
    attribution = bound.value if bound is not None else None
    order_lines = _priced(lines, channel, prices.value)
    # Promotions and the member's coupons (marketing.pricing), allocated to the lines to the cent.
    quote = price_basket(
        channel=channel,
        lines=[(line.sku, line.quantity, line.unit_price) for line in order_lines],
        member=member,
        codes=coupons,
        at=at,
        found_codes=found.value if found is not None else None,
    )
    for line, priced in zip(order_lines, quote.lines, strict=True):
        line.discount = priced.discount
        line.line_total = priced.net

    if delivery_method == DeliveryMethod.CARRY_OUT:
        choices = [Candidate(origin_store, 0.0, True)]
        reason_for = _("Carried out of the store where it was sold")
        record: list = []
    elif delivery_method == DeliveryMethod.PICKUP:
        choices = [Candidate(pickup_store, 0.0, True)]
        reason_for = _("Picked up at the store the customer chose")
        record = []
    else:
        prefer = tuple(s.pk for s in (origin_store,) if s is not None)
        route = route_candidates(
            latitude=latitude, longitude=longitude, lines=quantities, prefer_store_ids=prefer
        )
        choices = route.candidates or route.warehouses
        record = [c.as_record() for c in choices]
        reason_for = None

    number = _new_number(at)
    order = Order(
        number=number,
        channel=channel,
        member=member,
        origin=origin,
        origin_store=origin_store,
        guide=attribution.guide if attribution else None,
        binding=attribution.binding if attribution else None,
        attribution_reason=attribution.reason[:255] if attribution else "",
        placed_by=placed_by,
        fulfilling_location=choices[0].store if choices else None,
        delivery_method=delivery_method,
        recipient_name=recipient_name,
        recipient_phone=recipient_phone,
        address=address,
        city=city,
        latitude=latitude,
        longitude=longitude,
        subtotal=quote.subtotal,
        discount_total=quote.discount_total,
        total=quote.total,
        external_reference=external_reference,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
    )
    try:
        # A savepoint only when a concurrent retry could collide on the key or reference and the
        # caller's transaction must stay usable; otherwise the collision ends this transaction.
        with transaction.atomic(savepoint=savepoint and bool(idempotency_key or external_reference)):
            Batch().rows([order]).run()
    except IntegrityError:  # the same key or reference: a retry, or a concurrent retry just committed
        if not savepoint:
            raise _KeyTaken from None
        replay = _replay(
            channel=channel,
            external_reference=external_reference,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            actor=actor,
        )
        if replay is not None:
            return replay
        raise
    # The rest of the order goes to the database in one round trip with the stock UPDATEs.
    writes = Batch()
    for line in order_lines:
        line.order = order
    writes.rows(order_lines)
    discounts = [
        LineDiscount(
            line=line,
            source=d.source,
            promotion=d.promotion,
            code=d.code,
            label=d.label[:120],
            amount=d.amount,
            threshold=d.threshold,
        )
        for line, priced in zip(order_lines, quote.lines, strict=True)
        for d in priced.discounts
    ]
    if discounts:  # in the same round trip, one statement: each names its line by (order, SKU)
        writes.sql(*line_discounts_insert(discounts, order_id=order.pk))
    writes.rows([OrderStatusChange(order=order, to_status=OrderStatus.CREATED, changed_by=placed_by)])
    decision = RoutingDecision(
        order=order,
        attempt=1,
        location=order.fulfilling_location,
        reason=reason_for or (route_reason(choices[0]) if choices else ""),
        candidates=record,
    )
    if choices:
        writes.rows([decision])  # before the stock: everything else is written while no hot row is locked
    event = order_event("order.created", order, batch=writes)
    # Each code used once and its coupon's budget counted right after the stock UPDATEs, in their
    # round trip: the hot rows are held only from there to COMMIT, and intake and cancel lock them in
    # one order, stock then coupon, so two transactions never wait on each other. The redemption
    # rows and their events go before the stock (a row naming the code and coupon takes only a key
    # share lock on them, which their counters' UPDATEs do not wait for).
    redemptions = Batch() if quote.codes else None
    if redemptions is not None:
        redeem_codes(
            quote=quote,
            batch=redemptions,
            order_number=number,
            member_id=member.pk,
            channel=channel,
            store_id=origin_store.pk if origin_store else None,
            guide_id=order.guide_id,
            at=at,
            rows_batch=writes,  # the redemption rows and events before the stock: only the UPDATEs hold
        )

    # Stock, then the coupons: the rows other buyers wait on are held only from their UPDATE to COMMIT.
    chosen = reserve_at_first_candidate(
        candidates=choices,
        lines=order_lines,
        number=number,
        user=placed_by,
        refusal_ends_transaction=True,
        batch=writes,
        then=redemptions,
    )
    if chosen is None:
        raise NoFulfilmentLocation(
            _("No store within reach of this address and no warehouse has every line in stock.")
            if delivery_method == DeliveryMethod.SHIP
            else _("%(store)s does not have every line in stock.") % {"store": choices[0].store.name},
            fields={"lines": [_("Out of stock.")]},
        )
    if chosen.store.pk != order.fulfilling_location_id:  # the first choice sold out meanwhile
        order.fulfilling_location = chosen.store
        order.save(update_fields=["fulfilling_location"])
        decision.location = chosen.store
        decision.reason = reason_for or route_reason(chosen)
        decision.save(update_fields=["location", "reason"])
        # The event was written for the first choice; nobody has seen it yet (same transaction).
        OutboxEvent.objects.filter(pk=event.pk).update(
            payload=order_payload(order), partner_id=chosen.store.partner_id
        )
    # What was just written, for an answer without reading it back (orders.api.views).
    order.fresh = {
        "lines": order_lines,
        "routing_decisions": [decision] if choices else [],
        "discounts": discounts,
    }
    return order


def route_reason(chosen: Candidate) -> str:
    if chosen.store.kind == StoreKind.WAREHOUSE:
        return _("No store within its service radius had every line; nearest warehouse with stock")
    if chosen.preferred:
        return _("Preferred store (where the customer ordered) has every line, %(km)s km away") % {
            "km": round(chosen.distance_km, 1)
        }
    return _("Nearest store with every line in stock, %(km)s km away (within its %(r)s km radius)") % {
        "km": round(chosen.distance_km, 1),
        "r": chosen.store.service_radius_km,
    }


# --- paying -----------------------------------------------------------------------------------


def revenue_split(
    *, line: OrderLine, rule: RevenueRule | None, fulfilling_store, origin_store
) -> list[RevenueShare]:
    """Who gets what of one line: fulfilling store's fee, origin store's share, the brand the rest.

    Each share is rounded half-up to cents and the brand takes the remainder, so the shares
    always sum exactly to the line total.
    """
    total = line.line_total
    fee = Decimal(0)
    share = Decimal(0)
    if rule is not None:
        if fulfilling_store is not None and fulfilling_store.kind != StoreKind.WAREHOUSE:
            fee = min(
                total, quantize_money(total * rule.fulfilling_fee_percent / 100) + rule.fulfilling_fee_fixed
            )
        if origin_store is not None:
            share = min(total - fee, quantize_money(total * rule.origin_share_percent / 100))
    shares = []
    if fee:
        shares.append(
            RevenueShare(line=line, party=ShareParty.FULFILLING_STORE, store=fulfilling_store, amount=fee)
        )
    if share:
        shares.append(
            RevenueShare(line=line, party=ShareParty.ORIGIN_STORE, store=origin_store, amount=share)
        )
    shares.append(RevenueShare(line=line, party=ShareParty.BRAND, store=None, amount=total - fee - share))
    return shares


def share_reversals(*, order: Order) -> list[RevenueShare]:
    """Rows that cancel every share of the order still standing (append-only: nothing is edited),
    after whatever moved them before (a return's reversals, a keep-back's growth)."""
    lines = RevenueShare.objects.filter(line__order=order).values_list("line_id", flat=True).distinct()
    return share_moves(amounts=dict.fromkeys(lines))


def _shares_moved(line_id: int, shares: list[RevenueShare], amount: Decimal | None) -> list[RevenueShare]:
    """Rows moving the line's standing split by -`amount` (`shares`: its rows, oldest first), each
    pointing at the share it changes.

    A positive amount reverses that much in proportion to each share still standing (all of it
    once `amount` is all that stands: every share back to exactly zero; never more than stands).
    A negative amount grows the shares by that much in the same proportion (the line's kept units
    now cost more: a threshold discount was kept back on them). Each party's part is rounded
    half-up and the brand (else the largest share) takes the remainder, so the rows sum exactly.
    None reverses what stands of each share (a cancellation or a re-routing).
    """
    originals = [s for s in shares if s.reverses_id is None]
    net = {s.pk: s.amount for s in originals}
    for s in shares:
        if s.reverses_id is not None:
            net[s.reverses_id] += s.amount
    total = sum(net.values(), Decimal(0))
    if amount is None:  # everything that stands, share by share
        moving = [s for s in originals if net[s.pk] != 0]
        return _share_rows(line_id, moving, {s.pk: -net[s.pk] for s in moving})
    if not originals or not amount:
        return []
    if amount > 0:
        moving = [s for s in originals if net[s.pk] != 0]
        if not moving or total <= 0:
            return []
        if amount >= total:
            parts = {s.pk: -net[s.pk] for s in moving}
            return _share_rows(line_id, moving, parts)
        weights = net
    else:
        # What stands decides the proportion; a line whose split stands at nothing grows as it
        # was first split.
        moving = originals
        weights = net if total > 0 else {s.pk: s.amount for s in originals}
    whole = sum((weights[s.pk] for s in moving), Decimal(0))
    remainder = next(
        (s for s in moving if s.party == ShareParty.BRAND), max(moving, key=lambda s: weights[s.pk])
    )
    parts = {
        s.pk: quantize_money(-amount * weights[s.pk] / whole) if whole else Decimal(0)
        for s in moving
        if s is not remainder
    }
    parts[remainder.pk] = -amount - sum(parts.values(), Decimal(0))
    return _share_rows(line_id, moving, parts)


def _share_rows(line_id: int, shares: list[RevenueShare], parts: dict[int, Decimal]) -> list[RevenueShare]:
    return [
        RevenueShare(line_id=line_id, party=s.party, store_id=s.store_id, amount=parts[s.pk], reverses=s)
        for s in shares
        if parts[s.pk]
    ]


def share_moves(*, amounts: dict[int, Decimal | None]) -> list[RevenueShare]:
    """Rows moving each line's standing revenue split by -amounts[line id] (see _shares_moved;
    None: all that stands), in one query for all the lines."""
    by_line: dict[int, list[RevenueShare]] = {pk: [] for pk in amounts}
    for share in RevenueShare.objects.filter(line_id__in=list(amounts)).order_by("id"):
        by_line[share.line_id].append(share)
    return [row for pk in sorted(amounts) for row in _shares_moved(pk, by_line[pk], amounts[pk])]


def line_share_reversals(*, line: OrderLine, amount: Decimal) -> list[RevenueShare]:
    """Rows reversing `amount` of the line's standing revenue split, in proportion to each share
    (growing it when `amount` is negative); see _shares_moved."""
    return share_moves(amounts={line.pk: amount})


def _lock(order: Order) -> Order:
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("channel", "fulfilling_location", "member")
        .get(pk=order.pk)
    )


@transaction.atomic
def order_pay(
    *,
    order: Order,
    amount: Decimal | None,
    method: str,
    external_reference: str | None = None,
    actor,
    serials: dict | None = None,
    points: int = 0,
    stored_value: Decimal | int = 0,
) -> Payment:
    """Pay the order's total by tenders (marketing.tenders): `points` of the member's points (at
    the HQ rate, within the cap), `stored_value` from their wallet, and the rest (`amount`, which
    must be exactly what is left) by `method`; then points, the revenue split, and the store offer.

    Answers the external payment (or the last tender when points and the wallet paid it all); its
    `tenders` lists every Payment row written. The same payment reference again returns the first
    payment; a second payment is refused. A carried-out order leaves now: `serials` ({line id:
    [serial, ...]}) names every unit of its serial-tracked lines (ignored for other orders: their
    serials are taken when they leave).
    """
    from orders.fulfilment import offer_to_store, sell_reserved  # it imports this module: a cycle

    user = person_of(actor)
    order_require(actor, order, "pay")
    if method and method not in EXTERNAL_METHODS:
        raise PaymentRefused(
            _("Unknown payment method %(m)s.") % {"m": method}, fields={"method": [_("Unknown.")]}
        )
    if amount is not None:
        try:
            amount = quantize_money(amount)
        except (ValueError, TypeError, ArithmeticError):
            amount = None
        if amount is None or not amount.is_finite():
            raise PaymentRefused(_("Enter the amount paid."), fields={"amount": [_("Not an amount.")]})
    if external_reference:
        existing = Payment.objects.filter(external_reference=external_reference).first()
        if existing is not None:
            if existing.order_id == order.pk and (amount is None or existing.amount == amount):
                existing.replayed = True
                existing.tenders = list(order.payments.filter(kind=PaymentKind.PAYMENT))
                return existing
            raise PaymentRefused(
                _("Payment reference %(ref)s was already used.") % {"ref": external_reference},
                fields={"external_reference": [_("Already used.")]},
            )
    order = _lock(order)
    if order.status != OrderStatus.CREATED:
        raise PaymentRefused(
            _("Order %(number)s is already %(status)s; it cannot be paid again.")
            % {"number": order.number, "status": OrderStatus(order.status).label},
            fields={"order": [_("Already paid.")]},
        )
    if (points or stored_value) and order.member_id is None:
        raise PaymentRefused(
            _("Points and stored value pay only a member's order."),
            fields={"points" if points else "stored_value": [_("No member on this order.")]},
        )
    plan = tender_plan(
        total=order.total,
        channel=order.channel,
        points=points,
        stored_value=stored_value,
        points_balance=order.member.points_balance if order.member_id else 0,
        wallet_balance=wallet_balance(order.member) if order.member_id and stored_value else Decimal(0),
        external_method=method,
    )
    external = next((t for t in plan if t.method not in MEMBER_TENDERS), None)
    rest = external.amount if external else Decimal(0)
    if amount is not None and amount != rest:
        raise PaymentRefused(
            _(
                "Order %(number)s totals %(total)s; %(rest)s is left to pay after points and stored value, "
                "and a payment of %(amount)s does not settle it."
            )
            % {"number": order.number, "total": order.total, "rest": rest, "amount": amount},
            fields={"amount": [_("Must equal what is left to pay.")]},
        )
    payments = []
    for tender in plan:
        if tender.method == PaymentMethod.POINTS:
            points_redeem(
                member=order.member,
                points=tender.points,
                channel=order.channel,
                reference=order.number,
                actor=actor,
            )
        elif tender.method == PaymentMethod.STORED_VALUE:
            wallet_spend(
                member_id=order.member_id, amount=tender.amount, order_number=order.number, user=user
            )
        payments.append(
            Payment(
                order=order,
                kind=PaymentKind.PAYMENT,
                method=tender.method,
                amount=tender.amount,
                points=tender.points,
                external_reference=external_reference if tender is external else None,
                created_by=user,
            )
        )
    payments = Payment.objects.bulk_create(payments)
    payment = payments[-1] if payments else None
    if external is not None:
        payment = next(p for p in payments if p.method == external.method)
    if payment is not None:
        payment.tenders = payments
    amount = order.total
    points_paid = sum((t.amount for t in plan if t.method == PaymentMethod.POINTS), Decimal(0))
    now = timezone.now()
    order.paid_at = now
    order_transition(order=order, to=OrderStatus.PAID, user=user, extra_fields=["paid_at"])

    lines = list(order.lines.select_related("sku__product__category"))
    rule = RevenueRule.objects.filter(channel_id=order.channel_id).first()
    RevenueShare.objects.bulk_create(
        [
            share
            for line in lines
            for share in revenue_split(
                line=line,
                rule=rule,
                fulfilling_store=order.fulfilling_location,
                origin_store=order.origin_store,
            )
        ]
    )
    if order.guide_id:
        reactions.commission_accrue(order=order, lines=lines, at=now)
    if order.member_id and amount - points_paid > 0:  # points are earned on the money paid
        points_earn(
            member=order.member,
            channel=order.channel,
            paid_amount=amount - points_paid,
            reference=order.number,
            at=now,
        )
    order_event(
        "order.paid",
        order,
        amount=str(amount),
        method=method or (plan[-1].method if plan else ""),
        tenders=[{"method": t.method, "amount": str(t.amount), "points": t.points} for t in plan],
    )

    if order.delivery_method == DeliveryMethod.CARRY_OUT:
        sold_units_record(order=order, lines=lines, serials=serials)
        sell_reserved(order=order, lines=lines, user=user)
        order_delivered(order=order, lines=lines, user=user, reason=_("Carried out"), at=now)
    else:
        offer_to_store(order=order, user=user)
    return payment


def tender_refund(
    *, order: Order, payment: Payment, amount: Decimal, points: int | None, user, reference: str = ""
):
    """Give `amount` of one tender back where it came from: points to the member's points, stored
    value to their wallet, an external payment as a refund row for the payment provider."""
    if payment.method == PaymentMethod.POINTS and points:
        points_refund(
            member_id=order.member_id,
            points=points,
            reference=reference or order.number,
            reason=_("Refund on %(number)s") % {"number": order.number},
            user=user,
        )
    elif payment.method == PaymentMethod.STORED_VALUE:
        wallet_refund(
            member_id=order.member_id,
            amount=amount,
            order_number=order.number,
            reference=reference,
            user=user,
        )
    return Payment.objects.create(
        order=order,
        kind=PaymentKind.REFUND,
        method=payment.method,
        amount=amount,
        points=points if payment.method == PaymentMethod.POINTS else None,
        reverses=payment,
        created_by=user,
    )


# --- serial numbers ----------------------------------------------------------------------------

SERIAL_MAX_LENGTH = 64


def normalise_serial(serial) -> str:
    """Serials are compared as typed or scanned, without surrounding blanks and case-insensitively."""
    return str(serial).strip().upper()


def _serial_errors(line: OrderLine, given) -> tuple[list[str], list[str]]:
    """The line's serials, normalised, and what is wrong with them."""
    if isinstance(given, str):
        given = [given]
    if given is not None and not isinstance(given, list | tuple):
        return [], [_("A list of serial numbers, one per unit.")]
    serials = [normalise_serial(s) for s in (given or []) if normalise_serial(s)]
    errors = []
    for serial in serials:
        if len(serial) > SERIAL_MAX_LENGTH or not serial.isprintable() or any(c.isspace() for c in serial):
            errors.append(
                _("“%(serial)s” is not a serial number (at most %(n)s characters, no spaces).")
                % {"serial": serial[:80], "n": SERIAL_MAX_LENGTH}
            )
    twice = sorted(serial for serial, n in Counter(serials).items() if n > 1)
    if twice:
        errors.append(_("Given twice: %(serials)s.") % {"serials": ", ".join(twice)})
    if len(serials) != line.quantity:
        errors.append(
            ngettext(
                "%(sku)s needs %(n)s serial number, one per unit; %(given)s given.",
                "%(sku)s needs %(n)s serial numbers, one per unit; %(given)s given.",
                line.quantity,
            )
            % {"sku": line.sku.code, "n": line.quantity, "given": len(serials)}
        )
    return serials, errors


def sold_units_record(*, order: Order, lines: list[OrderLine], serials: dict | None) -> list[SoldUnit]:
    """The serial of every unit of a serial-tracked line that leaves (shipped, collected, carried out).

    `serials` maps a line id (int or its text) to that line's serials: exactly `quantity`
    distinct ones per serial-tracked line; other lines need none and ignore them. A serial of
    the SKU sold and not returned is refused. All or nothing: a refusal names each line's fields
    (`serials[<line id>]`) and writes no row. No query when no line is serial-tracked.
    """
    serials = serials or {}
    if not isinstance(serials, dict):
        raise OrderRefused(
            _("Serial numbers come as {line id: [serial, ...]}."),
            code="serials_refused",
            fields={"serials": [_("A mapping of line ids to lists of serial numbers.")]},
        )
    by_id = {line.pk: line for line in lines}
    errors: dict[str, list[str]] = {}
    wanted: dict[int, list[str]] = {}
    given: dict[int, object] = {}
    for key, values in serials.items():
        try:
            line_id = int(key)
        except (TypeError, ValueError):
            line_id = None
        if line_id not in by_id:
            errors[f"serials[{key}]"] = [_("Not a line of order %(number)s.") % {"number": order.number}]
        else:
            given[line_id] = values
    for line in lines:
        if line.sku.serial_tracked:
            wanted[line.pk], line_errors = _serial_errors(line, given.get(line.pk))
            if line_errors:
                errors[f"serials[{line.pk}]"] = line_errors
    if errors:
        raise OrderRefused(
            " ".join(message for messages in errors.values() for message in messages),
            code="serials_refused",
            fields=errors,
        )
    if not wanted:
        return []
    units = [
        SoldUnit(line=by_id[line_id], sku_id=by_id[line_id].sku_id, serial=serial)
        for line_id, line_serials in wanted.items()
        for serial in line_serials
    ]
    pairs = {(unit.sku_id, unit.serial) for unit in units}
    still_sold = [
        unit
        for unit in SoldUnit.objects.filter(
            sku_id__in={sku for sku, _serial in pairs},
            serial__in={serial for _sku, serial in pairs},
            returned_at__isnull=True,
        ).select_related("line__order")
        if (unit.sku_id, unit.serial) in pairs
    ]
    if still_sold:
        for unit in still_sold:
            line_id = next(u.line.pk for u in units if (u.sku_id, u.serial) == (unit.sku_id, unit.serial))
            errors.setdefault(f"serials[{line_id}]", []).append(
                _("Serial %(serial)s was sold on order %(number)s and not returned.")
                % {"serial": unit.serial, "number": unit.line.order.number}
            )
        raise OrderRefused(
            " ".join(message for messages in errors.values() for message in messages),
            code="serials_refused",
            fields=errors,
        )
    try:
        with transaction.atomic():  # a concurrent sale of the same unit: the partial unique index says no
            return SoldUnit.objects.bulk_create(units)
    except IntegrityError:
        message = _("One of these serial numbers was sold on another order a moment ago; check them.")
        raise OrderRefused(
            message,
            code="serials_refused",
            fields={f"serials[{line_id}]": [message] for line_id in wanted},
        ) from None


def order_delivered(*, order: Order, lines: list[OrderLine], user=None, reason: str = "", at=None) -> Order:
    """The customer has the goods (delivered, collected or carried out): the warranty and return
    windows start now, with the policy in force now (the row is locked by the caller)."""
    order.delivered_at = at or timezone.now()
    order_transition(
        order=order, to=OrderStatus.COMPLETED, user=user, reason=reason, extra_fields=["delivered_at"]
    )
    reactions.lines_delivered(lines=lines, delivered_at=order.delivered_at)
    order_event("order.completed", order, delivered_at=order.delivered_at.isoformat())
    return order


# --- cancelling -------------------------------------------------------------------------------

CANCELLABLE = {
    OrderStatus.CREATED,
    OrderStatus.PAID,
    OrderStatus.ALLOCATED,
    OrderStatus.ACCEPTED,
    OrderStatus.READY_FOR_PICKUP,
}


def order_cancel(*, order: Order, reason: str, actor) -> Order:
    """Cancel before the goods leave: release the stock, refund what was paid, reverse points
    and the revenue split, withdraw the store's offer — all in one transaction."""
    return cancel_as(order=order, reason=reason, actor=actor, user=person_of(actor))


@transaction.atomic
def cancel_as(*, order: Order, reason: str, actor, user) -> Order:
    """order_cancel, recording `user` on its rows: the product cancelling an order a clerk's
    reject left with nowhere to go (orders.fulfilment.reroute) records that clerk."""
    from orders.fulfilment import withdraw_offer  # it imports this module: a cycle

    if not isinstance(reason, str) or not reason.strip():
        raise OrderRefused(
            _("Say why the order is cancelled."), fields={"reason": [_("This field is required.")]}
        )
    if len(reason.strip()) > REASON_MAX_LENGTH:
        message = _("Say why in at most %(n)s characters.") % {"n": REASON_MAX_LENGTH}
        raise OrderRefused(message, fields={"reason": [message]})
    order = _lock(order)
    order_require(actor, order, "cancel")
    if order.status not in CANCELLABLE:
        raise IllegalTransition(
            current=OrderStatus(order.status).label,
            wanted=OrderStatus.CANCELLED.label,
            what=f"order {order.number}",
        )
    lines = list(order.lines.select_related("sku"))
    if order.fulfilling_location_id:
        for line in sorted(lines, key=lambda line: line.sku_id):
            stock_release(
                location=order.fulfilling_location,
                sku=line.sku,
                quantity=line.quantity,
                reference=order.number,
                user=user,
            )
    # Stock before coupons, as the intake locks them: two transactions never wait on each other.
    release_codes(order_number=order.number)
    payments = list(order.payments.filter(kind=PaymentKind.PAYMENT))
    for payment in payments:  # every tender gets back what it paid
        tender_refund(order=order, payment=payment, amount=payment.amount, points=payment.points, user=user)
    for earned in PointsEntry.objects.filter(reference=order.number, kind="earn"):
        points_reverse(earned=earned, reference=order.number, user=user)
    RevenueShare.objects.bulk_create(share_reversals(order=order))
    if order.guide_id and payments:
        reactions.commission_clawback(
            order=order, refunds={line.pk: line.line_total for line in lines}, user=user, reason=reason
        )
    withdraw_offer(order=order, user=user, reason=reason)
    order = order_transition(order=order, to=OrderStatus.CANCELLED, user=user, reason=reason.strip())
    order_event("order.cancelled", order, reason=reason.strip())
    return order
