"""A small network on several channels, stores, tiers and regions, with orders written straight into
the tables at chosen Shanghai times (the dashboard reads; the services that write are tested
elsewhere), for March 2026."""

from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

import pytest

from catalog.choices import ChannelKind
from orders.choices import AssignmentStatus, DeliveryMethod, OrderStatus, Origin
from orders.models import Order, OrderLine, StoreAssignment
from stores.choices import StoreKind
from tests.factories import ChannelFactory, GuideFactory, SKUFactory, StoreFactory
from tests.world import World

SHANGHAI = ZoneInfo("Asia/Shanghai")
MARCH = {"start": "2026-03-01", "end": "2026-03-31"}
_numbers = count(1)


def sh(year, month, day, hour=12, minute=0, second=0) -> datetime:
    """A Shanghai wall-clock time."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


class Network(World):
    """World (mall + own stores channel, stores A/B/C in Beijing, warehouse W) plus two
    marketplaces, a partner and a dealer channel, a partner store in Chengdu (tier 2, Southwest),
    a dealer in Urumqi (tier 5, Northwest), and a guide at store A."""

    def __init__(self):
        super().__init__()
        self.tmall = ChannelFactory(code="tmall", name="Tmall flagship", kind=ChannelKind.MARKETPLACE)
        self.jd = ChannelFactory(code="jd", name="JD flagship", kind=ChannelKind.MARKETPLACE)
        self.partner_channel = ChannelFactory(
            code="partners", name="Partner stores", kind=ChannelKind.PARTNER_STORE
        )
        self.dealer_channel = ChannelFactory(code="dealers", name="Dealers", kind=ChannelKind.DEALER)
        self.chengdu = StoreFactory(
            code="CD1",
            name="Chengdu partner",
            kind=StoreKind.PARTNER,
            city="Chengdu",
            province="Sichuan",
            city_tier=2,
        )
        self.urumqi = StoreFactory(
            code="XJ1",
            name="Urumqi dealer",
            kind=StoreKind.DEALER,
            city="Urumqi",
            province="Xinjiang",
            city_tier=5,
        )
        self.w.province, self.w.city, self.w.city_tier = "Shanghai", "Shanghai", 1
        self.w.save()
        self.soundbar = SKUFactory(code="SOUND-1")
        self.guide = GuideFactory(code="GA", name="Guide Ann", store=self.a)

    def order(
        self,
        *,
        channel,
        paid_at,
        total="1000.00",
        sku=None,
        quantity=1,
        origin=Origin.ONLINE,
        origin_store=None,
        fulfilled_by=None,
        delivery=DeliveryMethod.SHIP,
        status=OrderStatus.PAID,
        guide=None,
        lines=None,
    ) -> Order:
        """An order paid at `paid_at` (None: not paid); `lines` is [(sku, quantity, line_total)]."""
        total = Decimal(total)
        row = Order.objects.create(
            number=f"D{next(_numbers):08d}",
            channel=channel,
            origin=origin,
            origin_store=origin_store,
            fulfilling_location=fulfilled_by,
            guide=guide,
            delivery_method=delivery,
            status=status,
            subtotal=total,
            total=total,
            paid_at=paid_at,
        )
        Order.objects.filter(pk=row.pk).update(created_at=paid_at or sh(2026, 3, 1))
        for line_sku, qty, line_total in lines or [(sku or self.tv, quantity, total)]:
            OrderLine.objects.create(
                order=row,
                sku=line_sku,
                quantity=qty,
                unit_price=Decimal(line_total) / qty,
                line_total=line_total,
            )
        return row

    def offer(self, order, store, *, status, offered_at, waited=None) -> StoreAssignment:
        """An offer of `order` to `store`, answered `waited` after it was made."""
        row = StoreAssignment.objects.create(
            order=order,
            store=store,
            status=status,
            respond_by=offered_at + timedelta(hours=2),
            responded_at=offered_at + waited if waited is not None else None,
        )
        StoreAssignment.objects.filter(pk=row.pk).update(offered_at=offered_at)
        return row


@pytest.fixture
def net(db):
    return Network()


@pytest.fixture
def march(net):
    """March 2026's orders, and a few just outside it or not sold.

    Inside (paid, not cancelled): 9 orders, 19,500.00 in all.
      mall 3 (1000 + 2000 + 500) = 3500: one fulfilled by store A (online → store), one by the
        warehouse, one by store B paid at 00:00:00 on 1 March (Shanghai) - the first instant;
      tmall 1 x 4000 fulfilled by Chengdu (online → store), jd 1 x 3000 by the warehouse;
      own stores 2: 1500 carried out at A, 2500 ordered at B for home delivery, shipped from C
        (store → online), attributed to guide GA;
      partner stores 1 x 2000 at Chengdu (QR scan, pickup); dealers 1 x 3000 at Urumqi, paid at
        23:59:59 on 31 March (Shanghai) - the last instant.
    Outside: mall 700 paid at 23:59:59 on 28 Feb and 800 at 00:00 on 1 April (Shanghai); a tmall
    order cancelled after payment (900); a mall order never paid (600).
    """
    n = net
    o = {}
    o["mall_a"] = n.order(channel=n.mall, paid_at=sh(2026, 3, 5, 10), total="1000.00", fulfilled_by=n.a)
    o["mall_w"] = n.order(
        channel=n.mall,
        paid_at=sh(2026, 3, 5, 18),
        total="2000.00",
        fulfilled_by=n.w,
        lines=[(n.tv, 1, "1500.00"), (n.soundbar, 1, "500.00")],
    )
    o["mall_first"] = n.order(
        channel=n.mall, paid_at=sh(2026, 3, 1, 0, 0, 0), total="500.00", sku=n.soundbar, fulfilled_by=n.b
    )
    o["tmall"] = n.order(
        channel=n.tmall, paid_at=sh(2026, 3, 12), total="4000.00", quantity=2, fulfilled_by=n.chengdu
    )
    o["jd"] = n.order(channel=n.jd, paid_at=sh(2026, 3, 12), total="3000.00", sku=n.phone, fulfilled_by=n.w)
    o["store_carry"] = n.order(
        channel=n.stores_channel,
        paid_at=sh(2026, 3, 20),
        total="1500.00",
        sku=n.phone,
        origin=Origin.IN_STORE,
        origin_store=n.a,
        fulfilled_by=n.a,
        delivery=DeliveryMethod.CARRY_OUT,
        status=OrderStatus.COMPLETED,
    )
    o["store_ship"] = n.order(
        channel=n.stores_channel,
        paid_at=sh(2026, 3, 20),
        total="2500.00",
        origin=Origin.IN_STORE,
        origin_store=n.b,
        fulfilled_by=n.c,
        guide=n.guide,
        status=OrderStatus.SHIPPED,
    )
    o["partner"] = n.order(
        channel=n.partner_channel,
        paid_at=sh(2026, 3, 25),
        total="2000.00",
        sku=n.phone,
        origin=Origin.QR_SCAN,
        origin_store=n.chengdu,
        fulfilled_by=n.chengdu,
        delivery=DeliveryMethod.PICKUP,
    )
    o["dealer_last"] = n.order(
        channel=n.dealer_channel,
        paid_at=sh(2026, 3, 31, 23, 59, 59),
        total="3000.00",
        origin=Origin.IN_STORE,
        origin_store=n.urumqi,
        fulfilled_by=n.urumqi,
        delivery=DeliveryMethod.CARRY_OUT,
    )
    # Outside the period, or not sales.
    o["feb"] = n.order(channel=n.mall, paid_at=sh(2026, 2, 28, 23, 59, 59), total="700.00", fulfilled_by=n.a)
    o["april"] = n.order(channel=n.mall, paid_at=sh(2026, 4, 1, 0, 0, 0), total="800.00", fulfilled_by=n.a)
    o["cancelled"] = n.order(
        channel=n.tmall,
        paid_at=sh(2026, 3, 6),
        total="900.00",
        fulfilled_by=n.a,
        status=OrderStatus.CANCELLED,
    )
    o["unpaid"] = n.order(
        channel=n.mall, paid_at=None, total="600.00", fulfilled_by=n.a, status=OrderStatus.CREATED
    )
    return o


IN_MARCH = {
    "mall_a",
    "mall_w",
    "mall_first",
    "tmall",
    "jd",
    "store_carry",
    "store_ship",
    "partner",
    "dealer_last",
}


@pytest.fixture
def offers(net, march):
    """Offers in March: store A accepts two (after 10 and 30 minutes) and rejects one; store B
    lets one expire and has one still open; a withdrawn offer at C; one offer in February."""
    n, o = net, march
    n.offer(
        o["mall_a"],
        n.a,
        status=AssignmentStatus.ACCEPTED,
        offered_at=sh(2026, 3, 5, 10),
        waited=timedelta(minutes=10),
    )
    n.offer(
        o["tmall"],
        n.a,
        status=AssignmentStatus.REJECTED,
        offered_at=sh(2026, 3, 12),
        waited=timedelta(minutes=5),
    )
    n.offer(
        o["store_ship"],
        n.a,
        status=AssignmentStatus.ACCEPTED,
        offered_at=sh(2026, 3, 20),
        waited=timedelta(minutes=30),
    )
    n.offer(
        o["mall_first"],
        n.b,
        status=AssignmentStatus.EXPIRED,
        offered_at=sh(2026, 3, 1, 0, 0, 0),
        waited=timedelta(hours=2),
    )
    n.offer(o["jd"], n.b, status=AssignmentStatus.OFFERED, offered_at=sh(2026, 3, 12))
    n.offer(o["partner"], n.c, status=AssignmentStatus.WITHDRAWN, offered_at=sh(2026, 3, 25))
    n.offer(
        o["feb"],
        n.a,
        status=AssignmentStatus.REJECTED,
        offered_at=sh(2026, 2, 28, 23, 59, 59),
        waited=timedelta(minutes=1),
    )
