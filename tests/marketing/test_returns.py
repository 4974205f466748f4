"""Returns refund exactly the returned units' net share, back to the tenders that paid (points,
then the wallet, then the external payment), never above what a tender paid; a return that takes
the basket below a threshold keeps back the discount the kept goods no longer earn."""

from decimal import Decimal

import pytest

from aftersales.services import kept_back
from marketing.choices import WalletKind
from marketing.models import WalletEntry
from marketing.services import wallet_balance
from members.models import PointsEntry
from orders.choices import OrderStatus, PaymentKind
from tests.marketing.helpers import assert_ledgers_add_up, paid, refunded

D = Decimal


@pytest.fixture
def rates(shop):
    shop.earn_rule()
    return shop.points_rule(points_per_yuan=100, cap_percent="50")


def line_of(order, sku):
    return order.lines.select_related("order", "sku").get(sku=sku)


@pytest.mark.django_db
def test_a_partial_return_refunds_the_returned_units_net_share_and_the_parts_add_up_to_the_line(shop):
    w = shop.world
    member = shop.member()
    code = shop.give(shop.coupon(value="10"), member)
    order = shop.order(member, lines=[(w.phone, 3), (w.tv, 1)], coupons=[code])
    shop.pay(order)
    shop.deliver(order)
    phone = line_of(order, w.phone)
    assert phone.line_total == D("5997") - phone.discount
    shares = []
    for _unit in range(3):
        before = sum(refunded(order).values(), D(0))
        shop.return_units(line_of(order, w.phone))
        shares.append(sum(refunded(order).values(), D(0)) - before)
    assert sum(shares) == phone.line_total
    assert max(shares) - min(shares) <= D("0.01")
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTLY_RETURNED
    shop.return_units(line_of(order, w.tv))
    order.refresh_from_db()
    assert order.status == OrderStatus.RETURNED
    assert refunded(order) == paid(order) == {"card": order.total}


@pytest.mark.django_db
def test_a_return_goes_back_to_each_tender_in_proportion_and_everything_back_is_exactly_what_was_paid(
    shop, rates
):
    w = shop.world
    member = shop.member(points=20_000, wallet="1000")
    order = shop.order(member, lines=[(w.phone, 2)])  # 3998
    shop.pay(order, points=19_990, stored_value="400", method="card")
    assert paid(order) == {"points": D("199.90"), "stored_value": D("400"), "card": D("3398.10")}
    shop.deliver(order)
    member.refresh_from_db()
    earned = 3798  # on the 3798.10 of money
    assert member.points_balance == 20_000 - 19_990 + earned

    first = shop.return_units(line_of(order, w.phone))
    # one of two units: half of each tender, points first
    assert refunded(order) == {"points": D("99.95"), "stored_value": D("200"), "card": D("1699.05")}
    assert first.refund.method == "card" and first.refund.amount == D("1699.05")
    assert PointsEntry.objects.get(kind="refund").points == 9_995
    assert WalletEntry.objects.get(kind=WalletKind.REFUND).amount == D("200")
    assert wallet_balance(member) == D("600") + D("200")

    shop.return_units(line_of(order, w.phone))
    assert refunded(order) == paid(order)
    refunds = order.payments.filter(kind=PaymentKind.REFUND)
    assert sum(p.points for p in refunds.filter(method="points")) == 19_990
    member.refresh_from_db()
    assert member.points_balance == 20_000  # every point spent back, every point earned taken back
    assert wallet_balance(member) == D("1000")
    assert_ledgers_add_up()


@pytest.mark.django_db
def test_below_the_threshold_the_refund_keeps_back_what_the_kept_item_no_longer_earns(shop):
    a, b = shop.sku("200", code="A-200"), shop.sku("200", code="B-200")
    shop.threshold("300", "50")
    member = shop.member()
    order = shop.order(member, lines=[(a, 1), (b, 1)])
    assert [line.line_total for line in order.lines.order_by("id")] == [D("175"), D("175")]
    shop.pay(order)
    shop.deliver(order)

    line_a = line_of(order, a)
    assert kept_back(order=order, line=line_a, before=0, quantity=1) == D("25")
    first = shop.return_units(line_a)
    # 175 for the returned item, less the 25 still on the kept one: it alone is 200 < 300
    assert first.refund.amount == D("150")
    # the kept item now costs its full 200; returning it too refunds exactly that
    second = shop.return_units(line_of(order, b))
    assert second.refund.amount == D("200")
    assert refunded(order) == paid(order) == {"card": D("350")}


@pytest.mark.django_db
def test_returns_that_keep_the_basket_above_the_threshold_keep_nothing_back(shop):
    a = shop.sku("200", code="A-200")
    shop.threshold("300", "50")
    order = shop.order(shop.member(), lines=[(a, 3)])  # 600 - 50
    shop.pay(order)
    shop.deliver(order)
    first = shop.return_units(line_of(order, a))  # 400 left >= 300
    assert first.refund.amount == D("183.33")
    second = shop.return_units(line_of(order, a))  # 200 left < 300: keep back the 16.67 on it
    assert second.refund.amount == D("183.34") - D("16.67")
    third = shop.return_units(line_of(order, a))
    assert third.refund.amount == D("200")
    assert refunded(order) == paid(order) == {"card": D("550")}


@pytest.mark.django_db
def test_a_coupons_minimum_spend_is_a_threshold_too(shop, rates):
    a, b = shop.sku("100", code="A-100"), shop.sku("60", code="B-60")
    member = shop.member(points=5_000)
    code = shop.give(shop.coupon(value="16", min_spend="150"), member)
    order = shop.order(member, lines=[(a, 1), (b, 1)], coupons=[code])  # 160 - 16 = 144: 10 / 6
    shop.pay(order, points=2_000)
    shop.deliver(order)
    shop.return_units(line_of(order, b))  # 54 net; the 10 on A no longer earned
    assert sum(refunded(order).values()) == D("44")
    shop.return_units(line_of(order, a))
    assert refunded(order) == paid(order) == {"points": D("20"), "card": D("124")}
    assert_ledgers_add_up()


@pytest.mark.django_db
def test_the_worked_example_of_docs_marketing(shop):
    a, b = shop.sku("200", code="A-200"), shop.sku("150", code="B-150")
    shop.threshold("300", "50")
    order = shop.order(shop.member(), lines=[(a, 1), (b, 1)])
    assert [(line.discount, line.line_total) for line in order.lines.order_by("id")] == [
        (D("28.57"), D("171.43")),
        (D("21.43"), D("128.57")),
    ]
    shop.pay(order)
    shop.deliver(order)
    assert shop.return_units(line_of(order, b)).refund.amount == D("100.00")
    assert shop.return_units(line_of(order, a)).refund.amount == D("200.00")
    assert refunded(order) == paid(order) == {"card": D("300")}
