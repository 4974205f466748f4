"""Coupons are never over-redeemed: a code is used once, a budget (in redemptions or in money) is
never exceeded however many buyers redeem at once, and a cancelled order gives both back."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from config.errors import DomainError
from config.roles import SYSTEM
from marketing.choices import CodeStatus
from marketing.errors import CouponBudgetSpent
from marketing.models import Coupon, CouponCode, CouponRedemption
from orders.models import LineDiscount, Order, OrderLine
from orders.services import order_cancel
from stores.models import Stock
from tests.factories import MemberFactory
from tests.marketing.helpers import assert_ledgers_add_up

D = Decimal


def budget_spent_refusal(shop, member, code):
    with pytest.raises(CouponBudgetSpent) as excinfo:
        shop.order(member, coupons=[code])
    assert excinfo.value.code == "coupon_budget_spent"
    assert excinfo.value.fields == {"coupons": ["Budget spent."]}
    return excinfo.value


@pytest.mark.django_db
def test_a_budget_in_redemptions_is_never_exceeded_and_the_refused_order_writes_nothing(shop):
    coupon = shop.coupon(value="30", budget_count=2)
    members = [MemberFactory() for _ in range(3)]
    codes = [shop.give(coupon, m) for m in members]
    for member, code in zip(members[:2], codes[:2], strict=True):
        shop.order(member, coupons=[code])
    orders_before = Order.objects.count()
    stock_before = list(Stock.objects.values_list("on_hand", "reserved"))
    budget_spent_refusal(shop, members[2], codes[2])
    assert Order.objects.count() == orders_before
    assert OrderLine.objects.count() == 2 and LineDiscount.objects.count() == 2
    # the stock the helper put in for the refused order stays on hand, none reserved by it
    assert Stock.objects.get().reserved == stock_before[0][1]
    coupon.refresh_from_db()
    assert (coupon.redeemed_count, coupon.redeemed_amount) == (2, D("60"))
    assert CouponCode.objects.get(code=codes[2]).status == CodeStatus.HELD
    assert_ledgers_add_up()


@pytest.mark.django_db
def test_a_budget_in_money_is_never_exceeded(shop):
    a = shop.sku("100")
    coupon = shop.coupon(kind="percent", value="50", budget_amount="120")
    members = [MemberFactory() for _ in range(3)]
    codes = [shop.give(coupon, m) for m in members]
    shop.order(members[0], lines=[(a, 1)], coupons=[codes[0]])  # 50
    shop.order(members[1], lines=[(a, 1)], coupons=[codes[1]])  # 100
    budget_spent_refusal(shop, members[2], codes[2])  # 150 > 120
    b = shop.sku("40")
    shop.order(members[2], lines=[(b, 1)], coupons=[codes[2]])  # 20: exactly 120
    coupon.refresh_from_db()
    assert (coupon.redeemed_count, coupon.redeemed_amount) == (3, D("120"))
    assert_ledgers_add_up()


@pytest.mark.django_db
def test_cancelling_gives_the_code_and_the_budget_back_and_the_report_counts_net(shop):
    coupon = shop.coupon(value="30", budget_count=1)
    first, second = MemberFactory(), MemberFactory()
    code, other = shop.give(coupon, first), shop.give(coupon, second)
    order = shop.order(first, coupons=[code])
    shop.pay(order)
    budget_spent_refusal(shop, second, other)
    order_cancel(order=order, reason="Changed my mind", actor=SYSTEM)
    coupon.refresh_from_db()
    assert (coupon.redeemed_count, coupon.redeemed_amount) == (0, D("0"))
    held = CouponCode.objects.get(code=code)
    assert (held.status, held.order_number, held.redeemed_at) == (CodeStatus.HELD, "", None)
    rows = list(CouponRedemption.objects.order_by("id").values_list("order_number", "discount"))
    assert rows == [(order.number, D("30")), (order.number, D("-30"))]
    # the freed budget can be used by another buyer; the freed code again once budget allows
    shop.order(second, coupons=[other])
    budget_spent_refusal(shop, first, code)
    Coupon.objects.filter(pk=coupon.pk).update(budget_count=2)
    again = shop.order(first, coupons=[code])
    assert again.discount_total == D("30")
    coupon.refresh_from_db()
    assert (coupon.redeemed_count, coupon.redeemed_amount) == (2, D("60"))
    assert_ledgers_add_up()


@pytest.mark.django_db
def test_an_unpaid_order_cancelled_gives_its_code_back_too(shop):
    member = MemberFactory()
    coupon = shop.coupon(value="30")
    code = shop.give(coupon, member)
    order = shop.order(member, coupons=[code])
    order_cancel(order=order, reason="Abandoned", actor=SYSTEM)
    assert CouponCode.objects.get(code=code).status == CodeStatus.HELD
    assert not order.payments.exists()
    assert_ledgers_add_up()


def race(n, work):
    """Run work(i) for i in range(n) in n threads released at once; answer each outcome."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except DomainError as error:
            results[i] = error.code
        except Exception as error:  # noqa: BLE001 (reported by the assertion)
            results[i] = repr(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_buyers_in_waves_of_64_at_once_redeem_a_budget_of_100_exactly_100_times(shop):
    buyers, wave = 150, 64
    coupon = shop.coupon("FLASH", value="50", budget_count=100)
    members = [MemberFactory() for _ in range(buyers)]
    codes = [shop.give(coupon, m) for m in members]
    shop.world.stock(shop.world.a, shop.world.tv, buyers)
    outcomes = []
    for start in range(0, buyers, wave):
        chunk = list(range(start, min(start + wave, buyers)))

        def buy(i, chunk=chunk):
            n = chunk[i]
            shop.order(members[n], coupons=[codes[n]], stock=False)
            return "ordered"

        outcomes += race(len(chunk), buy)
    assert outcomes.count("ordered") == 100, set(outcomes)
    assert outcomes.count("coupon_budget_spent") == buyers - 100
    coupon.refresh_from_db()
    assert (coupon.redeemed_count, coupon.redeemed_amount) == (100, D("5000"))
    assert Order.objects.count() == 100
    assert Order.objects.filter(discount_total=D("50")).count() == 100
    assert LineDiscount.objects.count() == OrderLine.objects.count() == 100
    assert CouponRedemption.objects.count() == 100
    assert CouponCode.objects.filter(status=CodeStatus.REDEEMED).count() == 100
    stock = Stock.objects.get(location=shop.world.a, sku=shop.world.tv)
    assert (stock.on_hand, stock.reserved) == (buyers, 100)
    assert_ledgers_add_up()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_64_buyers_at_once_never_spend_more_than_a_budget_in_money(shop):
    buyers = 64
    coupon = shop.coupon("MONEY", value="30", budget_amount="900")  # 30 redemptions' worth
    members = [MemberFactory() for _ in range(buyers)]
    codes = [shop.give(coupon, m) for m in members]
    shop.world.stock(shop.world.a, shop.world.tv, buyers)
    outcomes = race(buyers, lambda i: shop.order(members[i], coupons=[codes[i]], stock=False) and "ordered")
    assert outcomes.count("ordered") == 30, set(outcomes)
    assert outcomes.count("coupon_budget_spent") == buyers - 30
    coupon.refresh_from_db()
    assert (coupon.redeemed_count, coupon.redeemed_amount) == (30, D("900"))
    assert Order.objects.count() == CouponRedemption.objects.count() == 30
    assert_ledgers_add_up()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_code_tried_by_two_orders_at_once_is_used_once(shop):
    member = MemberFactory()
    coupon = shop.coupon(value="30")
    code = shop.give(coupon, member)
    shop.world.stock(shop.world.a, shop.world.tv, 2)
    outcomes = race(2, lambda i: shop.order(member, coupons=[code], stock=False) and "ordered")
    assert sorted(outcomes) == ["coupon_refused", "ordered"]
    assert Order.objects.count() == 1 and CouponRedemption.objects.count() == 1
    coupon.refresh_from_db()
    assert (coupon.redeemed_count, coupon.redeemed_amount) == (1, D("30"))
    assert Stock.objects.get().reserved == 1
    assert_ledgers_add_up()


def test_a_members_coupon_order_reads_its_prices_binding_and_code_in_one_round_trip(world, shop):
    # The member's binding and the coupon code cost no round trip of their own: they are read with
    # the prices (one statement each, one round trip on PostgreSQL).
    from django.test.utils import CaptureQueriesContext

    from guides.services import member_bind
    from tests.factories import GuideFactory

    member = MemberFactory()
    guide = GuideFactory(store=world.a, code="G-ROUND")
    member_bind(member=member, guide=guide)
    code = shop.give(shop.coupon(value="30"), member)
    shop.order()  # warm: first-use reads (rules, windows) are not what is counted

    def reads_before_the_insert(**order):
        with CaptureQueriesContext(connection) as queries:
            made = shop.order(**order)
        sql = [q["sql"] for q in queries.captured_queries]
        first_insert = next(i for i, s in enumerate(sql) if s.startswith('INSERT INTO "orders_order"'))
        return made, [s for s in sql[:first_insert] if s.startswith("SELECT")]

    plain, plain_reads = reads_before_the_insert()
    coupon_order, coupon_reads = reads_before_the_insert(member=member, coupons=[code])

    assert (coupon_order.guide_id, coupon_order.discount_total) == (guide.pk, Decimal("30.00"))
    assert CouponCode.objects.get(code=code).status == CodeStatus.REDEEMED
    assert plain.guide_id is None and plain.discount_total == 0
    assert not any("guides_binding" in s or "marketing_couponcode" in s for s in plain_reads)
    texts = [
        s for s in coupon_reads if any(t in s for t in ('"catalog_price"', "guides_binding", "couponcode"))
    ]
    if connection.vendor == "postgresql":  # one text: the prices, the binding and the code
        assert len(texts) == 1
        assert all(t in texts[0] for t in ('"catalog_price"', "guides_binding", "marketing_couponcode"))
    else:  # one statement each
        assert len(texts) == 3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="heap-only updates are PostgreSQL's")
def test_redeeming_and_freeing_a_code_rewrite_its_row_in_place(shop):
    # No index holds what a redemption changes and the table leaves room on its pages, so marking a
    # code used (and freeing it on cancel) adds no entry to any of the code's indexes: a heap-only
    # update, the cheapest write PostgreSQL has. An index on status or order_number would undo it.
    member = MemberFactory()
    code = shop.give(shop.coupon(value="30"), member)

    def updates():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_stat_get_xact_tuples_updated(%s::regclass), "
                "pg_stat_get_xact_tuples_hot_updated(%s::regclass)",
                [CouponCode._meta.db_table] * 2,
            )
            return cursor.fetchone()

    before = updates()
    order = shop.order(member=member, coupons=[code])
    order_cancel(order=order, reason="Changed my mind", actor=SYSTEM)
    after = updates()

    assert CouponCode.objects.get(code=code).status == CodeStatus.HELD
    updated, in_place = after[0] - before[0], after[1] - before[1]
    assert updated == 2  # taken by the order, freed by the cancellation
    assert in_place == updated
