"""The order's state machine: every allowed move in one table; anything else is refused
with both states named."""

from django.utils import timezone

from config.errors import IllegalTransition
from orders.choices import OrderStatus as S
from orders.models import Order, OrderStatusChange

TRANSITIONS: dict[str, set[str]] = {
    S.CREATED: {S.PAID, S.CANCELLED},
    S.PAID: {S.ALLOCATED, S.ACCEPTED, S.COMPLETED, S.CANCELLED},
    # allocated -> allocated: a reject or a time-out re-routes to the next store.
    S.ALLOCATED: {S.ALLOCATED, S.ACCEPTED, S.CANCELLED},
    S.ACCEPTED: {S.SHIPPED, S.READY_FOR_PICKUP, S.CANCELLED},
    S.SHIPPED: {S.COMPLETED, S.PARTLY_RETURNED, S.RETURNED},
    S.READY_FOR_PICKUP: {S.COMPLETED, S.CANCELLED},
    S.COMPLETED: {S.PARTLY_RETURNED, S.RETURNED},
    S.PARTLY_RETURNED: {S.PARTLY_RETURNED, S.RETURNED},
    S.CANCELLED: set(),
    S.RETURNED: set(),
}


def can_move(current: str, wanted: str) -> bool:
    return wanted in TRANSITIONS.get(current, set())


def order_transition(*, order: Order, to: str, user=None, reason: str = "", extra_fields=()) -> Order:
    """Move an order (row already locked by the caller) and write its history row."""
    if not can_move(order.status, to):
        raise IllegalTransition(
            current=S(order.status).label, wanted=S(to).label, what=f"order {order.number}"
        )
    previous = order.status
    order.status = to
    order.updated_at = timezone.now()
    order.save(update_fields=["status", "updated_at", *extra_fields])
    OrderStatusChange.objects.create(
        order=order, from_status=previous, to_status=to, reason=reason[:255], changed_by=user
    )
    return order
