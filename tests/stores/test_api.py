"""/api/v1/ stores endpoints: store search, stock rows, the ledger and availability nearby."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.roles import SYSTEM, Role
from stores.choices import MovementKind, StoreKind, StoreStatus
from stores.models import Stock
from stores.services import stock_receive, stock_reserve, stock_sell
from tests.factories import PartnerFactory, SKUFactory, StoreFactory, UserFactory, clerk_at
from tests.helpers import assert_error

BEIJING = (Decimal("39.904200"), Decimal("116.407400"))


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def codes(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["code"] for row in response.json()["results"]]


@pytest.fixture
def partner(db):
    return PartnerFactory(code="lepar")


@pytest.fixture
def network(db, partner):
    """A in central Beijing; D closed 0.7 km away; B a partner store ~5 km north; C in Shanghai."""
    return {
        "A": StoreFactory(code="BJ-A", latitude=BEIJING[0], longitude=BEIJING[1], service_radius_km=10),
        "D": StoreFactory(
            code="BJ-D",
            latitude=Decimal("39.910000"),
            longitude=Decimal("116.410000"),
            status=StoreStatus.CLOSED,
        ),
        "B": StoreFactory(
            code="BJ-B",
            kind=StoreKind.PARTNER,
            partner=partner,
            latitude=Decimal("39.950000"),
            longitude=Decimal("116.400000"),
            city_tier=2,
        ),
        "C": StoreFactory(
            code="SH-C",
            city="Shanghai",
            kind=StoreKind.WAREHOUSE,
            latitude=Decimal("31.230400"),
            longitude=Decimal("121.473700"),
        ),
    }


@pytest.fixture
def tv(db):
    return SKUFactory(code="TV-55", barcode="6900000000055")


@pytest.fixture
def clerk_a(client, network):
    client.force_login(clerk_at(network["A"], username="clerk-a"))
    return client


# --- access ---------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/api/v1/stores/", "/api/v1/stock/", "/api/v1/stock/availability/?sku=x&store=y"]
)
def test_anonymous_caller_is_refused_in_the_error_shape(client, url):
    assert_error(client.get(url), 403, "not_authenticated")


# --- stores ---------------------------------------------------------------------------------------


def test_store_list_filters_by_kind_tier_and_partner(hq_client, network, partner):
    assert codes(hq_client.get("/api/v1/stores/?kind=warehouse")) == ["SH-C"]
    assert codes(hq_client.get("/api/v1/stores/?tier=2")) == ["BJ-B"]
    assert codes(hq_client.get(f"/api/v1/stores/?partner={partner.pk}")) == ["BJ-B"]
    assert codes(hq_client.get("/api/v1/stores/?status=closed")) == ["BJ-D"]
    assert codes(hq_client.get("/api/v1/stores/?q=shanghai")) == ["SH-C"]


def test_store_list_shows_the_partner(hq_client, network):
    row = hq_client.get("/api/v1/stores/?kind=partner").json()["results"][0]

    assert (row["partner_code"], row["partner_name"]) == ("lepar", network["B"].partner.name)
    assert "distance_km" not in row


def test_store_search_near_a_point_orders_by_distance_and_shows_it(hq_client, network):
    response = hq_client.get("/api/v1/stores/?lat=39.9042&lng=116.4074&radius_km=20")

    assert codes(response) == ["BJ-A", "BJ-D", "BJ-B"]
    distances = [row["distance_km"] for row in response.json()["results"]]
    assert distances[0] == 0
    assert 0.5 < distances[1] < 1
    assert 4.5 < distances[2] < 5.5


def test_store_search_near_a_point_combines_with_filters(hq_client, network):
    response = hq_client.get("/api/v1/stores/?lat=39.9042&lng=116.4074&radius_km=20&status=open")

    assert codes(response) == ["BJ-A", "BJ-B"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param("lat=91&lng=116", "lat", id="latitude-above-90"),
        pytest.param("lat=39&lng=-181", "lng", id="longitude-below-minus-180"),
        pytest.param("lat=39.9", "lat", id="lat-without-lng"),
        pytest.param("radius_km=5", "radius_km", id="radius-without-point"),
        pytest.param("lat=39&lng=116&radius_km=10000", "radius_km", id="radius-too-large"),
        pytest.param("lat=north&lng=116", "lat", id="not-a-number"),
        pytest.param("kind=shop", "kind", id="unknown-kind"),
    ],
)
def test_bad_store_search_is_400_with_field_errors(hq_client, network, query, field):
    assert_error(hq_client.get(f"/api/v1/stores/?{query}"), 400, "invalid", field=field)


def test_clerk_sees_only_their_own_store(clerk_a, network):
    assert codes(clerk_a.get("/api/v1/stores/")) == ["BJ-A"]
    assert codes(clerk_a.get("/api/v1/stores/?lat=39.9042&lng=116.4074&radius_km=20")) == ["BJ-A"]
    assert_error(clerk_a.get(f"/api/v1/stores/{network['B'].pk}/"), 404, "not_found")


def test_partner_user_sees_the_stores_the_partner_runs(client, network, partner):
    user = UserFactory(roles=[Role.PARTNER])
    partner.users.add(user)
    client.force_login(user)

    assert codes(client.get("/api/v1/stores/")) == ["BJ-B"]


def test_store_list_is_paginated(hq_client, network):
    body = hq_client.get("/api/v1/stores/?page_size=3").json()

    assert body["count"] == 4
    assert [row["code"] for row in body["results"]] == ["BJ-A", "BJ-B", "BJ-D"]
    assert body["next"] is not None


def test_store_list_costs_the_same_queries_for_3_or_30_stores(hq_client, db, django_assert_num_queries):
    def add_stores(n):
        for _ in range(n):
            StoreFactory(kind=StoreKind.PARTNER, partner=PartnerFactory())

    add_stores(3)
    url = "/api/v1/stores/?lat=39.9042&lng=116.4074&radius_km=5"
    small_near = count_queries(hq_client, url)
    small_all = count_queries(hq_client, "/api/v1/stores/")
    add_stores(27)

    with django_assert_num_queries(small_near):
        near = hq_client.get(url).json()
    with django_assert_num_queries(small_all):
        everything = hq_client.get("/api/v1/stores/").json()
    assert near["count"] == everything["count"] == 30
    assert all(row["partner_code"] for row in near["results"])


def test_clerk_store_list_costs_the_same_queries_for_3_or_30_stores(client, db, django_assert_num_queries):
    user = UserFactory(roles=[Role.STORE_CLERK])

    def add_stores(n):
        for _ in range(n):
            store = StoreFactory(partner=PartnerFactory())
            store.memberships.create(user=user, role="clerk")

    add_stores(3)
    client.force_login(user)
    small = count_queries(client, "/api/v1/stores/")
    add_stores(27)

    with django_assert_num_queries(small):
        assert client.get("/api/v1/stores/").json()["count"] == 30


# --- stock rows and the ledger --------------------------------------------------------------------


@pytest.fixture
def stocked(network, tv, hq):
    stock_receive(location=network["A"], sku=tv, quantity=5, reason="opening count", actor=hq)
    stock_reserve(location=network["A"], sku=tv, quantity=2, reference="SO-1")
    stock_receive(location=network["B"], sku=tv, quantity=7, reason="opening count", actor=SYSTEM)
    stock_receive(location=network["C"], sku=tv, quantity=100, reason="opening count", actor=SYSTEM)
    stock_receive(location=network["D"], sku=tv, quantity=3, reason="opening count", actor=SYSTEM)
    return {code: Stock.objects.get(location=store, sku=tv) for code, store in network.items()}


def test_clerk_stock_list_shows_their_store_only(clerk_a, stocked):
    body = clerk_a.get("/api/v1/stock/").json()

    assert body["count"] == 1
    row = body["results"][0]
    assert row["location"]["code"] == "BJ-A"
    assert row["sku"]["code"] == "TV-55"
    assert (row["on_hand"], row["reserved"], row["available"]) == (5, 2, 3)


def test_stock_list_filters_by_barcode_and_available(hq_client, stocked):
    body = hq_client.get("/api/v1/stock/?barcode=6900000000055&available_min=5").json()

    assert [row["location"]["code"] for row in body["results"]] == ["BJ-B", "SH-C"]


def test_clerk_gets_404_for_another_stores_stock_row_and_ledger(clerk_a, stocked):
    other = stocked["B"]

    assert_error(clerk_a.get(f"/api/v1/stock/{other.pk}/"), 404, "not_found")
    assert_error(clerk_a.get(f"/api/v1/stock/{other.pk}/movements/"), 404, "not_found")


def test_stock_movements_list_the_ledger_newest_first(clerk_a, stocked, tv, network, hq):
    stock_sell(location=network["A"], sku=tv, quantity=1, reference="SO-1")

    body = clerk_a.get(f"/api/v1/stock/{stocked['A'].pk}/movements/").json()

    assert body["count"] == 3
    rows = body["results"]
    assert [(r["kind"], r["on_hand_delta"], r["reserved_delta"]) for r in rows] == [
        (MovementKind.SALE, -1, -1),
        (MovementKind.RESERVATION, 0, 2),
        (MovementKind.RECEIPT, 5, 0),
    ]
    assert rows[2]["created_by"] == hq.username
    assert rows[0]["created_by"] is None
    stock = Stock.objects.get(pk=stocked["A"].pk)
    assert stock.on_hand == sum(r["on_hand_delta"] for r in rows)


def test_stock_movements_filter_by_kind(hq_client, stocked):
    body = hq_client.get(f"/api/v1/stock/{stocked['A'].pk}/movements/?kind=reservation").json()

    assert [(r["kind"], r["reference"]) for r in body["results"]] == [("reservation", "SO-1")]


# --- availability here and nearby -----------------------------------------------------------------


def test_availability_shows_here_and_open_stores_within_the_radius(clerk_a, stocked, network):
    response = clerk_a.get("/api/v1/stock/availability/?sku=TV-55&store=BJ-A")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["sku"]["code"], body["store"]["code"], body["radius_km"]) == ("TV-55", "BJ-A", 10)
    # D is closed and C is in Shanghai: neither is offered.
    assert [(r["store"]["code"], r["here"], r["available"]) for r in body["results"]] == [
        ("BJ-A", True, 3),
        ("BJ-B", False, 7),
    ]
    assert body["results"][0]["distance_km"] == 0
    assert 4.5 < body["results"][1]["distance_km"] < 5.5
    # Only availability leaves the store boundary: no on hand, reserved or ledger of store B.
    assert set(body["results"][1]) == {"store", "here", "distance_km", "available"}


def test_availability_accepts_a_barcode_and_a_store_id(clerk_a, stocked, network):
    response = clerk_a.get(f"/api/v1/stock/availability/?sku=6900000000055&store={network['A'].pk}")

    assert [r["store"]["code"] for r in response.json()["results"]] == ["BJ-A", "BJ-B"]


def test_availability_of_a_store_the_clerk_does_not_work_at_is_404(clerk_a, stocked, network):
    assert_error(
        clerk_a.get("/api/v1/stock/availability/?sku=TV-55&store=BJ-B"), 404, "not_found", field="store"
    )
    assert_error(
        clerk_a.get(f"/api/v1/stock/availability/?sku=TV-55&store={network['B'].pk}"),
        404,
        "not_found",
        field="store",
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param("sku=NOPE&store=BJ-A", "sku", id="unknown-sku"),
        pytest.param("store=BJ-A", "sku", id="missing-sku"),
        pytest.param("sku=TV-55", "store", id="missing-store"),
    ],
)
def test_bad_availability_query_is_400_with_field_errors(clerk_a, stocked, query, field):
    body = assert_error(clerk_a.get(f"/api/v1/stock/availability/?{query}"), 400, "invalid", field=field)
    if field == "sku" and "NOPE" in query:
        assert "NOPE" in body["fields"]["sku"][0]


@pytest.mark.parametrize("store", ["%C2%B2", "99999999999999999999999", "BJ-Z"])
def test_availability_of_an_odd_or_unknown_store_is_404_not_500(clerk_a, stocked, store):
    # "²" passes str.isdigit() but not int(); a 23-digit id overflows a bigint.
    assert_error(
        clerk_a.get(f"/api/v1/stock/availability/?sku=TV-55&store={store}"), 404, "not_found", field="store"
    )


def test_availability_costs_the_same_queries_for_3_or_30_nearby_stores(
    clerk_a, network, tv, django_assert_num_queries
):
    def add_nearby_stock(n):
        for i in range(n):
            store = StoreFactory(latitude=BEIJING[0] + Decimal("0.001") * (i + 1), longitude=BEIJING[1])
            stock_receive(location=store, sku=tv, quantity=1, reason="opening count", actor=SYSTEM)

    stock_receive(location=network["A"], sku=tv, quantity=1, reason="opening count", actor=SYSTEM)
    add_nearby_stock(2)
    url = "/api/v1/stock/availability/?sku=TV-55&store=BJ-A"
    small = count_queries(clerk_a, url)
    add_nearby_stock(27)

    with django_assert_num_queries(small):
        body = clerk_a.get(url).json()
    assert len(body["results"]) == 20  # stock_nearby's limit
    assert small <= 6  # session, user, roles, store, SKU, stock
