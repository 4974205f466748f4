"""The order's 360° timeline: every row of the five flows, in time order, from one query per source."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from aftersales.choices import OpenedVia, TicketKind
from aftersales.models import TicketStatusChange
from aftersales.services import ticket_approve, ticket_inspect, ticket_open, ticket_receive, ticket_resolve
from config.roles import SYSTEM
from guides.models import CommissionEntry, CommissionRule
from guides.services import member_bind
from insights.order_timeline import order_timeline
from insights.timeline import FLOW_CODES
from members.models import PointsRule
from orders.fulfilment import order_complete
from orders.models import OrderStatusChange, Payment, RevenueShare, RoutingDecision, StoreAssignment
from stores.models import StockMovement
from tests.aftersales.helpers import ship_from_a
from tests.factories import GuideFactory, MemberFactory, clerk_at


@pytest.fixture
def returned_order(world):
    """A guide's fan orders a TV online; store A ships it, it is delivered, then returned at A."""
    PointsRule.objects.create(channel=None, points_per_yuan=Decimal("1"))
    CommissionRule.objects.create(rate_percent=Decimal("5"), valid_from=timezone.now() - timedelta(days=30))
    member = MemberFactory(name="Li Lei")
    guide = GuideFactory(store=world.c, name="Guide Wang")
    member_bind(member=member, guide=guide)
    clerk = clerk_at(world.a, email="clerk-a@example.com")
    order = world.pay(world.ship_order(member=member))
    ship_from_a(world, order)
    order_complete(order=order, actor=SYSTEM)
    ticket = ticket_open(
        line=order.lines.get(),
        kind=TicketKind.RETURN,
        opened_via=OpenedVia.STORE,
        intake_store=world.a,
        actor=clerk,
    )
    ticket_receive(ticket=ticket, store=world.a, actor=clerk)
    ticket_inspect(ticket=ticket, actor=clerk, note="Dead pixels")
    ticket_approve(ticket=ticket, actor=clerk, note="Fault confirmed")
    ticket_resolve(ticket=ticket, actor=clerk)
    order.refresh_from_db()
    return order


def kinds(timeline, kind):
    return [entry for entry in timeline if entry.kind == kind]


def test_every_row_of_the_five_flows_is_on_the_timeline_in_time_order(returned_order, world):
    order = returned_order
    timeline = order_timeline(order)

    assert [e.at for e in timeline] == sorted(e.at for e in timeline)
    assert {e.flow for e in timeline} == set(FLOW_CODES)
    # order flow: one entry per status change, in the order they were made, with who and why
    changes = list(OrderStatusChange.objects.filter(order=order).order_by("changed_at", "id"))
    assert [e.at for e in kinds(timeline, "status")] == [c.changed_at for c in changes]
    assert kinds(timeline, "status")[-1].what.endswith(changes[-1].get_to_status_display())
    # information: placed, the member, the price applied, and the attribution with its reason
    assert "Placed on Own mall" in kinds(timeline, "placed")[0].what
    assert "Li Lei" in kinds(timeline, "member")[0].what
    (price,) = kinds(timeline, "price")
    assert "TV-55 1 × 2999.00 (all-channel price)" in price.what
    (attribution,) = kinds(timeline, "attribution")
    assert "Guide Wang" in attribution.what and "bound since" in attribution.what
    assert attribution.detail == order.attribution_reason != ""
    # logistics: routing, offer and answer, every stock movement of the order and its ticket
    assert len(kinds(timeline, "routing")) == RoutingDecision.objects.filter(order=order).count() == 1
    assert len(kinds(timeline, "offer")) == StoreAssignment.objects.filter(order=order).count() == 1
    assert "Store A: " in kinds(timeline, "answer")[0].what
    ticket = order.tickets.get()
    movements = StockMovement.objects.filter(reference__in=[order.number, ticket.number])
    assert len(kinds(timeline, "stock")) == movements.count() >= 3  # reserve, sell, return
    assert "Shipped with tracking number SF1" in kinds(timeline, "shipment")[0].what
    # service: the ticket and each of its status changes, with who
    assert f"ticket {ticket.number} opened for TV-55" in kinds(timeline, "ticket")[0].what
    ticket_changes = TicketStatusChange.objects.filter(ticket=ticket)
    assert len(kinds(timeline, "ticket_status")) == ticket_changes.count() >= 4
    assert {e.who for e in kinds(timeline, "ticket_status")} == {"clerk-a@example.com"}
    # capital: payment and refund, every revenue share (and reversal), every commission entry
    payments = kinds(timeline, "payment")
    assert len(payments) == Payment.objects.filter(order=order).count() == 2
    assert "Refund -2999.00" in payments[-1].what
    assert len(kinds(timeline, "share")) == RevenueShare.objects.filter(line__order=order).count()
    commissions = kinds(timeline, "commission")
    entries = CommissionEntry.objects.filter(order=order).order_by("created_at", "id")
    assert len(commissions) == entries.count() == 2  # accrual, clawback
    assert f"held {entries[0].held_change:+}" in commissions[0].what and "Guide Wang" in commissions[0].what


def test_the_order_page_shows_the_timeline_and_filters_it_by_flow_without_javascript(
    client, returned_order, world
):
    order = returned_order
    client.force_login(clerk_at(world.a))
    url = reverse("orders:detail", args=[order.number])

    body = client.get(url).content.decode()
    assert "Timeline: the five flows" in body
    assert "Price applied: TV-55 1 × 2999.00" in body
    assert "Refund -2999.00 by WeChat Pay" in body
    assert "?flow=capital#timeline-h" in body
    # Shown in Asia/Shanghai wall-clock time
    placed = timezone.localtime(order.created_at, timezone=timezone.get_fixed_timezone(480))
    assert placed.strftime("%Y-%m-%d %H:%M:%S") in body

    capital = client.get(url, {"flow": "capital"})
    assert {e.flow for e in capital.context["timeline"]} == {"capital"}
    text = capital.content.decode()
    timeline_html = text[text.index('id="timeline-h"') : text.index('id="history-h"')]
    assert "Refund -2999.00" in timeline_html and "Price applied" not in timeline_html
    assert client.get(url, {"flow": "nonsense"}).context["flow"] is None


def test_another_stores_clerk_gets_404_on_the_timeline(client, returned_order, world):
    client.force_login(clerk_at(world.b))
    url = reverse("orders:detail", args=[returned_order.number])
    assert client.get(url, {"flow": "capital"}).status_code == 404


@pytest.mark.parametrize("tickets", [1, 3])
def test_the_timeline_loads_each_source_once(world, django_assert_max_num_queries, tickets):
    PointsRule.objects.create(channel=None, points_per_yuan=Decimal("1"))
    CommissionRule.objects.create(rate_percent=Decimal("5"), valid_from=timezone.now() - timedelta(days=30))
    member = MemberFactory()
    member_bind(member=member, guide=GuideFactory(store=world.c))
    order = world.pay(world.ship_order(member=member, quantity=3))
    ship_from_a(world, order)
    order_complete(order=order, actor=SYSTEM)
    for _ in range(tickets):
        ticket_open(
            line=order.lines.get(),
            kind=TicketKind.REPAIR,
            opened_via=OpenedVia.STORE,
            intake_store=world.a,
            actor=SYSTEM,
        )
    from orders.models import Order

    order = Order.objects.select_related("channel", "member", "placed_by", "fulfilling_location").get(
        pk=order.pk
    )
    # guide + binding, lines, tickets, ticket changes, history, decisions, assignments, payments,
    # shares, stock movements, commission entries, the release rows of its accruals
    with django_assert_max_num_queries(12):
        timeline = order_timeline(order)
    assert len(kinds(timeline, "ticket")) == tickets


def test_a_release_row_made_by_rule_shows_on_each_orders_timeline(world):
    from guides.settlement import commission_release

    CommissionRule.objects.create(rate_percent=Decimal("5"), valid_from=timezone.now() - timedelta(days=30))
    member = MemberFactory()
    member_bind(member=member, guide=GuideFactory(store=world.c, name="Guide Wang"))
    orders = []
    for _ in range(2):
        order = world.pay(world.ship_order(member=member))
        ship_from_a(world, order)
        order_complete(order=order, actor=SYSTEM)
        orders.append(order)
    line = orders[0].lines.get()
    line.refresh_from_db()
    assert commission_release(now=line.returnable_until + timedelta(days=1)) >= 1

    accrual = CommissionEntry.objects.get(line=line, kind="accrual")
    (released,) = [e for e in kinds(order_timeline(orders[0]), "commission") if "released" in e.what.lower()]
    assert f"payable {accrual.held_change:+}" in released.what and "Guide Wang" in released.what
    release = CommissionEntry.objects.get(kind="release")
    assert release.order_id is None and released.at == release.created_at
    assert any("released" in e.what.lower() for e in kinds(order_timeline(orders[1]), "commission"))


def test_a_pickup_order_shows_when_it_was_ready_and_collected_and_by_whom(world):
    from orders.choices import DeliveryMethod
    from orders.fulfilment import assignment_accept, order_collect, order_ready_for_pickup
    from orders.services import LineRequest, order_create

    world.stock(world.a, world.tv, 1)
    clerk = clerk_at(world.a, email="counter@example.com")
    order = order_create(
        channel=world.mall,
        lines=[LineRequest(world.tv, 1)],
        delivery_method=DeliveryMethod.PICKUP,
        pickup_store=world.a,
        actor=SYSTEM,
    )
    order = world.pay(order)
    assignment_accept(order=order, store=world.a, actor=clerk)
    order = order_ready_for_pickup(order=order, store=world.a, actor=clerk)
    order_collect(order=order, store=world.a, pickup_code=order.pickup_code, actor=clerk)
    order.refresh_from_db()

    pickup = kinds(order_timeline(order), "pickup")
    assert [e.what for e in pickup] == ["Ready for pickup at Store A", "Collected at Store A"]
    assert {e.who for e in pickup} == {"counter@example.com"}
