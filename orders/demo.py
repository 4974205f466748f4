"""Demo orders for `manage.py seed_demo`: revenue rules and orders in every stage, made through
the order services, so every ledger they touch (stock movements, points, payments, revenue
shares, status history, routing decisions) is exactly what real use would have written.

That makes orders the slow part of the seed (50-150 ms an order through order_create, order_pay
and the store's steps; 2,000 medium orders took 290 s on SQLite on a busy 2-core machine), so
the counts stay modest: 60 small, 2,000 medium and, at large scale, capped at LARGE_ORDER_CAP
rather than faking rows. Times are the services' own (now); the choices are drawn from the
seeded rng, only order numbers and pickup codes are random.

Marketing (marketing/demo.py, loaded before): every order is priced with the running promotions;
a few orders of members holding a coupon code redeem it (order_create(coupons=...)), and a few
paid orders on the brand's own channels pay part of their total with points and stored value
(order_pay(points=..., stored_value=...)). Which orders those are is decided by counting, not by
the rng, so the draws (stores, lines, stages) are the ones drawn without marketing; a coupon order
goes to a member of the store's city who holds a code instead of the member drawn.
"""

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from django.db.models import Count, F

from catalog.models import SKU, Channel
from config.errors import DomainError
from config.roles import SYSTEM
from marketing.choices import CodeStatus
from marketing.errors import CouponRefused
from marketing.models import CouponCode, Wallet
from marketing.tenders import points_cap, points_for, points_rule_for, points_value
from members.demo import demo_people
from members.models import Member
from members.services import tiers_refresh
from orders.choices import DeliveryMethod, OrderStatus, Origin, PaymentMethod
from orders.fulfilment import (
    assignment_accept,
    assignment_reject,
    order_collect,
    order_complete,
    order_ready_for_pickup,
    order_ship,
)
from orders.models import Order, RevenueRule
from orders.services import LineRequest, order_cancel, order_create, order_pay
from stores.choices import StoreKind, StoreStatus
from stores.demo import STREETS
from stores.models import Stock, Store

LARGE_ORDER_CAP = 5_000  # not the ~20,000 a large network would have: through the services, ~10+ min
# Small is what `make run` shows and what the test suite seeds again and again: 60 orders keep it
# to a few seconds and still give the demo clerk a full queue.
ORDERS_PER_SCALE = {"small": 60, "medium": 2_000, "large": LARGE_ORDER_CAP}
# The demo clerk's own queue: the same mix at every scale, a little more at the bigger ones.
CLERK_SCALE = {"small": 1, "medium": 2, "large": 3}

# channel code -> (fulfilling store fee %, fixed fee per line, origin store share %)
REVENUE_RULES = {
    "own-mall": ("8.00", "0.00", "5.00"),
    "tmall": ("8.00", "0.00", "3.00"),
    "jd": ("8.00", "0.00", "3.00"),
    "own-stores": ("8.00", "0.00", "5.00"),
    "partner-stores": ("10.00", "5.00", "5.00"),
    "dealer-north": ("12.00", "0.00", "0.00"),
    "dealer-south": ("12.00", "0.00", "0.00"),
}
ONLINE = (("own-mall", 35), ("tmall", 25), ("jd", 20))
PAYMENT = {"tmall": PaymentMethod.MARKETPLACE, "jd": PaymentMethod.MARKETPLACE}
EXTERNAL_PREFIX = {"tmall": "TM", "jd": "JD"}
# Orders that redeem a member's coupon code, and paid orders on own channels that pay by tenders.
COUPON_ORDERS = {"small": 10, "medium": 150, "large": 300}
TENDER_ORDERS = {"small": 8, "medium": 150, "large": 300}
TENDER_CHANNELS = ("own-stores", "own-mall")
# What happens to an order after it is placed, with weights (the generic mix).
STAGES = (
    ("created", 7),
    ("allocated", 10),
    ("accepted", 8),
    ("shipped", 15),
    ("completed", 40),
    ("cancelled", 10),
    ("rerouted", 4),
)
CANCEL_REASONS = (
    "Customer changed their mind",
    "Customer ordered the wrong colour",
    "Paid twice by mistake; this one cancelled",
    "Customer found it cheaper and cancelled",
)
REJECT_REASONS = (
    "Last unit is the display model; box missing",
    "Stock count wrong: the unit is not on the shelf",
    "No one to deliver today, staff short",
)


def loaded_scale() -> str | None:
    """The scale already loaded, if the demo revenue rules are there (the marker), else None."""
    if not RevenueRule.objects.filter(channel__code__in=REVENUE_RULES).exists():
        return None
    orders = Order.objects.count()
    return min(ORDERS_PER_SCALE, key=lambda scale: abs(ORDERS_PER_SCALE[scale] - orders))


def _jitter(rng: random.Random, lat, lng, km: float) -> tuple[Decimal, Decimal]:
    """A point within `km` of (lat, lng)."""
    lat, lng = float(lat), float(lng)
    distance = km * math.sqrt(rng.random())
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = distance * math.cos(bearing) / 111.32
    dlng = distance * math.sin(bearing) / (111.32 * math.cos(math.radians(lat)))
    return Decimal(f"{lat + dlat:.6f}"), Decimal(f"{lng + dlng:.6f}")


@dataclass(frozen=True)
class _Plan:
    """One order to place: where its stock comes from, how it is delivered, how far it goes."""

    store: Store  # the store whose shelves the lines are picked from (and the address is near)
    channel: str
    stage: str
    delivery: str = DeliveryMethod.SHIP
    origin: str = Origin.ONLINE
    origin_store: Store | None = None
    placed_by: object = None
    member_id: int | None = None
    skus_elsewhere: bool = False  # endless aisle: lines this store does not have
    near_km: float = 3.0


class _OrderSeeder:
    """Places the demo orders one by one through the services, keeping the running counts."""

    def __init__(self, rng: random.Random, log: Callable[[str], None]):
        self.rng = rng
        self.log = log
        self.serial = 0
        self.skus: dict[int, SKU] = {}
        self.counts = {"revenue rules": 0, "orders": 0, "of them stopped short (a step was refused)": 0}
        self.counts["plans skipped (nothing left to sell there)"] = 0
        self.counts["plans skipped (refused by a service)"] = 0
        self.counts["with a coupon"] = 0
        self.counts["paid with points or stored value"] = 0

    def run(self, scale: str) -> dict[str, int]:
        self.people = demo_people()
        self.coupon_orders, self.tender_orders = COUPON_ORDERS[scale], TENDER_ORDERS[scale]
        # Members holding a code, by city: an order of that city may go to one of them, with the code.
        # Coupons take turns in each city's list, so every demo coupon gets its chance.
        by_coupon: dict[tuple[str, int], list[tuple[int, str]]] = {}
        for member_id, city, coupon_id, code in (
            CouponCode.objects.filter(status=CodeStatus.HELD, member__merged_into__isnull=True)
            .order_by("id")
            .values_list("member_id", "member__city", "coupon_id", "code")
        ):
            by_coupon.setdefault((city, coupon_id), []).append((member_id, code))
        turns: dict[str, list[tuple[int, int, tuple[int, str]]]] = {}
        for (city, coupon_id), held in sorted(by_coupon.items()):
            turns.setdefault(city, []).extend((n, coupon_id, holder) for n, holder in enumerate(held))
        self.holders: dict[str, list[tuple[int, str]]] = {
            city: [holder for _n, _coupon, holder in sorted(held)] for city, held in turns.items()
        }
        self.wallets = set(Wallet.objects.filter(balance__gt=0).values_list("member_id", flat=True))
        self.channels = {c.code: c for c in Channel.objects.filter(code__in=REVENUE_RULES)}
        rules = [
            RevenueRule(
                channel=self.channels[code],
                fulfilling_fee_percent=Decimal(fee),
                fulfilling_fee_fixed=Decimal(fixed),
                origin_share_percent=Decimal(share),
            )
            for code, (fee, fixed, share) in REVENUE_RULES.items()
            if code in self.channels
        ]
        RevenueRule.objects.bulk_create(rules)
        self.counts["revenue rules"] = len(rules)

        open_stores = list(Store.objects.filter(status=StoreStatus.OPEN).order_by("code"))
        self.stores = [s for s in open_stores if s.kind != StoreKind.WAREHOUSE]
        self.warehouses = [s for s in open_stores if s.kind == StoreKind.WAREHOUSE]
        self.stores_by_city: dict[str, list[Store]] = {}
        for store in self.stores:
            self.stores_by_city.setdefault(store.city, []).append(store)
        self.members_by_city: dict[str, list[int]] = {}
        for pk, city in (
            Member.objects.filter(merged_into__isnull=True, phone__isnull=False)
            .order_by("pk")
            .values_list("pk", "city")
        ):
            self.members_by_city.setdefault(city, []).append(pk)
        self.home_members = list(
            Member.objects.filter(home_store=self.people.store, merged_into__isnull=True, phone__isnull=False)
            .order_by("pk")
            .values_list("pk", flat=True)
        )

        plans = self._clerk_plans(CLERK_SCALE[scale])
        total = ORDERS_PER_SCALE[scale]
        stage_names, stage_weights = zip(*STAGES, strict=True)
        while len(plans) < total:
            plans.append(self._generic_plan(self.rng.choices(stage_names, stage_weights)[0]))
        for n, plan in enumerate(plans, start=1):
            self._run(plan)
            if n % 500 == 0:
                self.log(f"  orders: {n:,} of {total:,}")
        return self.counts

    # --- what to place ----------------------------------------------------------------------

    def _clerk_plans(self, m: int) -> list[_Plan]:
        """The demo clerk's day: offers to answer, parcels to ship, pickups waiting, orders taken
        on the tablet for walk-in members, and a few the store turned down."""
        store, clerk = self.people.store, self.people.clerk
        online = [code for code, _w in ONLINE]

        def near(stage, **kw):
            return _Plan(store=store, channel=self.rng.choice(online), stage=stage, near_km=1.0, **kw)

        def walk_in(stage, **kw):
            member = self.rng.choice(self.home_members) if self.home_members else None
            return _Plan(
                store=store,
                channel="own-stores",
                stage=stage,
                origin=Origin.IN_STORE,
                origin_store=store,
                placed_by=clerk,
                member_id=member,
                **kw,
            )

        plans = [near("allocated") for _ in range(6 * m)]
        plans += [near("accepted") for _ in range(2 * m)]
        plans += [near(stage) for stage in ("shipped", "completed") for _ in range(m)]
        plans += [near("rerouted") for _ in range(2 * m)]
        plans += [near("ready_for_pickup", delivery=DeliveryMethod.PICKUP) for _ in range(2 * m)]
        plans += [near("completed", delivery=DeliveryMethod.PICKUP) for _ in range(m)]
        # Endless aisle: the walk-in wants what this store does not have, delivered home.
        plans += [walk_in("created", skus_elsewhere=True), walk_in("refunded", skus_elsewhere=True)]
        plans += [walk_in(stage, skus_elsewhere=True) for stage in ("allocated", "shipped") for _ in range(m)]
        plans += [walk_in("completed", delivery=DeliveryMethod.CARRY_OUT) for _ in range(m)]
        plans += [walk_in("ready_for_pickup", delivery=DeliveryMethod.PICKUP) for _ in range(m)]
        plans += [
            _Plan(
                store=store,
                channel="own-stores",
                stage=stage,
                origin=Origin.QR_SCAN,
                origin_store=store,
                near_km=4.0,
            )
            for stage in ("allocated", "completed")
            for _ in range(m)
        ]
        return plans

    def _generic_plan(self, stage: str) -> _Plan:
        rng = self.rng
        store = rng.choice(self.stores)
        roll = rng.random()
        if roll < 0.75:  # online, mostly delivered, some collected in a store
            delivery = DeliveryMethod.PICKUP if rng.random() < 0.2 else DeliveryMethod.SHIP
            names, weights = zip(*ONLINE, strict=True)
            return _Plan(store=store, channel=rng.choices(names, weights)[0], stage=stage, delivery=delivery)
        channel = self._store_channel(store)
        if roll < 0.8:  # a customer scanned the store's QR code
            return _Plan(store=store, channel=channel, stage=stage, origin=Origin.QR_SCAN, origin_store=store)
        delivery = rng.choice((DeliveryMethod.SHIP, DeliveryMethod.SHIP, DeliveryMethod.CARRY_OUT))
        if delivery == DeliveryMethod.CARRY_OUT and stage != "created":
            stage = "completed"  # carried out of the store: complete once paid
        return _Plan(
            store=store,
            channel=channel,
            stage=stage,
            delivery=delivery,
            origin=Origin.IN_STORE,
            origin_store=store,
            skus_elsewhere=delivery == DeliveryMethod.SHIP and rng.random() < 0.5,
        )

    def _store_channel(self, store: Store) -> str:
        if store.kind == StoreKind.PARTNER:
            return "partner-stores"
        if store.kind == StoreKind.DEALER:
            return "dealer-north" if store.latitude >= 32 else "dealer-south"
        return "own-stores"

    # --- placing and moving an order ---------------------------------------------------------

    def _lines(self, plan: _Plan) -> list[LineRequest]:
        """One or two SKUs with units available where the order should come from."""
        rng = self.rng
        available = Stock.objects.filter(on_hand__gt=F("reserved"), sku__is_active=True)
        if plan.skus_elsewhere:
            # Endless aisle: something another store in town (or else a warehouse) has and this one lacks.
            here = Stock.objects.filter(location=plan.store, on_hand__gt=F("reserved")).values("sku_id")
            others = [s for s in self.stores_by_city.get(plan.store.city, ()) if s.pk != plan.store.pk]
            pool = others or self.warehouses
            if not pool:
                return []
            elsewhere = rng.choice(pool)
            rows = list(
                available.filter(location=elsewhere)
                .exclude(sku_id__in=here)
                .order_by("sku_id")
                .values_list("sku_id", flat=True)[:200]
            )
            wanted = [(sku_id, 1) for sku_id in rng.sample(rows, min(len(rows), 1))]
        else:
            rows = list(
                available.filter(location=plan.store)
                .order_by("sku_id")
                .values_list("sku_id", F("on_hand") - F("reserved"))
            )
            count = 2 if rng.random() < 0.2 else 1
            wanted = [
                (sku_id, 2 if free >= 6 and rng.random() < 0.2 else 1)
                for sku_id, free in rng.sample(rows, min(len(rows), count))
            ]
        missing = [sku_id for sku_id, _q in wanted if sku_id not in self.skus]
        self.skus.update(SKU.objects.in_bulk(missing))
        return [LineRequest(sku=self.skus[sku_id], quantity=quantity) for sku_id, quantity in wanted]

    def _run(self, plan: _Plan) -> None:
        """Place and move one order; a service's refusal is the seed's answer too, not a crash
        (each service call is atomic, so a refused step leaves the order where it was)."""
        lines = self._lines(plan)
        if not lines:
            self.counts["plans skipped (nothing left to sell there)"] += 1
            return
        try:
            order = self._place(plan, lines)
        except DomainError:
            self.counts["plans skipped (refused by a service)"] += 1
            return
        self.counts["orders"] += 1
        try:
            self._advance(order, plan)
        except DomainError:
            self.counts["of them stopped short (a step was refused)"] += 1

    def _place(self, plan: _Plan, lines: list[LineRequest]) -> Order:
        rng = self.rng
        self.serial += 1
        store = plan.store
        member_id = plan.member_id
        if member_id is None and rng.random() < 0.8:
            candidates = self.members_by_city.get(store.city)
            member_id = rng.choice(candidates) if candidates else None
        coupons = []
        if member_id and self.counts["with a coupon"] < self.coupon_orders and self.holders.get(store.city):
            member_id, code = self.holders[store.city].pop(0)  # a member of this city with a code
            coupons = [code]
        member = Member.objects.get(pk=member_id) if member_id else None
        address = {}
        if plan.delivery == DeliveryMethod.SHIP:
            lat, lng = _jitter(
                rng, store.latitude, store.longitude, min(plan.near_km, store.service_radius_km / 2)
            )
            address = {
                "address": f"{rng.randint(1, 999)} {rng.choice(STREETS)} Road, {store.city}",
                "city": store.city,
                "latitude": lat,
                "longitude": lng,
            }
        prefix = EXTERNAL_PREFIX.get(plan.channel)
        place = partial(
            order_create,
            channel=self.channels[plan.channel],
            lines=lines,
            delivery_method=plan.delivery,
            origin=plan.origin,
            member=member,
            origin_store=plan.origin_store,
            pickup_store=store if plan.delivery == DeliveryMethod.PICKUP else None,
            placed_by=plan.placed_by,
            recipient_name=member.name if member else "",
            recipient_phone=member.phone if member else "",
            external_reference=f"{prefix}{rng.randrange(10**9):09d}{self.serial:06d}" if prefix else None,
            actor=SYSTEM,  # the demo places it for the clerk named in placed_by
            **address,
        )
        if coupons:
            try:
                order = place(coupons=coupons)
            except CouponRefused:  # below the coupon's minimum spend: the member buys without it
                return place()
            self.counts["with a coupon"] += 1
            return order
        return place()

    def _tenders(self, order: Order, channel: str) -> tuple[int, Decimal]:
        """Points and stored value for a member's order on an own channel, while the demo wants
        more: half the points the cap allows (at most half the balance), then the wallet."""
        if (
            not order.member_id
            or channel not in TENDER_CHANNELS
            or self.counts["paid with points or stored value"] >= self.tender_orders
        ):
            return 0, Decimal(0)
        rule = points_rule_for(order.channel)
        balance = Member.objects.values_list("points_balance", flat=True).get(pk=order.member_id)
        points = min(balance // 2, points_for(points_cap(order.total, rule), rule) // 2) if rule else 0
        points -= points % (rule.points_per_yuan // 100) if rule else 0
        left = order.total - (points_value(points, rule) if points else Decimal(0))
        stored = Decimal(0)
        if order.member_id in self.wallets:
            wallet = Wallet.objects.values_list("balance", flat=True).get(member_id=order.member_id)
            stored = min(wallet, left - Decimal(1))  # a yuan or more is left for the card
        stored = max(stored, Decimal(0))
        if points or stored:
            self.counts["paid with points or stored value"] += 1
        return points, stored

    def _actor(self, order: Order):
        """Who answers for the fulfilling store: the demo clerk at their stores, else the product."""
        clerk_stores = {s.pk for s in self.people.clerk_stores}
        return self.people.clerk if order.fulfilling_location_id in clerk_stores else SYSTEM

    def _advance(self, order: Order, plan: _Plan) -> None:
        rng, stage = self.rng, plan.stage
        if stage == "created":
            return
        if stage == "cancelled" and rng.random() < 0.4:  # never paid; "refunded" is cancelled once paid
            order_cancel(order=order, reason=rng.choice(CANCEL_REASONS), actor=plan.placed_by or SYSTEM)
            return
        self.serial += 1
        method = PAYMENT.get(plan.channel) or rng.choice(
            (PaymentMethod.WECHAT, PaymentMethod.ALIPAY, PaymentMethod.CARD)
        )
        points, stored = self._tenders(order, plan.channel)
        rule = points_rule_for(order.channel) if points else None
        order_pay(
            order=order,
            amount=order.total - (points_value(points, rule) if points else Decimal(0)) - stored,
            points=points,
            stored_value=stored,
            method=method,
            external_reference=f"PAY{self.serial:08d}{rng.randrange(10**6):06d}",
            actor=plan.placed_by or SYSTEM,
            serials=_serials(order) if order.delivery_method == DeliveryMethod.CARRY_OUT else None,
        )
        order.refresh_from_db()
        if stage in ("cancelled", "refunded"):
            order_cancel(order=order, reason=rng.choice(CANCEL_REASONS), actor=plan.placed_by or SYSTEM)
            return
        if stage == "rerouted" and order.status == OrderStatus.ALLOCATED:
            assignment_reject(
                order=order,
                store=order.fulfilling_location,
                reason=rng.choice(REJECT_REASONS),
                actor=self._actor(order),
            )
            order.refresh_from_db()
            stage = rng.choice(("allocated", "accepted", "shipped"))
        if stage == "allocated" or order.status in (OrderStatus.COMPLETED, OrderStatus.CANCELLED):
            return
        store = order.fulfilling_location
        user = self._actor(order)
        if order.status == OrderStatus.ALLOCATED:
            assignment_accept(order=order, store=store, actor=user)
        if stage == "accepted":
            return
        if order.delivery_method == DeliveryMethod.PICKUP:
            ready = order_ready_for_pickup(order=order, store=store, actor=user)
            if stage == "completed":
                order_collect(
                    order=order,
                    store=store,
                    pickup_code=ready.pickup_code,
                    actor=user,
                    serials=_serials(order),
                )
            return
        order_ship(
            order=order,
            store=store,
            tracking_number=f"SF{rng.randrange(10**12):012d}",
            actor=user,
            serials=_serials(order),
        )
        if stage == "completed":
            order_complete(order=order, actor=SYSTEM)


def _serials(order: Order) -> dict[int, list[str]]:
    """A serial for every unit of the serial-tracked lines (unique: order numbers are)."""
    return {
        line.pk: [f"{order.number}-{line.pk}-{unit + 1}" for unit in range(line.quantity)]
        for line in order.lines.select_related("sku")
        if line.sku.serial_tracked
    }


def seed(*, scale: str, rng: random.Random, log: Callable[[str], None] = print) -> dict[str, int]:
    """Create the demo revenue rules and orders for `scale` through the order services; returns
    the number of rows created per kind."""
    made = _OrderSeeder(rng, log).run(scale)
    tiers_refresh()  # the nightly job, so tiers include the spend of the orders just paid
    by_status = dict(Order.objects.values_list("status").annotate(n=Count("pk")))
    counts = {"revenue rules": made.pop("revenue rules"), "orders": made.pop("orders")}
    for status in (
        OrderStatus.ALLOCATED,
        OrderStatus.READY_FOR_PICKUP,
        OrderStatus.COMPLETED,
        OrderStatus.CANCELLED,
    ):
        counts[f"of them {OrderStatus(status).label.lower()}"] = by_status.get(status, 0)
    counts.update({label: n for label, n in made.items() if n})  # refusals, if any
    return counts
