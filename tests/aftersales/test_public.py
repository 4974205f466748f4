"""The customer's status page /t/: the ticket number and the mobile it was opened for show its
status, kind, dates and steps, and nothing else; any wrong pair gets the same "not found"."""

import re

import pytest
from django.core.cache import cache
from django.test import Client

from aftersales.choices import TicketKind, TicketStatus
from aftersales.services import ticket_inspect, ticket_open, ticket_receive
from config.roles import SYSTEM
from tests.aftersales.pages import delivered, page
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

URL = "/t/"
NOT_FOUND = "No ticket matches this number and mobile."


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()  # look-ups are counted per address in the cache
    yield
    cache.clear()


@pytest.fixture
def ticket(world):
    member = MemberFactory(phone="13912345678", name="Wang Fang")
    order = delivered(world, member=member)
    ticket = ticket_open(
        line=order.lines.get(),
        kind=TicketKind.REPAIR,
        description="Remote control missing",
        opened_via="store",
        intake_store=world.b,
        actor=SYSTEM,
    )
    ticket_receive(ticket=ticket, store=world.b, actor=SYSTEM)
    ticket_inspect(ticket=ticket, note="Internal: customer was rude", actor=SYSTEM)
    return ticket


def look_up(number, phone, client=None):
    return (client or Client()).post(URL, {"number": number, "phone": phone})


def test_the_page_asks_for_number_and_mobile_without_login(db):
    response = Client().get(URL)
    assert response.status_code == 200
    text = page(response)
    assert 'name="number"' in text and 'name="phone"' in text


def test_the_right_pair_shows_status_kind_dates_and_steps(ticket):
    response = look_up(ticket.number, "139 1234 5678")
    text = page(response)
    assert response.status_code == 200
    assert ticket.number in text
    assert "Repair" in text and "Inspected" in text
    assert "Unit received" in text and "Opened" in text  # the steps
    assert ticket.opened_at.astimezone().strftime("%Y-%m-%d") in text


def test_nothing_else_is_shown(ticket, world):
    text = page(look_up(ticket.number, "13912345678"))
    for secret in (
        "Wang Fang",  # the customer's name
        "Store B",  # stores
        "Store A",
        "2999",  # prices
        ticket.order.number,  # the order
        "Remote control missing",  # what the customer wrote
        "customer was rude",  # staff notes
        world.tv.code,
    ):
        assert secret not in text


def test_a_lower_case_number_finds_the_ticket(ticket):
    assert ticket.number in page(look_up(ticket.number.lower(), "13912345678"))


@pytest.mark.parametrize("case", ["wrong phone", "unknown number", "not a phone"])
def test_a_wrong_pair_gets_the_same_not_found_and_nothing_else(ticket, case):
    number, phone = {
        "wrong phone": (ticket.number, "13900000000"),
        "unknown number": ("26010100000000", "13912345678"),
        "not a phone": (ticket.number, "12345"),
    }[case]
    response = look_up(number, phone)
    text = page(response)
    assert response.status_code == 200
    assert NOT_FOUND in text
    assert str(TicketStatus.INSPECTED.label) not in text and "Repair" not in text


def test_wrong_phone_and_unknown_number_look_exactly_alike(ticket):
    wrong_phone = page(look_up(ticket.number, "13900000000")).replace(ticket.number, "N")
    unknown = page(look_up("26010100000000", "13900000000")).replace("26010100000000", "N")

    # The CSRF token and the CSP nonce differ per answer by design.
    def strip(text):
        kept = "\n".join(line for line in text.splitlines() if "csrf" not in line)
        return re.sub(r'nonce="[^"]*"', "", kept)

    assert strip(wrong_phone) == strip(unknown)


def test_guessing_is_limited_per_address(ticket):
    client = Client()
    for _ in range(20):
        look_up("26010100000000", "13900000000", client)
    response = look_up(ticket.number, "13912345678", client)
    assert response.status_code == 429
    assert "Too many look-ups" in page(response)
    assert str(TicketStatus.INSPECTED.label) not in page(response)
