"""The quote's answer is built by hand (orders.api.quote.quote_answer) for speed, while
QuoteSerializer stays its schema: the two must give the same JSON for every kind of quote."""

import json
from decimal import Decimal

import pytest

from config.roles import SYSTEM
from marketing.choices import CouponKind, PromotionKind
from orders.api.quote import QuoteSerializer, quote_answer
from orders.quote import basket_quote
from orders.services import LineRequest

pytestmark = pytest.mark.django_db

D = Decimal


def as_json(data) -> object:
    return json.loads(json.dumps(data))


@pytest.mark.parametrize("points_rule", [True, False], ids=["points rule", "no points rule"])
@pytest.mark.parametrize("with_member", [True, False], ids=["member", "anonymous"])
def test_the_hand_built_answer_is_the_serializers(shop, points_rule, with_member):
    world = shop.world
    phone = shop.sku("1999.00", code="PHONE-9", name="Phone 9")
    case = shop.sku("33.33", code="CASE-1", name="Case")
    shop.threshold(threshold="2000", amount="300", code="d12", name="Double 12")
    shop.promo(PromotionKind.PERCENT_OFF, percent=D("7.5"), skus=[case], code="case-off")
    shop.promo(PromotionKind.NTH_ITEM, nth=3, percent=D("50"), skus=[case], code="third-half")
    if points_rule:
        shop.points_rule(points_per_yuan=100, cap_percent="33.5")
    member = shop.member(points=3599, wallet="500.01", home_store=world.a, consent_channel=world.mall)
    coupons = []
    if with_member:
        coupons = [
            shop.give(shop.coupon(code="c-50", value="50", min_spend=D("1000")), member),
            shop.give(shop.coupon(code="c-pct", kind=CouponKind.PERCENT, value="5"), member),
        ]
    quote = basket_quote(
        channel=world.mall,
        lines=[LineRequest(sku=phone, quantity=1), LineRequest(sku=case, quantity=4)],
        member=member if with_member else None,
        coupons=coupons,
        points=1000 if with_member and points_rule else 0,
        stored_value=D("100.05") if with_member else 0,
        actor=SYSTEM,
    )
    # The basket exercises every part of the answer, so a field left out cannot hide.
    assert len(quote.applied) == (5 if with_member else 3)
    assert (quote.points_cap is not None) is points_rule
    answer = as_json(quote_answer(quote))
    assert answer == as_json(QuoteSerializer(quote).data)
    assert set(answer) == set(QuoteSerializer().fields)
