"""HQ guide pages: leaderboards of guides and stores for a period (sums, ranking, Shanghai day
edges, CSV, pinned query counts), scan → fan → order conversion, suspending and reinstating a
guide (their QR code stops binding), approving and paying statements; and the portal home tiles."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from guides.choices import GuideStatus, ScanOutcome, StatementStatus
from guides.models import Binding, Guide, ScanEvent
from guides.services import scan_bind, scan_open
from orders.choices import OrderStatus
from tests.factories import GuideFactory, MemberFactory, PartnerFactory, clerk_at, partner_user
from tests.guides import pages
from tests.guides.pages import sh
from tests.helpers import login_into

pytestmark = pytest.mark.django_db

MARCH = {"start": "2025-03-01", "end": "2025-03-31"}


class Board:
    """March 2025. Guides 1 and 2 work at store A, guide 3 at store B (one of their fans was
    bound at store C), guide 4 has no store. Rows just outside March on both sides."""

    def __init__(self, world):
        self.world = world
        self.g1 = GuideFactory(code="GONE0001", name="One", store=world.a)
        self.g2 = GuideFactory(code="GTWO0002", name="Two", store=world.a)
        self.g3 = GuideFactory(code="GTHREE03", name="Three", store=world.b)
        self.g4 = GuideFactory(code="GFOUR004", name="Four")

        # guide 1: 3 fans in March (its first and last second), 2 paid orders, 100 + 200 - 50
        first = pages.bind(self.g1, MemberFactory(), started_at=sh(2025, 3, 1, 0, 0, 0))
        pages.bind(self.g1, MemberFactory(), started_at=sh(2025, 3, 15))
        pages.bind(self.g1, MemberFactory(), started_at=sh(2025, 3, 31, 23, 59, 59))
        pages.bind(self.g1, MemberFactory(), started_at=sh(2025, 2, 28, 23, 59, 59))  # February
        pages.bind(self.g1, MemberFactory(), started_at=sh(2025, 4, 1, 0, 0, 0))  # April
        o1 = pages.order(world, self.g1, total="1000.00", paid_at=sh(2025, 3, 2), binding=first)
        o2 = pages.order(world, self.g1, total="2000.00", paid_at=sh(2025, 3, 31, 23, 59, 59))
        pages.order(world, self.g1, total="800.00", paid_at=sh(2025, 3, 3), status=OrderStatus.CANCELLED)
        pages.order(world, self.g1, total="900.00", paid_at=sh(2025, 4, 1, 0, 0, 0))
        pages.order(world, self.g1, total="50.00", binding=first, status=OrderStatus.CREATED)
        feb = pages.order(world, self.g1, total="400.00", paid_at=sh(2025, 2, 20))
        a1 = pages.accrue(o1, "100.00")
        a2 = pages.accrue(o2, "200.00")
        pages.clawback(a2, "50.00", at=sh(2025, 3, 31, 20))
        pages.release(a1, at=sh(2025, 3, 20))
        pages.accrue(feb, "40.00")

        # guide 2: 5 fans, 1 paid order through a fan (5000), 500 commission
        fans2 = [pages.bind(self.g2, MemberFactory(), started_at=sh(2025, 3, d)) for d in (3, 4, 5, 6, 7)]
        pages.accrue(
            pages.order(world, self.g2, total="5000.00", paid_at=sh(2025, 3, 8), binding=fans2[0]), "500.00"
        )

        # guide 3: a fan at B and one bound at store C; 3 orders of 100 without a binding; 5 x 3
        pages.bind(self.g3, MemberFactory(), started_at=sh(2025, 3, 9))
        at_c = pages.bind(self.g3, MemberFactory(), started_at=sh(2025, 3, 10))
        Binding.objects.filter(pk=at_c.pk).update(store=world.c)
        for day in (11, 12, 13):
            pages.accrue(pages.order(world, self.g3, total="100.00", paid_at=sh(2025, 3, day)), "5.00")

        # guide 4: one big order, no fans, no commission rule
        pages.order(world, self.g4, total="10000.00", paid_at=sh(2025, 3, 14))

        # scans: 6 + 10 + 4 in March, and one of guide 1 in February
        for guide, n in ((self.g1, 6), (self.g2, 10), (self.g3, 4)):
            for i in range(n):
                pages.scan(guide, at=sh(2025, 3, 1 + i, 10))
        pages.scan(self.g1, at=sh(2025, 2, 28, 23, 59, 59))


@pytest.fixture
def board(world):
    return Board(world)


def figures(row):
    f = row.figures
    return (row.subject.code, f.fans, f.orders, f.sales, f.commission)


# --- leaderboards ------------------------------------------------------------------------------------


def test_guide_and_store_leaderboards_sum_the_period_and_rank_by_sales(
    hq_client, world, board, django_assert_max_num_queries
):
    with django_assert_max_num_queries(13):
        response = hq_client.get(reverse("guides_hq:home"), MARCH)
    assert response.status_code == 200
    assert [figures(r) for r in response.context["guide_rows"]] == [
        ("GFOUR004", 0, 1, Decimal("10000.00"), Decimal("0.00")),
        ("GTWO0002", 5, 1, Decimal("5000.00"), Decimal("500.00")),
        ("GONE0001", 3, 2, Decimal("3000.00"), Decimal("250.00")),
        ("GTHREE03", 2, 3, Decimal("300.00"), Decimal("15.00")),
    ]
    assert [r.rank for r in response.context["guide_rows"]] == [1, 2, 3, 4]
    # a store counts its guides; the fan bound at C counts for C; guide 4 has no store
    assert [figures(r) for r in response.context["store_rows"]] == [
        ("A", 8, 3, Decimal("8000.00"), Decimal("750.00")),
        ("B", 1, 3, Decimal("300.00"), Decimal("15.00")),
        ("C", 1, 0, Decimal("0.00"), Decimal("0.00")),
    ]
    body = response.content.decode()
    assert "GFOUR004" in body and "10000.00" in body


def test_leaderboards_rank_by_the_chosen_figure(hq_client, board):
    by_fans = hq_client.get(reverse("guides_hq:home"), {**MARCH, "sort": "fans"})
    assert [r.subject.code for r in by_fans.context["guide_rows"]] == [
        "GTWO0002",
        "GONE0001",
        "GTHREE03",
        "GFOUR004",
    ]
    assert [r.subject.code for r in by_fans.context["store_rows"]] == ["A", "B", "C"]
    by_orders = hq_client.get(reverse("guides_hq:home"), {**MARCH, "sort": "orders"})
    assert [r.subject.code for r in by_orders.context["guide_rows"]] == [
        "GTHREE03",
        "GONE0001",
        "GFOUR004",
        "GTWO0002",
    ]
    by_commission = hq_client.get(reverse("guides_hq:home"), {**MARCH, "sort": "commission"})
    assert [r.subject.code for r in by_commission.context["guide_rows"]][:3] == [
        "GTWO0002",
        "GONE0001",
        "GTHREE03",
    ]


def test_the_period_is_whole_shanghai_days(hq_client, board):
    last_day = hq_client.get(reverse("guides_hq:home"), {"start": "2025-03-31", "end": "2025-03-31"})
    assert [figures(r) for r in last_day.context["guide_rows"]] == [
        ("GONE0001", 1, 1, Decimal("2000.00"), Decimal("150.00")),
    ]
    april_first = hq_client.get(reverse("guides_hq:home"), {"start": "2025-04-01", "end": "2025-04-01"})
    assert [figures(r) for r in april_first.context["guide_rows"]] == [
        ("GONE0001", 1, 1, Decimal("900.00"), Decimal("0.00")),
    ]


def test_a_backwards_period_shows_the_error_and_this_month(hq_client, board):
    response = hq_client.get(reverse("guides_hq:home"), {"start": "2025-03-31", "end": "2025-03-01"})
    assert response.status_code == 200
    assert "The end comes before the start." in response.content.decode()
    assert response.context["guide_rows"] == []  # this month: nothing


def test_leaderboard_csv_has_the_ranked_rows(hq_client, board):
    response = hq_client.get(reverse("guides_hq:board_csv", args=["guides"]), {**MARCH, "sort": "fans"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["rank", "code", "name", "store", "partner", "fans", "orders", "sales", "commission"]
    assert rows[1:] == [
        ["1", "GTWO0002", "Two", "A", "", "5", "1", "5000.00", "500.00"],
        ["2", "GONE0001", "One", "A", "", "3", "2", "3000.00", "250.00"],
        ["3", "GTHREE03", "Three", "B", "", "2", "3", "300.00", "15.00"],
        ["4", "GFOUR004", "Four", "", "", "0", "1", "10000.00", "0.00"],
    ]
    stores = hq_client.get(reverse("guides_hq:board_csv", args=["stores"]), MARCH)
    rows = list(csv.reader(io.StringIO(stores.content.decode("utf-8-sig"))))
    assert [row[1] for row in rows[1:]] == ["A", "B", "C"]
    assert hq_client.get(reverse("guides_hq:board_csv", args=["partners"])).status_code == 404


def test_leaderboard_csv_defuses_a_guide_name_that_looks_like_a_formula(hq_client, board):
    Guide.objects.filter(pk=board.g4.pk).update(name='=HYPERLINK("http://evil","x")')
    response = hq_client.get(reverse("guides_hq:board_csv", args=["guides"]), MARCH)
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1][1:3] == ["GFOUR004", '\'=HYPERLINK("http://evil","x")']


def test_leaderboard_query_count_does_not_grow_with_guides(
    hq_client, world, board, django_assert_max_num_queries
):
    for _i in range(30):
        guide = GuideFactory(store=world.c)
        pages.bind(guide, MemberFactory(), started_at=sh(2025, 3, 20))
        pages.accrue(pages.order(world, guide, total="10.00", paid_at=sh(2025, 3, 21)), "1.00")
    with django_assert_max_num_queries(13):
        response = hq_client.get(reverse("guides_hq:home"), MARCH)
    assert len(response.context["guide_rows"]) == 34


def test_conversion_counts_scans_fans_and_fans_who_ordered(hq_client, board, django_assert_max_num_queries):
    board_page = hq_client.get(reverse("guides_hq:home"), MARCH)
    overall = board_page.context["conversion"]
    assert (overall.scans, overall.fans, overall.ordered) == (20, 10, 2)
    assert (overall.scan_to_fan, overall.fan_to_order) == (Decimal("50.0"), Decimal("20.0"))

    with django_assert_max_num_queries(10):
        response = hq_client.get(reverse("guides_hq:conversion"), MARCH)
    rows = [
        (r.guide.code, r.conversion.scans, r.conversion.fans, r.conversion.ordered, r.conversion.fan_to_order)
        for r in response.context["rows"]
    ]
    assert rows == [
        ("GTWO0002", 10, 5, 1, Decimal("20.0")),
        ("GONE0001", 6, 3, 1, Decimal("33.3")),
        ("GTHREE03", 4, 2, 0, Decimal("0.0")),
    ]
    assert "33.3%" in response.content.decode()


def test_hq_pages_are_for_hq_only(client, world, board):
    urls = [
        reverse("guides_hq:home"),
        reverse("guides_hq:conversion"),
        reverse("guides_hq:guides"),
        reverse("guides_hq:guide", args=[board.g1.code]),
        reverse("guides_hq:statements"),
        reverse("guides_hq:board_csv", args=["guides"]),
    ]
    login_into(client, board.g1.user)
    for url in urls:
        assert client.get(url).status_code == 403, url
    login_into(client, clerk_at(world.a))
    assert client.get(urls[0]).status_code == 403
    client.logout()
    assert client.get(urls[0]).status_code == 302


# --- guides: list, suspend, reinstate ------------------------------------------------------------------


def test_guide_list_filters_by_code_and_status(hq_client, board):
    Guide.objects.filter(pk=board.g3.pk).update(status=GuideStatus.SUSPENDED)
    listed = hq_client.get(reverse("guides_hq:guides"))
    assert {g.code for g in listed.context["page_obj"]} == {"GONE0001", "GTWO0002", "GTHREE03", "GFOUR004"}
    suspended = hq_client.get(reverse("guides_hq:guides"), {"status": "suspended"})
    assert [g.code for g in suspended.context["page_obj"]] == ["GTHREE03"]
    by_code = hq_client.get(reverse("guides_hq:guides"), {"q": "gone0001"})
    assert [g.code for g in by_code.context["page_obj"]] == ["GONE0001"]
    by_store = hq_client.get(reverse("guides_hq:guides"), {"store": "A"})
    assert {g.code for g in by_store.context["page_obj"]} == {"GONE0001", "GTWO0002"}


def test_guide_page_shows_the_period_figures(hq_client, board):
    response = hq_client.get(reverse("guides_hq:guide", args=[board.g1.code]), MARCH)
    f = response.context["figures"]
    assert (f.fans, f.orders, f.sales, f.commission) == (3, 2, Decimal("3000.00"), Decimal("250.00"))
    assert response.context["fans_total"] == 5


def test_suspending_through_the_page_stores_the_reason_and_the_qr_stops_binding(hq_client, board, hq):
    url = reverse("guides_hq:guide", args=[board.g1.code])
    refused = hq_client.post(url, {"action": "suspend", "reason": "  "})
    assert refused.status_code == 200
    assert "This field is required." in refused.content.decode()
    board.g1.refresh_from_db()
    assert board.g1.status == GuideStatus.ACTIVE

    response = hq_client.post(url, {"action": "suspend", "reason": "Scanning his own phone"})
    assert response.status_code == 302 and response["Location"] == url
    board.g1.refresh_from_db()
    assert (board.g1.status, board.g1.suspended_reason) == (GuideStatus.SUSPENDED, "Scanning his own phone")
    assert board.g1.suspended_at is not None
    assert "Scanning his own phone" in hq_client.get(url).content.decode()

    # guides.services: the suspended guide's code binds nobody
    bindings = Binding.objects.count()
    scan = scan_open(guide=board.g1, user_agent="test")
    assert scan_bind(scan=scan, phone="13800009999") is None
    assert Binding.objects.count() == bindings
    assert ScanEvent.objects.get(pk=scan.pk).outcome == ScanOutcome.SUSPENDED

    again = hq_client.post(url, {"action": "suspend", "reason": "twice"})
    board.g1.refresh_from_db()
    assert board.g1.suspended_reason == "Scanning his own phone"
    assert again.status_code == 200
    assert "Nothing was changed." in again.content.decode()

    assert hq_client.post(url, {"action": "reinstate"}).status_code == 302
    board.g1.refresh_from_db()
    assert (board.g1.status, board.g1.suspended_reason) == (GuideStatus.ACTIVE, "")
    assert scan_bind(scan=scan_open(guide=board.g1), phone="13800009999") is not None


# --- statements ------------------------------------------------------------------------------------


def test_hq_approves_then_marks_a_statement_paid(hq_client, board, hq):
    period = date(2025, 3, 1)
    draft = pages.statement(guide=board.g2, period=period, total="500.00", entries=1)
    accrual = board.g2.commission_entries.get(kind="accrual")
    pages.release(accrual, at=sh(2025, 3, 25), statement=draft)
    url = reverse("guides_hq:statement", args=[draft.pk])

    listed = hq_client.get(reverse("guides_hq:statements"), {"status": "draft"})
    assert [s.pk for s in listed.context["page_obj"]] == [draft.pk]
    page = hq_client.get(url)
    assert [e.pk for e in page.context["page_obj"]] == [accrual.followups.get().pk]
    assert "Approve" in page.content.decode()

    no_reference = hq_client.post(url, {"action": "pay", "payment_reference": ""})
    draft.refresh_from_db()
    assert draft.status == StatementStatus.DRAFT  # a draft cannot be paid, with or without a reference
    assert no_reference.status_code == 200

    assert hq_client.post(url, {"action": "approve"}).status_code == 302
    draft.refresh_from_db()
    assert (draft.status, draft.approved_by) == (StatementStatus.APPROVED, hq)

    again = hq_client.post(url, {"action": "approve"})
    assert again.status_code == 200
    assert "Nothing was changed." in again.content.decode()
    draft.refresh_from_db()
    assert draft.status == StatementStatus.APPROVED

    missing = hq_client.post(url, {"action": "pay", "payment_reference": " "})
    assert "This field is required." in missing.content.decode()
    assert hq_client.post(url, {"action": "pay", "payment_reference": "BANK-2025-04-001"}).status_code == 302
    draft.refresh_from_db()
    assert (draft.status, draft.payment_reference, draft.paid_by) == (
        StatementStatus.PAID,
        "BANK-2025-04-001",
        hq,
    )

    csv_response = hq_client.get(reverse("guides_hq:statement_csv", args=[draft.pk]))
    rows = list(csv.DictReader(io.StringIO(csv_response.content.decode("utf-8-sig"))))
    assert [Decimal(r["change"]) for r in rows] == [Decimal("500.00")]


# --- portal home tiles -----------------------------------------------------------------------------


def test_portal_home_tiles_follow_the_roles(client, world, board, hq):
    login_into(client, board.g1.user)
    body = client.get(reverse("portal:home")).content.decode()
    assert "My QR code and commission" in body and "Guide leaderboards" not in body
    login_into(client, partner_user(PartnerFactory()))
    assert "My QR code and commission" in client.get(reverse("portal:home")).content.decode()
    login_into(client, clerk_at(world.c))
    assert "Become a guide" in client.get(reverse("portal:home")).content.decode()
    login_into(client, hq)
    body = client.get(reverse("portal:home")).content.decode()
    assert "Guide leaderboards" in body and reverse("guides_hq:statements") in body
