"""marketing.rules: the promotions, coupon scopes and points rules a process keeps in memory for a
few seconds (the suite turns the memory off; these tests turn it on)."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketing import rules
from marketing.choices import PromotionKind
from marketing.models import Promotion
from marketing.tenders import points_rule_for

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def memory(settings):
    settings.MARKETING_RULES_SECONDS = 60
    rules.forget()
    yield
    rules.forget()


def marketing_reads(queries) -> int:
    return len([q for q in queries.captured_queries if 'FROM "marketing_' in q["sql"]])


def test_a_second_order_reads_no_promotion_and_no_coupon_scope(memory, shop, world):
    shop.threshold("300", "50")
    coupon = shop.coupon("C1", value="30")
    member = shop.member()
    first, second = shop.give(coupon, member), shop.give(shop.coupon("C2", value="20"), member)
    shop.order(member=member, lines=[(world.tv, 1)], coupons=[first])  # fills the memory

    with CaptureQueriesContext(connection) as queries:
        order = shop.order(member=member, lines=[(world.tv, 1)], coupons=[second])

    # Only the code (with its coupon's row: window, value, budget) is read; the running promotions
    # and the coupon's scope come from memory; the budget is still the database's (UPDATE).
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert [s for s in selects if 'FROM "marketing_' in s] == [
        s for s in selects if "marketing_couponcode" in s
    ]
    assert len([s for s in selects if "marketing_couponcode" in s]) == 1
    assert order.discount_total == D("70.00")  # 满300减50 and the 20 coupon


def test_a_change_in_this_process_is_seen_by_the_next_order_at_once(memory, shop, world):
    assert rules.promotions_at(shop_now()) == []  # remembered: nothing runs
    promotion = shop.threshold("300", "50")
    assert [p for p, _scope in rules.promotions_at(shop_now())] == [promotion]
    order = shop.order(lines=[(world.tv, 1)])
    assert order.discount_total == D("50.00")

    promotion.channels.add(
        world.stores_channel
    )  # now only in the stores: the mall's next order pays full price
    assert shop.order(lines=[(world.tv, 1)]).discount_total == D("0.00")


def test_a_change_made_elsewhere_is_seen_when_the_memory_expires(memory, settings, shop, world):
    promotion = shop.threshold("300", "50")
    assert shop.order(lines=[(world.tv, 1)]).discount_total == D("50.00")
    # Another process ends it (an UPDATE this process hears nothing of): remembered for a while...
    Promotion.objects.filter(pk=promotion.pk).update(
        valid_to=promotion.valid_from + (shop_now() - promotion.valid_from) / 2
    )
    assert shop.order(lines=[(world.tv, 1)]).discount_total == D("50.00")
    # ...until the memory expires.
    settings.MARKETING_RULES_SECONDS = 0
    assert shop.order(lines=[(world.tv, 1)]).discount_total == D("0.00")


def test_points_rules_are_remembered_and_forgotten_on_change(memory, shop, world):
    rule = shop.points_rule(points_per_yuan=100)
    with CaptureQueriesContext(connection) as queries:
        assert points_rule_for(world.mall) == rule
        assert points_rule_for(world.mall) == rule
    assert marketing_reads(queries) == 1
    own = shop.points_rule(points_per_yuan=200, channel=world.mall)
    assert points_rule_for(world.mall) == own
    assert points_rule_for(world.stores_channel) == rule


def test_the_past_is_asked_of_the_database(memory, shop, world):
    from datetime import timedelta

    promotion = shop.promo(PromotionKind.PERCENT_OFF, percent=D("10"), skus=[world.tv])
    long_ago = shop_now() - timedelta(days=30)
    assert rules.promotions_at(long_ago) == []
    assert [p for p, _s in rules.promotions_at(shop_now())] == [promotion]


def shop_now():
    from django.utils import timezone

    return timezone.now()
