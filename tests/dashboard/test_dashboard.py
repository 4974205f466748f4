"""HQ dashboard: the figures match the rows in the database for March 2026 (see conftest.march),
Shanghai day boundaries, drill-down lists that list exactly the counted rows, CSV, permissions and
a pinned query count."""

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from config.roles import SYSTEM
from dashboard import selectors
from dashboard.forms import DashboardPeriodForm
from guides.periods import Period
from tests.dashboard.conftest import IN_MARCH, MARCH, sh
from tests.factories import GuideFactory, clerk_at

pytestmark = pytest.mark.django_db

PERIOD = Period(date(2026, 3, 1), date(2026, 3, 31))
HOME = reverse("dashboard:home")
ORDERS = reverse("dashboard:orders")
OFFERS = reverse("dashboard:offers")


def figures(rows) -> dict[str, tuple[int, Decimal]]:
    return {f.key: (f.orders, f.sales) for f in rows if f.orders or f.sales}


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.reader(io.StringIO(body)))


def listed_numbers(client, href) -> set[str]:
    """The order numbers a drill-down link lists (through its CSV, which has every row)."""
    rows = read_csv(client.get(href + "&format=csv"))
    assert rows[0][0] == "number"
    return {row[0] for row in rows[1:]}


# --- figures against the database ---------------------------------------------------------------


def test_sales_by_channel_count_paid_orders_of_the_period_only(march):
    rows = selectors.sales_by_channel(PERIOD)

    assert figures(rows) == {
        "tmall": (1, Decimal("4000.00")),
        "stores": (2, Decimal("4000.00")),
        "mall": (3, Decimal("3500.00")),
        "jd": (1, Decimal("3000.00")),
        "dealers": (1, Decimal("3000.00")),
        "partners": (1, Decimal("2000.00")),
    }
    assert [r.key for r in rows][:2] == ["stores", "tmall"]  # biggest first, ties by code
    assert sum(r.sales for r in rows) == Decimal("19500.00")


def test_online_offline_split_by_channel_kind(march):
    online, offline = selectors.online_offline(selectors.sales_by_channel(PERIOD))

    assert (online.orders, online.sales, online.share) == (5, Decimal("10500.00"), Decimal("53.8"))
    assert (offline.orders, offline.sales, offline.share) == (4, Decimal("9000.00"), Decimal("46.2"))


def test_tier_and_region_are_those_of_the_selling_store_else_the_fulfilling_one(march):
    tiers, regions = selectors.sales_by_place(PERIOD)

    assert figures(tiers) == {
        "1": (6, Decimal("10500.00")),
        "2": (2, Decimal("6000.00")),
        "5": (1, Decimal("3000.00")),
    }
    assert [t.key for t in tiers] == ["1", "2", "3", "4", "5", "6"]  # every tier shown, even at 0
    assert figures(regions) == {
        "north": (4, Decimal("5500.00")),
        "east": (2, Decimal("5000.00")),
        "southwest": (2, Decimal("6000.00")),
        "northwest": (1, Decimal("3000.00")),
    }


def test_routed_flows(march):
    flows = {f.key: (f.orders, f.sales) for f in selectors.routed_flows(PERIOD)}

    assert flows == {"online_to_store": (3, Decimal("5500.00")), "store_to_online": (1, Decimal("2500.00"))}


def test_top_skus_by_line_totals_with_units_and_orders(march):
    rows = selectors.top_skus(PERIOD)

    assert [(r.key, r.units, r.orders, r.sales) for r in rows] == [
        ("TV-55", 6, 5, Decimal("12000.00")),
        ("PHONE-1", 3, 3, Decimal("6500.00")),
        ("SOUND-1", 2, 2, Decimal("1000.00")),
    ]


def test_daily_sales_fall_on_shanghai_days_and_fill_every_day(march):
    days = selectors.daily_sales(PERIOD)

    assert len(days) == 31
    by_day = {f.key: f.sales for f in days if f.sales}
    assert by_day == {
        "2026-03-01": Decimal("500.00"),  # paid at 00:00:00 Shanghai (16:00 UTC on 28 Feb)
        "2026-03-05": Decimal("3000.00"),
        "2026-03-12": Decimal("7000.00"),
        "2026-03-20": Decimal("4000.00"),
        "2026-03-25": Decimal("2000.00"),
        "2026-03-31": Decimal("3000.00"),  # paid at 23:59:59 Shanghai
    }


def test_period_boundaries_are_shanghai_midnights(march):
    numbers = set(selectors.sales_orders(PERIOD).values_list("number", flat=True))
    assert numbers == {march[k].number for k in IN_MARCH}

    first_day = set(
        selectors.sales_orders(Period(date(2026, 3, 1), date(2026, 3, 1))).values_list("number", flat=True)
    )
    assert first_day == {march["mall_first"].number}
    feb_last = set(
        selectors.sales_orders(Period(date(2026, 2, 28), date(2026, 2, 28))).values_list("number", flat=True)
    )
    assert feb_last == {march["feb"].number}


def test_acceptance_rate_and_time_to_accept(offers):
    total, stores = selectors.acceptance(PERIOD)

    assert (total.offers, total.accepted, total.answered, total.rate) == (6, 2, 4, Decimal("50.0"))
    assert total.mean_time_to_accept == timedelta(minutes=20)
    by_code = {s.code: s for s in stores}
    assert (by_code["A"].offers, by_code["A"].rate, by_code["A"].mean_time_to_accept) == (
        3,
        Decimal("66.7"),
        timedelta(minutes=20),
    )
    assert (by_code["B"].answered, by_code["B"].rate, by_code["B"].mean_time_to_accept) == (
        1,
        Decimal("0.0"),
        None,
    )
    assert by_code["C"].rate is None  # a withdrawn offer is not an answer


# --- the page ------------------------------------------------------------------------------------


def test_home_shows_the_figures_and_the_charts(hq_client, march, offers):
    response = hq_client.get(HOME, MARCH)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>HQ dashboard</h1>" in html
    for label in ("Daily sales", "Sales by channel", "Sales by city tier", "Sales by region"):
        assert f'role="img" aria-label="{label}"' in html
    assert "From 2026-03-01 to 2026-03-31" in html
    assert response.context["total_orders"] == 9
    assert response.context["total_sales"] == Decimal("19500.00")
    assert "19500.00" in html and "Tmall flagship" in html and "53.8 %" in html
    assert "50.0 %" in html and "20 min" in html  # acceptance and mean time to accept
    assert "Guide Ann" in html and "2500.00" in html  # the guide board (reused)
    # The daily chart links each point to that day's orders.
    assert f'href="{ORDERS}?start=2026-03-01&amp;end=2026-03-31&amp;day=2026-03-12"' in html


def test_home_sections_reuse_returns_guides_and_price_consistency(hq_client, march):
    from catalog.services import price_set

    tv, tmall = march["mall_a"].lines.first().sku, march["tmall"].channel
    price_set(sku=tv, channel=tmall, amount=Decimal("2899.00"), valid_from=sh(2026, 1, 1), actor=SYSTEM)
    html = hq_client.get(HOME, MARCH).content.decode()

    assert (
        'id="returns"' in html and "/hq/service/returns/?date_from=2026-03-01&amp;date_to=2026-03-31" in html
    )
    assert "/hq/service/returns/sku.csv?date_from=2026-03-01" in html
    assert 'id="guides"' in html and "/hq/guides/?start=2026-03-01&amp;end=2026-03-31" in html
    assert "1 SKU has different prices across channels now." in html
    assert "TV-55" in html


def test_every_figure_links_to_a_list_of_exactly_its_orders(hq_client, march):
    context = hq_client.get(HOME, MARCH).context
    checked = 0
    for section in ("channels", "online_offline", "tiers", "regions", "daily", "skus", "flows"):
        for figure in context[section]:
            response = hq_client.get(figure.href)
            assert response.context["count"] == figure.orders, (section, figure.key)
            assert response.context["total"] == figure.sales or (section == "skus"), (section, figure.key)
            numbers = listed_numbers(hq_client, figure.href)
            assert len(numbers) == figure.orders
            assert numbers <= {march[k].number for k in IN_MARCH}
            checked += 1
    assert checked > 50


def test_drill_down_lists_the_expected_orders(hq_client, march):
    def listed(**params):
        return listed_numbers(
            hq_client,
            f"{ORDERS}?start=2026-03-01&end=2026-03-31&" + "&".join(f"{k}={v}" for k, v in params.items()),
        )

    assert listed(flow="store_to_online") == {march["store_ship"].number}
    assert listed(region="southwest") == {march["tmall"].number, march["partner"].number}
    assert listed(sku="SOUND-1") == {march["mall_w"].number, march["mall_first"].number}
    assert listed(guide="GA") == {march["store_ship"].number}
    assert listed(channel="mall", day="2026-03-01") == {march["mall_first"].number}
    # Combined filters narrow further; an unknown value is a field error (test_input.py).
    assert listed(online="1", tier="1") == {march[k].number for k in ("mall_a", "mall_w", "mall_first", "jd")}
    assert hq_client.get(f"{ORDERS}?tier=9&format=csv").status_code == 400


def test_orders_csv_has_one_row_per_order_with_its_store_and_total(hq_client, march):
    response = hq_client.get(ORDERS, {**MARCH, "channel": "dealers", "format": "csv"})

    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="dashboard-orders-20260301-20260331.csv"' in response["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0][:4] == ["number", "paid_at", "channel", "channel_kind"]
    number = march["dealer_last"].number
    assert rows[1:] == [
        [number, "2026-03-31T23:59:59+08:00", "dealers", "dealer", "in_store", "carry_out", "XJ1", "XJ1", "5",
         "Xinjiang", "", "paid", "3000.00"],
    ]  # fmt: skip


def test_orders_page_lists_and_sums_the_rows(hq_client, march):
    response = hq_client.get(ORDERS, {**MARCH, "online": "0"})

    html = response.content.decode()
    assert "4 orders, 9000.00 in total." in html
    for key in ("store_carry", "store_ship", "partner", "dealer_last"):
        assert march[key].number in html
    assert march["mall_a"].number not in html
    assert "Online / offline: offline" in html
    assert 'id="orders-csv"' in html


def test_home_csv_has_every_figure(hq_client, march, offers):
    rows = read_csv(hq_client.get(HOME, {**MARCH, "format": "csv"}))

    assert rows[0] == ["section", "key", "label", "orders", "sales", "share_percent", "units"]
    assert ["channels", "tmall", "Tmall flagship", "1", "4000.00", "20.5", "0"] in rows
    assert ["flows", "store_to_online", "Store → online", "1", "2500.00", "12.8", "0"] in rows
    assert ["acceptance", "all", "", "6", "2", "1", "1", "50.0", "1200"] in rows
    assert ["acceptance", "A", "Store A", "3", "2", "1", "0", "66.7", "1200"] in rows


def test_offer_lists_behind_the_acceptance_figures(hq_client, offers):
    context = hq_client.get(HOME, MARCH).context
    all_answered = hq_client.get(context["acceptance"].href)
    assert all_answered.context["count"] == 4
    store_a = next(s for s in context["acceptance_stores"] if s.code == "A")
    response = hq_client.get(store_a.href)
    assert response.context["count"] == 3
    rows = read_csv(hq_client.get(store_a.href + "&format=csv"))
    assert rows[0][:4] == ["order", "channel", "store", "status"]
    assert sorted(r[3] for r in rows[1:]) == ["accepted", "accepted", "rejected"]
    assert sorted(r[6] for r in rows[1:]) == ["1800", "300", "600"]
    # Every offer of the period, whatever its answer.
    assert hq_client.get(OFFERS, MARCH).context["count"] == 6


# --- period --------------------------------------------------------------------------------------


def test_default_period_is_the_last_30_days_and_presets(monkeypatch):
    import dashboard.forms

    monkeypatch.setattr(dashboard.forms, "shanghai_today", lambda: date(2026, 3, 15))
    assert DashboardPeriodForm().period() == Period(date(2026, 2, 14), date(2026, 3, 15))
    assert DashboardPeriodForm({"preset": "today"}).period() == Period(date(2026, 3, 15), date(2026, 3, 15))
    assert DashboardPeriodForm({"preset": "7d"}).period() == Period(date(2026, 3, 9), date(2026, 3, 15))
    assert DashboardPeriodForm({"preset": "month"}).period() == Period(date(2026, 3, 1), date(2026, 3, 15))
    assert DashboardPeriodForm({"start": "2026-01-01", "end": "2026-01-31"}).period() == Period(
        date(2026, 1, 1), date(2026, 1, 31)
    )


def test_a_backwards_period_says_so_and_shows_the_default(hq_client, march):
    response = hq_client.get(HOME, {"start": "2026-03-31", "end": "2026-03-01"})

    assert response.status_code == 200
    assert "The end comes before the start." in response.content.decode()
    assert response.context["period"].last - response.context["period"].first == timedelta(days=29)


def test_an_empty_period_renders_empty_states(hq_client, net):
    html = hq_client.get(HOME, {"start": "2020-01-01", "end": "2020-01-07"}).content.decode()

    assert "No data for this period." in html
    assert "No orders were offered to stores in this period." in html


# --- permissions and queries ---------------------------------------------------------------------


@pytest.mark.parametrize("url", [HOME, ORDERS, OFFERS])
def test_anonymous_goes_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("url", [HOME, ORDERS, OFFERS])
def test_clerks_and_guides_are_refused(client, net, url):
    for user in (clerk_at(net.a), GuideFactory().user):
        client.force_login(user)
        assert client.get(url).status_code == 403
        assert client.get(url, {"format": "csv"}).status_code == 403


def test_home_query_count_is_fixed(hq_client, net, march, offers, django_assert_max_num_queries):
    # 18: the price consistency figure also reads the running promotions (marketing.pricing.ShelfPrices).
    with django_assert_max_num_queries(18):
        assert hq_client.get(HOME, MARCH).status_code == 200
    # Four times the orders, on more days, stores, channels and SKUs: still the same queries.
    channels, stores = [net.mall, net.tmall, net.partner_channel], [net.a, net.chengdu, net.urumqi, net.w]
    for i in range(30):
        order = net.order(
            channel=channels[i % 3], paid_at=sh(2026, 3, 1 + i % 28), fulfilled_by=stores[i % 4],
            sku=[net.tv, net.phone, net.soundbar][i % 3], guide=net.guide if i % 5 == 0 else None,
        )  # fmt: skip
        net.offer(
            order, stores[i % 3], status="accepted", offered_at=sh(2026, 3, 2), waited=timedelta(minutes=i)
        )
    with django_assert_max_num_queries(18):
        assert hq_client.get(HOME, MARCH).status_code == 200


def test_list_query_counts_are_fixed(hq_client, march, offers, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        hq_client.get(ORDERS, {**MARCH, "region": "north"})
    with django_assert_max_num_queries(8):
        hq_client.get(OFFERS, MARCH)
