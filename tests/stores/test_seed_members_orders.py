"""`manage.py seed_demo` members and orders: every ledger explains its balances, the demo clerk has
work waiting, orders come in every stage through the services, and a second run adds nothing."""

import re
from collections import defaultdict
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce

from aftersales.choices import TicketKind
from aftersales.models import Ticket
from members.demo import MEMBERS_PER_SCALE
from members.models import ExternalIdentity, Member, PointsEntry, PointsRule, Segment, StaticGroup, Tier
from members.selectors import duplicate_candidates
from members.services import tiers_refresh
from orders.choices import AssignmentStatus, DeliveryMethod, OrderStatus, Origin, PaymentKind
from orders.models import Order, OrderLine, Payment, RevenueRule, RevenueShare, StoreAssignment
from stores.choices import StaffRole, StoreKind, StoreStatus
from stores.models import StaffMembership, Stock, StockMovement, Store
from stores.selectors import stores_near

pytestmark = pytest.mark.django_db

CHINESE_NAME = re.compile(r"^[\u4e00-\u9fff]{2,3}$")


def seed(scale="small") -> str:
    out = StringIO()
    call_command("seed_demo", scale=scale, stdout=out)
    return out.getvalue()


def demo_store() -> Store:
    return StaffMembership.objects.get(user__email="manager@o2o.test", role=StaffRole.MANAGER).store


def test_small_seed_keeps_every_ledger_consistent():
    seed()

    # Points: every balance is its ledger's sum (one aggregate query).
    unexplained = (
        Member.objects.annotate(ledger=Coalesce(Sum("points_entries__points"), 0))
        .exclude(points_balance=F("ledger"))
        .count()
    )
    assert unexplained == 0
    # Spend is the sum of the amounts paid (added up here: SQLite sums decimals as floats).
    paid = defaultdict(Decimal)
    for member_id, amount in PointsEntry.objects.exclude(paid_amount=None).values_list(
        "member", "paid_amount"
    ):
        paid[member_id] += amount
    spend = dict(Member.objects.values_list("pk", "total_spend"))
    assert {pk: total for pk, total in spend.items() if total != paid[pk]} == {}
    assert set(Member.objects.filter(last_purchase_at__isnull=False).values_list("pk", flat=True)) == set(
        PointsEntry.objects.filter(kind="earn").values_list("member", flat=True)
    )
    assert PointsEntry.objects.filter(kind="earn").count() > Member.objects.count()
    assert PointsEntry.objects.filter(kind="redeem").exists()
    assert PointsEntry.objects.filter(kind="reverse").exists()  # cancelled paid orders
    # Tiers are what the nightly job would set from the 12-month spend.
    tiers = list(Member.objects.order_by("pk").values_list("tier", flat=True))
    assert None not in tiers
    tiers_refresh()
    assert list(Member.objects.order_by("pk").values_list("tier", flat=True)) == tiers
    # Stock: on hand and reserved are the sums of their movements, orders included.
    unexplained = (
        Stock.objects.annotate(
            ledger_on_hand=Coalesce(Sum("movements__on_hand_delta"), 0),
            ledger_reserved=Coalesce(Sum("movements__reserved_delta"), 0),
        )
        .exclude(on_hand=F("ledger_on_hand"), reserved=F("ledger_reserved"))
        .count()
    )
    assert unexplained == 0
    assert StockMovement.objects.filter(kind="sale", reference__in=Order.objects.values("number")).exists()
    # Revenue: the shares of a paid line sum to what was kept of it: its total, less the units
    # returned (after-sales reverses a return's share); a cancelled order's shares to nothing.
    shared = defaultdict(Decimal)
    for line_id, amount in RevenueShare.objects.values_list("line", "amount"):
        shared[line_id] += amount
    paid_lines = list(
        OrderLine.objects.filter(order__paid_at__isnull=False).values_list(
            "pk", "line_total", "unit_price", "returned_quantity", "order__status"
        )
    )
    assert paid_lines and any(row[-1] == OrderStatus.CANCELLED for row in paid_lines)
    assert any(row[3] for row in paid_lines)  # the after-sales demo returned something
    wrong = [
        (pk, total, shared[pk])
        for pk, total, unit_price, returned, status in paid_lines
        if shared[pk] != (0 if status == OrderStatus.CANCELLED else total - unit_price * returned)
    ]
    assert wrong == []
    assert not RevenueShare.objects.filter(line__order__paid_at__isnull=True).exists()
    # Money: every paid order has its payment; every paid-then-cancelled order its refund.
    assert (
        Order.objects.filter(paid_at__isnull=False).exclude(payments__kind=PaymentKind.PAYMENT).count() == 0
    )
    refunded = Order.objects.filter(status=OrderStatus.CANCELLED, paid_at__isnull=False)
    assert refunded.exists()
    assert refunded.exclude(payments__kind=PaymentKind.REFUND).count() == 0
    # One refund per cancelled paid order, and one per return the service desk refunded.
    returns = Ticket.objects.filter(kind=TicketKind.RETURN, refund__isnull=False).count()
    assert returns
    assert Payment.objects.filter(kind=PaymentKind.REFUND).count() == refunded.count() + returns


def test_small_seed_gives_members_orders_and_the_demo_clerk_work():
    output = seed()
    assert re.search(r"^members: .*\d members", output, re.M) and re.search(
        r"^orders: .*\d orders", output, re.M
    )

    # Members: realistic, unique, in the stores' cities, with tiers, rules and identities.
    total = Member.objects.count()
    assert MEMBERS_PER_SCALE["small"] <= total < MEMBERS_PER_SCALE["small"] * 1.05
    names = list(Member.objects.values_list("name", flat=True)[:200])
    assert all(CHINESE_NAME.match(name) for name in names), names[:5]
    assert Member.objects.filter(phone__isnull=False).values("phone").distinct().count() == (
        Member.objects.filter(phone__isnull=False).count()
    )
    store_cities = set(Store.objects.values_list("city", flat=True))
    assert set(Member.objects.values_list("city", flat=True)) <= store_cities
    consenting = Member.objects.filter(marketing_consent=True).count() / total
    assert 0.5 < consenting < 0.7
    assert dict(Tier.objects.values_list("code", "min_spend_12m")) == {
        "silver": 0,
        "gold": 5000,
        "black": 20000,
    }
    assert set(Member.objects.values_list("tier__code", flat=True)) == {"silver", "gold", "black"}
    rules = {
        (r.channel.code if r.channel else None, r.points_per_yuan, r.life_days)
        for r in PointsRule.objects.all()
    }
    assert rules == {(None, 1, 365), ("own-stores", 2, 365)}
    assert set(ExternalIdentity.objects.values_list("source", flat=True)) >= {
        "tmall",
        "jd",
        "wechat",
        "store_card",
    }
    reasons = " / ".join(group.reason for group in duplicate_candidates())
    assert "Same mobile" in reasons and "Same name, birthday and city" in reasons
    assert Segment.objects.count() >= 2

    # The demo store: its own members, a VIP list, and neighbours within 10 km for the stock lookup.
    store = demo_store()
    assert Member.objects.filter(home_store=store).count() >= 20
    vip = StaticGroup.objects.get(store=store, name="VIP")
    assert vip.members.count() > 0 and vip.members.exclude(home_store=store).count() == 0
    neighbours = stores_near(
        latitude=store.latitude,
        longitude=store.longitude,
        radius_km=10,
        queryset=Store.objects.filter(status=StoreStatus.OPEN)
        .exclude(pk=store.pk)
        .exclude(kind=StoreKind.WAREHOUSE),
    )
    assert neighbours.count() >= 2
    shared = Stock.objects.filter(
        location__in=neighbours, sku__in=Stock.objects.filter(location=store).values("sku")
    )
    assert shared.values("location").distinct().count() >= 2

    # Orders: every stage, every origin, all through the services.
    assert set(RevenueRule.objects.values_list("channel__code", flat=True)) >= {
        "own-mall",
        "own-stores",
        "tmall",
    }
    statuses = set(Order.objects.values_list("status", flat=True))
    assert statuses >= {
        OrderStatus.CREATED,
        OrderStatus.ALLOCATED,
        OrderStatus.ACCEPTED,
        OrderStatus.SHIPPED,
        OrderStatus.READY_FOR_PICKUP,
        OrderStatus.COMPLETED,
        OrderStatus.CANCELLED,
    }
    assert set(Order.objects.values_list("origin", flat=True)) == set(Origin.values)
    assert set(Order.objects.values_list("delivery_method", flat=True)) == set(DeliveryMethod.values)
    assert Order.objects.exclude(status=OrderStatus.CREATED).filter(status_changes__isnull=True).count() == 0
    assert Order.objects.filter(routing_decisions__isnull=True).count() == 0
    assert Order.objects.filter(status=OrderStatus.SHIPPED).exclude(tracking_number="").exists()

    # The demo clerk's queue: offers to answer, pickups with codes, orders they took, re-routes.
    offers = StoreAssignment.objects.filter(store=store, status=AssignmentStatus.OFFERED)
    assert offers.count() >= 5
    pickups = Order.objects.filter(fulfilling_location=store, status=OrderStatus.READY_FOR_PICKUP)
    assert pickups.count() >= 2 and pickups.filter(pickup_code="").count() == 0
    clerk_orders = Order.objects.filter(placed_by__email="clerk@o2o.test", origin_store=store)
    assert (
        clerk_orders.filter(delivery_method=DeliveryMethod.SHIP).exclude(fulfilling_location=store).exists()
    )
    rerouted = Order.objects.annotate(attempts=Count("routing_decisions")).filter(attempts__gt=1)
    assert rerouted.exists()
    assert StoreAssignment.objects.filter(store=store, status=AssignmentStatus.REJECTED).exists()
    assert Order.objects.filter(Q(fulfilling_location=store) | Q(origin_store=store)).count() >= 15


def test_second_run_adds_no_rows():
    seed()

    def counts():
        return (
            Member.objects.count(),
            Order.objects.count(),
            StockMovement.objects.count(),
            PointsEntry.objects.count(),
            Store.objects.count(),
            StaffMembership.objects.count(),
        )

    before = counts()
    output = seed()

    assert counts() == before
    assert "members: demo data already loaded (scale small)" in output
    assert "orders: demo data already loaded (scale small)" in output
