"""Every stock change goes through the movement ledger here, so on hand is always explainable.

Each change is one conditional UPDATE (`... WHERE on_hand + d >= 0 AND ... RETURNING id`) plus
one ledger insert: no read-modify-write, so concurrent sales cannot oversell, and the CHECK constraints
on Stock back the rule up in the database.
"""

from functools import partial

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import SKU
from config.sql import Batch
from stores import sql
from stores.choices import MovementKind
from stores.errors import InsufficientStock, StockRefused
from stores.models import Stock, StockMovement, Store
from stores.policies import person_of, store_require

# One movement moves at most this many units, and a stock row holds at most STOCK_CEILING: the
# ledger's and the stock's integer columns (2**31 - 1 on PostgreSQL) are never overrun, so a
# mistyped quantity is a clear refusal, not a database error.
MAX_MOVEMENT_QUANTITY = 1_000_000
STOCK_CEILING = 1_000_000_000


def _insufficient(
    *, location: Store, sku: SKU, kind, on_hand_delta: int, reserved_delta: int
) -> InsufficientStock | StockRefused:
    """The refusal, with the numbers as they are now (or the stock's ceiling, on a receipt)."""
    current = Stock.objects.filter(location=location, sku=sku).first()
    if current is not None and current.on_hand + on_hand_delta > STOCK_CEILING:
        message = _("%(store)s would hold more than %(max)s units of %(sku)s; check the quantity.") % {
            "store": location.code,
            "max": STOCK_CEILING,
            "sku": sku.code,
        }
        return StockRefused(message, fields={"quantity": [message]})
    message = _(
        "Not enough stock of %(sku)s at %(store)s: %(on_hand)s on hand, %(reserved)s reserved, "
        "%(available)s available; the %(kind)s needs %(on_hand_delta)+d on hand and "
        "%(reserved_delta)+d reserved."
    ) % {
        "sku": sku.code,
        "store": location.code,
        "on_hand": current.on_hand if current else 0,
        "reserved": current.reserved if current else 0,
        "available": current.available if current else 0,
        "kind": MovementKind(kind).label,
        "on_hand_delta": on_hand_delta,
        "reserved_delta": reserved_delta,
    }
    return InsufficientStock(message, fields={"quantity": [message]})


def stock_move(
    *,
    location: Store,
    sku: SKU,
    kind: MovementKind,
    on_hand_delta: int = 0,
    reserved_delta: int = 0,
    reason: str,
    user=None,
    reference: str = "",
    reverses: StockMovement | None = None,
) -> StockMovement:
    """Apply one ledger movement; refuse it if on hand, reserved or available would go negative."""
    if on_hand_delta == 0 and reserved_delta == 0:
        raise StockRefused(_("A stock movement must change something."), fields={"quantity": [_("Zero.")]})
    if max(abs(on_hand_delta), abs(reserved_delta)) > MAX_MOVEMENT_QUANTITY:
        raise _too_many()
    if not reason or not reason.strip():
        raise StockRefused(_("Say why the stock changes."), fields={"reason": [_("This field is required.")]})
    # No savepoint: a refused UPDATE writes nothing, so the refusal is raised after the block and
    # a caller's transaction stays usable (a savepoint would cost two round trips per line).
    with transaction.atomic(savepoint=False):
        if on_hand_delta > 0:
            # ON CONFLICT DO NOTHING: two first receipts at once must not collide on the unique key.
            Stock.objects.bulk_create([Stock(location=location, sku=sku)], ignore_conflicts=True)
        # One statement: the WHERE clause is the rule (after the change on hand >= 0, reserved >= 0,
        # reserved <= on hand) and RETURNING gives the row for the ledger, so a hot row costs one
        # round trip. Plain SQL (stores.sql) because the ORM's update() cannot return the id.
        stock_id = sql.stock_change(
            location_id=location.pk,
            sku_id=sku.pk,
            on_hand_delta=on_hand_delta,
            reserved_delta=reserved_delta,
            at=timezone.now(),
            ceiling=STOCK_CEILING,
        )
        movement = None
        if stock_id is not None:
            movement = StockMovement(
                stock_id=stock_id,
                kind=kind,
                on_hand_delta=on_hand_delta,
                reserved_delta=reserved_delta,
                reason=reason.strip(),
                reference=reference,
                reverses=reverses,
                created_by=user,
            )
            # Field checks only: the database's CHECK constraints are the constraint check here,
            # which saves a round trip per movement on the hottest path there is.
            movement.full_clean(exclude=["stock", "reverses"], validate_constraints=False)
            movement.save()
    if movement is None:
        raise _insufficient(
            location=location, sku=sku, kind=kind, on_hand_delta=on_hand_delta, reserved_delta=reserved_delta
        )
    return movement


def _too_many() -> StockRefused:
    message = _("At most %(max)s units move at once.") % {"max": MAX_MOVEMENT_QUANTITY}
    return StockRefused(message, fields={"quantity": [message]})


def _positive(quantity: int) -> int:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise StockRefused(
            _("Quantity must be a whole number above zero."),
            fields={"quantity": [_("Must be a whole number above zero.")]},
        )
    if quantity > MAX_MOVEMENT_QUANTITY:
        raise _too_many()
    return quantity


def stock_receive(
    *, location: Store, sku: SKU, quantity: int, reason: str, actor, reference=""
) -> StockMovement:
    """Goods arrive at a location (HQ and the store's managers: stores.policies "manage")."""
    user = person_of(actor)
    store_require(actor, location, "manage")
    q = _positive(quantity)
    return stock_move(
        location=location,
        sku=sku,
        kind=MovementKind.RECEIPT,
        on_hand_delta=q,
        reason=reason,
        user=user,
        reference=reference,
    )


def stock_adjust(*, location: Store, sku: SKU, delta: int, reason: str, actor) -> StockMovement:
    """A count correction (positive or negative), always with its reason (HQ and the store's
    managers: stores.policies "manage")."""
    user = person_of(actor)
    store_require(actor, location, "manage")
    if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
        raise StockRefused(_("An adjustment must change the count."), fields={"delta": [_("Zero.")]})
    return stock_move(
        location=location,
        sku=sku,
        kind=MovementKind.ADJUSTMENT,
        on_hand_delta=delta,
        reason=reason,
        user=user,
    )


def stock_reserve(*, location: Store, sku: SKU, quantity: int, reference: str, user=None) -> StockMovement:
    """Hold units for an order; they stay on hand but are no longer available."""
    q = _positive(quantity)
    return stock_move(
        location=location,
        sku=sku,
        kind=MovementKind.RESERVATION,
        reserved_delta=q,
        reason=_("Reserved for %(ref)s") % {"ref": reference},
        user=user,
        reference=reference,
    )


def stock_reserve_lines(
    *,
    location: Store,
    lines: list[tuple[SKU, int]],
    reference: str,
    user=None,
    ledger_first: bool = True,
    batch: Batch | None = None,
    then: Batch | None = None,
) -> None:
    """Hold units of several SKUs at one location for one order: the hot path of order intake.

    One conditional `UPDATE ... RETURNING` per line in SKU order (two orders sharing SKUs lock
    their rows in the same order, never deadlock) and ONE insert for all the ledger rows.

    `ledger_first=True` writes the ledger rows first (INSERT ... SELECT from the stock rows), so
    the UPDATEs are the last statements and a hot row is held only from its UPDATE to COMMIT; the
    ledger INSERT, the UPDATEs and whatever the caller queued in `batch` go to the database in one
    round trip. A refusal then leaves rows behind, so the caller's transaction (or savepoint) must
    roll back on InsufficientStock. `ledger_first=False` writes them after the UPDATEs: a refused
    first line has written nothing (a caller may try another location without a savepoint when
    there is one line). Either way no row changes unless every line fits. `then` (ledger_first only)
    goes in the same round trip right after the UPDATEs: writes that must follow the stock, such as
    an order's coupon redemptions (its refusals are raised by Batch.run, before a stock refusal)."""
    ordered = sorted(((sku, _positive(quantity)) for sku, quantity in lines), key=lambda line: line[0].pk)
    now = timezone.now()
    reason = _("Reserved for %(ref)s") % {"ref": reference}
    user_id = getattr(user, "pk", None)
    refused = partial(_insufficient, location=location, kind=MovementKind.RESERVATION, on_hand_delta=0)
    if ledger_first:
        batch = batch or Batch()
        batch.sql(
            *sql.stock_reserve_ledger_insert(
                location_id=location.pk,
                lines=[(sku.pk, quantity) for sku, quantity in ordered],
                kind=MovementKind.RESERVATION,
                reason=reason,
                reference=reference,
                user_id=user_id,
                at=now,
            )
        )
        for sku, quantity in ordered:
            batch.sql(
                *sql.stock_reserve_update(location_id=location.pk, sku_id=sku.pk, quantity=quantity, at=now)
            )
        first = len(batch) - len(ordered)
        if then is not None:
            batch.extend(then)
        answers = batch.run()[first : first + len(ordered)]
        for (sku, quantity), rows in zip(ordered, answers, strict=True):
            if not rows:
                raise refused(sku=sku, reserved_delta=quantity)
        return
    stock_ids = sql.stock_reserve_in_turn(
        location_id=location.pk, lines=[(sku.pk, quantity) for sku, quantity in ordered], at=now
    )
    if len(stock_ids) < len(ordered):
        sku, quantity = ordered[len(stock_ids)]
        raise refused(sku=sku, reserved_delta=quantity)
    StockMovement.objects.bulk_create(
        [
            StockMovement(
                stock_id=stock_id,
                kind=MovementKind.RESERVATION,
                reserved_delta=quantity,
                reason=reason,
                reference=reference,
                created_by_id=user_id,
            )
            for stock_id, (_sku, quantity) in zip(stock_ids, ordered, strict=True)
        ]
    )


def stock_release(*, location: Store, sku: SKU, quantity: int, reference: str, user=None) -> StockMovement:
    """Give back a reservation (order cancelled, rejected or re-routed)."""
    q = _positive(quantity)
    return stock_move(
        location=location,
        sku=sku,
        kind=MovementKind.RELEASE,
        reserved_delta=-q,
        reason=_("Released from %(ref)s") % {"ref": reference},
        user=user,
        reference=reference,
    )


def stock_sell(
    *, location: Store, sku: SKU, quantity: int, reference: str, reserved: bool = True, user=None
) -> StockMovement:
    """Units leave with the customer: from a reservation (shipped/collected) or straight off the shelf."""
    q = _positive(quantity)
    return stock_move(
        location=location,
        sku=sku,
        kind=MovementKind.SALE,
        on_hand_delta=-q,
        reserved_delta=-q if reserved else 0,
        reason=_("Sold on %(ref)s") % {"ref": reference},
        user=user,
        reference=reference,
    )


def stock_return(*, location: Store, sku: SKU, quantity: int, reference: str, user=None) -> StockMovement:
    """A returned unit goes back on hand at the store that received it."""
    q = _positive(quantity)
    return stock_move(
        location=location,
        sku=sku,
        kind=MovementKind.RETURN,
        on_hand_delta=q,
        reason=_("Returned on %(ref)s") % {"ref": reference},
        user=user,
        reference=reference,
    )


@transaction.atomic
def stock_transfer(
    *, source: Store, destination: Store, sku: SKU, quantity: int, reason: str, actor
) -> tuple[StockMovement, StockMovement]:
    """Move available units between locations: two ledger rows in one transaction (by whoever
    manages both: stores.policies "manage")."""
    user = person_of(actor)
    store_require(actor, source, "manage")
    store_require(actor, destination, "manage")
    q = _positive(quantity)
    if source.pk == destination.pk:
        raise StockRefused(
            _("A transfer needs two different locations."), fields={"destination": [_("Same as the source.")]}
        )
    out = stock_move(
        location=source,
        sku=sku,
        kind=MovementKind.TRANSFER_OUT,
        on_hand_delta=-q,
        reason=reason,
        user=user,
        reference=f"transfer:{source.code}->{destination.code}",
    )
    into = stock_move(
        location=destination,
        sku=sku,
        kind=MovementKind.TRANSFER_IN,
        on_hand_delta=q,
        reason=reason,
        user=user,
        reference=f"transfer:{source.code}->{destination.code}",
    )
    return out, into
