"""Regions from provinces, and the wait shown for time to accept."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from dashboard import selectors
from dashboard.regions import OTHER, region_of
from dashboard.templatetags.dashboard_tags import duration, percent
from guides.periods import Period
from tests.dashboard.conftest import sh


@pytest.mark.parametrize(
    ("province", "region"),
    [
        ("Beijing", "north"),
        ("Inner Mongolia", "north"),
        ("广东省", "south"),
        ("上海市", "east"),
        ("新疆维吾尔自治区", "northwest"),
        ("guangxi", "south"),
        ("  Sichuan ", "southwest"),
        ("", OTHER),
        ("Atlantis", OTHER),
    ],
)
def test_region_of_a_province_in_english_or_chinese(province, region):
    assert region_of(province) == region


def test_duration_reads_like_people_say_it():
    assert duration(None) == "—"
    assert duration(timedelta(seconds=45)) == "45 s"
    assert duration(timedelta(minutes=12, seconds=59)) == "12 min"
    assert duration(timedelta(hours=3, minutes=5)) == "3 h 05 min"
    assert duration(timedelta(days=2, hours=4)) == "2 d 4 h"
    assert percent(None) == "—" and percent(Decimal("12.5")) == "12.5 %"


@pytest.mark.django_db
def test_an_order_without_a_store_counts_as_no_tier_and_other_region(net, hq_client):
    row = net.order(channel=net.tmall, paid_at=sh(2026, 3, 3), total="300.00")
    unknown = net.order(channel=net.mall, paid_at=sh(2026, 3, 3), total="200.00", fulfilled_by=net.a)
    net.a.province = "Atlantis"
    net.a.save()
    tiers, regions = selectors.sales_by_place(Period(date(2026, 3, 1), date(2026, 3, 31)))

    assert {t.key: t.orders for t in tiers if t.orders} == {"none": 1, "1": 1}
    assert {r.key: (r.orders, r.sales) for r in regions if r.orders} == {OTHER: (2, Decimal("500.00"))}
    response = hq_client.get(
        "/hq/dashboard/orders/", {"start": "2026-03-01", "end": "2026-03-31", "region": OTHER}
    )
    assert {o.number for o in response.context["page_obj"]} == {row.number, unknown.number}
    response = hq_client.get(
        "/hq/dashboard/orders/", {"start": "2026-03-01", "end": "2026-03-31", "tier": "none"}
    )
    assert [o.number for o in response.context["page_obj"]] == [row.number]
