"""HQ's service pages: the ticket queue with its filters, SLA ageing and refused reasons, the return
rates per SKU and per store, their CSV exports, pinned query counts, and HQ only."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from aftersales import reports
from aftersales.choices import TicketKind, TicketStatus
from aftersales.models import Ticket
from aftersales.warranty import shanghai_date
from orders.models import Order, OrderLine
from tests.aftersales.pages import delivered, make_ticket, page
from tests.factories import clerk_at, hq_user
from tests.helpers import login

pytestmark = pytest.mark.django_db

QUEUE = "/hq/service/"
RETURNS = "/hq/service/returns/"


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.reader(io.StringIO(body)))


@pytest.fixture
def hq_client():
    return login(hq_user())


@pytest.fixture
def tickets(world):
    """Tickets of every age and outcome on a mall order and a store-channel order."""
    mall = delivered(world)
    store_sale = delivered(world, channel=world.stores_channel)
    return {
        "fresh": make_ticket(mall, intake_store=world.b),
        "five_days": make_ticket(
            mall,
            status=TicketStatus.RECEIVED,
            intake_store=world.c,
            handling_store=world.b,
            opened_days_ago=5,
        ),
        "ten_days": make_ticket(
            store_sale,
            kind=TicketKind.EXCHANGE,
            status=TicketStatus.APPROVED,
            intake_store=world.c,
            opened_days_ago=10,
        ),
        "refused": make_ticket(
            mall, status=TicketStatus.REFUSED, refused_reason="Water damage", opened_days_ago=20
        ),
        "refused_closed": make_ticket(
            store_sale, status=TicketStatus.CLOSED, refused_reason="Water damage", opened_days_ago=30
        ),
        "no_receipt": make_ticket(
            mall, status=TicketStatus.REFUSED, refused_reason="No receipt", opened_days_ago=3
        ),
        "closed": make_ticket(mall, kind=TicketKind.REPAIR, status=TicketStatus.CLOSED, opened_days_ago=40),
    }


def numbers_in(text: str, tickets: dict) -> set[str]:
    return {name for name, ticket in tickets.items() if ticket.number in text}


# --- who may see it --------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [QUEUE, f"{QUEUE}tickets.csv", RETURNS, f"{RETURNS}sku.csv"])
def test_hq_pages_are_for_hq_only(world, url, client):
    assert login(clerk_at(world.b)).get(url).status_code == 403
    assert client.get(url).status_code == 302  # to the login page


# --- the queue -------------------------------------------------------------------------------------


def test_queue_lists_every_ticket_with_days_open_and_pins_queries(
    tickets, hq_client, django_assert_max_num_queries
):
    # session, user, groups, channels, count, page, ageing, reasons
    with django_assert_max_num_queries(8):
        response = hq_client.get(QUEUE)
    text = page(response)
    assert numbers_in(text, tickets) == set(tickets)
    assert reports.AGEING_BUCKETS[0][0] in text


def test_ageing_counts_open_tickets_by_whole_days_since_opening(tickets):
    assert reports.ageing(Ticket.objects.all()) == {"0-2": 1, "3-7": 1, "8+": 1}


def test_ageing_bucket_edges_are_whole_days(world):
    order = delivered(world)
    now = timezone.now()
    for days, hours in ((2, 23), (3, 0), (7, 23), (8, 0)):
        ticket = make_ticket(order)
        Ticket.objects.filter(pk=ticket.pk).update(opened_at=now - timedelta(days=days, hours=hours))
    assert reports.ageing(Ticket.objects.all(), now=now) == {"0-2": 1, "3-7": 2, "8+": 1}


def test_refused_reasons_are_counted(tickets, hq_client):
    assert reports.refused_reasons(Ticket.objects.all()) == [
        {"reason": "Water damage", "count": 2},
        {"reason": "No receipt", "count": 1},
    ]
    text = page(hq_client.get(QUEUE))
    assert "Water damage" in text and "No receipt" in text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "refused"}, {"refused", "no_receipt"}),
        ({"status": ["opened", "received"]}, {"fresh", "five_days"}),
        ({"kind": "exchange"}, {"ten_days"}),
        ({"store": "B"}, {"fresh", "five_days"}),
        ({"channel": "stores"}, {"ten_days", "refused_closed"}),
    ],
)
def test_queue_filters(tickets, hq_client, query, expected):
    assert numbers_in(page(hq_client.get(QUEUE, query)), tickets) == expected


def test_queue_filters_by_opening_date_in_china_time(tickets, hq_client):
    today = shanghai_date(timezone.now())
    query = {"opened_from": (today - timedelta(days=6)).isoformat(), "opened_to": today.isoformat()}
    assert numbers_in(page(hq_client.get(QUEUE, query)), tickets) == {"fresh", "five_days", "no_receipt"}


def test_ageing_and_reasons_follow_the_filters(tickets, hq_client):
    response = hq_client.get(QUEUE, {"channel": "stores"})
    assert response.context["ageing"] == {"0-2": 0, "3-7": 0, "8+": 1}
    assert response.context["reasons"] == [{"reason": "Water damage", "count": 1}]


def test_queue_csv_has_every_filtered_ticket(tickets, hq_client):
    response = hq_client.get(f"{QUEUE}tickets.csv", {"status": "refused"})
    assert response["Content-Type"].startswith("text/csv")
    rows = csv_rows(response)
    assert rows[0][:3] == ["number", "kind", "status"]
    by_number = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert set(by_number) == {tickets["refused"].number, tickets["no_receipt"].number}
    refused = by_number[tickets["refused"].number]
    assert refused["refused_reason"] == "Water damage"
    assert refused["days_open"] == "20"
    assert refused["channel"] == "mall" and refused["sku"] == "TV-55"


def test_queue_csv_neutralises_text_that_starts_like_a_formula(tickets, hq_client):
    Ticket.objects.filter(pk=tickets["refused"].pk).update(refused_reason='=HYPERLINK("x")')
    rows = csv_rows(hq_client.get(f"{QUEUE}tickets.csv", {"status": "refused"}))
    reasons = {row[rows[0].index("refused_reason")] for row in rows[1:]}
    assert '\'=HYPERLINK("x")' in reasons


def test_a_bad_filter_shows_an_error_not_a_crash(tickets, hq_client):
    response = hq_client.get(QUEUE, {"opened_from": "yesterday"})
    assert response.status_code == 400  # the page, with the field error
    assert numbers_in(page(response), tickets) == set()


# --- return rates -----------------------------------------------------------------------------------


@pytest.fixture
def deliveries(world):
    """In the last 30 days: 4 TVs from A (1 returned), 2 phones from B (none returned). Earlier:
    1 TV from A, returned (outside the period)."""
    tvs = delivered(world, quantity=4)
    phones = delivered(world, sku=world.phone, quantity=2)
    Order.objects.filter(pk=phones.pk).update(fulfilling_location=world.b)
    old = delivered(world, days_ago=40)
    OrderLine.objects.filter(order=tvs).update(returned_quantity=1)
    OrderLine.objects.filter(order=old).update(returned_quantity=1)


def test_return_rates_by_sku_and_by_store(deliveries):
    today = shanghai_date(timezone.now())
    period = {"date_from": today - timedelta(days=29), "date_to": today}
    by_sku = {
        row.key: (row.delivered, row.returned, str(row.rate))
        for row in reports.return_rates(by="sku", **period)
    }
    assert by_sku == {"TV-55": (4, 1, "25.0"), "PHONE-1": (2, 0, "0.0")}
    by_store = {
        row.key: (row.delivered, row.returned, str(row.rate))
        for row in reports.return_rates(by="store", **period)
    }
    assert by_store == {"A": (4, 1, "25.0"), "B": (2, 0, "0.0")}
    totals = reports.return_totals(**period)
    assert (totals.delivered, totals.returned, str(totals.rate)) == (6, 1, "16.7")


def test_return_rates_period_includes_both_end_days(deliveries):
    today = shanghai_date(timezone.now())
    period = {"date_from": today - timedelta(days=40), "date_to": today - timedelta(days=40)}
    assert [(r.key, r.delivered, r.returned) for r in reports.return_rates(by="sku", **period)] == [
        ("TV-55", 1, 1)
    ]


def test_returns_page_shows_the_rates_and_pins_queries(deliveries, hq_client, django_assert_max_num_queries):
    # session, user, groups, channels, by SKU, by store, totals
    with django_assert_max_num_queries(7):
        response = hq_client.get(RETURNS)
    text = page(response)
    assert "25.0 %" in text and "16.7 %" in text
    assert "TV-55" in text and "Store B" in text


def test_returns_page_filters_by_channel(deliveries, world, hq_client):
    response = hq_client.get(RETURNS, {"channel": "stores"})
    assert response.context["totals"].delivered == 0


def test_return_rate_csv(deliveries, hq_client):
    today = shanghai_date(timezone.now())
    response = hq_client.get(
        reverse("aftersales_hq:returns_csv", args=["store"]),
        {"date_from": (today - timedelta(days=29)).isoformat(), "date_to": today.isoformat()},
    )
    rows = csv_rows(response)
    assert rows == [
        ["store", "name", "delivered_units", "returned_units", "return_rate_percent"],
        ["A", "Store A", "4", "1", "25.0"],
        ["B", "Store B", "2", "0", "0.0"],
    ]
    assert hq_client.get(f"{RETURNS}member.csv").status_code == 404


def test_a_period_backwards_is_refused_on_the_form(hq_client, db):
    response = hq_client.get(RETURNS, {"date_from": "2026-02-01", "date_to": "2026-01-01"})
    assert response.status_code == 400
    assert "comes after the last day" in page(response)
