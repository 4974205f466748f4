"""Issue 14, defect 3 (tickets): the desk pages and /api/v1/tickets/ ask one policy
(aftersales.policies), so they agree on who reads a ticket and who works it. Partners and their
keys read their stores' tickets but do not open, move or close them; a clerk works only the
tickets of their own stores; a guide sees none."""

import pytest
from django.test import Client
from django.urls import reverse

from aftersales.choices import OpenedVia, TicketKind, TicketStatus
from aftersales.models import Ticket, TicketStatusChange
from aftersales.policies import desk_stores_of, ticket_actionable_by, tickets_visible_to
from aftersales.services import ticket_inspect, ticket_open, ticket_receive
from config.errors import Forbidden, NotFound
from config.roles import SYSTEM
from integrations.choices import Scope
from integrations.services import api_key_create
from tests.aftersales.pages import delivered
from tests.factories import GuideFactory, MemberFactory, PartnerFactory, clerk_at, hq_user, partner_user
from tests.helpers import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def received(world):
    """A repair handed in and received at store A, whose partner runs it."""
    world.a.partner = PartnerFactory()
    world.a.save()
    order = delivered(world, member=MemberFactory(phone="13912345678"))
    ticket = ticket_open(
        line=order.lines.get(),
        kind=TicketKind.REPAIR,
        opened_via=OpenedVia.STORE,
        intake_store=world.a,
        actor=SYSTEM,
    )
    ticket_receive(ticket=ticket, store=world.a, actor=SYSTEM)
    return ticket


def partner_key_client(partner) -> Client:
    scopes = [Scope.AFTERSALES_WRITE, Scope.ORDERS_READ]
    _key, plaintext = api_key_create(name="partner", partner=partner, scopes=scopes, actor=SYSTEM)
    return Client(headers={"authorization": f"Bearer {plaintext}"})


def api_inspect(client, ticket):
    return client.post(
        f"/api/v1/tickets/{ticket.number}/inspect/", {"note": "looked"}, content_type="application/json"
    )


def page_inspect(client, ticket):
    url = reverse("aftersales:detail", kwargs={"number": ticket.number})
    return client.post(url, {"action": "inspect", "step-note": "looked"})


def unmoved(ticket) -> bool:
    ticket.refresh_from_db()
    return (
        ticket.status == TicketStatus.RECEIVED
        and not TicketStatusChange.objects.filter(ticket=ticket, to_status=TicketStatus.INSPECTED).exists()
    )


def test_a_partner_user_reads_the_ticket_in_the_api_but_works_it_nowhere(world, received):
    client = login(partner_user(world.a.partner))
    read = client.get(f"/api/v1/tickets/{received.number}/")
    assert read.status_code == 200 and read.json()["number"] == received.number
    response = api_inspect(client, received)
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert page_inspect(client, received).status_code == 403  # the desk is for the counter's staff
    assert unmoved(received)


def test_a_partner_key_reads_its_stores_tickets_and_cannot_open_or_move_them(world, received):
    client = partner_key_client(world.a.partner)
    listed = client.get("/api/v1/tickets/")
    assert [row["number"] for row in listed.json()["results"]] == [received.number]
    assert api_inspect(client, received).status_code == 403
    opened = client.post(
        "/api/v1/tickets/",
        {"order": received.order.number, "kind": "repair", "intake_store": "A"},
        content_type="application/json",
    )
    assert opened.status_code == 403, opened.json()
    assert Ticket.objects.count() == 1 and unmoved(received)


def test_a_clerk_of_another_store_neither_sees_nor_works_it_on_page_or_api(world, received):
    client = login(clerk_at(world.c))
    assert client.get(f"/api/v1/tickets/{received.number}/").status_code == 404
    assert api_inspect(client, received).status_code == 404
    assert page_inspect(client, received).status_code == 404
    assert client.get(reverse("aftersales:detail", kwargs={"number": received.number})).status_code == 404
    assert unmoved(received)


def test_a_guide_sees_no_ticket_and_has_no_desk(world, received):
    client = login(GuideFactory(store=None).user)
    assert client.get("/api/v1/tickets/").json()["results"] == []
    assert api_inspect(client, received).status_code == 403  # a guide's session writes nothing
    assert page_inspect(client, received).status_code == 403
    assert unmoved(received)


def test_the_clerk_of_the_store_works_it_on_page_and_api_alike(world, received):
    clerk = clerk_at(world.a)
    assert page_inspect(login(clerk), received).status_code == 302
    received.refresh_from_db()
    assert received.status == TicketStatus.INSPECTED
    response = login(clerk).post(
        f"/api/v1/tickets/{received.number}/approve/", {"note": "ok"}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["status"] == "approved"


def test_the_services_refuse_an_actor_the_policy_refuses(world, received):
    with pytest.raises(Forbidden):
        ticket_inspect(ticket=received, actor=partner_user(world.a.partner))
    with pytest.raises(NotFound):
        ticket_inspect(ticket=received, actor=clerk_at(world.c))
    with pytest.raises(Forbidden):  # a partner does not take units in at its store's counter
        ticket_receive(ticket=received, store=world.a, actor=partner_user(world.a.partner))
    assert unmoved(received)


def test_the_policy_answers(world, received):
    partner = partner_user(world.a.partner)
    clerk = clerk_at(world.a)
    assert list(desk_stores_of(clerk)) == [world.a]
    assert list(desk_stores_of(partner)) == [] and list(desk_stores_of(hq_user())) == []
    assert list(tickets_visible_to(partner)) == [received]
    assert ticket_actionable_by(partner, received, "see")
    assert not ticket_actionable_by(partner, received, "work")
    assert ticket_actionable_by(clerk, received, "work") and ticket_actionable_by(hq_user(), received, "work")


def test_a_purchase_found_by_order_number_at_another_store_shows_no_personal_data(world, received):
    """Any store serves any channel's purchase, but a clerk of C who types store A's order number
    sees neither the customer's name and mobile nor A's tickets (docs/security.md); typing the
    customer's own mobile (they are at the counter) shows them."""
    order, member = received.order, received.member
    member.name = "Sentinel Qiuyue"
    member.save()
    client = login(clerk_at(world.c))
    line = order.lines.get()
    for url in (reverse("aftersales:desk"), reverse("aftersales:new", args=[line.pk])):
        body = client.get(url, {"q": order.number}).content.decode()
        assert "Open a ticket" in body or 'name="kind"' in body
        assert member.phone not in body and "Sentinel Qiuyue" not in body and received.number not in body
    body = client.get(reverse("aftersales:desk"), {"q": member.phone}).content.decode()
    assert "Sentinel Qiuyue" in body
