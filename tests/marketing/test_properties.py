"""Property-based: over random baskets, promotions, coupons, tenders and partial returns (or a
cancel), the money always adds up: Σ line discounts = the order's discount; no tender ever gets
back more than it paid, and everything back is exactly what each paid; every ledger balance
(points, wallet) is its sum; every coupon's counters are the sum of its redemption rows; after
every return the revenue split still standing, and the guide's commission base per line, are
what was paid less what was refunded, and once everything is back every share and every
commission accrual nets to zero."""

from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from config.roles import SYSTEM
from guides.commission import commission_rule_set
from marketing.choices import CouponKind, PromotionKind
from marketing.errors import CouponRefused
from orders.models import LineDiscount
from orders.services import order_cancel
from tests.factories import GuideFactory
from tests.marketing.helpers import (
    assert_everything_nets_to_zero,
    assert_ledgers_add_up,
    assert_split_and_commission_follow_the_money,
    credited,
    paid,
    refunded,
)

D = Decimal

cents = st.integers(min_value=1, max_value=500_000).map(lambda n: D(n) / 100)


@st.composite
def scenarios(draw):
    prices = draw(st.lists(cents, min_size=1, max_size=3))
    quantities = [draw(st.integers(min_value=1, max_value=4)) for _ in prices]
    promotions = []
    if draw(st.booleans()):
        promotions.append(("percent", draw(st.integers(min_value=1, max_value=100))))
    if draw(st.booleans()):
        threshold = draw(st.integers(min_value=2, max_value=20_000))
        promotions.append(("threshold", threshold, draw(st.integers(min_value=1, max_value=threshold - 1))))
    if draw(st.booleans()):
        promotions.append(
            (
                "nth",
                draw(st.integers(min_value=2, max_value=4)),
                draw(st.integers(min_value=1, max_value=100)),
            )
        )
    coupon = None
    if draw(st.booleans()):
        kind = draw(st.sampled_from([CouponKind.AMOUNT, CouponKind.PERCENT]))
        value = (
            draw(cents.filter(lambda v: v <= 5000))
            if kind == CouponKind.AMOUNT
            else draw(st.integers(1, 100))
        )
        min_spend = draw(st.sampled_from([D(0), D(100), D(1000)]))
        if kind == CouponKind.AMOUNT and min_spend and value > min_spend:
            min_spend = D(0)
        coupon = (kind, D(value), min_spend, draw(st.booleans()))  # last: only on the first SKU
    return {
        "lines": list(zip(prices, quantities, strict=True)),
        "promotions": promotions,
        "coupon": coupon,
        "cap": draw(st.sampled_from([0, 10, 50, 100])),
        "rate": draw(st.sampled_from([100, 200, 1000])),
        "points_share": draw(st.floats(min_value=0, max_value=1)),
        "wallet": draw(st.sampled_from([D(0), D("50"), D("100000")])),
        "wallet_share": draw(st.floats(min_value=0, max_value=1)),
        "cancel": draw(st.integers(0, 4)) == 0,
        "returns": draw(st.lists(st.tuples(st.integers(0, 2), st.integers(1, 4)), max_size=6)),
    }


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
def test_the_money_always_adds_up(shop, scenario):
    note(repr(scenario))
    with transaction.atomic():
        check(shop, scenario)
        transaction.set_rollback(True)  # each example starts from the same world


def check(shop, s):
    skus = [shop.sku(price) for price, _q in s["lines"]]
    for n, promotion in enumerate(s["promotions"]):
        if promotion[0] == "percent":
            shop.promo(PromotionKind.PERCENT_OFF, code=f"p{n}", percent=D(promotion[1]), skus=skus[:1])
        elif promotion[0] == "threshold":
            shop.threshold(str(promotion[1]), str(promotion[2]), code=f"p{n}")
        else:
            shop.promo(PromotionKind.NTH_ITEM, code=f"p{n}", nth=promotion[1], percent=D(promotion[2]))
    member = shop.member(points=1_000_000, wallet=s["wallet"] or None)
    codes = []
    if s["coupon"]:
        kind, value, min_spend, first_only = s["coupon"]
        coupon = shop.coupon(kind=kind, value=value, min_spend=min_spend, skus=skus[:1] if first_only else ())
        codes = [shop.give(coupon, member)]
    shop.points_rule(points_per_yuan=s["rate"], cap_percent=str(s["cap"]))
    lines = [(sku, q) for sku, (_p, q) in zip(skus, s["lines"], strict=True)]
    try:
        order = shop.order(member, lines=lines, coupons=codes)
    except CouponRefused:  # short of the minimum spend: the same basket without it
        order = shop.order(member, lines=lines, stock=False)
    # At 100 % every change of a line's base moves its commission by as much (see the helper).
    commission_rule_set(rate_percent=D("100"), actor=SYSTEM)
    order = credited(order, GuideFactory())

    # Σ line discounts = the order's discount; each line's rows = its discount; lines are net
    rows = LineDiscount.objects.filter(line__order=order)
    assert sum((r.amount for r in rows), D(0)) == order.discount_total
    for line in order.lines.all():
        assert sum((r.amount for r in rows if r.line_id == line.pk), D(0)) == line.discount
        assert line.line_total == line.unit_price * line.quantity - line.discount >= 0
    assert (
        order.total
        == order.subtotal - order.discount_total
        == sum(line.line_total for line in order.lines.all())
    )

    # tenders: some points within the cap, some of the wallet, the rest by card
    cap_cents = int(order.total * s["cap"])  # cents of the cap (total * cap% * 100)
    step = s["rate"] // 100
    points = min(int(cap_cents * s["points_share"]) * step, member.points_balance // step * step)
    points_value = D(points) / s["rate"]
    stored = min(
        s["wallet"],
        ((order.total - points_value) * D(s["wallet_share"])).quantize(D("0.01"), rounding="ROUND_DOWN"),
    )
    shop.pay(order, points=points, stored_value=stored, method="card")
    assert sum(paid(order).values(), D(0)) == order.total
    assert_ledgers_add_up()

    if s["cancel"]:
        order_cancel(order=order, reason="Property", actor=SYSTEM)
        assert refunded(order) == paid(order)
        assert_everything_nets_to_zero(order)
        assert_ledgers_add_up()
        return

    shop.deliver(order)
    lines = list(order.lines.order_by("id"))
    for index, quantity in s["returns"]:
        line = lines[index % len(lines)]
        line.refresh_from_db()
        quantity = min(quantity, line.quantity - line.returned_quantity)
        if quantity:
            shop.return_units(line, quantity)
            back, out = refunded(order), paid(order)
            assert all(back[m] <= out[m] for m in back), (back, out)
            assert_split_and_commission_follow_the_money(order, rate_percent=100)
    everything = all(line.returned_quantity == line.quantity for line in order.lines.all())
    back, out = refunded(order), paid(order)
    if everything:
        assert back == {m: a for m, a in out.items() if a}
        assert_everything_nets_to_zero(order)
    assert sum(back.values(), D(0)) <= order.total
    assert_ledgers_add_up()
