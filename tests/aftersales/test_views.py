"""The service desk: a clerk at store B services a product bought online and fulfilled by store A
(found by mobile, order number or serial, eligibility shown in words before opening), opens a
ticket there and works it step by step; another store's tickets are a 404. Outcomes are asserted
in the database."""

import pytest
from django.urls import reverse

from aftersales.choices import OpenedVia, TicketKind, TicketStatus
from aftersales.models import Ticket, TicketPhoto, TicketStatusChange
from aftersales.services import ticket_open
from config.roles import SYSTEM
from orders.choices import PaymentKind
from orders.models import Payment, SoldUnit
from stores.models import Stock
from tests.aftersales.helpers import on_hand, png, serial_sku
from tests.aftersales.pages import delivered, make_ticket, page
from tests.factories import GuideFactory, MemberFactory, clerk_at, hq_user, manager_at
from tests.helpers import login

pytestmark = pytest.mark.django_db

DESK = "/portal/service/"


@pytest.fixture
def member():
    return MemberFactory(phone="13912345678", name="Wang Fang")


@pytest.fixture
def online_order(world, member):
    """Bought on the online mall, shipped and delivered by store A today."""
    return delivered(world, member=member)


def open_url(order, query):
    line = order.lines.get()
    return f"{reverse('aftersales:new', args=[line.pk])}?q={query}"


# --- finding the purchase ----------------------------------------------------------------------


@pytest.mark.parametrize("how", ["phone", "spaced phone", "number"])
def test_clerk_at_b_finds_an_online_order_fulfilled_by_a(world, online_order, how):
    query = {"phone": "13912345678", "spaced phone": "139 1234 5678", "number": online_order.number}[how]
    response = login(clerk_at(world.b)).get(DESK, {"q": query})
    text = page(response)
    assert response.status_code == 200
    assert online_order.number in text
    assert "Own mall" in text and "Store A" in text  # sold online, fulfilled by A
    assert "Day 0" in text or "Delivery day" in text  # the policy's answer, in words
    assert "allowed" in text
    assert open_url(online_order, "") in text.replace("&amp;", "&")


def test_clerk_finds_a_serial_tracked_unit_by_its_serial(world, member):
    sku = serial_sku()
    order = delivered(world, member=member, sku=sku, quantity=2, serials=["SN-001", "SN-002"])
    response = login(clerk_at(world.b)).get(DESK, {"q": "sn-002"})
    text = page(response)
    assert order.number in text
    assert "Serial SN-002" in text


def test_eligibility_reasons_are_shown_before_opening(world, member):
    order = delivered(world, member=member, days_ago=16)  # day 16: return closed, exchange open
    text = page(login(clerk_at(world.b)).get(DESK, {"q": order.number}))
    assert "Day 16 after delivery" in text
    assert "refused" in text and "allowed" in text
    assert "exchange" in text


def test_unknown_purchase_says_what_to_type(world, online_order):
    text = page(login(clerk_at(world.b)).get(DESK, {"q": "13800000000"}))
    assert "No purchase found" in text


def test_search_page_query_count_is_pinned(world, member, django_assert_max_num_queries):
    for _ in range(3):
        delivered(world, member=member)
    client = login(clerk_at(world.b))
    # session, user, groups, lines, their units, their tickets, my stores, my open tickets, and
    # the stores whose members I may see (members.policies, once per request)
    with django_assert_max_num_queries(9):
        response = client.get(DESK, {"q": member.phone})
    assert page(response).count("Open a ticket") == 3


def test_guides_may_not_use_the_service_desk(world):
    guide = GuideFactory()
    assert login(guide.user).get(DESK).status_code == 403


# --- opening a ticket at store B -----------------------------------------------------------------


def test_clerk_at_b_opens_a_return_for_an_online_order_fulfilled_by_a(world, online_order):
    clerk = clerk_at(world.b)
    client = login(clerk)
    url = open_url(online_order, online_order.number)
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "store": "B",
            "kind": TicketKind.RETURN,
            "fault": "on",
            "quantity": 1,
            "description": "Screen stays black",
            "customer_phone": "139 1234 5678",
        },
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("aftersales:detail", args=[ticket.number])
    assert ticket.kind == TicketKind.RETURN and ticket.status == TicketStatus.OPENED
    assert ticket.intake_store == world.b and ticket.opened_via == OpenedVia.STORE
    assert ticket.order == online_order and ticket.channel == world.mall
    assert ticket.opened_by == clerk and ticket.customer_phone == "13912345678"
    assert ticket.description == "Screen stays black" and ticket.fault is True
    assert TicketStatusChange.objects.get(ticket=ticket).store == world.b

    # ... and B's desk and B's ticket list show it, with its page.
    assert ticket.number in page(client.get(DESK))
    assert ticket.number in page(client.get(reverse("aftersales:store", args=["B"])))
    assert client.get(reverse("aftersales:detail", args=[ticket.number])).status_code == 200


def test_a_refused_request_is_shown_on_the_form_and_writes_nothing(world, member):
    order = delivered(world, member=member, days_ago=16)
    client = login(clerk_at(world.b))
    response = client.post(
        open_url(order, member.phone),
        {
            "store": "B",
            "kind": TicketKind.RETURN,
            "fault": "on",
            "quantity": 1,
            "customer_phone": member.phone,
        },
    )
    assert response.status_code == 200
    assert "return window has closed" in page(response) or "window has closed" in page(response)
    assert not Ticket.objects.exists()


def test_a_line_id_alone_opens_nothing(world, online_order):
    client = login(clerk_at(world.b))
    line = online_order.lines.get()
    assert client.get(reverse("aftersales:new", args=[line.pk])).status_code == 404
    assert client.get(f"{reverse('aftersales:new', args=[line.pk])}?q=13800000000").status_code == 404


def test_photos_are_stored_and_shown_only_to_who_may_see_the_ticket(world, online_order):
    client = login(clerk_at(world.b))
    response = client.post(
        open_url(online_order, online_order.number),
        {
            "store": "B",
            "kind": TicketKind.REPAIR,
            "fault": "on",
            "quantity": 1,
            "customer_phone": "13912345678",
            "photos": [png("one.png"), png("two.jpg", fmt="JPEG")],
        },
    )
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    photos = list(TicketPhoto.objects.filter(ticket=ticket))
    assert len(photos) == 2
    photo_url = reverse("aftersales:photo", args=[ticket.number, photos[0].pk])
    assert client.get(photo_url).status_code == 200
    assert login(clerk_at(world.c)).get(photo_url).status_code == 404


def test_a_file_that_is_not_an_image_is_refused_on_the_form(world, online_order):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = login(clerk_at(world.b)).post(
        open_url(online_order, online_order.number),
        {
            "store": "B",
            "kind": TicketKind.REPAIR,
            "fault": "on",
            "quantity": 1,
            "customer_phone": "13912345678",
            "photos": [SimpleUploadedFile("fault.png", b"not an image", content_type="image/png")],
        },
    )
    assert response.status_code == 200
    assert "not an image" in page(response)
    assert not Ticket.objects.exists()


def test_a_serial_tracked_product_needs_a_serial_sold_on_the_line(world, member):
    sku = serial_sku()
    order = delivered(world, member=member, sku=sku, serials=["SN-9"])
    client = login(clerk_at(world.b))
    data = {
        "store": "B",
        "kind": TicketKind.RETURN,
        "fault": "on",
        "quantity": 1,
        "customer_phone": member.phone,
    }
    response = client.post(open_url(order, order.number), {**data, "serial": "SN-404"})
    assert response.status_code == 200 and "SN-404" in page(response)
    assert not Ticket.objects.exists()
    response = client.post(open_url(order, order.number), {**data, "serial": "sn-9"})
    assert response.status_code == 302
    assert Ticket.objects.get().unit == SoldUnit.objects.get(serial="SN-9")


def test_a_clerk_of_two_stores_picks_where_the_product_is_taken_in(world, online_order):
    clerk = clerk_at(world.b)
    from stores.models import StaffMembership

    StaffMembership.objects.create(user=clerk, store=world.c, role="clerk")
    response = login(clerk).post(
        open_url(online_order, online_order.number),
        {
            "store": "C",
            "kind": TicketKind.REPAIR,
            "fault": "on",
            "quantity": 1,
            "customer_phone": "13912345678",
        },
    )
    assert response.status_code == 302
    assert Ticket.objects.get().intake_store == world.c


def test_a_store_that_is_not_mine_cannot_be_chosen(world, online_order):
    response = login(clerk_at(world.b)).post(
        open_url(online_order, online_order.number),
        {
            "store": "C",
            "kind": TicketKind.REPAIR,
            "fault": "on",
            "quantity": 1,
            "customer_phone": "13912345678",
        },
    )
    assert response.status_code == 200
    assert not Ticket.objects.exists()


# --- the store boundary --------------------------------------------------------------------------


def test_a_clerk_of_store_c_cannot_open_bs_ticket_or_list(world, online_order):
    ticket = make_ticket(online_order, intake_store=world.b)
    client = login(clerk_at(world.c))
    assert client.get(reverse("aftersales:detail", args=[ticket.number])).status_code == 404
    assert (
        client.post(reverse("aftersales:detail", args=[ticket.number]), {"action": "receive"}).status_code
        == 404
    )
    assert client.get(reverse("aftersales:store", args=["B"])).status_code == 404
    assert ticket.number not in page(client.get(DESK))
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPENED


def test_store_list_shows_tickets_taken_in_or_handled_there_and_pins_queries(
    world, online_order, django_assert_max_num_queries
):
    taken_in = make_ticket(online_order, intake_store=world.b)
    handled = make_ticket(
        online_order, intake_store=world.c, handling_store=world.b, status=TicketStatus.RECEIVED
    )
    elsewhere = make_ticket(online_order, intake_store=world.c)
    closed = make_ticket(online_order, intake_store=world.b, status=TicketStatus.CLOSED)
    client = login(manager_at(world.b))
    # session, user, groups, the store, count, page
    with django_assert_max_num_queries(6):
        text = page(client.get(reverse("aftersales:store", args=["B"])))
    assert taken_in.number in text and handled.number in text
    assert elsewhere.number not in text and closed.number not in text
    assert closed.number in page(client.get(reverse("aftersales:store", args=["B"]), {"all": "1"}))


# --- working the ticket --------------------------------------------------------------------------


def step(client, ticket, action, **data):
    return client.post(reverse("aftersales:detail", args=[ticket.number]), {"action": action, **data})


def opened_at_b(world, order, kind=TicketKind.RETURN, user=SYSTEM):
    return ticket_open(
        line=order.lines.get(),
        kind=kind,
        customer_phone="13912345678",
        opened_via=OpenedVia.STORE,
        intake_store=world.b,
        actor=user,
    )


def test_a_return_is_worked_to_its_refund_at_store_b(world, online_order):
    clerk = clerk_at(world.b)
    client = login(clerk)
    ticket = opened_at_b(world, online_order, user=clerk)
    before_b = on_hand(world.b, world.tv)

    page_text = page(client.get(reverse("aftersales:detail", args=[ticket.number])))
    assert "Unit received" in page_text  # the next step's button

    assert step(client, ticket, "receive").status_code == 302
    assert step(client, ticket, "inspect", **{"step-note": "Panel cracked"}).status_code == 302
    assert step(client, ticket, "approve").status_code == 302
    assert step(client, ticket, "resolve").status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.REFUNDED
    assert ticket.handling_store == world.b
    refund = Payment.objects.get(order=online_order, kind=PaymentKind.REFUND)
    assert ticket.refund == refund and refund.amount == online_order.total
    assert on_hand(world.b, world.tv) == before_b + 1  # back in B's stock, not A's
    steps = list(ticket.status_changes.values_list("to_status", "changed_by", "store"))
    assert [s[0] for s in steps] == ["opened", "received", "inspected", "approved", "refunded"]
    assert all(s[1] == clerk.pk for s in steps)
    assert ticket.status_changes.get(to_status="inspected").note == "Panel cracked"

    assert step(client, ticket, "close").status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED and ticket.closed_at is not None


def test_refusing_needs_a_reason_which_is_kept(world, online_order):
    client = login(clerk_at(world.b))
    ticket = opened_at_b(world, online_order)
    step(client, ticket, "receive")
    step(client, ticket, "inspect")
    response = step(client, ticket, "refuse", **{"refuse-reason": ""})
    assert response.status_code == 200
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.INSPECTED
    assert step(client, ticket, "refuse", **{"refuse-reason": "Water damage"}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.REFUSED and ticket.refused_reason == "Water damage"


def test_a_repair_is_resolved_with_its_note_and_a_missing_note_is_shown(world, online_order):
    client = login(clerk_at(world.b))
    ticket = opened_at_b(world, online_order, kind=TicketKind.REPAIR)
    for action in ("receive", "inspect", "approve"):
        step(client, ticket, action)
    response = step(client, ticket, "resolve", **{"resolve-note": ""})
    assert response.status_code == 200
    assert "repaired" in page(response).lower()
    assert step(client, ticket, "resolve", **{"resolve-note": "Replaced the power board"}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.REPAIRED and ticket.repair_note == "Replaced the power board"


def test_a_step_the_state_machine_refuses_is_shown_and_changes_nothing(world, online_order):
    client = login(clerk_at(world.b))
    ticket = opened_at_b(world, online_order)
    response = step(client, ticket, "approve")
    assert response.status_code == 200
    assert "Cannot move" in page(response)
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPENED


def test_ticket_page_query_count_is_pinned(world, online_order, django_assert_max_num_queries):
    client = login(clerk_at(world.b))
    ticket = opened_at_b(world, online_order)
    step(client, ticket, "receive")
    # session, user, groups, the ticket with its parties, my stores, history, photos
    with django_assert_max_num_queries(7):
        assert client.get(reverse("aftersales:detail", args=[ticket.number])).status_code == 200


def test_a_ticket_opened_online_is_received_at_the_store_the_customer_walks_into(world, online_order):
    ticket = ticket_open(
        line=online_order.lines.get(),
        kind=TicketKind.REPAIR,
        customer_phone="13912345678",
        opened_via=OpenedVia.API,
        actor=SYSTEM,
    )
    client = login(clerk_at(world.b))
    assert ticket.number in page(client.get(DESK, {"q": online_order.number}))
    response = client.post(
        reverse("aftersales:take_in", args=[ticket.number]), {"q": online_order.number, "store": "B"}
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RECEIVED and ticket.handling_store == world.b
    assert client.get(reverse("aftersales:detail", args=[ticket.number])).status_code == 200


def test_taking_in_needs_the_customers_details(world, online_order):
    ticket = ticket_open(
        line=online_order.lines.get(),
        kind=TicketKind.REPAIR,
        customer_phone="13912345678",
        opened_via=OpenedVia.API,
        actor=SYSTEM,
    )
    response = login(clerk_at(world.b)).post(reverse("aftersales:take_in", args=[ticket.number]), {"q": "x"})
    assert response.status_code == 404
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPENED


# --- the portal home and the member page ---------------------------------------------------------


def test_home_tiles_point_staff_to_the_desk_and_hq_to_the_queue(world):
    assert "Service desk" in page(login(clerk_at(world.b)).get("/portal/"))
    text = page(login(hq_user()).get("/portal/"))
    assert "Service queue" in text


def test_member_page_lists_the_members_tickets_on_every_channel(world, member, online_order):
    ticket = make_ticket(online_order, intake_store=world.b)
    text = page(login(hq_user()).get(reverse("members:detail", args=[member.pk])))
    assert ticket.number in text
    assert reverse("aftersales:detail", args=[ticket.number]) in text


def test_an_exchange_is_handed_over_from_bs_shelf(world, online_order):
    world.stock(world.b, world.tv, 2)
    client = login(clerk_at(world.b))
    ticket = opened_at_b(world, online_order, kind=TicketKind.EXCHANGE)
    for action in ("receive", "inspect", "approve"):
        step(client, ticket, action)
    assert step(client, ticket, "resolve").status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.EXCHANGED
    stock = Stock.objects.get(location=world.b, sku=world.tv)
    assert (stock.on_hand, stock.reserved) == (2, 0)  # one good unit out, the faulty one back in


def test_hq_customer_service_opens_a_ticket_without_a_store(world, online_order):
    hq = hq_user()
    response = login(hq).post(
        open_url(online_order, online_order.number),
        {
            "store": "",
            "kind": TicketKind.REPAIR,
            "fault": "on",
            "quantity": 1,
            "customer_phone": "13912345678",
        },
    )
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.opened_via == OpenedVia.HQ and ticket.intake_store is None and ticket.opened_by == hq
