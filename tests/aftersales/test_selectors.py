"""Who sees which ticket, finding a purchase by mobile / order number / serial, and the
customer's lookup by ticket number + mobile."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from aftersales.choices import OpenedVia, TicketKind, TicketStatus
from aftersales.models import Ticket, TicketStatusChange
from aftersales.selectors import purchases_find, ticket_public, tickets_visible_to
from catalog.services import price_set
from config.roles import SYSTEM
from orders.fulfilment import order_complete
from tests.aftersales.helpers import placed_order, ship_from_a
from tests.factories import MemberFactory, PartnerFactory, SKUFactory, clerk_at, hq_user, partner_user


def order_for(world, *, member=None, sku=None, serials=(), deliver=True):
    """A paid home-delivery order shipped by store A, delivered unless `deliver` is False."""
    order = placed_order(world, member=member, sku=sku)
    if deliver:
        ship_from_a(world, order, serials=serials)
        order_complete(order=order, actor=SYSTEM)
    order.refresh_from_db()
    return order


def ticket_for(order, *, number, intake=None, handling=None, phone="13800138000", status=TicketStatus.OPENED):
    """A ticket row as the services leave it (its own rules are tested in test_services.py)."""
    ticket = Ticket.objects.create(
        number=number,
        kind=TicketKind.REPAIR,
        status=status,
        order=order,
        line=order.lines.get(),
        customer_phone=phone,
        channel=order.channel,
        opened_via=OpenedVia.STORE if intake else OpenedVia.HQ,
        intake_store=intake,
        handling_store=handling,
    )
    TicketStatusChange.objects.create(ticket=ticket, to_status=TicketStatus.OPENED, store=intake)
    return ticket


# --- tickets_visible_to ------------------------------------------------------------------------


@pytest.mark.django_db
def test_staff_see_tickets_opened_or_handled_at_their_stores_and_hq_sees_all(world):
    order = order_for(world, member=MemberFactory())
    opened_at_b = ticket_for(order, number="T1", intake=world.b)
    handled_at_b = ticket_for(order, number="T2", intake=world.c, handling=world.b)
    at_c = ticket_for(order, number="T3", intake=world.c, handling=world.c)
    by_hq = ticket_for(order, number="T4")

    clerk_b = clerk_at(world.b)
    assert set(tickets_visible_to(clerk_b)) == {opened_at_b, handled_at_b}
    assert set(tickets_visible_to(clerk_at(world.c))) == {handled_at_b, at_c}
    # the store that shipped the order sees nothing of tickets opened elsewhere
    assert not tickets_visible_to(clerk_at(world.a)).exists()
    assert set(tickets_visible_to(hq_user())) == {opened_at_b, handled_at_b, at_c, by_hq}
    assert not tickets_visible_to(AnonymousUser()).exists()
    # a partner sees the tickets of the stores it runs
    partner = PartnerFactory()
    world.c.partner = partner
    world.c.save(update_fields=["partner"])
    assert set(tickets_visible_to(partner_user(partner))) == {handled_at_b, at_c}


@pytest.mark.django_db
def test_a_clerk_working_at_two_stores_sees_each_ticket_once(world, django_assert_num_queries):
    from stores.choices import StaffRole
    from stores.models import StaffMembership

    order = order_for(world, member=MemberFactory())
    ticket = ticket_for(order, number="T1", intake=world.a, handling=world.b)
    clerk = clerk_at(world.a)
    StaffMembership.objects.create(user=clerk, store=world.b, role=StaffRole.CLERK)
    clerk = type(clerk).objects.get(pk=clerk.pk)
    with django_assert_num_queries(2):  # the user's roles, then the tickets
        assert list(tickets_visible_to(clerk)) == [ticket]


# --- purchases_find ----------------------------------------------------------------------------


@pytest.fixture
def purchases(world):
    member = MemberFactory(phone="13800138000")
    sku = SKUFactory(code="TV-S", serial_tracked=True)
    price_set(
        sku=sku,
        channel=None,
        amount=Decimal("2999.00"),
        valid_from=timezone.now() - timezone.timedelta(days=1),
        actor=SYSTEM,
    )
    return {
        "tv": order_for(world, member=member),
        "serial": order_for(world, member=member, sku=sku, serials=["SN-77"]),
        "undelivered": order_for(world, member=member, deliver=False),
        "stranger": order_for(world, member=MemberFactory()),
    }


@pytest.mark.django_db
def test_by_mobile_the_members_delivered_lines_newest_first(purchases, django_assert_num_queries):
    with django_assert_num_queries(2):  # the lines with their order, member, SKU; their units
        lines = purchases_find("+86 138-0013-8000")
        assert [line.order for line in lines] == [purchases["serial"], purchases["tv"]]
        assert [unit.serial for unit in lines[0].units.all()] == ["SN-77"]
        assert lines[0].order.channel.code == "mall" and lines[0].sku.product.category is not None


@pytest.mark.django_db
def test_by_order_number_any_order_even_undelivered_so_the_clerk_can_say_why(purchases):
    order = purchases["undelivered"]
    assert [line.order for line in purchases_find(f" {order.number.lower()} ")] == [order]
    stranger = purchases["stranger"]
    assert [line.order for line in purchases_find(stranger.number)] == [stranger]


@pytest.mark.django_db
def test_by_serial_the_line_that_sold_it(purchases):
    lines = purchases_find("sn-77")
    assert [line.order for line in lines] == [purchases["serial"]]


@pytest.mark.django_db
def test_nothing_found_for_blank_or_unknown_queries(purchases, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert purchases_find("   ") == []
    assert purchases_find("13900000000") == []
    assert purchases_find("NOPE") == []


# --- ticket_public -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_customer_needs_both_the_number_and_the_mobile(world, django_assert_num_queries):
    order = order_for(world, member=MemberFactory())
    ticket = ticket_for(order, number="2611220A1B2C3D4E", intake=world.b, phone="13800138000")
    with django_assert_num_queries(2):  # the ticket, its steps
        found = ticket_public(" 2611220a1b2c3d4e ", "+86 138 0013 8000")
        assert found == ticket
        assert [step.to_status for step in found.status_changes.all()] == ["opened"]
    assert ticket_public(ticket.number, "13900000000") is None
    assert ticket_public("2611220A1B2C3D4F", "13800138000") is None
    assert ticket_public(ticket.number, "") is None
    assert ticket_public("", "13800138000") is None
    with django_assert_num_queries(0):
        assert ticket_public(ticket.number, "not a phone") is None
