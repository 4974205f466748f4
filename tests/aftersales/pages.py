"""Helpers of the after-sales page, HQ, public, API and admin tests: delivered orders as a customer
brings them back and tickets written directly (for the figures). Orders, serial SKUs and images:
tests/aftersales/helpers.py."""

import html
from datetime import timedelta

from django.utils import timezone

from aftersales.choices import OpenedVia, TicketKind, TicketStatus
from aftersales.models import Ticket, TicketStatusChange
from aftersales.warranty import day_end
from config.roles import SYSTEM
from orders.fulfilment import order_complete
from orders.models import Order, OrderLine
from tests.aftersales.helpers import placed_order, ship_from_a


def page(response) -> str:
    return html.unescape(response.content.decode())


def delivered(world, *, member=None, sku=None, quantity=1, serials=(), channel=None, days_ago=0):
    """An online order near store A (the mall by default), paid, shipped by A and delivered;
    `days_ago` moves the delivery back (and the line's return deadline with it)."""
    order = placed_order(
        world,
        sku=sku,
        quantity=quantity,
        member=member,
        channel=channel,
        recipient_phone=member.phone if member else "13900001111",
    )
    ship_from_a(world, order, serials=serials)
    order_complete(order=order, actor=SYSTEM)
    order.refresh_from_db()
    if days_ago:
        back_date(order, days_ago)
    return order


def back_date(order, days: int) -> None:
    """The order was delivered `days` days earlier than it was."""
    delivered_at = order.delivered_at - timedelta(days=days)
    Order.objects.filter(pk=order.pk).update(delivered_at=delivered_at)
    for line in OrderLine.objects.filter(order=order).select_related("warranty_policy"):
        until = day_end(delivered_at, line.warranty_policy.return_days) if line.warranty_policy else None
        OrderLine.objects.filter(pk=line.pk).update(returnable_until=until)
    order.refresh_from_db()


_numbers = iter(range(1, 10**6))


def make_ticket(
    order,
    *,
    kind=TicketKind.RETURN,
    status=TicketStatus.OPENED,
    intake_store=None,
    handling_store=None,
    opened_days_ago=0,
    refused_reason="",
    quantity=1,
    via=OpenedVia.STORE,
    phone="13900001111",
) -> Ticket:
    """A ticket row written directly (pages and figures read it; the services are tested elsewhere)."""
    line = order.lines.first()
    ticket = Ticket.objects.create(
        number=f"T{next(_numbers):08d}",
        kind=kind,
        status=status,
        order=order,
        line=line,
        quantity=quantity,
        member=order.member,
        customer_phone=phone,
        channel=order.channel,
        opened_via=via,
        intake_store=intake_store,
        handling_store=handling_store,
        refused_reason=refused_reason,
        closed_at=timezone.now() if status == TicketStatus.CLOSED else None,
    )
    TicketStatusChange.objects.create(ticket=ticket, to_status=TicketStatus.OPENED, store=intake_store)
    if status != TicketStatus.OPENED:
        TicketStatusChange.objects.create(
            ticket=ticket, from_status=TicketStatus.OPENED, to_status=status, store=handling_store
        )
    if opened_days_ago:
        Ticket.objects.filter(pk=ticket.pk).update(opened_at=timezone.now() - timedelta(days=opened_days_ago))
        ticket.refresh_from_db()
    return ticket
