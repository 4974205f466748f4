"""Guide and partner portal pages: my QR code and this month's figures, fans (masked, active or
expired), attributed orders, the ledger with per-kind totals, statements with CSV, and the
partner's stores and guides. A guide never reaches another guide's rows, a partner never another
partner's (404 on their pages, absent from lists); a clerk who is no guide is shown how to become one."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from guides.choices import StatementStatus
from orders.choices import OrderStatus
from stores.models import Store
from tests.factories import (
    GuideFactory,
    MemberFactory,
    PartnerFactory,
    StoreFactory,
    UserFactory,
    clerk_at,
    partner_user,
)
from tests.guides import pages
from tests.helpers import login_into

pytestmark = pytest.mark.django_db


class Portal:
    """Partner P1 runs store A (guide A works there) and has guide X directly; partner P2 runs
    store B (guide B). Guide A has an active fan, an expired one and one taken over; orders and
    ledger rows this month; a statement last month. Guide B has a fan, an order, an entry and a
    statement of their own."""

    def __init__(self, world):
        self.world = world
        self.p1 = PartnerFactory(code="p1", name="Partner One")
        self.p2 = PartnerFactory(code="p2", name="Partner Two")
        Store.objects.filter(pk=world.a.pk).update(partner=self.p1)
        Store.objects.filter(pk=world.b.pk).update(partner=self.p2)
        world.a.refresh_from_db()
        world.b.refresh_from_db()
        self.a = GuideFactory(code="GUIDEAAA", name="Alice", store=world.a)
        self.b = GuideFactory(code="GUIDEBBB", name="Bob", store=world.b)
        self.x = GuideFactory(code="GUIDEXXX", name="Xavier", partner=self.p1)

        now = timezone.now()
        self.now = now - timedelta(seconds=5)
        long_ago = now - timedelta(days=40)  # always before this month's first day
        self.fan = MemberFactory(phone="13812345678", name="张三丰")
        self.active = pages.bind(self.a, self.fan, started_at=self.now)
        self.expired = pages.bind(self.a, MemberFactory(phone="13700001111"), started_at=long_ago)
        self.taken = pages.bind(
            self.a,
            MemberFactory(phone="13600002222"),
            started_at=long_ago,
            ended_at=long_ago + timedelta(days=1),
        )
        self.b_fan = pages.bind(self.b, MemberFactory(phone="13987654321"), started_at=self.now)

        self.order1 = pages.order(world, self.a, total="1000.00", paid_at=self.now, binding=self.active)
        self.order2 = pages.order(world, self.a, total="500.00", paid_at=self.now, binding=self.active)
        self.cancelled = pages.order(
            world, self.a, total="700.00", paid_at=self.now, status=OrderStatus.CANCELLED
        )
        self.old_order = pages.order(world, self.a, total="300.00", paid_at=long_ago, binding=self.expired)
        self.b_order = pages.order(world, self.b, total="9999.00", paid_at=self.now, binding=self.b_fan)

        self.acc1 = pages.accrue(self.order1, "50.00")
        self.acc2 = pages.accrue(self.order2, "25.00")
        self.claw = pages.clawback(self.acc2, "10.00", at=self.now)
        self.old_acc = pages.accrue(self.old_order, "30.00")
        self.last_month = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
        self.a_statement = pages.statement(
            guide=self.a, period=self.last_month, status=StatementStatus.APPROVED, total="30.00", entries=1
        )
        self.old_release = pages.release(self.old_acc, at=self.now, statement=self.a_statement)
        self.b_acc = pages.accrue(self.b_order, "99.99")
        self.b_statement = pages.statement(guide=self.b, period=self.last_month, total="12.00")
        self.p1_statement = pages.statement(partner=self.p1, period=self.last_month, total="30.00")
        self.p2_statement = pages.statement(partner=self.p2, period=self.last_month, total="99.99")


@pytest.fixture
def portal(world):
    return Portal(world)


# --- who gets what -----------------------------------------------------------------------------


def test_clerk_without_a_guide_gets_the_become_a_guide_page_everywhere(client, world, portal):
    login_into(client, clerk_at(world.a))
    for name in ("guides:home", "guides:fans", "guides:ledger", "guides:statements", "guides:partner"):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert [t.name for t in response.templates][0] == "guides/portal/join.html"
        body = response.content.decode()
        assert 'href="/g/join/"' in body
        assert portal.fan.phone[-4:] not in body


def test_anonymous_users_go_to_the_login_page(client, portal):
    response = client.get(reverse("guides:fans"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_a_guide_who_is_no_partner_gets_403_on_the_partner_page(client, portal):
    login_into(client, portal.a.user)
    assert client.get(reverse("guides:partner")).status_code == 403


# --- the guide's own pages -----------------------------------------------------------------------


def test_guide_home_shows_the_qr_code_and_this_months_figures(client, portal, django_assert_max_num_queries):
    login_into(client, portal.a.user)
    with django_assert_max_num_queries(12):  # + the 12-month chart and the latest statement
        response = client.get(reverse("guides:home"))
    assert response.status_code == 200
    body = response.content.decode()
    code = portal.a.code
    for url in (f"/g/{code}/qr.png", f"/g/{code}/qr.svg", f"/g/{code}/card/"):
        assert url in body
    assert f"http://testserver/g/{code}/" in body
    figures = response.context["figures"]
    # this month: one new fan, two paid orders (the cancelled one and last month's do not count),
    # 50 + 25 accrued less 10 clawed back (the release of last month's accrual moves no money)
    assert (figures.fans, figures.orders, figures.sales, figures.commission) == (
        1,
        2,
        Decimal("1500.00"),
        Decimal("65.00"),
    )
    assert response.context["active_fans"] == 1
    # commission_balances (guides.commission): 75 - 10 held now; 30 released onto a statement
    balances = response.context["balances"]
    assert balances.held == Decimal("65.00")
    assert balances.held + balances.payable + balances.paid == Decimal("95.00")


def test_a_suspended_guide_sees_why_on_their_home_page(client, portal):
    type(portal.a).objects.filter(pk=portal.a.pk).update(status="suspended", suspended_reason="Fake scans")
    login_into(client, portal.a.user)
    body = client.get(reverse("guides:home")).content.decode()
    assert "Your guide account is suspended." in body and "Fake scans" in body


def test_fans_are_masked_listed_with_their_window_and_filtered_active_or_expired(
    client, portal, django_assert_max_num_queries
):
    login_into(client, portal.a.user)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("guides:fans"))
    body = response.content.decode()
    shown = {b.pk for b in response.context["page_obj"]}
    assert shown == {portal.active.pk, portal.expired.pk, portal.taken.pk}
    assert "138****5678" in body and "13812345678" not in body
    assert "张**" in body and "张三丰" not in body
    assert "139****4321" not in body  # guide B's fan
    last_day = (portal.active.ends_at.astimezone(pages.SHANGHAI) - timedelta(days=1)).date()
    assert f"last day {last_day:%Y-%m-%d}" in body

    active = client.get(reverse("guides:fans"), {"state": "active"})
    assert [b.pk for b in active.context["page_obj"]] == [portal.active.pk]
    expired = client.get(reverse("guides:fans"), {"state": "expired"})
    assert {b.pk for b in expired.context["page_obj"]} == {portal.expired.pk, portal.taken.pk}


def test_fan_page_shows_the_window_and_the_orders_through_the_binding(client, portal):
    login_into(client, portal.a.user)
    response = client.get(reverse("guides:fan", args=[portal.active.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert portal.order1.number in body and portal.order2.number in body
    assert portal.old_order.number not in body
    assert "138****5678" in body and "13812345678" not in body


def test_attributed_orders_list_only_the_guides_own(client, portal, django_assert_max_num_queries):
    login_into(client, portal.a.user)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("guides:orders"))
    body = response.content.decode()
    numbers = [o.number for o in response.context["page_obj"]]
    assert set(numbers) == {
        portal.order1.number,
        portal.order2.number,
        portal.cancelled.number,
        portal.old_order.number,
    }
    assert portal.b_order.number not in body
    assert "Own mall" in body and "1000.00" in body and "Cancelled" in body

    paid = client.get(reverse("guides:orders"), {"status": ["paid"]})
    assert {o.number for o in paid.context["page_obj"]} == {
        portal.order1.number,
        portal.order2.number,
        portal.old_order.number,
    }


def test_attributed_order_page_shows_lines_reason_and_commission(client, portal):
    login_into(client, portal.a.user)
    response = client.get(reverse("guides:order", args=[portal.order2.number]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "bound to GUIDEAAA" in body
    assert [e.pk for e in response.context["entries"]] == [portal.acc2.pk, portal.claw.pk]
    assert "-10.00" in body


def test_ledger_lists_entries_with_totals_per_kind_and_filters(client, portal, django_assert_max_num_queries):
    login_into(client, portal.a.user)
    with django_assert_max_num_queries(9):
        response = client.get(reverse("guides:ledger"))
    ids = {e.pk for e in response.context["page_obj"]}
    assert ids == {portal.acc1.pk, portal.acc2.pk, portal.claw.pk, portal.old_acc.pk, portal.old_release.pk}
    totals = {row["kind"]: (row["n"], row["held"], row["payable"]) for row in response.context["totals"]}
    assert totals == {
        "accrual": (3, Decimal("105.00"), Decimal("0.00")),
        "clawback": (1, Decimal("-10.00"), Decimal("0.00")),
        "release": (1, Decimal("-30.00"), Decimal("30.00")),
    }
    assert response.context["held_total"] == Decimal("65.00")
    assert response.context["payable_total"] == Decimal("30.00")
    assert "99.99" not in response.content.decode()

    claws = client.get(reverse("guides:ledger"), {"kind": "clawback"})
    assert [e.pk for e in claws.context["page_obj"]] == [portal.claw.pk]
    month = portal.old_acc.created_at.astimezone(pages.SHANGHAI).strftime("%Y-%m")
    old = client.get(reverse("guides:ledger"), {"month": month, "kind": "accrual"})
    assert [e.pk for e in old.context["page_obj"]] == [portal.old_acc.pk]


def test_entry_page_shows_the_entry_and_its_accrual(client, portal):
    login_into(client, portal.a.user)
    response = client.get(reverse("guides:entry", args=[portal.claw.pk]))
    assert response.status_code == 200
    assert [e.pk for e in response.context["related"]] == [portal.acc2.pk]


def test_statements_list_detail_and_csv(client, portal):
    login_into(client, portal.a.user)
    listed = client.get(reverse("guides:statements"))
    assert [s.pk for s in listed.context["page_obj"]] == [portal.a_statement.pk]

    detail = client.get(reverse("guides:statement", args=[portal.a_statement.pk]))
    assert detail.status_code == 200
    assert [e.pk for e in detail.context["page_obj"]] == [portal.old_release.pk]
    assert "30.00" in detail.content.decode()

    response = client.get(reverse("guides:statement_csv", args=[portal.a_statement.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    # guides.settlement.statement_rows: one row per claimed entry
    assert len(rows) == 1
    assert rows[0]["order"] == portal.old_order.number
    assert Decimal(rows[0]["change"]) == Decimal("30.00")


def test_statement_csv_defuses_a_note_that_looks_like_a_formula(client, portal):
    type(portal.old_release).objects.filter(pk=portal.old_release.pk).update(note="=1+1")
    login_into(client, portal.a.user)
    response = client.get(reverse("guides:statement_csv", args=[portal.a_statement.pk]))
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0]["note"] == "'=1+1"
    assert Decimal(rows[0]["change"]) == Decimal("30.00")  # amounts stay numbers


def test_a_guide_gets_404_on_another_guides_rows_and_pages(client, portal):
    login_into(client, portal.a.user)
    for url in (
        reverse("guides:fan", args=[portal.b_fan.pk]),
        reverse("guides:order", args=[portal.b_order.number]),
        reverse("guides:entry", args=[portal.b_acc.pk]),
        reverse("guides:statement", args=[portal.b_statement.pk]),
        reverse("guides:statement_csv", args=[portal.b_statement.pk]),
        reverse("guides:statement", args=[portal.p1_statement.pk]),
        reverse("guides:guide", args=[portal.b.code]),
        reverse("guides:guide", args=[portal.x.code]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.get(reverse("guides:guide", args=[portal.a.code])).status_code == 200
    body = client.get(reverse("guides:statements")).content.decode()
    assert "Bob" not in body and "Partner One" not in body
    assert (
        client.get(reverse("guides:fans"), {"guide": portal.b.code}).context["page_obj"].paginator.count == 0
    )


# --- partners --------------------------------------------------------------------------------------


def test_partner_sees_their_stores_and_guides_with_period_figures(
    client, world, portal, django_assert_max_num_queries
):
    user = partner_user(portal.p1)
    login_into(client, user)
    with django_assert_max_num_queries(18):
        response = client.get(reverse("guides:partner"))
    assert response.status_code == 200
    body = response.content.decode()
    guides = {g.code: g for g in response.context["page_obj"]}
    assert set(guides) == {portal.a.code, portal.x.code}
    assert (guides[portal.a.code].figures.orders, guides[portal.a.code].figures.sales) == (
        2,
        Decimal("1500.00"),
    )
    assert guides[portal.a.code].active_fans == 1
    assert guides[portal.x.code].figures.orders == 0
    stores = {s.code: s for s in response.context["store_page"]}
    assert set(stores) == {world.a.code}
    assert stores[world.a.code].figures.commission == Decimal("65.00")
    assert portal.b.code not in body and "Partner Two" not in body and world.b.name not in body
    assert [s.pk for s in response.context["partner_statements"]] == [portal.p1_statement.pk]

    day = portal.old_order.paid_at.astimezone(pages.SHANGHAI).date().isoformat()
    that_day = client.get(reverse("guides:partner"), {"start": day, "end": day})
    figures = {g.code: g.figures for g in that_day.context["page_obj"]}[portal.a.code]
    assert (figures.orders, figures.sales, figures.commission) == (1, Decimal("300.00"), Decimal("30.00"))


def test_partner_lists_show_their_guides_rows_and_never_the_other_partners(client, portal):
    login_into(client, partner_user(portal.p1))
    fans = client.get(reverse("guides:fans"))
    assert {b.guide_id for b in fans.context["page_obj"]} == {portal.a.pk}
    orders = client.get(reverse("guides:orders"))
    assert portal.b_order.number not in orders.content.decode()
    statements = client.get(reverse("guides:statements"))
    assert {s.pk for s in statements.context["page_obj"]} == {portal.a_statement.pk, portal.p1_statement.pk}
    for url in (
        reverse("guides:guide", args=[portal.b.code]),
        reverse("guides:fan", args=[portal.b_fan.pk]),
        reverse("guides:statement", args=[portal.p2_statement.pk]),
        reverse("guides:statement_csv", args=[portal.p2_statement.pk]),
        reverse("guides:order", args=[portal.b_order.number]),
    ):
        assert client.get(url).status_code == 404, url
    page = client.get(reverse("guides:guide", args=[portal.x.code]))
    assert page.status_code == 200 and "Xavier" in page.content.decode()


def test_partner_statement_page_and_csv(client, portal):
    sold = pages.order(portal.world, portal.a, total="240.00", paid_at=portal.now)
    entry = pages.release(pages.accrue(sold, "12.00"), at=portal.now, partner_statement=portal.p1_statement)
    login_into(client, partner_user(portal.p1))
    detail = client.get(reverse("guides:statement", args=[portal.p1_statement.pk]))
    assert [e.pk for e in detail.context["page_obj"]] == [entry.pk]
    response = client.get(reverse("guides:statement_csv", args=[portal.p1_statement.pk]))
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [(r["order"], Decimal(r["change"])) for r in rows] == [(sold.number, Decimal("12.00"))]


def test_a_user_of_two_partners_sees_both_and_a_third_partner_nothing(client, portal):
    other = PartnerFactory(code="p3")
    store = StoreFactory(code="P3STORE", partner=other)
    stranger = GuideFactory(code="GUIDEP3S", store=store)
    user = UserFactory(roles=["Partner"])
    portal.p1.users.add(user)
    portal.p2.users.add(user)
    login_into(client, user)
    response = client.get(reverse("guides:partner"))
    assert {g.code for g in response.context["page_obj"]} == {portal.a.code, portal.b.code, portal.x.code}
    assert stranger.code not in response.content.decode()


def test_a_real_scan_order_and_payment_show_up_on_the_guides_pages(client, world):
    """Through the services: scan_bind (guides.services), order_create with attribution, order_pay."""
    from guides.services import scan_bind, scan_open

    guide = GuideFactory(code="REALFLOW", store=world.a)
    other = GuideFactory(code="OTHERGDE", store=world.b)
    binding = scan_bind(scan=scan_open(guide=guide), phone="13811112222", name="李四")
    order = world.pay(world.ship_order(member=binding.member))
    assert order.guide_id == guide.pk
    stranger = scan_bind(scan=scan_open(guide=other), phone="13833334444").member
    foreign = world.pay(world.ship_order(member=stranger))

    login_into(client, guide.user)
    fans = client.get(reverse("guides:fans"), {"state": "active"})
    assert [b.pk for b in fans.context["page_obj"]] == [binding.pk]
    assert "138****2222" in fans.content.decode() and "138****4444" not in fans.content.decode()
    orders = client.get(reverse("guides:orders"))
    assert [o.number for o in orders.context["page_obj"]] == [order.number]
    assert foreign.number not in orders.content.decode()
    home = client.get(reverse("guides:home"))
    figures = home.context["figures"]
    assert (figures.fans, figures.orders, figures.sales) == (1, 1, order.total)
    assert client.get(reverse("guides:order", args=[foreign.number])).status_code == 404
