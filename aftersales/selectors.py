"""Reads of service tickets and purchases. Every view starts from `tickets_visible_to(actor)`
(aftersales.policies, re-exported here).

Finding a purchase is not scoped to the user's stores: one service across channels means a
clerk at any store may look up any channel's order to service it; what they then see of
tickets is scoped (intake or handling store is theirs).
"""

from django.db.models import Prefetch, Q

from aftersales.models import Ticket, TicketStatusChange
from aftersales.policies import tickets_visible_to
from marketing.choices import WalletKind
from marketing.models import WalletEntry
from members.choices import PointsKind
from members.models import PointsEntry
from members.phones import normalise_phone_or_blank
from orders.choices import PaymentKind, PaymentMethod
from orders.models import OrderLine, Payment, SoldUnit
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


def return_refunds(ticket: Ticket) -> list:
    """The refund rows a return wrote, one per tender it went back to (points, stored value, the
    external payment), in the order refunds go back (marketing.tenders.REFUND_ORDER).

    The ticket keeps one of them (`refund`: the external one when there is one, else the first);
    the others were written just before or after it in the same transaction, and their points
    and wallet ledger rows carry the ticket's number: a neighbour counts only when its ledger row
    for this ticket says so, so another return's refund is never taken for this one's."""
    if ticket.refund_id is None:
        return []
    rows = list(Payment.objects.filter(order_id=ticket.order_id, kind=PaymentKind.REFUND).order_by("id"))
    at = next((i for i, row in enumerate(rows) if row.pk == ticket.refund_id), None)
    if at is None:
        return []
    points_back = set(
        PointsEntry.objects.filter(reference=ticket.number, kind=PointsKind.REFUND).values_list(
            "points", flat=True
        )
    )
    wallet_back = set(
        WalletEntry.objects.filter(reference=ticket.number, kind=WalletKind.REFUND).values_list(
            "amount", flat=True
        )
    )

    def ours(row) -> bool:
        if row.method == PaymentMethod.POINTS:
            return row.points in points_back
        if row.method == PaymentMethod.STORED_VALUE:
            return row.amount in wallet_back
        return row.pk == ticket.refund_id

    order = (PaymentMethod.POINTS, PaymentMethod.STORED_VALUE)
    rank = {method: i for i, method in enumerate(order)}
    found = [rows[at]]
    anchor_rank = rank.get(rows[at].method, len(order))
    before = at - 1
    while before >= 0 and rank.get(rows[before].method, len(order)) < rank.get(found[0].method, len(order)):
        if not ours(rows[before]):
            break
        found.insert(0, rows[before])
        before -= 1
    after = at + 1
    last = anchor_rank
    while after < len(rows) and rank.get(rows[after].method, len(order)) > last:
        if rows[after].method not in order or not ours(rows[after]):
            break
        found.append(rows[after])
        last = rank[rows[after].method]
        after += 1
    return found
