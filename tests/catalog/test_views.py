"""HQ catalog pages: price form refusals on the page, audit trail, consistency report and CSV,
one product, one price per category, and the HQ-only boundary."""

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog.models import SKU, Price, PriceChange
from catalog.services import price_set
from config.roles import SYSTEM
from tests.factories import (
    CategoryFactory,
    ChannelFactory,
    DealerChannelFactory,
    ProductFactory,
    SKUFactory,
    StoreFactory,
    clerk_at,
)

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
JAN_1 = datetime(2026, 1, 1, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture
def mall():
    return ChannelFactory(code="mall", name="Own Mall")


@pytest.fixture
def tmall():
    return ChannelFactory(code="tmall", name="Tmall Flagship")


@pytest.fixture
def dealer():
    return DealerChannelFactory(code="dealer", name="Dealers North")


HQ_PAGES = [
    ("catalog:price_new", []),
    ("catalog:sku_list", []),
    ("catalog:consistency", []),
    ("catalog:categories", []),
]


@pytest.mark.parametrize("name, args", HQ_PAGES)
def test_non_hq_staff_get_403_on_hq_pages(client, name, args):
    client.force_login(clerk_at(StoreFactory()))
    assert client.get(reverse(name, args=args)).status_code == 403


def test_non_hq_cannot_set_a_price_by_post(client, mall):
    sku = SKUFactory()
    client.force_login(clerk_at(StoreFactory()))
    response = client.post(reverse("catalog:price_new"), {"sku": sku.code, "amount": "10"})
    assert response.status_code == 403
    assert not Price.objects.exists()


def test_non_hq_cannot_flag_a_category(client):
    category = CategoryFactory()
    SKUFactory(product=ProductFactory(category=category))
    client.force_login(clerk_at(StoreFactory()))
    response = client.post(reverse("catalog:category_unified", args=[category.code]), {"unified": "1"})
    assert response.status_code == 403
    assert not SKU.objects.filter(unified=True).exists()


@pytest.mark.parametrize("name", ["catalog:price_new", "catalog:consistency"])
def test_anonymous_is_redirected_to_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


# --- set a price ------------------------------------------------------------------------------


def test_channel_price_for_unified_sku_is_refused_on_the_page_and_nothing_is_written(hq_client, mall):
    sku = SKUFactory(code="TV55X", unified=True)
    response = hq_client.post(
        reverse("catalog:price_new"), {"sku": "TV55X", "channel": mall.pk, "amount": "3999.00"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert (
        "TV55X is sold at one price on every channel; set its price for all channels, not for Own Mall."
        in body
    )
    assert not Price.objects.filter(sku=sku).exists()
    assert not PriceChange.objects.exists()


def test_price_below_dealer_margin_floor_is_refused_with_the_numbers(hq_client, dealer):
    SKUFactory(code="TV55X", dealer_cost=Decimal("100.00"))
    response = hq_client.post(
        reverse("catalog:price_new"), {"sku": "TV55X", "channel": dealer.pk, "amount": "105"}
    )
    body = response.content.decode()
    assert "105.00 is below the margin floor of Dealers North for TV55X" in body
    assert "dealer cost 100.00 + 8.00% margin = 108.00" in body
    assert not Price.objects.exists()


def test_overlapping_window_is_refused_with_the_existing_window(hq_client, mall):
    sku = SKUFactory(code="TV55X")
    price_set(
        now=JAN_1,
        sku=sku,
        channel=mall,
        amount=Decimal("10"),
        valid_from=JAN_1,
        valid_to=JAN_1 + timedelta(days=10),
        actor=SYSTEM,
    )
    response = hq_client.post(
        reverse("catalog:price_new"),
        {"sku": "TV55X", "channel": mall.pk, "amount": "12", "valid_from": "2025-12-30T09:00"},
    )
    assert (
        "already has a price for Own Mall in 2026-01-01 09:00 – 2026-01-11 09:00" in response.content.decode()
    )
    assert Price.objects.count() == 1


def test_negative_amount_gets_the_services_message(hq_client):
    SKUFactory(code="TV55X")
    response = hq_client.post(reverse("catalog:price_new"), {"sku": "TV55X", "amount": "-1"})
    assert "A price must be greater than zero." in response.content.decode()
    assert not Price.objects.exists()


def test_unknown_sku_is_a_field_error(hq_client):
    response = hq_client.post(reverse("catalog:price_new"), {"sku": "NOPE", "amount": "5"})
    assert "No SKU has the code “NOPE”." in response.content.decode()
    assert not Price.objects.exists()


def test_setting_a_price_writes_price_and_audit_and_shows_them_on_the_skus_page(hq_client, hq, tmall):
    sku = SKUFactory(code="TV55X")
    price_set(sku=sku, channel=tmall, amount=Decimal("4299.00"), valid_from=JAN_1, actor=SYSTEM)
    response = hq_client.post(
        reverse("catalog:price_new"),
        {"sku": "tv55x", "channel": tmall.pk, "amount": "3999.5", "valid_from": "2026-02-01T10:00"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("catalog:sku_prices", args=["TV55X"])
    new = Price.objects.get(sku=sku, valid_from=datetime(2026, 2, 1, 10, 0, tzinfo=SHANGHAI))
    assert (new.amount, new.channel, new.created_by, new.valid_to) == (Decimal("3999.50"), tmall, hq, None)
    old = Price.objects.get(sku=sku, amount=Decimal("4299.00"))
    assert old.valid_to == new.valid_from  # the open price was closed where the new one starts
    change = PriceChange.objects.get(price=new)
    assert (change.old_amount, change.new_amount, change.changed_by) == (
        Decimal("4299.00"),
        Decimal("3999.50"),
        hq,
    )
    body = response.content.decode()
    assert "Price of TV55X set to 3999.50 for Tmall Flagship from 2026-02-01 10:00 until …." in body
    assert "4299.00 → 3999.50" in body
    assert hq.email in body


def test_price_for_all_channels_without_dates_starts_now(hq_client):
    sku = SKUFactory(code="TV55X")
    before = timezone.now()
    hq_client.post(reverse("catalog:price_new"), {"sku": "TV55X", "channel": "", "amount": "99"})
    price = Price.objects.get(sku=sku)
    assert price.channel is None
    assert price.valid_from >= before


# --- consistency report -----------------------------------------------------------------------


@pytest.fixture
def disagreeing(mall, tmall):
    """TV55X: 3999 on the mall, 4299 on Tmall. PHONE1: the same 1999 everywhere."""
    tv = SKUFactory(code="TV55X", name="Super TV 55")
    price_set(sku=tv, channel=None, amount=Decimal("3999"), valid_from=JAN_1, actor=SYSTEM)
    price_set(sku=tv, channel=tmall, amount=Decimal("4299"), valid_from=JAN_1, actor=SYSTEM)
    phone = SKUFactory(code="PHONE1")
    price_set(sku=phone, channel=None, amount=Decimal("1999"), valid_from=JAN_1, actor=SYSTEM)
    price_set(sku=phone, channel=mall, amount=Decimal("1999"), valid_from=JAN_1, actor=SYSTEM)
    return tv


def test_consistency_report_lists_the_sku_whose_channels_disagree(hq_client, disagreeing):
    response = hq_client.get(reverse("catalog:consistency"), {"at": "2026-03-01T12:00"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "TV55X" in body
    assert "PHONE1" not in body
    assert (
        'class="money neg num strong" data-label="Difference"><span class="cell">300.00</span></td>' in body
    )
    assert "1 SKU whose channels disagree at 2026-03-01 12:00." in body


def test_consistency_report_before_the_prices_started_is_empty(hq_client, disagreeing):
    body = hq_client.get(reverse("catalog:consistency"), {"at": "2025-06-01T12:00"}).content.decode()
    assert "TV55X" not in body
    assert "Every SKU has the same price on every channel at this instant." in body


def test_consistency_csv_has_the_same_rows(hq_client, disagreeing):
    response = hq_client.get(reverse("catalog:consistency"), {"at": "2026-03-01T12:00", "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="price-consistency-20260301-1200.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [
        ["sku", "name", "mall", "tmall", "lowest", "highest", "difference"],
        ["TV55X", "Super TV 55", "3999.00", "4299.00", "3999.00", "4299.00", "300.00"],
    ]


def test_consistency_report_defaults_to_now(hq_client, disagreeing):
    response = hq_client.get(reverse("catalog:consistency"))
    assert abs(response.context["at"] - timezone.now()) < timedelta(minutes=1)
    assert "TV55X" in response.content.decode()


# --- one product, one price per category ------------------------------------------------------


def test_category_unified_marks_every_sku_of_the_category_and_its_children(hq_client):
    parent = CategoryFactory(name="TVs")
    child = CategoryFactory(name="OLED TVs", parent=parent)
    a = SKUFactory(product=ProductFactory(category=parent))
    b = SKUFactory(product=ProductFactory(category=child))
    outside = SKUFactory()
    response = hq_client.post(
        reverse("catalog:category_unified", args=[parent.code]), {"unified": "1"}, follow=True
    )
    assert set(SKU.objects.filter(unified=True)) == {a, b}
    assert not SKU.objects.get(pk=outside.pk).unified
    assert "TVs: 2 SKUs now sold at one product, one price (0 already were)." in response.content.decode()


def test_category_unified_refusal_lists_the_blocking_skus_and_changes_nothing(hq_client, tmall):
    category = CategoryFactory(name="TVs")
    blocked = SKUFactory(code="TV55X", product=ProductFactory(category=category))
    SKUFactory(code="TV65X", product=ProductFactory(category=category))
    price_set(sku=blocked, channel=tmall, amount=Decimal("4299"), valid_from=JAN_1, actor=SYSTEM)
    response = hq_client.post(
        reverse("catalog:category_unified", args=[category.code]), {"unified": "1"}, follow=True
    )
    body = response.content.decode()
    assert "These SKUs still have channel-specific prices" in body
    assert "TV55X on Tmall Flagship (4299.00)" in body
    assert not SKU.objects.filter(unified=True).exists()


def test_categories_page_counts_skus_including_sub_categories(hq_client):
    parent = CategoryFactory(name="TVs")
    child = CategoryFactory(name="OLED TVs", parent=parent)
    SKUFactory(product=ProductFactory(category=parent))
    SKUFactory(product=ProductFactory(category=child), unified=True)
    response = hq_client.get(reverse("catalog:categories"))
    rows = {c["name"]: (c["skus"], c["unified"], c["depth"]) for c in response.context["categories"]}
    assert rows == {"TVs": (2, 1, 0), "OLED TVs": (1, 1, 1)}


def test_sku_list_search_finds_by_barcode(hq_client):
    SKUFactory(code="TV55X", barcode="6900000000551")
    SKUFactory(code="PHONE1")
    body = hq_client.get(reverse("catalog:sku_list"), {"q": "6900000000551"}).content.decode()
    assert "TV55X" in body
    assert "PHONE1" not in body
