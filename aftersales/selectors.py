"""Reads of service tickets and purchases. Every view starts from `tickets_visible_to(actor)`
(aftersales.policies, re-exported here).

Finding a purchase is not scoped to the user's stores: one service across channels means a
clerk at any store may look up any channel's order to service it; what they then see of
tickets is scoped (intake or handling store is theirs).
"""

from django.db.models import Prefetch, Q

from aftersales.models import Ticket, TicketStatusChange
from aftersales.policies import tickets_visible_to
from members.phones import normalise_phone_or_blank
from orders.models import OrderLine, SoldUnit
from orders.services import normalise_serial

__all__ = ["PURCHASES_LIMIT", "purchases_find", "ticket_public", "tickets_visible_to"]

PURCHASES_LIMIT = 50


def purchases_find(query: str) -> list[OrderLine]:
    """Order lines a customer may bring back, by mobile (the member's delivered lines), order
    number or serial number (its line). Two queries: the lines, and their sold units."""
    query = (query or "").strip()
    if not query:
        return []
    match = Q(order__number=query.upper()) | Q(units__serial=normalise_serial(query))
    phone = normalise_phone_or_blank(query)
    if phone:
        match |= Q(order__member__phone=phone, order__delivered_at__isnull=False)
    ids = OrderLine.objects.filter(match).values("pk")
    return list(
        OrderLine.objects.filter(pk__in=ids)
        .select_related(
            "order__channel",
            "order__member",
            "order__fulfilling_location",
            "order__origin_store",
            "sku__product__category",
            "warranty_policy",
        )
        .prefetch_related(Prefetch("units", queryset=SoldUnit.objects.order_by("id")))
        .order_by("-order__created_at", "order_id", "id")[:PURCHASES_LIMIT]
    )


def ticket_public(number: str, phone: str) -> Ticket | None:
    """The ticket whose number AND customer mobile both match, with its steps; else None (the
    page says the same "not found" either way, so numbers cannot be probed)."""
    number = (number or "").strip().upper()
    phone = normalise_phone_or_blank(phone)
    if not number or not phone:
        return None
    return (
        Ticket.objects.filter(number=number, customer_phone=phone)
        .prefetch_related(
            Prefetch("status_changes", queryset=TicketStatusChange.objects.order_by("changed_at", "id"))
        )
        .first()
    )
