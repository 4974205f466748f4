"""Every write to a service ticket: open, receive, inspect, approve or refuse, resolve, close.

One service across channels ("一个服务"): any store's staff, HQ customer service or a channel
through the API can open a ticket against any channel's order line. Every service takes the
`actor` and asks aftersales.policies before it writes (who opens where, who works a ticket), so a
page or endpoint that forgets to check cannot act. The warranty's answer comes from
aftersales.warranty.eligibility; the steps follow aftersales/states.py.

Locks are taken in one order everywhere: order, then line, then ticket — so opening a ticket
(order, line) and resolving another on the same order never deadlock.
"""

import secrets
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales import warranty
from aftersales.choices import OpenedVia, TicketKind, TicketStatus
from aftersales.errors import NotEligible, SerialRefused, TicketRefused
from aftersales.models import Ticket, TicketPhoto, TicketStatusChange
from aftersales.photos import photos_check
from aftersales.policies import intake_require, ticket_receive_require, ticket_require
from aftersales.states import IN_PROGRESS, RESOLVED_AS, can_move, ticket_transition
from config.dates import shanghai_date
from config.errors import DomainError, IllegalTransition
from config.money import quantize_money
from guides.commission import commission_rebase
from integrations.authentication import actor as person_of
from integrations.outbox import order_event, ticket_event
from marketing.pricing import allocate
from marketing.tenders import Tender, refund_split
from members.choices import PointsKind
from members.errors import InvalidPhone
from members.models import PointsEntry
from members.phones import normalise_phone, normalise_phone_or_blank
from members.services import points_reverse
from orders.choices import MEMBER_TENDERS, OrderStatus, PaymentKind, PaymentMethod
from orders.models import LineDiscount, Order, OrderLine, Payment, RevenueShare, SoldUnit
from orders.services import normalise_serial, share_moves, tender_refund
from orders.states import order_transition
from stores.services import stock_reserve, stock_return, stock_sell

# Returns and exchanges take units away from the line; repairs give the same unit back.
TAKES_UNITS = (TicketKind.RETURN, TicketKind.EXCHANGE)


def _refused(message: str, field: str, error=DomainError) -> DomainError:
    """A refusal whose message is also the field's error (the form shows it next to the field)."""
    return error(message, fields={field: [message]})


def _new_number(at: datetime) -> str:
    """Like an order number: the local date, then random hex (unguessable: the public page
    asks for the number and the customer's mobile)."""
    return f"{timezone.localtime(at):%y%m%d}{secrets.token_hex(5).upper()}"


def _lock_order(order_id: int) -> Order:
    return Order.objects.select_for_update(of=("self",)).select_related("member", "channel").get(pk=order_id)


def _lock_line(line_id: int) -> OrderLine:
    return (
        OrderLine.objects.select_for_update(of=("self",))
        .select_related("sku__product__category", "warranty_policy")
        .get(pk=line_id)
    )


def _lock_ticket(ticket: Ticket, actor=None) -> Ticket:
    """The ticket's row, locked, once the policy said the actor may work it (asked of the locked
    row: the store that handles it may just have changed)."""
    ticket = Ticket.objects.select_for_update(of=("self",)).select_related("handling_store").get(pk=ticket.pk)
    if actor is not None:
        ticket_require(actor, ticket, "work")
    return ticket


# --- opening ----------------------------------------------------------------------------------


def _unit_for(line: OrderLine, serial: str) -> SoldUnit | None:
    """The sold unit a serial names on this line; refused when it was not sold, was sold on
    another line, was already returned or already has a ticket in progress. Lines of SKUs
    that are not serial-tracked have no units: the serial is ignored."""
    if not line.sku.serial_tracked:
        return None
    serial = normalise_serial(serial or "")
    if not serial:
        raise _refused(
            _("%(sku)s is serial-tracked: give the serial number of the unit.") % {"sku": line.sku.code},
            "serial",
            SerialRefused,
        )
    units = list(SoldUnit.objects.filter(sku_id=line.sku_id, serial=serial).order_by("-id"))
    mine = [unit for unit in units if unit.line_id == line.pk]
    if not mine:
        if units:
            raise _refused(
                _("Serial %(serial)s was sold on another order, not on this one.") % {"serial": serial},
                "serial",
                SerialRefused,
            )
        raise _refused(
            _("Serial %(serial)s was never sold as %(sku)s.") % {"serial": serial, "sku": line.sku.code},
            "serial",
            SerialRefused,
        )
    unit = next((unit for unit in mine if unit.returned_at is None), None)
    if unit is None:
        raise _refused(
            _("Serial %(serial)s was already returned on %(date)s.")
            % {"serial": serial, "date": shanghai_date(mine[0].returned_at).isoformat()},
            "serial",
            SerialRefused,
        )
    busy = Ticket.objects.filter(unit=unit, status__in=IN_PROGRESS).values_list("number", flat=True).first()
    if busy:
        raise _refused(
            _("Serial %(serial)s already has ticket %(number)s in progress.")
            % {"serial": serial, "number": busy},
            "serial",
            TicketRefused,
        )
    return unit


def _check_quantity(*, line: OrderLine, kind: str, quantity: int, unit: SoldUnit | None) -> None:
    """At most the units still with the customer: the line's quantity less what was returned
    and, for returns and exchanges, less the units other such tickets are already handling."""
    if unit is not None and quantity != 1:
        raise _refused(_("A serial number names one unit: quantity must be 1."), "quantity")
    left = line.quantity - line.returned_quantity
    if kind in TAKES_UNITS:
        held = Ticket.objects.filter(line=line, kind__in=TAKES_UNITS, status__in=IN_PROGRESS).aggregate(
            total=Sum("quantity")
        )["total"]
        left -= held or 0
    if quantity > left:
        raise _refused(
            _("Only %(left)s of the %(quantity)s units on this line can still be serviced this way.")
            % {"left": max(left, 0), "quantity": line.quantity},
            "quantity",
            TicketRefused,
        )


def _customer_phone(raw: str, order: Order) -> str:
    """The mobile the customer gave, else the member's, else the order's recipient's."""
    if (raw or "").strip():
        try:
            return normalise_phone(raw)
        except InvalidPhone as exc:
            raise _refused(exc.message, "customer_phone") from None
    phone = (order.member.phone if order.member else "") or normalise_phone_or_blank(order.recipient_phone)
    if not phone:
        raise _refused(_("Give the customer's mobile number."), "customer_phone")
    return phone


@transaction.atomic
def ticket_open(
    *,
    line: OrderLine,
    kind: str,
    fault: bool = True,
    quantity: int = 1,
    serial: str = "",
    description: str = "",
    customer_phone: str = "",
    opened_via: str,
    intake_store=None,
    actor,
    photos=(),
    at: datetime | None = None,
) -> Ticket:
    """Open a return, exchange or repair against a line of any channel's order, if the actor may
    open it there (aftersales.policies) and the line's warranty policy allows it at `at`; the
    policy's answer is kept on the ticket."""
    at = at or timezone.now()
    user = person_of(actor)
    intake_require(actor, order=line.order, intake_store=intake_store, via_api=opened_via == OpenedVia.API)
    if kind not in TicketKind.values:
        raise _refused(_("Choose return, exchange or repair."), "kind")
    if opened_via not in OpenedVia.values:
        raise _refused(_("Unknown way of opening a ticket: %(v)s.") % {"v": opened_via}, "opened_via")
    if opened_via == OpenedVia.STORE and intake_store is None:
        raise _refused(_("Say at which store the ticket is opened."), "intake_store")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise _refused(_("Quantity must be a whole number above zero."), "quantity")
    checked = photos_check(photos)  # before anything is written

    order = _lock_order(line.order_id)
    line = _lock_line(line.pk)
    line.order = order
    unit = _unit_for(line, serial)
    verdict = warranty.eligibility(line=line, kind=kind, fault=bool(fault), at=at, unit=unit)
    if not verdict.allowed:
        raise _refused(verdict.reason, "kind", NotEligible)
    _check_quantity(line=line, kind=kind, quantity=quantity, unit=unit)

    ticket = Ticket(
        number=_new_number(at),
        kind=kind,
        fault=bool(fault),
        quantity=quantity,
        description=(description or "").strip(),
        order=order,
        line=line,
        unit=unit,
        member=order.member,
        customer_phone=_customer_phone(customer_phone, order),
        channel_id=order.channel_id,
        opened_via=opened_via,
        intake_store=intake_store,
        policy=verdict.policy,
        eligibility=verdict.reason[:255],
        opened_by=user,
    )
    # Field checks only; the database's unique and CHECK constraints back the rest.
    ticket.full_clean(
        exclude=[
            "order",
            "line",
            "unit",
            "member",
            "channel",
            "intake_store",
            "handling_store",
            "policy",
            "refund",
            "replacement_order",
            "opened_by",
        ],
        validate_unique=False,
        validate_constraints=False,
    )
    ticket.save()
    TicketStatusChange.objects.create(
        ticket=ticket,
        to_status=TicketStatus.OPENED,
        store=intake_store,
        note=ticket.eligibility,
        changed_by=user,
    )
    for photo in checked:
        upload = TicketPhoto(ticket=ticket, uploaded_by=user)
        upload.image.save(photo.name, photo.file, save=False)
        upload.save()
    ticket_event("ticket.opened", ticket, order=order.number)
    return ticket


# --- the steps --------------------------------------------------------------------------------


@transaction.atomic
def ticket_receive(*, ticket: Ticket, store, actor) -> Ticket:
    """The unit arrives at a store (any store whose counter the actor works): that store handles
    the ticket from now on."""
    if store is None:
        raise _refused(_("Say which store received the unit."), "store")
    user = person_of(actor)
    ticket_receive_require(actor, store)
    ticket = _lock_ticket(ticket)
    ticket.handling_store = store
    return ticket_transition(
        ticket=ticket,
        to=TicketStatus.RECEIVED,
        user=user,
        store=store,
        note=_("Received at %(store)s") % {"store": store.name},
        extra_fields=["handling_store"],
    )


@transaction.atomic
def ticket_inspect(*, ticket: Ticket, actor, note: str = "") -> Ticket:
    """The handling store has looked at the unit; the note says what it found."""
    user = person_of(actor)
    ticket = _lock_ticket(ticket, actor)
    return ticket_transition(
        ticket=ticket, to=TicketStatus.INSPECTED, user=user, store=ticket.handling_store, note=note
    )


@transaction.atomic
def ticket_approve(*, ticket: Ticket, actor, note: str = "") -> Ticket:
    """The request is accepted after inspection: it can be resolved."""
    user = person_of(actor)
    ticket = _lock_ticket(ticket, actor)
    return ticket_transition(
        ticket=ticket, to=TicketStatus.APPROVED, user=user, store=ticket.handling_store, note=note
    )


@transaction.atomic
def ticket_refuse(*, ticket: Ticket, reason: str, actor) -> Ticket:
    """The request is turned down after inspection, always with the reason (HQ counts them)."""
    user = person_of(actor)
    reason = (reason or "").strip()
    if not reason:
        raise _refused(_("Say why the request is refused."), "reason")
    ticket = _lock_ticket(ticket, actor)
    ticket.refused_reason = reason[:255]
    return ticket_transition(
        ticket=ticket,
        to=TicketStatus.REFUSED,
        user=user,
        store=ticket.handling_store,
        note=reason,
        extra_fields=["refused_reason"],
    )


@transaction.atomic
def ticket_close(*, ticket: Ticket, actor) -> Ticket:
    """Done: the customer has their money, their replacement, their repaired unit or the answer."""
    user = person_of(actor)
    ticket = _lock_ticket(ticket, actor)
    ticket.closed_at = timezone.now()
    ticket = ticket_transition(
        ticket=ticket,
        to=TicketStatus.CLOSED,
        user=user,
        store=ticket.handling_store,
        extra_fields=["closed_at"],
    )
    ticket_event("ticket.closed", ticket)
    return ticket


@transaction.atomic
def ticket_resolve(
    *, ticket: Ticket, actor, store=None, note: str = "", replacement_serial: str = ""
) -> Ticket:
    """Carry out an approved ticket, all in this one transaction.

    Return: refund, stock back at the handling store, serial returned, returned quantity, points,
    guide commission and revenue split reversed in proportion on what was refunded (moved onto
    the kept lines by a threshold keep-back), order (partly) returned.
    Exchange: a replacement from the handling store's stock goes to the customer (a
    serial-tracked SKU needs `replacement_serial`), the faulty unit comes back on hand there.
    Repair: the repair note (required) is kept.
    """
    user = person_of(actor)
    if store is not None:
        ticket_receive_require(actor, store)
    order = _lock_order(ticket.order_id)
    line = _lock_line(ticket.line_id)
    line.order = order
    ticket = _lock_ticket(ticket, actor)
    to = RESOLVED_AS[ticket.kind]
    if not can_move(ticket, to):  # before any money or stock moves
        raise IllegalTransition(
            current=TicketStatus(ticket.status).label,
            wanted=TicketStatus(to).label,
            what=f"ticket {ticket.number}",
        )
    if store is not None and ticket.handling_store_id not in (None, store.pk):
        raise TicketRefused(
            _("Ticket %(number)s is handled by %(store)s; resolve it there.")
            % {"number": ticket.number, "store": ticket.handling_store.name},
            fields={"store": [_("Not the handling store.")]},
        )
    store = store or ticket.handling_store
    note = (note or "").strip()
    extra = []
    if ticket.kind == TicketKind.REPAIR:
        if not note:
            raise _refused(_("Say what was repaired."), "note")
        ticket.repair_note = note
        extra.append("repair_note")
    else:
        if store is None:
            raise _refused(_("Say which store handles the unit."), "store")
        if ticket.kind == TicketKind.RETURN:
            ticket.refund = _settle_return(ticket=ticket, order=order, line=line, store=store, user=user)
            extra.append("refund")
            note = note or _("Refunded and back in stock at %(store)s") % {"store": store.name}
        else:
            _exchange(ticket=ticket, line=line, store=store, user=user, replacement_serial=replacement_serial)
            note = note or _("Replacement handed over at %(store)s") % {"store": store.name}
    return ticket_transition(ticket=ticket, to=to, user=user, store=store, note=note, extra_fields=extra)


# --- a return, settled ------------------------------------------------------------------------


def units_value(line: OrderLine, units: int) -> Decimal:
    """What `units` of the line are worth (its total less its discount, shared per unit); the
    whole line is exactly its total, so returns of a line in parts add up to it."""
    if units >= line.quantity:
        return line.line_total
    return quantize_money(line.line_total * units / line.quantity)


def _threshold_penalty(rules: list, returned: dict[int, int]) -> dict[int, Decimal]:
    """What the kept units of each line owe back of the threshold discounts their basket no longer
    reaches, when `returned` ({line id: units back}) have come back: for each rule whose remaining
    basket (each line valued as the rule saw it, per unit kept) is below its threshold, the part of
    its discount still allocated to each line's units kept. {line id: owed}, lines owing nothing
    left out."""
    owed: dict[int, Decimal] = {}
    for threshold, parts in rules:
        remaining = Decimal(0)
        for line, _amount, basis in parts:
            remaining += basis * (line.quantity - returned[line.pk]) / line.quantity
        if remaining < threshold:
            for line, amount, _basis in parts:
                part = quantize_money(amount * (line.quantity - returned[line.pk]) / line.quantity)
                if part:
                    owed[line.pk] = owed.get(line.pk, Decimal(0)) + part
    return owed


def _spread(total: Decimal, owed: dict[int, Decimal]) -> dict[int, Decimal]:
    """`total` of what is owed, on the lines that owe it: all of `owed` when it is the whole,
    else in proportion (largest remainder, in line id order: the same figures give the same
    split every time, so the split before a return is the split after the previous one)."""
    if total == sum(owed.values(), Decimal(0)):
        return dict(owed)
    ids = sorted(owed)
    return dict(zip(ids, allocate(total, [owed[i] for i in ids]), strict=True))


def _kept_so_far(*, order: Order, line: OrderLine, before: int) -> Decimal:
    """What the refunds of this order have kept back so far: the net share of every unit returned
    before this return, less every refund (refunds come only from returns until everything is
    back; a cancelled order is never returned)."""
    lines = list(order.lines.only("pk", "quantity", "line_total", "returned_quantity"))
    returned = sum(
        (units_value(other, before if other.pk == line.pk else other.returned_quantity) for other in lines),
        Decimal(0),
    )
    refunded = order.payments.filter(kind=PaymentKind.REFUND).aggregate(total=Sum("amount"))["total"]
    return returned - quantize_money(refunded or 0)


def kept_back(*, order: Order, line: OrderLine, before: int, quantity: int) -> dict[int, Decimal]:
    """What the refund of `quantity` units of `line` (after `before` came back) keeps back, or
    (negative) gives back, of the threshold discounts, per line whose kept units owe it:
    {line id: change in what that line's kept units owe}. The refund keeps back the sum.

    The rule (docs/marketing.md): a discount that needed a minimum basket (满300减50, a coupon's
    minimum spend) stays with the lines it was allocated to while what remains of them still
    reaches the minimum, each line valued as the rule saw it (its price less the discounts applied
    before that rule). The return that takes them below it keeps back, from its refund, the part
    of that discount still sitting on the units the customer keeps (on whichever line they are):
    they now cost what they cost without it. A later return of those units refunds them at that
    price (their net share plus the part kept back), so returning everything refunds exactly what
    was paid.

    A refund keeps back at most the returned units' value. What is owed is therefore counted from
    what the earlier refunds really kept back (`_kept_so_far`), not from the rule alone: after a
    capped keep-back, a later return gives back only what was kept. When the rule's figure cannot
    be kept back in full, what is kept is spread over the owing lines in proportion."""
    rows = list(
        LineDiscount.objects.filter(line__order=order).select_related("line").order_by("line_id", "id")
    )
    applied_before: dict[int, Decimal] = {}
    by_rule: dict = {}
    for row in rows:
        earlier = applied_before.get(row.line_id, Decimal(0))
        applied_before[row.line_id] = earlier + row.amount
        if row.threshold is None:
            continue
        basis = row.line.unit_price * row.line.quantity - earlier
        by_rule.setdefault((row.promotion_id, row.code_id, row.threshold), []).append(
            (row.line, row.amount, basis)
        )
    if not by_rule:
        return {}
    rules = [(threshold, parts) for (_p, _c, threshold), parts in by_rule.items()]
    returned = {row.line.pk: row.line.returned_quantity for row in rows}
    returned[line.pk] = before
    owed_before = _threshold_penalty(rules, returned)
    returned[line.pk] = before + quantity
    owed_after = _threshold_penalty(rules, returned)

    # Never below nothing, never above the rule's figure (a refund made some other way, an order
    # refunded before this rule was written).
    kept = _kept_so_far(order=order, line=line, before=before)
    kept = min(max(kept, Decimal(0)), sum(owed_before.values(), Decimal(0)))
    line_value = units_value(line, before + quantity) - units_value(line, before)
    keep = min(sum(owed_after.values(), Decimal(0)) - kept, line_value)
    was, now = _spread(kept, owed_before), _spread(kept + keep, owed_after)
    deltas = {pk: now.get(pk, Decimal(0)) - was.get(pk, Decimal(0)) for pk in sorted(was.keys() | now.keys())}
    return {pk: delta for pk, delta in deltas.items() if delta}


def _refund(*, order: Order, amount: Decimal, user, reference: str) -> list[Payment]:
    """Refund rows for `amount`, back to the tenders that paid it (marketing.tenders.refund_split:
    in proportion, points first, then the wallet, then the external payment; never more than a
    tender paid less what it got back already)."""
    payments = list(order.payments.filter(kind=PaymentKind.PAYMENT).order_by("id"))
    if not payments or amount <= 0:
        return []
    refunded: dict[str, Decimal] = {}
    for row in order.payments.filter(kind=PaymentKind.REFUND):
        refunded[row.method] = refunded.get(row.method, Decimal(0)) + row.amount
    paid = [Tender(p.method, p.amount, p.points) for p in payments]
    by_method = {p.method: p for p in payments}
    return [
        tender_refund(
            order=order,
            payment=by_method[part.method],
            amount=part.amount,
            points=part.points,
            user=user,
            reference=reference,
        )
        for part in refund_split(amount=amount, paid=paid, refunded=refunded)
    ]


def _settle_return(*, ticket: Ticket, order: Order, line: OrderLine, store, user) -> Payment | None:
    """Money, stock, serial, points, commission and revenue split of a return (locks held)."""
    quantity = ticket.quantity
    before = line.returned_quantity
    # Conditional UPDATE: however the tickets race, a line never returns more than it sold.
    if not OrderLine.objects.filter(pk=line.pk, returned_quantity__lte=F("quantity") - quantity).update(
        returned_quantity=F("returned_quantity") + quantity
    ):
        raise TicketRefused(
            _("Only %(left)s units of this line are left to return.") % {"left": line.quantity - before},
            fields={"quantity": [_("More than is left on the line.")]},
        )
    line.returned_quantity = before + quantity
    now = timezone.now()
    if ticket.unit_id and not SoldUnit.objects.filter(pk=ticket.unit_id, returned_at__isnull=True).update(
        returned_at=now
    ):
        raise TicketRefused(_("That unit was already returned."), fields={"serial": [_("Returned.")]})
    stock_return(location=store, sku=line.sku, quantity=quantity, reference=ticket.number, user=user)

    line_value = units_value(line, before + quantity) - units_value(line, before)
    # What each line's kept units now owe more (or less) of the threshold discounts; the refund
    # keeps back the sum. Commission and the revenue split follow the money per line: the
    # returned line loses its units' value less what its kept units now owe, every other line
    # grows by what its kept units now owe (docs/marketing.md, "The threshold keep-back rule").
    owed = kept_back(order=order, line=line, before=before, quantity=quantity)
    refunds = _refund(
        order=order, amount=line_value - sum(owed.values(), Decimal(0)), user=user, reference=ticket.number
    )
    refund = next((r for r in refunds if r.method not in MEMBER_TENDERS), refunds[0] if refunds else None)
    money_back = sum((r.amount for r in refunds if r.method != PaymentMethod.POINTS), Decimal(0))
    if money_back > 0 and order.member_id:
        # members.services rounds each reversal down (in the member's favour) and never takes
        # the balance below zero; a whole order's refund takes back every point.
        for earned in PointsEntry.objects.filter(reference=order.number, kind=PointsKind.EARN):
            points_reverse(
                earned=earned,
                refunded_amount=min(money_back, earned.paid_amount),
                reference=ticket.number,
                user=user,
            )
    net = {pk: -delta for pk, delta in owed.items()}
    net[line.pk] = line_value + net.get(line.pk, Decimal(0))
    net = {pk: amount for pk, amount in net.items() if amount}
    if order.guide_id and net:
        commission_rebase(
            order=order,
            changes=net,
            user=user,
            reason=_("Ticket %(number)s: return") % {"number": ticket.number},
        )
    RevenueShare.objects.bulk_create(share_moves(amounts=net))

    everything_back = not order.lines.filter(returned_quantity__lt=F("quantity")).exists()
    order_transition(
        order=order,
        to=OrderStatus.RETURNED if everything_back else OrderStatus.PARTLY_RETURNED,
        user=user,
        reason=_("Ticket %(number)s: %(quantity)s x %(sku)s returned at %(store)s")
        % {"number": ticket.number, "quantity": quantity, "sku": line.sku.code, "store": store.name},
    )
    order_event(
        "order.returned", order, ticket=ticket.number, quantity=quantity, refund=refund and refund.amount
    )
    return refund


# --- an exchange ------------------------------------------------------------------------------


def _exchange(*, ticket: Ticket, line: OrderLine, store, user, replacement_serial: str) -> None:
    """A good unit from the handling store's stock replaces the faulty one, which comes back on
    hand there (a "return" movement on the ticket's number: the store decides what to do with it
    — send it to the brand's repair centre by transfer, or write it off by adjustment)."""
    quantity = ticket.quantity
    new_serial = normalise_serial(replacement_serial or "")
    if line.sku.serial_tracked:
        if not new_serial:
            raise _refused(
                _("%(sku)s is serial-tracked: give the replacement's serial number.")
                % {"sku": line.sku.code},
                "replacement_serial",
            )
        if len(new_serial) > SoldUnit._meta.get_field("serial").max_length or not new_serial.isprintable():
            raise _refused(_("That is not a serial number."), "replacement_serial")
        if SoldUnit.objects.filter(sku_id=line.sku_id, serial=new_serial, returned_at__isnull=True).exists():
            raise _refused(
                _("Serial %(serial)s is already with a customer.") % {"serial": new_serial},
                "replacement_serial",
            )
    # Reserve the replacement before the faulty unit is back on hand, so it can never be the
    # replacement itself; refused (nothing written) when the store has no unit available.
    stock_reserve(location=store, sku=line.sku, quantity=quantity, reference=ticket.number, user=user)
    stock_sell(location=store, sku=line.sku, quantity=quantity, reference=ticket.number, user=user)
    stock_return(location=store, sku=line.sku, quantity=quantity, reference=ticket.number, user=user)
    if line.sku.serial_tracked:
        now = timezone.now()
        if ticket.unit_id and not SoldUnit.objects.filter(pk=ticket.unit_id, returned_at__isnull=True).update(
            returned_at=now
        ):
            raise TicketRefused(_("That unit was already returned."), fields={"serial": [_("Returned.")]})
        try:
            with transaction.atomic():
                SoldUnit.objects.create(line=line, sku_id=line.sku_id, serial=new_serial)
        except IntegrityError:  # the same serial handed over elsewhere a moment ago
            raise _refused(
                _("Serial %(serial)s is already with a customer.") % {"serial": new_serial},
                "replacement_serial",
            ) from None
