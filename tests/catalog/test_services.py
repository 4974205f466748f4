from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction

from catalog.errors import BelowMarginFloor, NoPrice, PriceOverlap, PriceRefused, UnifiedPriceRefused
from catalog.models import Price, PriceChange
from catalog.selectors import price_lookup
from catalog.services import category_set_unified, price_end, price_set, sku_set_unified
from config.roles import SYSTEM
from tests.factories import (
    CategoryFactory,
    ChannelFactory,
    DealerChannelFactory,
    ProductFactory,
    SKUFactory,
    hq_user,
)

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 1, 0, 0, tzinfo=SH)

pytestmark = pytest.mark.django_db


@pytest.fixture
def mall():
    return ChannelFactory(code="mall", name="Own mall")


@pytest.fixture
def tmall():
    return ChannelFactory(code="tmall", name="Tmall flagship", kind="marketplace")


def test_unified_sku_refuses_channel_price(mall):
    sku = SKUFactory(unified=True)
    with pytest.raises(UnifiedPriceRefused) as exc:
        price_set(sku=sku, channel=mall, amount=Decimal("99.00"), valid_from=T0, actor=SYSTEM)
    assert sku.code in exc.value.message
    assert "channel" in exc.value.fields
    assert not Price.objects.exists()
    assert not PriceChange.objects.exists()


def test_unified_sku_has_one_price_on_every_channel(mall, tmall):
    sku = SKUFactory(unified=True)
    price_set(sku=sku, channel=None, amount=Decimal("1999"), valid_from=T0, actor=SYSTEM)
    assert price_lookup(sku=sku, channel=mall, at=T0).amount == Decimal("1999.00")
    assert price_lookup(sku=sku, channel=tmall, at=T0).amount == Decimal("1999.00")


def test_overlapping_window_in_same_scope_is_refused(mall):
    sku = SKUFactory()
    price_set(
        now=T0,
        sku=sku,
        channel=mall,
        amount=Decimal("100"),
        valid_from=T0,
        valid_to=T0 + timedelta(days=10),
        actor=SYSTEM,
    )
    with pytest.raises(PriceOverlap) as exc:
        price_set(
            now=T0,
            sku=sku,
            channel=mall,
            amount=Decimal("90"),
            valid_from=T0 + timedelta(days=5),
            valid_to=T0 + timedelta(days=20),
            actor=SYSTEM,
        )
    assert "2026-11-01 00:00" in exc.value.message
    assert Price.objects.count() == 1
    assert PriceChange.objects.count() == 1


def test_windows_that_touch_do_not_overlap(mall):
    sku = SKUFactory()
    price_set(
        now=T0,
        sku=sku,
        channel=mall,
        amount=Decimal("100"),
        valid_from=T0,
        valid_to=T0 + timedelta(days=10),
        actor=SYSTEM,
    )
    price_set(sku=sku, channel=mall, amount=Decimal("90"), valid_from=T0 + timedelta(days=10), actor=SYSTEM)
    assert Price.objects.count() == 2


def test_new_price_closes_the_open_ended_one_and_audits_old_to_new(mall):
    sku = SKUFactory()
    user = hq_user()
    first = price_set(sku=sku, channel=mall, amount=Decimal("100"), valid_from=T0, actor=user)
    price_set(sku=sku, channel=mall, amount=Decimal("120"), valid_from=T0 + timedelta(days=3), actor=user)
    first.refresh_from_db()
    assert first.valid_to == T0 + timedelta(days=3)
    change = PriceChange.objects.order_by("-id").first()
    assert (change.old_amount, change.new_amount, change.changed_by) == (
        Decimal("100.00"),
        Decimal("120.00"),
        user,
    )


def test_price_lookup_at_window_edges(mall):
    sku = SKUFactory()
    start, end = T0, T0 + timedelta(days=7)
    price_set(
        now=T0, sku=sku, channel=mall, amount=Decimal("100"), valid_from=start, valid_to=end, actor=SYSTEM
    )
    with pytest.raises(NoPrice):
        price_lookup(sku=sku, channel=mall, at=start - timedelta(microseconds=1))
    assert price_lookup(sku=sku, channel=mall, at=start).amount == Decimal("100.00")
    assert price_lookup(sku=sku, channel=mall, at=end - timedelta(microseconds=1)).amount == Decimal("100.00")
    with pytest.raises(NoPrice):
        price_lookup(sku=sku, channel=mall, at=end)  # windows are half-open: [from, to)


def test_channel_price_wins_over_all_channels_price(mall, tmall):
    sku = SKUFactory()
    price_set(sku=sku, channel=None, amount=Decimal("2000"), valid_from=T0, actor=SYSTEM)
    price_set(
        now=T0,
        sku=sku,
        channel=tmall,
        amount=Decimal("1899"),
        valid_from=T0 + timedelta(days=1),
        valid_to=T0 + timedelta(days=2),
        actor=SYSTEM,
    )
    assert price_lookup(sku=sku, channel=tmall, at=T0 + timedelta(hours=30)).amount == Decimal("1899.00")
    assert price_lookup(sku=sku, channel=mall, at=T0 + timedelta(hours=30)).amount == Decimal("2000.00")
    # After the promotion's window the all-channels price applies again.
    assert price_lookup(sku=sku, channel=tmall, at=T0 + timedelta(days=2)).amount == Decimal("2000.00")


def test_price_below_dealer_margin_floor_is_refused_with_the_numbers():
    dealer = DealerChannelFactory(
        code="dealer-north", name="Dealers North", margin_floor_percent=Decimal("10")
    )
    sku = SKUFactory(dealer_cost=Decimal("1000.00"))
    with pytest.raises(BelowMarginFloor) as exc:
        price_set(sku=sku, channel=dealer, amount=Decimal("1099.99"), valid_from=T0, actor=SYSTEM)
    for number in ("1099.99", "1000.00", "10", "1100.00"):
        assert number in exc.value.message
    assert not Price.objects.exists()
    price_set(sku=sku, channel=dealer, amount=Decimal("1100.00"), valid_from=T0, actor=SYSTEM)
    assert Price.objects.count() == 1


def test_all_channels_price_must_clear_every_dealer_floor():
    DealerChannelFactory(code="dealer-a", margin_floor_percent=Decimal("5"))
    DealerChannelFactory(code="dealer-b", margin_floor_percent=Decimal("20"))
    sku = SKUFactory(dealer_cost=Decimal("100"))
    with pytest.raises(BelowMarginFloor) as exc:
        price_set(sku=sku, channel=None, amount=Decimal("110"), valid_from=T0, actor=SYSTEM)
    assert "120.00" in exc.value.message
    assert not Price.objects.exists()


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-5")])
def test_price_must_be_positive(mall, amount):
    with pytest.raises(PriceRefused):
        price_set(sku=SKUFactory(), channel=mall, amount=amount, valid_from=T0, actor=SYSTEM)
    assert not Price.objects.exists()


def test_database_refuses_a_non_positive_price_written_around_the_service(mall):
    sku = SKUFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Price.objects.create(sku=sku, channel=mall, amount=Decimal("-1"), valid_from=T0)


def test_window_must_end_after_it_starts(mall):
    with pytest.raises(PriceRefused):
        price_set(
            sku=SKUFactory(), channel=mall, amount=Decimal("10"), valid_from=T0, valid_to=T0, actor=SYSTEM
        )


def test_amounts_are_rounded_half_up_to_cents(mall):
    price = price_set(sku=SKUFactory(), channel=mall, amount=Decimal("10.005"), valid_from=T0, actor=SYSTEM)
    price.refresh_from_db()
    assert price.amount == Decimal("10.01")


def test_price_end_closes_the_window_and_is_audited(mall):
    sku = SKUFactory()
    price = price_set(sku=sku, channel=mall, amount=Decimal("100"), valid_from=T0, actor=SYSTEM)
    price_end(price=price, at=T0 + timedelta(days=1), actor=SYSTEM)
    with pytest.raises(NoPrice):
        price_lookup(sku=sku, channel=mall, at=T0 + timedelta(days=1))
    assert PriceChange.objects.filter(price=price, action="ended").count() == 1
    with pytest.raises(PriceRefused):
        price_end(price=price, at=T0 + timedelta(days=5), actor=SYSTEM)  # already closed before then


def test_marking_unified_is_refused_while_channel_prices_are_live(mall):
    sku = SKUFactory()
    price_set(sku=sku, channel=mall, amount=Decimal("100"), valid_from=T0, actor=SYSTEM)
    with pytest.raises(UnifiedPriceRefused) as exc:
        sku_set_unified(skus=[sku], unified=True, actor=SYSTEM)
    assert sku.code in exc.value.message
    sku.refresh_from_db()
    assert sku.unified is False


def test_category_bulk_unified_covers_sub_categories_and_is_all_or_nothing(mall):
    parent = CategoryFactory()
    child = CategoryFactory(parent=parent)
    a = SKUFactory(product=ProductFactory(category=parent))
    b = SKUFactory(product=ProductFactory(category=child))
    other = SKUFactory()
    result = category_set_unified(category=parent, unified=True, actor=SYSTEM)
    assert result.changed == 2
    assert {s.unified for s in (a, b)} == {False}  # stale objects; re-read below
    a.refresh_from_db(), b.refresh_from_db(), other.refresh_from_db()
    assert (a.unified, b.unified, other.unified) == (True, True, False)

    category_set_unified(category=parent, unified=False, actor=SYSTEM)
    price_set(sku=b, channel=mall, amount=Decimal("100"), valid_from=T0, actor=SYSTEM)
    with pytest.raises(UnifiedPriceRefused):
        category_set_unified(category=parent, unified=True, actor=SYSTEM)
    a.refresh_from_db()
    assert a.unified is False  # nothing half-done
