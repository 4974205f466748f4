"""Orders: cancelling (order_cancel, cancel_as)."""

from django.db import transaction
from django.utils.translation import gettext as _

from config.errors import IllegalTransition
from integrations.outbox import order_event
from marketing.services import release_codes
from members.models import PointsEntry
from members.services import points_reverse
from orders import reactions
from orders.choices import (
    OrderStatus,
    PaymentKind,
)
from orders.errors import (
    OrderRefused,
)
from orders.models import (
    Order,
    RevenueShare,
)
from orders.policies import order_require, person_of
from orders.services.intake import REASON_MAX_LENGTH
from orders.services.paying import _lock, share_reversals, tender_refund
from orders.states import order_transition
from stores.services import stock_release

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
