"""Today's queue on the portal home: the counts a store's staff work down during the day.

- offers: routed orders a store still has to accept or reject (the queue's "Offers");
- pickups: orders ready at the store, waiting for the customer (the queue's "Pickups");
- tickets: service tickets taken in or handled at the store and not closed yet (the store's
  ticket list, whose default view leaves closed ones out).

Each count is one query whatever the number of stores: totals over every store the user sees
(three queries), and the same three grouped by store for the stores the home page lists.
"""

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Q

from aftersales.choices import TicketStatus
from aftersales.models import Ticket
from aftersales.policies import tickets_visible_to
from config.roles import is_hq
from orders.choices import AssignmentStatus, OrderStatus
from orders.models import Order, StoreAssignment
from stores.policies import stores_visible_to


@dataclass
class QueueCounts:
    offers: int = 0
    pickups: int = 0
    tickets: int = 0

    @property
    def total(self) -> int:
        return self.offers + self.pickups + self.tickets


def _offers():
    return StoreAssignment.objects.filter(status=AssignmentStatus.OFFERED)


def _pickups():
    return Order.objects.filter(status=OrderStatus.READY_FOR_PICKUP)


def queue_totals(user) -> QueueCounts:
    """The queue of every store the user sees (HQ: all stores). Three queries."""
    offers, pickups = _offers(), _pickups()
    # Scoped by stores.policies; HQ's stores are all of them, so HQ's counts skip the subquery.
    if not is_hq(user):
        stores = stores_visible_to(user).values("pk")
        offers = offers.filter(store__in=stores)
        pickups = pickups.filter(fulfilling_location__in=stores)
    return QueueCounts(
        offers=offers.count(),
        pickups=pickups.count(),
        tickets=tickets_visible_to(user).exclude(status=TicketStatus.CLOSED).count(),
    )


def queue_by_store(store_ids) -> dict[int, QueueCounts]:
    """The queue per store id, for stores the caller already scoped. Three grouped queries; a
    ticket taken in at one of the stores and handled at another counts at both (it is on both
    stores' lists)."""
    ids = set(store_ids)
    counts: dict[int, QueueCounts] = defaultdict(QueueCounts)
    if not ids:
        return {}
    grouped = _offers().filter(store_id__in=ids).values("store_id").order_by().annotate(n=Count("id"))
    for row in grouped:
        counts[row["store_id"]].offers = row["n"]
    grouped = (
        _pickups()
        .filter(fulfilling_location_id__in=ids)
        .values("fulfilling_location_id")
        .order_by()
        .annotate(n=Count("id"))
    )
    for row in grouped:
        counts[row["fulfilling_location_id"]].pickups = row["n"]
    grouped = (
        Ticket.objects.filter(Q(intake_store_id__in=ids) | Q(handling_store_id__in=ids))
        .exclude(status=TicketStatus.CLOSED)
        .values("intake_store_id", "handling_store_id")
        .order_by()
        .annotate(n=Count("id"))
    )
    for row in grouped:
        for store_id in {row["intake_store_id"], row["handling_store_id"]} & ids:
            counts[store_id].tickets += row["n"]
    return dict(counts)
