from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.choices import ChannelKind
from catalog.services import price_set
from config.roles import SYSTEM
from orders.models import RevenueRule
from stores.services import stock_receive
from tests.factories import ChannelFactory, SKUFactory, StoreFactory, warehouse

# Tian'anmen; 0.009 degrees of latitude is ~1 km.
BJ = (Decimal("39.904200"), Decimal("116.407400"))


def north(km: float):
    return BJ[0] + Decimal(str(round(km / 111.32, 6))), BJ[1]


class World:
    """Three Beijing stores on a line going north, a far warehouse, a TV and a phone with prices."""

    def __init__(self):
        self.mall = ChannelFactory(code="mall", name="Own mall", kind=ChannelKind.OWN_MALL)
        self.stores_channel = ChannelFactory(code="stores", name="Own stores", kind=ChannelKind.OWN_STORE)
        self.tv = SKUFactory(code="TV-55")
        self.phone = SKUFactory(code="PHONE-1")
        start = timezone.now() - timezone.timedelta(days=1)
        price_set(sku=self.tv, channel=None, amount=Decimal("2999.00"), valid_from=start, actor=SYSTEM)
        price_set(sku=self.phone, channel=None, amount=Decimal("1999.00"), valid_from=start, actor=SYSTEM)
        lat, lng = north(0)
        self.a = StoreFactory(code="A", name="Store A", latitude=lat, longitude=lng, service_radius_km=10)
        lat, lng = north(5)
        self.b = StoreFactory(code="B", name="Store B", latitude=lat, longitude=lng, service_radius_km=10)
        lat, lng = north(25)
        self.c = StoreFactory(code="C", name="Store C", latitude=lat, longitude=lng, service_radius_km=10)
        self.w = warehouse(
            code="W", name="Central warehouse", latitude=Decimal("31.2304"), longitude=Decimal("121.4737")
        )
        RevenueRule.objects.create(
            channel=self.mall, fulfilling_fee_percent=Decimal("8"), origin_share_percent=Decimal("5")
        )
        RevenueRule.objects.create(
            channel=self.stores_channel,
            fulfilling_fee_percent=Decimal("8"),
            origin_share_percent=Decimal("5"),
        )

    def stock(self, store, sku, quantity):
        stock_receive(location=store, sku=sku, quantity=quantity, reason="Delivery", actor=SYSTEM)

    def ship_order(
        self, *, member=None, channel=None, sku=None, quantity=1, store=None, at=None, user=None, **fields
    ):
        """A home-delivery order near store A (stock put there if `store` is not given); `fields`
        go to order_create as they are (recipient_phone, ...)."""
        from orders.choices import DeliveryMethod
        from orders.services import LineRequest, order_create

        sku = sku or self.tv
        if store is None:
            self.stock(self.a, sku, quantity)
        lat, lng = north(0.1)
        return order_create(
            channel=channel or self.mall,
            lines=[LineRequest(sku=sku, quantity=quantity)],
            delivery_method=DeliveryMethod.SHIP,
            member=member,
            address="1 Chang'an Avenue",
            latitude=lat,
            longitude=lng,
            placed_by=user,
            at=at,
            **({"actor": SYSTEM} | fields),
        )

    def pay(self, order, user=None):
        from orders.services import order_pay

        order_pay(order=order, amount=order.total, method="wechat", actor=user or SYSTEM)
        order.refresh_from_db()
        return order

    def deliver(self, order, user=None):
        """Accept, ship and deliver a paid order at its fulfilling store."""
        from orders.fulfilment import assignment_accept, order_complete, order_ship

        order.refresh_from_db()
        store = order.fulfilling_location
        if order.status == "allocated":
            assignment_accept(order=order, store=store, actor=user or SYSTEM)
        order_ship(order=order, store=store, tracking_number="SF123", actor=user or SYSTEM)
        order_complete(order=order, actor=user or SYSTEM)
        order.refresh_from_db()
        return order


@pytest.fixture
def world(db):
    return World()
