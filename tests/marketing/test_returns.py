"""Returns refund exactly the returned units' net share, back to the tenders that paid (points,
then the wallet, then the external payment), never above what a tender paid; a return that takes
the basket below a threshold keeps back the discount the kept goods no longer earn."""

from decimal import Decimal

import pytest

from aftersales.services import kept_back
from config.roles import SYSTEM
from guides.choices import EntryKind
from guides.commission import commission_rule_set
from guides.models import CommissionEntry
from marketing.choices import WalletKind
from marketing.models import WalletEntry
from marketing.services import wallet_balance
from members.models import PointsEntry
from orders.choices import OrderStatus, PaymentKind
from orders.models import RevenueShare
from tests.factories import GuideFactory
from tests.marketing.helpers import (
    assert_everything_nets_to_zero,
    assert_ledgers_add_up,
    assert_split_and_commission_follow_the_money,
    commission_by_line,
    credited,
    paid,
    refunded,
    split_standing,
)

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
    # the 25 is owed by the kept item's line, B
    assert kept_back(order=order, line=line_a, before=0, quantity=1) == {line_of(order, b).pk: D("25")}
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


# --- commission and the revenue split follow the money (docs/marketing.md) ---------------------


@pytest.fixture
def ten_percent(db):
    return commission_rule_set(rate_percent=D("10"), actor=SYSTEM)


@pytest.mark.django_db
def test_the_kept_back_discount_moves_the_split_and_commission_onto_the_line_kept(shop, ten_percent):
    a, b = shop.sku("200", code="A-200"), shop.sku("150", code="B-150")
    shop.threshold("300", "50")
    order = credited(shop.order(shop.member(), lines=[(a, 1), (b, 1)]), GuideFactory())
    shop.pay(order)
    shop.deliver(order)
    line_a, line_b = line_of(order, a), line_of(order, b)
    assert (line_a.line_total, line_b.line_total) == (D("171.43"), D("128.57"))
    assert commission_by_line(order) == {
        line_a.pk: (D("171.43"), D("17.14")),
        line_b.pk: (D("128.57"), D("12.86")),
    }

    # A back: B alone (150) is below 300, so B's 21.43 is kept back from A's refund
    assert shop.return_units(line_a).refund.amount == D("150.00")
    assert refunded(order) == {"card": D("150.00")}
    assert split_standing(order) == {line_a.pk: D("0.00"), line_b.pk: D("150.00")}
    assert_split_and_commission_follow_the_money(order)
    # A's commission all back; B's grows with B's base, 12.86 x 150 / 128.57
    assert commission_by_line(order) == {
        line_a.pk: (D("0.00"), D("0.00")),
        line_b.pk: (D("150.00"), D("15.00")),
    }
    grow = CommissionEntry.objects.get(line=line_b, kind=EntryKind.CLAWBACK)
    assert (grow.base_amount, grow.held_change, grow.payable_change) == (D("-21.43"), D("2.14"), 0)
    # every row that moved B's split points at the share it grows; they add up to the 21.43
    grows = RevenueShare.objects.filter(line=line_b, reverses__isnull=False)
    assert sum(r.amount for r in grows) == D("21.43")
    assert all(r.amount > 0 and r.reverses.line_id == line_b.pk for r in grows)

    # B back: its net share plus what was kept back on it
    assert shop.return_units(line_of(order, b)).refund.amount == D("150.00")
    assert refunded(order) == paid(order) == {"card": D("300.00")}
    assert_split_and_commission_follow_the_money(order)
    assert_everything_nets_to_zero(order)


@pytest.mark.django_db
def test_units_of_one_line_returned_one_by_one_keep_split_and_commission_on_the_money(shop, ten_percent):
    a = shop.sku("200", code="A-200")
    shop.threshold("300", "50")
    order = credited(shop.order(shop.member(), lines=[(a, 3)]), GuideFactory())  # 600 - 50
    shop.pay(order)
    shop.deliver(order)
    line = line_of(order, a)
    assert commission_by_line(order) == {line.pk: (D("550.00"), D("55.00"))}

    expected = [  # refund, then the line's split and commission standing
        (D("183.33"), D("366.67"), D("36.67")),
        (D("166.67"), D("200.00"), D("20.00")),  # 183.34 less the 16.67 on the unit kept
        (D("200.00"), D("0.00"), D("0.00")),
    ]
    for refund, standing, commission in expected:
        assert shop.return_units(line_of(order, a)).refund.amount == refund
        assert split_standing(order) == {line.pk: standing}
        assert commission_by_line(order) == {line.pk: (standing, commission)}
        assert_split_and_commission_follow_the_money(order)
    assert refunded(order) == paid(order) == {"card": D("550.00")}
    assert_everything_nets_to_zero(order)


@pytest.mark.django_db
def test_a_capped_keep_back_is_given_back_only_as_far_as_it_was_kept(shop, ten_percent):
    a, b, c = shop.sku("290", code="A-290"), shop.sku("20", code="B-20"), shop.sku("100", code="C-100")
    member = shop.member()
    code = shop.give(shop.coupon(value="50", min_spend="300", skus=[a, b]), member)
    order = credited(shop.order(member, lines=[(a, 1), (b, 1), (c, 1)], coupons=[code]), GuideFactory())
    shop.pay(order)
    shop.deliver(order)
    line_a, line_b, line_c = line_of(order, a), line_of(order, b), line_of(order, c)
    assert [line.line_total for line in (line_a, line_b, line_c)] == [D("243.23"), D("16.77"), D("100.00")]

    # B back: A (290) is below 300 and owes its 46.77, but B's refund can keep back only 16.77
    assert shop.return_units(line_b).refund is None
    assert refunded(order) == {}
    assert split_standing(order) == {line_a.pk: D("260.00"), line_b.pk: D("0.00"), line_c.pk: D("100.00")}
    assert_split_and_commission_follow_the_money(order)
    # A back: its net share and the 16.77 really kept back (not the 46.77 the rule named)
    assert shop.return_units(line_of(order, a)).refund.amount == D("260.00")
    assert split_standing(order)[line_a.pk] == D("0.00")
    assert_split_and_commission_follow_the_money(order)
    assert shop.return_units(line_of(order, c)).refund.amount == D("100.00")
    assert refunded(order) == paid(order) == {"card": D("360.00")}
    assert_everything_nets_to_zero(order)
