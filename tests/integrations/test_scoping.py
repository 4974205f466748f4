"""What an API key sees and may write: a channel's key only its channel's orders, members and
tickets (another channel's ids are 404s, not 403s), a partner's key only its stores, stock, guides
and commissions; price and commission-rule writes are kept to HQ or the key's own channel."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from aftersales.choices import OpenedVia
from aftersales.services import ticket_open
from catalog.models import Price
from config.errors import DomainError
from config.roles import SYSTEM
from guides.choices import EntryKind
from guides.models import CommissionEntry
from integrations.choices import Scope
from integrations.services import CHANNEL_ONLY_SCOPES, api_key_create
from members.services import member_upsert
from orders.models import Order
from orders.services import order_delivered
from tests.aftersales.helpers import placed_order, ship_from_a
from tests.factories import GuideFactory, PartnerFactory, SKUFactory, StoreFactory
from tests.helpers import assert_error
from tests.world import north, world  # noqa: F401  (the orders tests' shared world)

CHANNEL_SCOPES = [
    Scope.CATALOG_READ,
    Scope.STOCK_READ,
    Scope.ORDERS_READ,
    Scope.ORDERS_WRITE,
    Scope.MEMBERS_READ,
    Scope.MEMBERS_WRITE,
    Scope.AFTERSALES_WRITE,
    Scope.PRICES_WRITE,
]


class Caller:
    """A test client that sends one API key with every request."""

    def __init__(self, client, plaintext):
        self.client, self.headers = client, {"Authorization": f"Bearer {plaintext}"}

    def get(self, url, data=None):
        return self.client.get(url, data or {}, headers=self.headers)

    def post(self, url, data=None):
        return self.client.post(url, data or {}, content_type="application/json", headers=self.headers)


def delivered(scene, channel, phone):
    member = member_upsert(phone=phone, actor=SYSTEM).member
    order = placed_order(scene, channel=channel, member=member)
    line = ship_from_a(scene, order)
    order = Order.objects.get(pk=order.pk)
    order_delivered(order=order, lines=list(order.lines.select_related("sku__product__category")))
    return Order.objects.get(pk=order.pk), line, member


@pytest.fixture
def scene(world, client):  # noqa: F811  (the fixture imported above)
    world.mall_key, plaintext = api_key_create(
        name="Mall", channel=world.mall, scopes=CHANNEL_SCOPES, actor=SYSTEM
    )
    world.mall_api = Caller(client, plaintext)
    world.order_a, world.line_a, world.member_a = delivered(world, world.mall, "13900000001")
    world.order_b, world.line_b, world.member_b = delivered(world, world.stores_channel, "13900000002")
    world.ticket_b = ticket_open(
        line=world.line_b, kind="repair", description="No picture", opened_via=OpenedVia.API, actor=SYSTEM
    )
    world.ticket_a = ticket_open(
        line=world.line_a, kind="repair", description="No sound", opened_via=OpenedVia.API, actor=SYSTEM
    )
    return world


def ship_body(**overrides) -> dict:
    lat, lng = north(1.0)
    body = {
        "channel": "mall",
        "lines": [{"sku": "TV-55", "quantity": 1}],
        "delivery_method": "ship",
        "recipient_name": "Li Lei",
        "address": "1 Chang'an Ave",
        "latitude": str(lat),
        "longitude": str(lng),
    }
    return {**body, **overrides}


# --- a channel's key -------------------------------------------------------------------------


def test_a_channel_key_lists_and_reads_only_its_channels_orders(scene):
    api = scene.mall_api
    body = api.get("/api/v1/orders/").json()
    assert [row["number"] for row in body["results"]] == [scene.order_a.number]
    assert api.get(f"/api/v1/orders/{scene.order_a.number}/").status_code == 200
    assert_error(api.get(f"/api/v1/orders/{scene.order_b.number}/"), 404, "not_found")
    assert_error(
        api.post(f"/api/v1/orders/{scene.order_b.number}/cancel/", {"reason": "x"}), 404, "not_found"
    )


def test_a_channel_key_places_orders_on_its_channel_only(scene):
    api = scene.mall_api
    scene.stock(scene.a, scene.tv, 2)
    body = assert_error(api.post("/api/v1/orders/", ship_body(channel="stores")), 400, "wrong_channel")
    assert "channel" in body["fields"]
    assert not Order.objects.filter(channel=scene.stores_channel).exclude(pk=scene.order_b.pk).exists()

    foreign_member = api.post("/api/v1/orders/", ship_body(member=scene.member_b.pk))
    assert_error(foreign_member, 404, "not_found")

    response = api.post("/api/v1/orders/", ship_body(member_phone="13900000003"))
    assert response.status_code == 201, response.content
    order = Order.objects.get(number=response.json()["number"])
    assert order.channel == scene.mall and order.placed_by is None
    # the new customer is the key's now (an order on its channel)
    assert api.get(f"/api/v1/members/{order.member_id}/").status_code == 200


def test_two_keys_may_use_the_same_idempotency_key(scene, client):
    scene.stock(scene.a, scene.tv, 2)
    _other, plaintext = api_key_create(
        name="Mall 2", channel=scene.mall, scopes=[Scope.ORDERS_WRITE], actor=SYSTEM
    )
    other = Caller(client, plaintext)
    headers = {"Idempotency-Key": "same-key"}
    first = scene.mall_api.client.post(
        "/api/v1/orders/",
        ship_body(),
        content_type="application/json",
        headers={**scene.mall_api.headers, **headers},
    )
    second = other.client.post(
        "/api/v1/orders/", ship_body(), content_type="application/json", headers={**other.headers, **headers}
    )
    assert first.status_code == second.status_code == 201
    assert first.json()["number"] != second.json()["number"]


def test_a_channel_key_sees_only_its_channels_members(scene):
    api = scene.mall_api
    assert api.get(f"/api/v1/members/{scene.member_a.pk}/").status_code == 200
    assert_error(api.get(f"/api/v1/members/{scene.member_b.pk}/"), 404, "not_found")
    assert_error(api.get(f"/api/v1/members/{scene.member_b.pk}/points/"), 404, "not_found")
    assert_error(api.get("/api/v1/members/lookup/", {"q": "13900000002"}), 404, "not_found")
    assert api.get("/api/v1/members/lookup/", {"q": "13900000001"}).json()["id"] == scene.member_a.pk
    # browsing every member is HQ's
    assert_error(api.get("/api/v1/members/"), 403, "permission_denied")


def test_a_channel_key_earns_points_on_its_channel_for_its_members_only(scene):
    api = scene.mall_api
    earn = {"channel": "mall", "paid_amount": "100.00", "reference": "R1"}
    assert_error(api.post(f"/api/v1/members/{scene.member_b.pk}/points/earn/", earn), 404, "not_found")
    other_channel = {**earn, "channel": "stores"}
    response = api.post(f"/api/v1/members/{scene.member_a.pk}/points/earn/", other_channel)
    assert_error(response, 403, "key_forbidden")
    response = api.post(f"/api/v1/members/{scene.member_a.pk}/points/earn/", earn)
    assert response.status_code in (200, 201), response.content


def test_a_channel_key_sees_and_opens_tickets_of_its_channels_orders_only(scene):
    api = scene.mall_api
    body = api.get("/api/v1/tickets/").json()
    assert [row["number"] for row in body["results"]] == [scene.ticket_a.number]
    assert_error(api.get(f"/api/v1/tickets/{scene.ticket_b.number}/"), 404, "not_found")
    opened = {"order": scene.order_b.number, "kind": "repair", "description": "Broken"}
    assert_error(api.post("/api/v1/tickets/", opened), 404, "not_found")
    response = api.post("/api/v1/tickets/", {**opened, "order": scene.order_a.number})
    assert response.status_code == 201, response.content
    # the desk's steps are for people at a store
    number = response.json()["number"]
    assert_error(api.post(f"/api/v1/tickets/{number}/close/"), 403, "scope_missing")


def test_a_channel_key_reads_catalog_and_stock_but_no_guides_or_commissions(scene, client):
    api = scene.mall_api
    assert api.get("/api/v1/skus/").status_code == 200
    assert api.get("/api/v1/stock/").status_code == 200
    _key, plaintext = api_key_create(
        name="all", channel=scene.mall, scopes=[Scope.GUIDES_READ, Scope.COMMISSIONS_READ], actor=SYSTEM
    )
    nosy = Caller(client, plaintext)
    GuideFactory(store=scene.a)
    assert nosy.get("/api/v1/guides/").json()["results"] == []
    assert nosy.get("/api/v1/commission-entries/").json()["results"] == []
    assert nosy.get("/api/v1/statements/").json()["results"] == []


# --- a partner's key -------------------------------------------------------------------------


@pytest.fixture
def partners(db, client):
    ours, theirs = PartnerFactory(), PartnerFactory()
    our_store, their_store = StoreFactory(partner=ours), StoreFactory(partner=theirs)
    our_guide, their_guide = GuideFactory(store=our_store), GuideFactory(partner=theirs)
    now = timezone.now()
    for guide, partner in ((our_guide, ours), (their_guide, theirs)):
        CommissionEntry.objects.create(
            kind=EntryKind.REWARD, guide=guide, partner=partner, payable_change=Decimal("10"), created_at=now
        )
    _key, plaintext = api_key_create(
        name="Partner",
        partner=ours,
        scopes=[Scope.STOCK_READ, Scope.GUIDES_READ, Scope.COMMISSIONS_READ, Scope.CATALOG_READ],
        actor=SYSTEM,
    )
    return {
        "api": Caller(client, plaintext),
        "ours": ours,
        "our_store": our_store,
        "their_store": their_store,
        "our_guide": our_guide,
        "their_guide": their_guide,
    }


def test_a_partner_key_sees_only_its_stores_stock_guides_and_commissions(partners):
    api = partners["api"]
    stores = api.get("/api/v1/stores/").json()["results"]
    assert [row["code"] for row in stores] == [partners["our_store"].code]
    assert_error(api.get(f"/api/v1/stores/{partners['their_store'].pk}/"), 404, "not_found")
    assert api.get("/api/v1/stock/").status_code == 200
    guides = api.get("/api/v1/guides/").json()["results"]
    assert [row["code"] for row in guides] == [partners["our_guide"].code]
    assert_error(api.get(f"/api/v1/guides/{partners['their_guide'].code}/"), 404, "not_found")
    entries = api.get("/api/v1/commission-entries/").json()["results"]
    assert len(entries) == 1
    assert api.get("/api/v1/statements/").status_code == 200


def test_a_partner_key_cannot_set_prices_or_commission_rules(partners, client):
    with pytest.raises(DomainError):  # a partner's key never gets prices:write (nor orders/members writes)
        api_key_create(name="prices", partner=partners["ours"], scopes=[Scope.PRICES_WRITE], actor=SYSTEM)
    allowed = sorted(set(Scope.values) - CHANNEL_ONLY_SCOPES)
    _key, plaintext = api_key_create(name="all", partner=partners["ours"], scopes=allowed, actor=SYSTEM)
    api = Caller(client, plaintext)
    sku = SKUFactory()
    price = {"sku": sku.code, "channel": None, "amount": "10.00"}
    assert_error(api.post("/api/v1/prices/", price), 403, "scope_missing")
    assert_error(api.get("/api/v1/commission-rules/"), 403, "permission_denied")
    assert_error(api.post("/api/v1/commission-rules/", {"rate_percent": "90"}), 403, "permission_denied")
    assert not Price.objects.filter(sku=sku).exists()


def test_a_channel_key_sets_prices_on_its_own_channel_only(scene):
    api = scene.mall_api
    sku = SKUFactory()
    start = timezone.now() + timedelta(hours=1)
    body = {"sku": sku.code, "amount": "99.00", "valid_from": start.isoformat()}
    assert_error(api.post("/api/v1/prices/", {**body, "channel": "stores"}), 403, "key_forbidden")
    assert_error(api.post("/api/v1/prices/", {**body, "channel": None}), 403, "key_forbidden")
    response = api.post("/api/v1/prices/", {**body, "channel": "mall"})
    assert response.status_code == 201, response.content
    price_id = response.json()["id"]
    end = {"at": (start + timedelta(days=1)).isoformat()}
    assert api.post(f"/api/v1/prices/{price_id}/end/", end).status_code == 200


def test_a_channel_key_upserts_a_member_and_orders_for_them_by_phone(scene):
    api = scene.mall_api
    response = api.post("/api/v1/members/upsert/", {"phone": "139 0000 0009", "name": "Han Meimei"})
    assert response.status_code == 201, response.content
    member_id = response.json()["id"]
    # not the key's customer yet: an id alone opens nothing (ids are sequential)
    assert_error(api.get(f"/api/v1/members/{member_id}/"), 404, "not_found")
    scene.stock(scene.a, scene.tv, 1)
    placed = api.post("/api/v1/orders/", ship_body(member_phone="13900000009"))
    assert placed.status_code == 201, placed.content
    assert Order.objects.get(number=placed.json()["number"]).member_id == member_id
    assert api.get(f"/api/v1/members/{member_id}/").status_code == 200


def test_a_partner_key_reads_the_orders_of_its_stores_only(scene, client):
    from stores.models import Store

    ours = PartnerFactory()
    Store.objects.filter(pk=scene.b.pk).update(partner=ours)  # B fulfilled nothing
    _key, plaintext = api_key_create(name="Partner", partner=ours, scopes=[Scope.ORDERS_READ], actor=SYSTEM)
    api = Caller(client, plaintext)
    assert api.get("/api/v1/orders/").json()["results"] == []
    assert_error(api.get(f"/api/v1/orders/{scene.order_a.number}/"), 404, "not_found")
    Store.objects.filter(pk=scene.a.pk).update(partner=ours)  # A fulfilled both
    numbers = {row["number"] for row in api.get("/api/v1/orders/").json()["results"]}
    assert numbers == {scene.order_a.number, scene.order_b.number}
    # reading is all: a partner's key places no orders
    assert_error(api.post("/api/v1/orders/", ship_body()), 403, "scope_missing")
