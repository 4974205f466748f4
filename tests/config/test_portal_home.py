"""The portal home's "today's queue": routed orders to accept, pickups waiting and open service
tickets of the user's stores, each count equal to the rows behind it and linking to their list,
in a fixed number of queries whatever the number of stores."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from aftersales.choices import OpenedVia, TicketKind, TicketStatus
from aftersales.models import Ticket
from aftersales.services import ticket_open
from config.roles import SYSTEM
from orders.choices import AssignmentStatus, DeliveryMethod, OrderStatus
from orders.fulfilment import assignment_accept, order_ready_for_pickup
from orders.models import Order, StoreAssignment
from orders.services import LineRequest, order_create, order_pay
from stores.choices import StaffRole
from stores.models import StaffMembership
from tests.aftersales.pages import delivered, page
from tests.factories import GuideFactory, MemberFactory, clerk_at, hq_user, manager_at
from tests.helpers import login
from tests.world import World

pytestmark = pytest.mark.django_db

HOME = "/portal/"


@pytest.fixture
def world(db):
    return World()


def counts(body: str) -> dict[str, int]:
    return {kind: int(n) for kind, n in re.findall(r'data-count="(\w+)">(\d+)<', body)}


def store_counts(body: str, store) -> dict[str, int]:
    """The per-store cells of the store's row in the home's table."""
    row = re.search(rf'href="/portal/stores/{store.code}/".*?</tr>', body, flags=re.S).group(0)
    return {kind: int(n) for kind, n in re.findall(r'data-store-count="(\w+)">(\d+)<', row)}


def pickup_ready_at(world, store):
    world.stock(store, world.phone, 1)
    order = order_create(
        channel=world.mall,
        lines=[LineRequest(world.phone, 1)],
        delivery_method=DeliveryMethod.PICKUP,
        pickup_store=store,
        actor=SYSTEM,
    )
    order_pay(order=order, amount=order.total, method="alipay", actor=SYSTEM)
    assignment_accept(order=order, store=store, actor=SYSTEM)
    order_ready_for_pickup(order=order, store=store, actor=SYSTEM)
    return order


@pytest.fixture
def busy(world):
    """Store A: two routed offers, one pickup ready, one open return (and a closed one); store B:
    one routed offer and its own open repair."""
    world.pay(world.ship_order())
    world.pay(world.ship_order())
    pickup_ready_at(world, world.a)
    member = MemberFactory(phone="13912345678")
    bought = delivered(world, member=member)
    ticket_open(
        line=bought.lines.get(),
        kind=TicketKind.RETURN,
        customer_phone=member.phone,
        opened_via=OpenedVia.STORE,
        intake_store=world.a,
        actor=SYSTEM,
    )
    closed = delivered(world, member=member)
    done = ticket_open(
        line=closed.lines.get(),
        kind=TicketKind.REPAIR,
        customer_phone=member.phone,
        opened_via=OpenedVia.STORE,
        intake_store=world.a,
        actor=SYSTEM,
    )
    Ticket.objects.filter(pk=done.pk).update(status=TicketStatus.CLOSED)
    world.stock(world.b, world.tv, 1)
    world.pay(world.ship_order(store=world.b))  # A has no TV left: routed to B
    other = delivered(world, member=member)
    ticket_open(
        line=other.lines.get(),
        kind=TicketKind.REPAIR,
        customer_phone=member.phone,
        opened_via=OpenedVia.STORE,
        intake_store=world.b,
        actor=SYSTEM,
    )
    return world


def expected(store) -> dict[str, int]:
    from django.db.models import Q

    return {
        "offers": StoreAssignment.objects.filter(store=store, status=AssignmentStatus.OFFERED).count(),
        "pickups": Order.objects.filter(
            fulfilling_location=store, status=OrderStatus.READY_FOR_PICKUP
        ).count(),
        "tickets": Ticket.objects.filter(Q(intake_store=store) | Q(handling_store=store))
        .exclude(status=TicketStatus.CLOSED)
        .count(),
    }


def test_a_clerk_sees_the_counts_of_their_store_only_each_linking_to_its_list(busy):
    world = busy
    body = page(login(clerk_at(world.a)).get(HOME))
    assert counts(body) == expected(world.a) == {"offers": 2, "pickups": 1, "tickets": 1}
    queue = reverse("orders:queue", args=["A"])
    assert f'id="queue-offers" href="{queue}#offers"' in body
    assert f'id="queue-pickups" href="{queue}#pickups"' in body
    assert f'id="queue-tickets" href="{reverse("aftersales:store", args=["A"])}"' in body
    assert reverse("orders:queue", args=["B"]) not in body


def test_a_manager_of_two_stores_sees_totals_and_a_row_per_store(busy):
    world = busy
    manager = manager_at(world.a)
    StaffMembership.objects.create(user=manager, store=world.b, role=StaffRole.MANAGER)
    body = page(login(manager).get(HOME))
    a, b = expected(world.a), expected(world.b)
    assert b == {"offers": 1, "pickups": 0, "tickets": 1}
    assert counts(body) == {kind: a[kind] + b[kind] for kind in a}
    assert 'id="queue-offers" href="#store-queue"' in body
    assert store_counts(body, world.a) == a
    assert store_counts(body, world.b) == b
    assert f'href="{reverse("aftersales:store", args=["B"])}" data-store-count="tickets"' in body


def test_hq_sees_every_store_and_links_to_the_filtered_lists(busy):
    body = page(login(hq_user()).get(HOME))
    assert counts(body) == {
        "offers": StoreAssignment.objects.filter(status=AssignmentStatus.OFFERED).count(),
        "pickups": Order.objects.filter(status=OrderStatus.READY_FOR_PICKUP).count(),
        "tickets": Ticket.objects.exclude(status=TicketStatus.CLOSED).count(),
    }
    assert f'href="{reverse("orders:list")}?status=allocated"' in body
    assert f'href="{reverse("orders:list")}?status=ready_for_pickup"' in body
    assert "status=opened&status=received" in body and "status=closed" not in body


def test_an_idle_store_says_what_to_do_while_nothing_waits(world):
    body = page(login(clerk_at(world.c)).get(HOME))
    assert counts(body) == {"offers": 0, "pickups": 0, "tickets": 0}
    assert 'id="queue-empty"' in body
    assert "Nothing is waiting." in body


def test_guides_get_no_queue(world):
    body = page(login(GuideFactory().user).get(HOME))
    assert 'id="today-queue"' not in body and 'id="home-search"' not in body


def test_the_search_box_and_scanner_are_on_the_home_of_store_staff(world):
    body = page(login(clerk_at(world.a)).get(HOME))
    assert f'action="{reverse("portal:search")}"' in body
    assert 'id="home-search-q"' in body
    assert 'data-scan-target="home-search-q" hidden' in body  # scan.js shows it where supported
    assert "/static/js/scan.js" in body
    assert 'id="nav-search-q"' not in body  # the header box is left out where the page has its own


def queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(HOME).status_code == 200
    return len(captured)


def test_query_count_does_not_grow_with_stores_or_work(busy, django_assert_max_num_queries):
    world = busy
    one = login(clerk_at(world.c))
    idle = queries(one)
    manager = manager_at(world.a)
    for store in (world.b, world.c, world.w):
        StaffMembership.objects.create(user=manager, store=store, role=StaffRole.MANAGER)
    many = login(manager)
    assert queries(many) == idle
    # One more than the group names alone: aftersales.policies asks whether they work a counter.
    with django_assert_max_num_queries(11):
        many.get(HOME)


def test_the_home_has_its_own_title(world):
    body = page(login(clerk_at(world.a)).get(HOME))
    assert "<title>Portal home · O2O back office</title>" in body


def test_hq_nav_links_the_dashboard_and_staff_nav_does_not(world):
    body = page(login(hq_user()).get(HOME))
    assert f'<a href="{reverse("dashboard:home")}" id="nav-dashboard"' in body
    assert 'id="nav-dashboard"' not in page(login(clerk_at(world.a)).get(HOME))


def test_a_clerk_without_a_store_is_told_to_ask_hq_instead_of_a_queue(world):
    from config.roles import Role
    from tests.factories import UserFactory

    body = page(login(UserFactory(roles=[Role.STORE_CLERK])).get(HOME))
    assert 'id="today-queue"' not in body
    assert "You are not assigned to any store yet. Ask HQ to add you to your store." in body
