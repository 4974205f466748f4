from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.choices import ChannelKind
from catalog.services import price_set
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
        price_set(sku=self.tv, channel=None, amount=Decimal("2999.00"), valid_from=start)
        price_set(sku=self.phone, channel=None, amount=Decimal("1999.00"), valid_from=start)
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
        stock_receive(location=store, sku=sku, quantity=quantity, reason="Delivery")


@pytest.fixture
def world(db):
    return World()
