"""Issue 14, defect 5: every parameter of the after-sales pages is parsed by a form or filterset
before any query or CSV stream. A NUL byte (PostgreSQL refuses it in a string literal: a 500, or a
CSV cut mid-stream after its 200), 10**12, 1e400, 300 characters, '%', full-width digits, emoji
and right-to-left marks: the page with the field error (400) or an empty answer, never a 500."""

import pytest
from django.urls import reverse

from aftersales.models import Ticket
from tests.aftersales.pages import delivered, make_ticket
from tests.factories import clerk_at, hq_user
from tests.helpers import login

pytestmark = pytest.mark.django_db

HOSTILE = ["\x00", "A\x00B", "x" * 300, "%", "１２", "😀", "\u202eA", "1e400", str(10**12)]
BAD = ("\x00", "A\x00B", "x" * 300)  # refused by the field; the rest name nothing
QUEUE = reverse("aftersales_hq:queue")
QUEUE_CSV = reverse("aftersales_hq:queue_csv")
RETURNS = reverse("aftersales_hq:returns")
RETURNS_CSV = reverse("aftersales_hq:returns_csv", args=["sku"])


@pytest.fixture
def ticket(world):
    return make_ticket(delivered(world), intake_store=world.a)


@pytest.mark.parametrize("value", HOSTILE)
def test_the_returns_page_and_its_csv_parse_the_channel(world, ticket, value):
    client = login(hq_user())
    for url in (RETURNS, RETURNS_CSV):
        response = client.get(url, {"channel": value})
        if value in BAD:
            assert response.status_code == 400 and not response.streaming
            assert 'class="errorlist' in response.content.decode()
        else:
            assert response.status_code == 200


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize(
    "param", ["q", "store", "channel", "kind", "status", "opened_via", "opened_from", "opened_to"]
)
def test_the_queue_and_its_csv_parse_every_filter(world, ticket, param, value):
    client = login(hq_user())
    page = client.get(QUEUE, {param: value})
    assert page.status_code in (200, 400)
    download = client.get(QUEUE_CSV, {param: value})
    if page.status_code == 400:
        assert download.status_code == 400 and not download.streaming
        assert 'class="errorlist' in page.content.decode()
    else:
        assert download.status_code == 200 and download.streaming
    if value in BAD and param in ("q", "store", "channel"):
        assert page.status_code == 400


@pytest.mark.parametrize("value", HOSTILE)
def test_the_api_list_parses_its_filters(world, ticket, value):
    client = login(hq_user())
    for param in ("q", "store", "channel", "opened_from"):
        response = client.get("/api/v1/tickets/", {param: value})
        assert response.status_code in (200, 400), (param, value)
        if response.status_code == 400:
            assert set(response.json()) == {"code", "message", "fields"}


@pytest.mark.parametrize("value", HOSTILE)
def test_the_desk_search_and_the_ticket_form_parse_the_query(world, ticket, value):
    client = login(clerk_at(world.a))
    line = ticket.line
    desk = client.get(reverse("aftersales:desk"), {"q": value})
    assert desk.status_code == 200
    new = client.get(reverse("aftersales:new", args=[line.pk]), {"q": value})
    assert new.status_code == (400 if value in BAD else 404)
    taken = client.post(reverse("aftersales:take_in", args=[ticket.number]), {"q": value, "store": value})
    assert taken.status_code == (400 if value in BAD else 404)
    assert Ticket.objects.count() == 1
