"""The guide's and the partner's phone home: this month's commission, payable and held, fans still
bound and no longer, a chart of the last 12 Shanghai months whose figures are the ledger's, and
the latest statement to download. Only the signed-in guide's or partner's own rows count."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from config.dates import shanghai_date, shanghai_midnight, shanghai_today
from guides.choices import EntryKind, StatementStatus
from guides.commission import commission_balances
from guides.models import CommissionEntry
from guides.views import last_months
from stores.models import Store
from tests.aftersales.pages import page
from tests.factories import GuideFactory, MemberFactory, PartnerFactory, partner_user
from tests.guides import pages
from tests.helpers import login

pytestmark = pytest.mark.django_db

HOME = "/portal/guides/"


def month_start(months_back: int):
    """The first day of the Shanghai month `months_back` before this one."""
    return last_months(months_back + 1)[0]


class Money:
    """Guide G (store A, partner P) earns in several months, with a refund and entries right at
    Shanghai month boundaries; guide H (store B) earns too and must not show on G's page."""

    def __init__(self, world):
        self.partner = PartnerFactory(code="P", name="Partner P")
        Store.objects.filter(pk=world.a.pk).update(partner=self.partner)
        world.a.refresh_from_db()
        self.g = GuideFactory(code="GUIDEGGG", name="Gina", store=world.a)
        self.h = GuideFactory(code="GUIDEHHH", name="Hank", store=world.b)
        now = timezone.now() - timedelta(seconds=5)
        this_month = month_start(0)
        # This month: 80 accrued, 15 clawed back.
        order = pages.order(world, self.g, total="800.00", paid_at=now)
        accrual = pages.accrue(order, "80.00", at=now)
        pages.clawback(accrual, "15.00", at=now)
        # The first second of this month (Shanghai) is this month; the last second before it is
        # last month's, though both fall on the same UTC day.
        edge = shanghai_midnight(this_month)
        pages.accrue(pages.order(world, self.g, total="100.00", paid_at=edge), "10.00", at=edge)
        before = edge - timedelta(seconds=1)
        pages.accrue(pages.order(world, self.g, total="200.00", paid_at=before), "20.00", at=before)
        # Five and eleven months back, and thirteen months back (outside the chart).
        for back, amount in ((5, "55.55"), (11, "11.00"), (13, "99.00")):
            at = shanghai_midnight(month_start(back)) + timedelta(days=3, hours=10)
            pages.accrue(pages.order(world, self.g, total="1000.00", paid_at=at), amount, at=at)
        # Guide H's money, this month.
        pages.accrue(pages.order(world, self.h, total="5000.00", paid_at=now), "500.00", at=now)
        # Fans: one bound now, one whose window has passed, one taken over.
        long_ago = now - timedelta(days=40)
        pages.bind(self.g, MemberFactory(), started_at=now)
        pages.bind(self.g, MemberFactory(), started_at=long_ago)
        pages.bind(self.g, MemberFactory(), started_at=long_ago, ended_at=long_ago + timedelta(days=1))
        pages.bind(self.h, MemberFactory(), started_at=now)
        last = month_start(1)
        self.old_statement = pages.statement(guide=self.g, period=month_start(2), status=StatementStatus.PAID)
        self.statement = pages.statement(
            guide=self.g, period=last, status=StatementStatus.APPROVED, total="20.00", entries=1
        )
        self.h_statement = pages.statement(guide=self.h, period=last, total="1.00")
        self.partner_statement = pages.statement(partner=self.partner, period=last, total="7.00")


@pytest.fixture
def money(world):
    return Money(world)


def ledger_by_month(guide=None, partner=None, kinds=(EntryKind.ACCRUAL, EntryKind.CLAWBACK)):
    """The expected figures, computed in Python from the ledger rows (not by the page's query)."""
    rows = CommissionEntry.objects.filter(kind__in=kinds)
    rows = rows.filter(guide=guide) if guide else rows.filter(partner=partner)
    totals = {}
    for row in rows:
        month = shanghai_date(row.created_at).replace(day=1)
        totals[month] = totals.get(month, Decimal("0.00")) + row.held_change + row.payable_change
    return {f"{month:%Y-%m}": f"{totals.get(month, Decimal('0.00')):.2f}" for month in last_months()}


def table(body: str, table_id: str) -> dict[str, str]:
    block = re.search(rf'<table class="data compact" id="{table_id}">.*?</table>', body, flags=re.S).group(0)
    return dict(re.findall(r'data-month="([\d-]+)">.*?data-amount="(-?[\d.]+)"', block, flags=re.S))


def test_last_months_are_twelve_shanghai_months_ending_with_this_one():
    months = last_months()
    assert len(months) == 12 and len(set(months)) == 12
    assert months[-1] == shanghai_today().replace(day=1)
    assert all(month.day == 1 for month in months) and months == sorted(months)


def test_the_twelve_month_figures_are_the_ledgers(client, money):
    body = page(login(money.g.user).get(HOME))
    figures = table(body, "guide-months-table")
    assert figures == ledger_by_month(guide=money.g)
    this, last = f"{month_start(0):%Y-%m}", f"{month_start(1):%Y-%m}"
    assert figures[this] == "75.00"  # 80 - 15 + 10 at the month's first second; Hank's 500 not
    assert figures[last] == "20.00"  # the second before midnight, Shanghai
    assert figures[f"{month_start(5):%Y-%m}"] == "55.55"
    assert figures[f"{month_start(11):%Y-%m}"] == "11.00"
    assert "99.00" not in figures.values()  # thirteen months ago is not on the chart
    assert 'role="img"' in body and "<svg" in body  # the server-side chart
    assert f'href="{reverse("guides:ledger")}?month={this}"' in body  # a bar drills down to its month


def test_this_months_commission_balances_and_fans(client, money):
    response = login(money.g.user).get(HOME)
    body = page(response)
    assert re.search(r'id="kpi-month-commission">¥75\.00<', body)
    assert response.context["figures"].commission == Decimal("75.00")
    balances = commission_balances(guide=money.g)
    assert re.search(rf'id="kpi-payable">¥{balances.payable}<', body)
    assert re.search(rf'id="kpi-held">¥{balances.held}<', body)
    assert balances.held == Decimal("260.55")  # every accrual (80+10+20+55.55+11+99) less the 15 back
    assert re.search(r'id="kpi-fans-active">1<', body)
    assert re.search(r'id="kpi-fans-expired">2<', body)


def test_the_latest_statement_downloads_as_csv(client, money):
    client = login(money.g.user)
    body = page(client.get(HOME))
    csv_url = reverse("guides:statement_csv", args=[money.statement.pk])
    assert f'id="statement-csv-{money.statement.pk}" href="{csv_url}"' in body
    assert reverse("guides:statement_csv", args=[money.old_statement.pk]) not in body
    assert reverse("guides:statement_csv", args=[money.h_statement.pk]) not in body
    response = client.get(csv_url)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")


def test_a_new_guide_sees_zeros_and_when_a_statement_comes(client, world):
    guide = GuideFactory(code="GUIDENEW", store=world.a)
    body = page(login(guide.user).get(HOME))
    assert set(table(body, "guide-months-table").values()) == {"0.00"}
    assert re.search(r'id="kpi-month-commission">¥0\.00<', body)
    assert "No statement yet." in body


def test_a_partner_sees_its_money_by_month_and_its_statement(client, money):
    body = page(login(partner_user(money.partner)).get(HOME))
    kinds = list(EntryKind.values)
    assert table(body, "partner-months-P") == ledger_by_month(partner=money.partner, kinds=kinds)
    balances = commission_balances(partner=money.partner)
    assert f'data-figure="partner-payable">¥{balances.payable}<' in body
    assert f'data-figure="partner-held">¥{balances.held}<' in body
    assert reverse("guides:statement_csv", args=[money.partner_statement.pk]) in body
    assert reverse("guides:statement_csv", args=[money.h_statement.pk]) not in body
    assert "500.00" not in body  # guide H's store is not the partner's


def test_query_count_is_pinned_and_does_not_grow_with_the_ledger(client, world, money):
    def queries(user) -> int:
        client = login(user)
        client.get(HOME)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(HOME).status_code == 200
        return len(captured)

    busy = queries(money.g.user)
    quiet = queries(GuideFactory(code="GUIDEQQQ", store=world.c).user)
    print("guide home queries", busy)
    assert busy == quiet <= 12


def test_months_are_counted_in_shanghai_whatever_the_server_zone(client, money, settings):
    settings.TIME_ZONE = "America/New_York"
    body = page(login(money.g.user).get(HOME))
    assert table(body, "guide-months-table")[f"{month_start(1):%Y-%m}"] == "20.00"
