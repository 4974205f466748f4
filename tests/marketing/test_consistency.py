"""The price consistency report compares what a customer pays on each channel: the price less the
best catalogue promotion running there (marketing.pricing.ShelfPrices, registered with the catalog)."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog.selectors import price_consistency_report
from marketing.choices import PromotionKind

pytestmark = pytest.mark.django_db

D = Decimal


def test_a_promotion_limited_to_one_channel_is_a_gap_in_the_report(shop, world):
    # Same price everywhere (one all-channels price): no gap until a promotion runs on the mall only.
    assert price_consistency_report(at=timezone.now()) == []
    shop.promo(PromotionKind.PERCENT_OFF, percent=D("10"), skus=[world.tv], channels=[world.mall])

    rows = price_consistency_report(at=timezone.now())

    assert [row.sku for row in rows] == [world.tv]
    assert rows[0].prices == {"mall": D("2699.10"), "stores": D("2999.00")}
    assert rows[0].difference == D("299.90")


def test_a_category_promotion_on_every_channel_keeps_prices_equal(shop, world):
    shop.promo(PromotionKind.AMOUNT_OFF, amount=D("100"), categories=[world.tv.product.category])
    assert price_consistency_report(at=timezone.now()) == []


def test_a_channel_price_and_a_promotion_meet_in_the_report(shop, world, hq_client):
    from catalog.services import price_set
    from config.roles import SYSTEM

    # The stores charge 100 more, the mall's promotion takes 100 off the mall's price: 200 apart.
    price_set(
        sku=world.tv, channel=world.stores_channel, amount=D("3099.00"), valid_from=shop_now(), actor=SYSTEM
    )
    shop.promo(
        PromotionKind.AMOUNT_OFF,
        amount=D("100"),
        categories=[world.tv.product.category],
        channels=[world.mall],
    )
    response = hq_client.get(reverse("catalog:consistency"))
    assert response.status_code == 200
    row = next(row for row, _prices in response.context["page_obj"] if row.sku == world.tv)
    assert row.prices == {"mall": D("2899.00"), "stores": D("3099.00")}
    assert row.difference == D("200.00")


def shop_now():
    return timezone.now() - timezone.timedelta(seconds=1)
