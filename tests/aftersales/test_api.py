"""/api/v1/tickets/: open a ticket against any channel's order line, read its status and steps,
list by channel, and work it through its steps, all in the one error shape."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aftersales.choices import OpenedVia, TicketKind, TicketStatus
from aftersales.models import Ticket
from aftersales.services import ticket_open
from config.roles import SYSTEM
from orders.choices import PaymentKind
from orders.models import Payment
from tests.aftersales.helpers import serial_sku
from tests.aftersales.pages import delivered, make_ticket
from tests.factories import GuideFactory, MemberFactory, clerk_at, hq_user
from tests.helpers import login

pytestmark = pytest.mark.django_db

URL = "/api/v1/tickets/"


@pytest.fixture
def member():
    return MemberFactory(phone="13912345678")


@pytest.fixture
def order(world, member):
    return delivered(world, member=member)


def post(client, url, data=None):
    return client.post(url, data or {}, content_type="application/json")


def open_body(sale, **overrides):
    body = {"order": sale.number, "kind": "repair", "description": "No picture"}
    body.update(overrides)
    return body


# --- opening --------------------------------------------------------------------------------------


def test_open_a_ticket_by_order_number_and_sku(world, order):
    user = clerk_at(world.b)
    response = post(login(user), URL, open_body(order, sku="TV-55", intake_store="B", kind="return"))
    assert response.status_code == 201, response.json()
    body = response.json()
    ticket = Ticket.objects.get()
    assert body["number"] == ticket.number and body["status"] == "opened" and body["kind"] == "return"
    assert body["channel"] == "mall" and body["order"] == order.number
    assert [step["to_status"] for step in body["steps"]] == ["opened"]
    assert ticket.opened_via == OpenedVia.API and ticket.intake_store == world.b
    assert ticket.line == order.lines.get() and ticket.opened_by == user
    assert ticket.customer_phone == "13912345678"  # the member's, when none is given
    assert "Delivery day" in body["eligibility"] or "Day 0" in body["eligibility"]


def test_open_by_line_id_and_an_order_with_one_line_needs_neither(world, order):
    client = login(hq_user())
    line = order.lines.get()
    assert post(client, URL, open_body(order, line=line.pk)).status_code == 201
    assert post(client, URL, open_body(order)).status_code == 201
    assert Ticket.objects.filter(line=line).count() == 2


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "refund"}, "kind"),
        ({"kind": None}, "kind"),
        ({"order": "NOPE"}, "order"),
        ({"line": 999999}, "line"),
        ({"sku": "PHONE-1"}, "sku"),
        ({"quantity": 0}, "quantity"),
        ({"intake_store": "C"}, "intake_store"),  # not the clerk's store
        ({"customer_phone": "12345"}, "customer_phone"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(world, order, overrides, field):
    body = {"intake_store": "B", **overrides}  # the clerk opens at their store
    body = {key: value for key, value in open_body(order, **body).items() if value is not None}
    response = post(login(clerk_at(world.b)), URL, body)
    assert response.status_code == 400, response.json()
    error = response.json()
    assert set(error) == {"code", "message", "fields"}
    assert field in error["fields"]
    assert not Ticket.objects.exists()


def test_a_request_the_policy_refuses_says_why(world, member):
    order = delivered(world, member=member, days_ago=16)
    response = post(login(hq_user()), URL, open_body(order, kind="return"))
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "not_eligible"
    assert "Day 16" in error["message"] and "exchange" in error["message"]
    assert not Ticket.objects.exists()


def test_a_serial_not_sold_on_the_line_is_refused(world, member):
    sku = serial_sku()
    order = delivered(world, member=member, sku=sku, serials=["SN-1"])
    client = login(hq_user())
    response = post(client, URL, open_body(order, serial="SN-2"))
    assert response.status_code == 400 and response.json()["code"] == "serial_refused"
    assert "serial" in response.json()["fields"]
    response = post(client, URL, open_body(order, serial="sn-1"))
    assert response.status_code == 201 and response.json()["serial"] == "SN-1"


def test_guides_may_not_open_tickets(world, order):
    response = post(login(GuideFactory().user), URL, open_body(order))
    assert response.status_code == 403
    assert not Ticket.objects.exists()


def test_anonymous_callers_get_403(order, client):
    assert post(client, URL, open_body(order)).status_code == 403
    assert client.get(URL).status_code == 403


# --- reading ---------------------------------------------------------------------------------------


def test_read_a_ticket_with_its_status_and_steps(world, order):
    ticket = make_ticket(order, intake_store=world.b, status=TicketStatus.RECEIVED, handling_store=world.b)
    response = login(clerk_at(world.b)).get(f"{URL}{ticket.number}/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "received" and body["kind"] == "return"
    assert [(s["from_status"], s["to_status"]) for s in body["steps"]] == [
        (None, "opened"),
        ("opened", "received"),
    ]
    assert body["handling_store"]["code"] == "B"


def test_unknown_numbers_and_other_stores_tickets_are_404(world, order):
    ticket = make_ticket(order, intake_store=world.b)
    client = login(clerk_at(world.c))
    for url in (f"{URL}NOPE123/", f"{URL}{ticket.number}/"):
        response = client.get(url)
        assert response.status_code == 404
        assert set(response.json()) == {"code", "message", "fields"}
    assert post(client, f"{URL}{ticket.number}/receive/").status_code == 404


def test_list_by_channel_and_pin_queries(world, order, django_assert_max_num_queries):
    store_sale = delivered(world, channel=world.stores_channel)
    mall = [make_ticket(order) for _ in range(3)]
    stores = make_ticket(store_sale)
    client = login(hq_user())
    # session, user, groups, count, page
    with django_assert_max_num_queries(5):
        response = client.get(URL, {"channel": "mall"})
    numbers = [row["number"] for row in response.json()["results"]]
    assert sorted(numbers) == sorted(t.number for t in mall)
    response = client.get(URL, {"channel": str(world.stores_channel.pk)})
    assert [row["number"] for row in response.json()["results"]] == [stores.number]


def test_list_is_scoped_to_my_stores(world, order):
    mine = make_ticket(order, intake_store=world.b)
    make_ticket(order, intake_store=world.c)
    response = login(clerk_at(world.b)).get(URL)
    assert [row["number"] for row in response.json()["results"]] == [mine.number]


def test_detail_query_count_does_not_grow_with_steps(world, order):
    ticket = make_ticket(order, intake_store=world.b, status=TicketStatus.RECEIVED, handling_store=world.b)
    client = login(hq_user())
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(f"{URL}{ticket.number}/").status_code == 200
    assert len(ctx.captured_queries) <= 6  # session, user, groups, ticket, steps, photos


# --- the steps -------------------------------------------------------------------------------------


def test_a_return_is_worked_through_the_api(world, order):
    client = login(clerk_at(world.b))
    ticket = ticket_open(
        line=order.lines.get(),
        kind=TicketKind.RETURN,
        opened_via=OpenedVia.STORE,
        intake_store=world.b,
        actor=SYSTEM,
    )
    base = f"{URL}{ticket.number}"
    assert post(client, f"{base}/receive/").json()["handling_store"]["code"] == "B"
    assert post(client, f"{base}/inspect/", {"note": "Dead pixel"}).json()["status"] == "inspected"
    assert post(client, f"{base}/approve/").json()["status"] == "approved"
    body = post(client, f"{base}/resolve/").json()
    assert body["status"] == "refunded" and body["refund_amount"] == str(order.total)
    assert Payment.objects.get(order=order, kind=PaymentKind.REFUND).amount == order.total
    assert post(client, f"{base}/close/").json()["status"] == "closed"
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED


def test_refuse_needs_a_reason_and_an_illegal_step_is_a_409(world, order):
    client = login(hq_user())
    ticket = make_ticket(order, intake_store=world.b)
    response = post(client, f"{URL}{ticket.number}/approve/")
    assert response.status_code == 409 and response.json()["code"] == "illegal_transition"
    response = post(client, f"{URL}{ticket.number}/refuse/")
    assert response.status_code == 400 and "reason" in response.json()["fields"]
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPENED


def test_receiving_at_a_store_that_is_not_mine_is_refused(world, order):
    ticket = make_ticket(order, intake_store=world.b)
    response = post(login(clerk_at(world.b)), f"{URL}{ticket.number}/receive/", {"store": "C"})
    assert response.status_code == 400 and "store" in response.json()["fields"]
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPENED


# --- schema ----------------------------------------------------------------------------------------


def test_schema_documents_the_ticket_paths(client, db):
    paths = client.get("/api/v1/schema/?format=json").json()["paths"]
    assert {"/api/v1/tickets/", "/api/v1/tickets/{number}/", "/api/v1/tickets/{number}/resolve/"} <= set(
        paths
    )
    create = paths["/api/v1/tickets/"]["post"]
    assert create["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


@pytest.mark.parametrize(
    "overrides",
    [
        {"quantity": 1.0},
        {"quantity": "1.0"},
        {"quantity": "１"},
        {"quantity": True},
        {"line": "1e3"},
        {"qty": 1},
    ],
)
def test_open_takes_whole_numbers_only_and_refuses_unknown_fields(world, order, overrides):
    """Issue 14, defect 9, for the ticket API: 1.0, "1.0", a full-width "１", true or a typo'd field
    is a 400 naming the field, and no ticket is opened."""
    body = open_body(order, intake_store="B", **overrides)
    response = post(login(clerk_at(world.b)), URL, body)
    assert response.status_code == 400, response.json()
    assert set(response.json()["fields"]) == set(overrides)
    assert not Ticket.objects.exists()


def test_a_step_refuses_unknown_fields(world, order):
    ticket = ticket_open(
        line=order.lines.get(),
        kind=TicketKind.REPAIR,
        opened_via=OpenedVia.STORE,
        intake_store=world.b,
        actor=SYSTEM,
    )
    response = post(login(clerk_at(world.b)), f"{URL}{ticket.number}/receive/", {"stor": "B"})
    assert response.status_code == 400 and set(response.json()["fields"]) == {"stor"}
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPENED
