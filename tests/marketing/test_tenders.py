"""Paying an order by tenders: points at the HQ rate within the cap, stored value, the rest by an
external payment; points earned on the money paid; cancel gives every tender back; commission and
the revenue split on the net line totals."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from config.roles import SYSTEM
from guides.models import CommissionEntry, CommissionRule
from marketing.choices import CodeStatus, WalletKind
from marketing.errors import TenderRefused
from marketing.models import CouponCode, WalletEntry
from marketing.services import wallet_balance
from marketing.tenders import Tender, refund_split
from members.models import PointsEntry
from orders.choices import OrderStatus, PaymentKind
from orders.errors import PaymentRefused
from orders.models import Order, Payment, RevenueShare
from orders.services import order_cancel, order_pay
from tests.factories import GuideFactory
from tests.marketing.helpers import assert_ledgers_add_up, paid, refunded

D = Decimal


@pytest.fixture
def rates(shop):
    """100 points a yuan, at most half an order; one point earned per yuan paid."""
    shop.earn_rule()
    return shop.points_rule(points_per_yuan=100, cap_percent="50")


@pytest.mark.django_db
def test_points_wallet_and_card_pay_one_order_and_points_are_earned_on_the_money_only(shop, rates):
    member = shop.member(points=10_000, wallet="500")
    order = shop.order(member)  # 2999
    payment = shop.pay(order, points=5_000, stored_value="100", method="card")
    assert paid(order) == {"points": D("50.00"), "stored_value": D("100.00"), "card": D("2849.00")}
    assert order.payments.get(method="points").points == 5_000
    assert payment.method == "card" and {p.method for p in payment.tenders} == {
        "points",
        "stored_value",
        "card",
    }
    assert order.status != OrderStatus.CREATED and order.paid_at is not None
    earned = PointsEntry.objects.get(kind="earn")
    assert earned.paid_amount == D("2949.00")  # the wallet is money; the points part earns nothing
    redeemed = PointsEntry.objects.get(kind="redeem")
    assert (redeemed.points, redeemed.reference) == (-5_000, order.number)
    member.refresh_from_db()
    assert member.points_balance == 10_000 - 5_000 + 2_949
    assert wallet_balance(member) == D("400")
    assert_ledgers_add_up()


@pytest.mark.django_db
def test_points_and_the_wallet_may_pay_it_all(shop, rates):
    small = shop.sku("100")
    member = shop.member(points=5_000, wallet="60")
    order = shop.order(member, lines=[(small, 1)])
    payment = shop.pay(order, points=5_000, stored_value="50", method="")
    assert paid(order) == {"points": D("50"), "stored_value": D("50")}
    assert payment.method == "stored_value"
    member.refresh_from_db()
    # the wallet paid 50 of money: 50 points earned
    assert member.points_balance == 50 and wallet_balance(member) == D("10")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "points, stored_value, amount, field",
    [
        (5_100, "0", None, "points"),  # above the cap (50% of 100 = 5,000 points)
        (20_000, "0", None, "points"),  # more than the balance
        (-100, "0", None, "points"),
        ("100", "0", None, "points"),
        (1.5, "0", None, "points"),
        (10**12, "0", None, "points"),
        (0, "80", None, "stored_value"),  # more than the wallet holds
        (0, "-1", None, "stored_value"),
        (0, "1e400", None, "stored_value"),
        (0, "NaN", None, "stored_value"),
        (0, "%", None, "stored_value"),
        (0, "1\x00", None, "stored_value"),
        (1_000, "0", D("100"), "amount"),  # the rest is 90
        (1_000, "0", D("89.99"), "amount"),
    ],
)
def test_a_tender_the_member_cannot_give_is_refused_and_nothing_is_written(
    shop, rates, points, stored_value, amount, field
):
    small = shop.sku("100")
    member = shop.member(points=10_000, wallet="70")
    order = shop.order(member, lines=[(small, 1)])
    with pytest.raises((TenderRefused, PaymentRefused)) as excinfo:
        order_pay(
            order=order,
            amount=amount if amount is not None else D("1"),
            method="card",
            points=points,
            stored_value=stored_value,
            actor=SYSTEM,
        )
    assert field in excinfo.value.fields, excinfo.value.fields
    order.refresh_from_db()
    assert order.status == OrderStatus.CREATED and not Payment.objects.exists()
    member.refresh_from_db()
    assert (member.points_balance, wallet_balance(member)) == (10_000, D("70"))
    assert PointsEntry.objects.count() == 1 and WalletEntry.objects.count() == 1


@pytest.mark.django_db
def test_points_pay_in_whole_cents_at_the_rate(shop):
    shop.points_rule(points_per_yuan=200, cap_percent="100")
    small = shop.sku("100")
    member = shop.member(points=10_000)
    order = shop.order(member, lines=[(small, 1)])
    with pytest.raises(TenderRefused) as excinfo:
        shop.pay(order, points=101)  # half a cent
    assert excinfo.value.fields == {"points": ["Use a multiple of 2."]}
    shop.pay(order, points=202)
    assert paid(order) == {"points": D("1.01"), "card": D("98.99")}


@pytest.mark.django_db
def test_a_channel_without_a_points_rule_refuses_points(shop):
    member = shop.member(points=10_000)
    order = shop.order(member)
    with pytest.raises(TenderRefused) as excinfo:
        shop.pay(order, points=100)
    assert excinfo.value.fields == {"points": ["Not on this channel."]}


@pytest.mark.django_db
def test_the_rest_needs_an_external_method_and_a_guest_cannot_pay_with_points(shop, rates):
    member = shop.member(points=10_000, wallet="100")
    order = shop.order(member)
    with pytest.raises(TenderRefused) as excinfo:
        order_pay(order=order, amount=None, method="", stored_value=D("100"), actor=SYSTEM)
    assert "method" in excinfo.value.fields
    for method in ("points", "stored_value", "bogus"):
        with pytest.raises(PaymentRefused):
            order_pay(order=order, amount=order.total, method=method, actor=SYSTEM)
    for amount in ("%", "1e400", "NaN", "1\x00", 10**12):
        with pytest.raises(PaymentRefused) as excinfo:
            order_pay(order=order, amount=amount, method="card", actor=SYSTEM)
        assert "amount" in excinfo.value.fields
    guest = shop.order(None)
    with pytest.raises(PaymentRefused) as excinfo:
        order_pay(order=guest, amount=D("2949"), method="card", points=5_000, actor=SYSTEM)
    assert "points" in excinfo.value.fields
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_cancel_before_shipping_gives_every_tender_back_and_releases_the_code(shop, rates):
    member = shop.member(points=10_000, wallet="500")
    coupon = shop.coupon(value="99")
    code = shop.give(coupon, member)
    order = shop.order(member, coupons=[code])  # 2900
    shop.pay(order, points=4_000, stored_value="300", method="card")
    assert paid(order) == {"points": D("40"), "stored_value": D("300"), "card": D("2560")}
    order_cancel(order=order, reason="Out of patience", actor=SYSTEM)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert refunded(order) == paid(order)
    for refund in order.payments.filter(kind=PaymentKind.REFUND):
        assert refund.reverses.method == refund.method and refund.reverses.amount == refund.amount
    assert order.payments.get(kind=PaymentKind.REFUND, method="points").points == 4_000
    points_back = PointsEntry.objects.get(kind="refund")
    assert (points_back.points, points_back.reference) == (4_000, order.number)
    wallet_back = WalletEntry.objects.get(kind=WalletKind.REFUND)
    assert (wallet_back.amount, wallet_back.order_number) == (D("300"), order.number)
    member.refresh_from_db()
    assert member.points_balance == 10_000  # the 4,000 back; the 2,860 earned taken back
    assert wallet_balance(member) == D("500")
    assert CouponCode.objects.get(code=code).status == CodeStatus.HELD
    coupon.refresh_from_db()
    assert coupon.redeemed_count == 0
    assert_ledgers_add_up()


@pytest.mark.django_db
def test_commission_and_the_revenue_split_are_on_the_net_line_totals(shop, rates):
    w = shop.world
    CommissionRule.objects.create(rate_percent=D("5"), valid_from=timezone.now() - timedelta(days=30))
    member = shop.member(points=10_000)
    shop.threshold("3000", "100")
    code = shop.give(shop.coupon(value="33.33"), member)
    order = shop.order(member, lines=[(w.tv, 1), (w.phone, 1)], coupons=[code])
    guide = GuideFactory(store=w.c)
    Order.objects.filter(pk=order.pk).update(guide=guide)
    shop.pay(order, points=2_000)
    lines = list(order.lines.all())
    assert sum(line.line_total for line in lines) == order.total == D("4998") - D("133.33")
    for line in lines:
        shares = RevenueShare.objects.filter(line=line).aggregate(total=Sum("amount"))["total"]
        assert shares == line.line_total < line.unit_price * line.quantity
        accrual = CommissionEntry.objects.get(line=line, kind="accrual")
        assert accrual.base_amount == line.line_total


def test_refund_split_is_proportional_points_first_and_never_above_a_tender():
    paid_ = [Tender("card", D("60")), Tender("points", D("30"), 3_000), Tender("stored_value", D("10"))]
    parts = refund_split(amount=D("10"), paid=paid_, refunded={})
    assert [(t.method, t.amount, t.points) for t in parts] == [
        ("points", D("3"), 300),
        ("stored_value", D("1"), None),
        ("card", D("6"), None),
    ]
    # a tender that already got back most of what it paid takes no more than it holds
    parts = refund_split(amount=D("20"), paid=paid_, refunded={"points": D("29")})
    # proportional parts 6 / 2 / 12; points hold 1, so the 5 over moves on in the stated order
    assert {t.method: t.amount for t in parts} == {"points": D("1"), "stored_value": D("7"), "card": D("12")}
    # the last refund gives each tender exactly what it still holds; nothing above what is left
    parts = refund_split(amount=D("500"), paid=paid_, refunded={"card": D("10")})
    assert {t.method: t.amount for t in parts} == {
        "points": D("30"),
        "stored_value": D("10"),
        "card": D("50"),
    }
    assert (
        refund_split(
            amount=D("1"), paid=paid_, refunded={"card": D("60"), "points": D("30"), "stored_value": D("10")}
        )
        == []
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_orders_spending_the_same_points_at_once_never_take_them_below_zero(shop, rates):
    import threading

    from django.db import connection

    from config.errors import DomainError

    small = shop.sku("100")
    member = shop.member(points=5_000)
    orders = [shop.order(member, lines=[(small, 1)]) for _ in range(2)]
    barrier = threading.Barrier(2)
    outcomes = [None, None]

    def pay(i):
        try:
            barrier.wait()
            shop.pay(orders[i], points=5_000)
            outcomes[i] = "paid"
        except DomainError as error:
            outcomes[i] = (error.code, error.fields)
        finally:
            connection.close()

    threads = [threading.Thread(target=pay, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("paid") == 1, outcomes
    refused = next(o for o in outcomes if o != "paid")
    assert refused[1] == {"points": ["More than the balance."]}
    assert Payment.objects.filter(method="points").count() == 1
    assert PointsEntry.objects.filter(kind="redeem").count() == 1
    member.refresh_from_db()
    assert member.points_balance == 50  # 5,000 spent, 50 earned on the 50 paid by card
    assert_ledgers_add_up()


@pytest.mark.django_db
@pytest.mark.parametrize("rate, cap", [(150, "50"), (99, "50"), (100, "100.01"), (100, "-1")])
def test_the_database_refuses_a_rate_that_does_not_make_a_cent_whole_points_or_a_cap_out_of_range(
    shop, rate, cap
):
    from django.db import IntegrityError, transaction

    from marketing.models import PointsTenderRule

    with pytest.raises(IntegrityError), transaction.atomic():
        shop.points_rule(points_per_yuan=rate, cap_percent=cap)
    assert not PointsTenderRule.objects.exists()
