from decimal import Decimal

import pytest

from catalog.selectors import price_lookup
from catalog.services import price_set
from config.roles import SYSTEM
from orders.routing import route_candidates
from stores.choices import StoreStatus
from stores.selectors import sku_find, stock_nearby, stock_visible_to, stores_near, stores_visible_to
from stores.services import stock_receive
from tests.factories import (
    ChannelFactory,
    PartnerFactory,
    SKUFactory,
    StoreFactory,
    UserFactory,
    clerk_at,
    hq_user,
)

pytestmark = pytest.mark.django_db

# Tian'anmen, Beijing. 0.01 degree of latitude is ~1.11 km.
BJ_LAT, BJ_LNG = Decimal("39.904200"), Decimal("116.407400")


def store_at(km_north: float, **kwargs):
    return StoreFactory(
        latitude=BJ_LAT + Decimal(str(round(km_north / 111.32, 6))), longitude=BJ_LNG, **kwargs
    )


def test_stores_near_orders_by_distance_and_respects_the_radius():
    far = store_at(25)
    near = store_at(2)
    here = store_at(0)
    middle = store_at(9)
    found = list(stores_near(latitude=BJ_LAT, longitude=BJ_LNG, radius_km=10))
    assert [s.pk for s in found] == [here.pk, near.pk, middle.pk]
    assert far not in found
    assert found[1].distance_km == pytest.approx(2.0, abs=0.05)
    assert found[2].distance_km == pytest.approx(9.0, abs=0.05)


def test_stores_near_works_across_longitude_too():
    east = StoreFactory(latitude=BJ_LAT, longitude=BJ_LNG + Decimal("0.1"))  # ~8.5 km at this latitude
    found = list(stores_near(latitude=BJ_LAT, longitude=BJ_LNG, radius_km=10))
    assert found == [east]
    assert found[0].distance_km == pytest.approx(8.5, abs=0.1)


def test_stock_nearby_uses_this_stores_radius_and_skips_closed_stores():
    sku = SKUFactory()
    here = store_at(0, service_radius_km=10)
    near = store_at(5)
    closed = store_at(3, status=StoreStatus.CLOSED)
    beyond = store_at(15)
    for store in (here, near, closed, beyond):
        stock_receive(location=store, sku=sku, quantity=4, reason="Delivery", actor=SYSTEM)
    rows = stock_nearby(sku=sku, store=here)
    assert [r.location_id for r in rows] == [here.pk, near.pk]
    assert rows[1].distance_km == pytest.approx(5.0, abs=0.05)
    assert rows[1].available == 4


def test_nearby_stock_and_nearby_stores_agree_on_every_distance():
    # Three forms of one haversine: the ORM expression (stores_near), routing's SQL and Python
    # for the rows of stock_nearby. The same stores must be the same distance away in each.
    sku = SKUFactory()
    here = store_at(0, service_radius_km=30)
    others = [
        StoreFactory(latitude=BJ_LAT + Decimal(dlat), longitude=BJ_LNG + Decimal(dlng), service_radius_km=30)
        for dlat, dlng in (("0.031", "0.020"), ("-0.120", "0.075"), ("0.004", "-0.210"), ("0.150", "0.150"))
    ]
    for store in (here, *others):
        stock_receive(location=store, sku=sku, quantity=1, reason="Delivery", actor=SYSTEM)
    python = {row.location_id: row.distance_km for row in stock_nearby(sku=sku, store=here)}
    orm = {
        s.pk: s.distance_km
        for s in stores_near(latitude=here.latitude, longitude=here.longitude, radius_km=30)
    }
    lines = {sku.pk: 1}
    routed = route_candidates(latitude=here.latitude, longitude=here.longitude, lines=lines).candidates
    sql = {c.store.pk: c.distance_km for c in routed}
    assert set(python) == set(orm) == {here.pk, *(s.pk for s in others)}
    assert set(sql) == set(python)
    for pk, km in python.items():
        assert km == pytest.approx(orm[pk], abs=1e-9) and km == pytest.approx(sql[pk], abs=1e-9)


def test_sku_find_by_code_or_barcode():
    sku = SKUFactory(code="TV-X55-BLK", barcode="6901234567892")
    assert sku_find("tv-x55-blk") == sku
    assert sku_find("6901234567892") == sku
    assert sku_find("nothing") is None
    assert sku_find("") is None


def test_sku_find_prefers_an_exact_code_or_barcode_to_a_code_in_other_letter_case():
    lower = SKUFactory(code="tv-1", barcode="111")
    upper = SKUFactory(code="TV-1", barcode="222")
    scanned = SKUFactory(code="PHONE", barcode="tv-2")
    other = SKUFactory(code="TV-2", barcode="333")
    assert sku_find("tv-1") == lower and sku_find("TV-1") == upper
    assert sku_find("tv-2") == scanned  # a barcode typed exactly beats a code in other case
    assert sku_find("Tv-2") == other
    assert sku_find("TV-1").product.pk == upper.product_id
    assert sku_find("tv\x00") is None


def test_stock_nearby_keeps_the_radius_exactly_and_orders_by_distance_then_code():
    sku = SKUFactory()
    here = store_at(0, service_radius_km=10, code="HERE")
    twin_b = store_at(4, code="B-4")
    twin_a = store_at(4, code="A-4")  # same distance: by code
    edge = store_at(9.9, code="EDGE")
    corner = StoreFactory(  # inside the bounding box, outside the circle (~10.7 km away)
        code="CORNER", latitude=BJ_LAT + Decimal("0.068"), longitude=BJ_LNG + Decimal("0.100")
    )
    for store in (here, twin_b, twin_a, edge, corner):
        stock_receive(location=store, sku=sku, quantity=2, reason="Delivery", actor=SYSTEM)
    rows = stock_nearby(sku=sku, store=here)
    assert [r.location.code for r in rows] == ["HERE", "A-4", "B-4", "EDGE"]
    assert rows[0].distance_km == 0 and rows[3].distance_km == pytest.approx(9.9, abs=0.05)
    assert [r.location.code for r in stock_nearby(sku=sku, store=here, limit=2)] == ["HERE", "A-4"]


def test_clerk_sees_only_own_stores_and_their_stock():
    sku = SKUFactory()
    mine, theirs = StoreFactory(), StoreFactory()
    stock_receive(location=mine, sku=sku, quantity=1, reason="Delivery", actor=SYSTEM)
    stock_receive(location=theirs, sku=sku, quantity=1, reason="Delivery", actor=SYSTEM)
    clerk = clerk_at(mine)
    assert list(stores_visible_to(clerk)) == [mine]
    assert [s.location_id for s in stock_visible_to(clerk)] == [mine.pk]


def test_partner_sees_the_stores_it_runs_and_hq_sees_all():
    partner = PartnerFactory()
    user = UserFactory()
    partner.users.add(user)
    run = StoreFactory(partner=partner, kind="partner")
    StoreFactory()
    assert list(stores_visible_to(user)) == [run]
    assert stores_visible_to(hq_user()).count() == 2


def _grow(n: int, sku):
    for _ in range(n):
        store = store_at(1)
        stock_receive(location=store, sku=sku, quantity=2, reason="Delivery", actor=SYSTEM)


@pytest.mark.parametrize("extra", [0, 25])
def test_stock_lookup_is_one_query_whatever_the_number_of_stores(django_assert_num_queries, extra):
    sku = SKUFactory()
    here = store_at(0)
    stock_receive(location=here, sku=sku, quantity=1, reason="Delivery", actor=SYSTEM)
    _grow(extra, sku)
    with django_assert_num_queries(1):
        rows = stock_nearby(sku=sku, store=here, limit=100)
        assert [r.location.code for r in rows]  # related store loaded in the same query
    assert len(rows) == 1 + extra


@pytest.mark.parametrize("versions", [1, 30])
def test_price_lookup_is_one_query_whatever_the_number_of_versions(django_assert_num_queries, versions):
    from datetime import timedelta

    from django.utils import timezone

    channel, sku = ChannelFactory(), SKUFactory()
    start = timezone.now() - timedelta(days=versions + 1)
    for day in range(versions):
        price_set(
            sku=sku,
            channel=channel,
            amount=Decimal(100 + day),
            valid_from=start + timedelta(days=day),
            actor=SYSTEM,
        )
        price_set(
            sku=sku,
            channel=None,
            amount=Decimal(200 + day),
            valid_from=start + timedelta(days=day),
            actor=SYSTEM,
        )
    with django_assert_num_queries(1):
        price = price_lookup(sku=sku.pk, channel=channel.pk)
    assert price.amount == Decimal(100 + versions - 1)


@pytest.mark.parametrize("stores", [3, 40])
def test_visible_store_list_is_one_query(django_assert_num_queries, stores):
    for _ in range(stores):
        StoreFactory(partner=PartnerFactory())
    user = hq_user()
    user._role_names = frozenset({"HQ admin"})
    with django_assert_num_queries(1):
        rows = [(s.code, s.partner.name) for s in stores_visible_to(user).select_related("partner")]
    assert len(rows) == stores
