"""Reads of orders. Who may see which order is `orders.policies.orders_visible_to`: every view
starts there (re-exported here for callers that still import it from this module)."""

from django.db.models import QuerySet, Sum

from orders.choices import AssignmentStatus, OrderStatus
from orders.models import Order, RevenueShare, StoreAssignment
from orders.policies import orders_visible_to  # noqa: F401 (moved; callers move to orders.policies)
from stores.models import Store


def store_queue(*, store: Store) -> dict[str, QuerySet]:
    """A store's work today: offers to accept, accepted orders to ship or prepare, pickups waiting."""
    orders = Order.objects.select_related("channel", "member").order_by("created_at")
    return {
        "offers": StoreAssignment.objects.filter(store=store, status=AssignmentStatus.OFFERED)
        .select_related("order__channel", "order__member")
        .order_by("respond_by"),
        "to_fulfil": orders.filter(fulfilling_location=store, status=OrderStatus.ACCEPTED),
        "pickups": orders.filter(fulfilling_location=store, status=OrderStatus.READY_FOR_PICKUP),
    }


def store_revenue(*, store: Store, since=None, until=None) -> dict:
    """A store's statement: its fulfilment fees and origin shares (reversals included), one query."""
    shares = RevenueShare.objects.filter(store=store)
    if since:
        shares = shares.filter(created_at__gte=since)
    if until:
        shares = shares.filter(created_at__lt=until)
    rows = shares.values("party").annotate(total=Sum("amount"))
    return {row["party"]: row["total"] for row in rows}


def orders_of_member(*, member, user, limit: int = 20) -> list[Order]:
    """A member's latest orders on every channel (one customer, one history), each marked
    `openable` when the user may open its page. Two queries."""
    orders = list(
        Order.objects.filter(member=member).select_related("channel", "origin_store", "fulfilling_location")[
            :limit
        ]
    )
    visible = set(orders_visible_to(user).filter(pk__in=[o.pk for o in orders]).values_list("pk", flat=True))
    for order in orders:
        order.openable = order.pk in visible
    return orders
