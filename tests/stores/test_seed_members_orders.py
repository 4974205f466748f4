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
from django.utils import timezone

from aftersales.choices import TicketKind
from aftersales.models import Ticket
from aftersales.services import units_value
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
    # Revenue: the shares of a paid line sum to what was kept of it: its (net) total, less the
    # returned units' net share (after-sales reverses a return's share); a cancelled order's to nothing.
    shared = defaultdict(Decimal)
    for line_id, amount in RevenueShare.objects.values_list("line", "amount"):
        shared[line_id] += amount
    paid_lines = list(
        OrderLine.objects.filter(order__paid_at__isnull=False).values_list(
            "pk", "line_total", "quantity", "returned_quantity", "order__status"
        )
    )
    assert paid_lines and any(row[-1] == OrderStatus.CANCELLED for row in paid_lines)
    assert any(row[3] for row in paid_lines)  # the after-sales demo returned something
    wrong = [
        (pk, total, shared[pk])
        for pk, total, quantity, returned, status in paid_lines
        if shared[pk]
        != (
            0
            if status == OrderStatus.CANCELLED
            else total - units_value(OrderLine(line_total=total, quantity=quantity), returned)
        )
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
    # Every tender of a cancelled paid order got back exactly what it paid; no tender of any order
    # got back more than it paid; each return the service desk refunded has refund rows.
    back = defaultdict(Decimal)
    for reverses, amount in Payment.objects.filter(kind=PaymentKind.REFUND).values_list("reverses", "amount"):
        back[reverses] += amount
    paid = list(Payment.objects.filter(kind=PaymentKind.PAYMENT).values_list("pk", "amount", "order__status"))
    assert [pk for pk, amount, status in paid if status == OrderStatus.CANCELLED and back[pk] != amount] == []
    assert [pk for pk, amount, _status in paid if back[pk] > amount] == []
    returns = Ticket.objects.filter(kind=TicketKind.RETURN, refund__isnull=False).count()
    assert returns
    assert (
        Payment.objects.filter(kind=PaymentKind.REFUND).exclude(order__status=OrderStatus.CANCELLED).count()
        >= returns
    )


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


def test_small_seed_runs_promotions_a_campaign_coupons_and_wallets():
    from integrations.models import OutboxEvent
    from marketing.choices import CATALOGUE_KINDS, CodeStatus, PromotionKind, WalletKind
    from marketing.models import (
        Campaign,
        CampaignRecipient,
        Coupon,
        CouponCode,
        CouponRedemption,
        PointsTenderRule,
        Promotion,
        Wallet,
        WalletEntry,
    )
    from marketing.services import campaign_report
    from orders.choices import PaymentMethod
    from orders.models import LineDiscount

    output = seed()
    assert re.search(r"^marketing: .*\d campaign codes sent", output, re.M)
    now = timezone.now()

    # Promotions running now: one on the shelf, one 满300减50-type threshold, each with its audit row.
    running = [p for p in Promotion.objects.all() if p.is_live_at(now)]
    assert any(p.kind in CATALOGUE_KINDS for p in running)
    threshold = next(p for p in running if p.kind == PromotionKind.SPEND_THRESHOLD)
    assert threshold.amount < threshold.threshold
    assert all(p.changes.filter(action="created").exists() for p in running)
    # Demo orders were priced with them: both took money off some order lines.
    used = set(LineDiscount.objects.filter(source="promotion").values_list("promotion", flat=True))
    assert {p.pk for p in running} <= used

    # The campaign: consenting members only, one code and one message event each.
    campaign = Campaign.objects.get()
    assert campaign.status == "sent" and campaign.coupon is not None
    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    assert campaign.recipients == recipients.count() > 0
    assert not recipients.filter(member__marketing_consent=False).exists()
    assert CouponCode.objects.filter(campaign=campaign).count() == recipients.count()
    events = OutboxEvent.objects.filter(type="campaign.message")
    assert events.count() == recipients.count()
    assert len({e.payload["event_key"] for e in events}) == events.count()

    # Some codes were redeemed by demo orders, in any channel; budgets counted and kept.
    redeemed = CouponCode.objects.filter(status=CodeStatus.REDEEMED)
    assert redeemed.filter(campaign=campaign).exists()
    for code in redeemed:
        order = Order.objects.get(number=code.order_number)
        assert LineDiscount.objects.filter(line__order=order, code=code).exists()
    for coupon in Coupon.objects.all():
        net = defaultdict(Decimal)
        for code_id, discount in CouponRedemption.objects.filter(coupon=coupon).values_list(
            "code", "discount"
        ):
            net[code_id] += discount
        assert coupon.redeemed_count == sum(1 for amount in net.values() if amount > 0)
        assert coupon.redeemed_amount == sum(net.values(), Decimal(0))
        assert coupon.budget_count is None or coupon.redeemed_count <= coupon.budget_count
        assert coupon.issued_count == coupon.codes.count()
    report = campaign_report(campaign)
    assert report["issued"] == recipients.count() and report["redeemed"] > 0 and report["discount"] > 0
    # Every order's discount is its lines' discounts, to the cent, and line totals are net.
    for order in Order.objects.filter(discount_total__gt=0).prefetch_related("lines__discounts"):
        lines = list(order.lines.all())
        assert (
            sum((d.amount for line in lines for d in line.discounts.all()), Decimal(0))
            == order.discount_total
        )
        assert all(line.line_total == line.unit_price * line.quantity - line.discount for line in lines)

    # Stored value: members with a balance, each the sum of its ledger; some orders paid from it.
    wallets = Wallet.objects.filter(balance__gt=0)
    assert wallets.count() >= 10
    for wallet in Wallet.objects.all():
        assert wallet.balance == sum(wallet.entries.values_list("amount", flat=True), Decimal(0))
    assert not WalletEntry.objects.filter(
        kind=WalletKind.TOP_UP, method__in=["stored_value", "points"]
    ).exists()
    assert Payment.objects.filter(kind=PaymentKind.PAYMENT, method=PaymentMethod.STORED_VALUE).exists()
    # Points pay at 100 a yuan, at most half an order.
    rule = PointsTenderRule.objects.get(channel=None)
    assert (rule.points_per_yuan, rule.cap_percent) == (100, 50)
    by_points = Payment.objects.filter(kind=PaymentKind.PAYMENT, method=PaymentMethod.POINTS).select_related(
        "order"
    )
    assert by_points.exists()
    for payment in by_points:
        assert payment.points == payment.amount * 100 and payment.amount * 2 <= payment.order.total


def test_second_run_adds_no_rows():
    from marketing.models import CouponCode, Promotion, WalletEntry

    seed()

    def counts():
        return (
            Member.objects.count(),
            Order.objects.count(),
            StockMovement.objects.count(),
            PointsEntry.objects.count(),
            Store.objects.count(),
            StaffMembership.objects.count(),
            CouponCode.objects.count(),
            WalletEntry.objects.count(),
            Promotion.objects.count(),
        )

    before = counts()
    output = seed()

    assert counts() == before
    assert "members: demo data already loaded (scale small)" in output
    assert "orders: demo data already loaded (scale small)" in output
    assert "marketing: demo data already loaded (scale small)" in output
