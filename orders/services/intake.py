"""Orders: intake (order_create) and the bounds, clipping and routing reason the other steps share."""

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.errors import NoPrice
from catalog.models import SKU, Channel
from catalog.selectors import live_prices_read
from config.errors import DomainError
from config.money import quantize_money
from config.sql import Batch, fetch
from integrations.models import OutboxEvent
from integrations.outbox import order_event, order_payload
from marketing.pricing import codes_read, price_basket
from marketing.services import redeem_codes
from members.models import Member
from orders import reactions
from orders.choices import (
    DeliveryMethod,
    OrderStatus,
    Origin,
)
from orders.errors import (
    IdempotencyConflict,
    NoFulfilmentLocation,
    OrderRefused,
    PriceMismatch,
)
from orders.models import (
    LineDiscount,
    Order,
    OrderLine,
    OrderStatusChange,
    RoutingDecision,
)
from orders.policies import order_actionable_by, order_place_require, person_of
from orders.routing import Candidate, route_candidates
from orders.sql import line_discounts_insert, replay_statement
from stores.choices import StoreKind, StoreStatus
from stores.errors import InsufficientStock
from stores.models import Store
from stores.services import stock_reserve_lines

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
