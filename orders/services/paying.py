"""Orders: paying (order_pay), the revenue split and its reversals, tender refunds."""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.money import quantize_money
from integrations.outbox import order_event
from marketing.services import wallet_balance, wallet_refund, wallet_spend
from marketing.tenders import tender_plan
from members.services import points_earn, points_redeem, points_refund
from orders import reactions
from orders.choices import (
    EXTERNAL_METHODS,
    MEMBER_TENDERS,
    DeliveryMethod,
    OrderStatus,
    PaymentKind,
    PaymentMethod,
    ShareParty,
)
from orders.errors import (
    PaymentRefused,
)
from orders.models import (
    Order,
    OrderLine,
    Payment,
    RevenueRule,
    RevenueShare,
)
from orders.policies import order_require, person_of
from orders.services.serial_numbers import order_delivered, sold_units_record
from orders.states import order_transition
from stores.choices import StoreKind


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
