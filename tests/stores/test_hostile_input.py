"""Hostile input on the store pages (issue 14, defect 5): `quantity=2147483648` (or 10**12) on the
stock movement form was a 500 on PostgreSQL (the integer column overflowed) and wrote 10**12 units
on SQLite. Every numeric field and query parameter of the store pages gets NUL bytes, numbers past
the columns, 1e400, 300 characters, '%', full-width digits, emoji and right-to-left marks: a field
error, never a 5xx, and nothing written."""

import pytest
from django.test import Client
from django.urls import reverse

from config.roles import SYSTEM
from stores.errors import StockRefused
from stores.models import Stock, StockMovement
from stores.services import MAX_MOVEMENT_QUANTITY, STOCK_CEILING, stock_adjust, stock_receive
from tests.factories import SKUFactory, StoreFactory, clerk_at, hq_user, manager_at

pytestmark = pytest.mark.django_db

HOSTILE = [
    "\x00",
    "1\x00",
    "2147483648",
    "-2147483649",
    str(10**12),
    str(-(10**12)),
    "1e400",
    "1e3",
    "1.0",
    "NaN",
    "x" * 300,
    "9" * 300,
    "%",
    "%00",
    "１",
    "１２",
    "🙂",
    "\u202e12",
]


@pytest.fixture
def store():
    return StoreFactory(code="BJ001", latitude="39.904200", longitude="116.407400")


@pytest.fixture
def sku():
    return SKUFactory(code="TV55X")


@pytest.fixture
def manager_client(store):
    client = Client(raise_request_exception=False)
    client.force_login(manager_at(store))
    return client


def written():
    return list(Stock.objects.values_list("on_hand", "reserved")), StockMovement.objects.count()


@pytest.mark.parametrize("kind", ["receipt", "adjustment"])
@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_quantity_on_the_stock_form_is_a_field_error_and_writes_nothing(
    manager_client, store, sku, kind, value
):
    stock_receive(location=store, sku=sku, quantity=5, reason="Delivery", actor=SYSTEM)
    before = written()

    response = manager_client.post(
        reverse("stores:stock_change", args=[store.code]),
        {"kind": kind, "sku": sku.code, "quantity": value, "reason": "Count"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors["quantity"]
    assert written() == before


@pytest.mark.parametrize("field", ["sku", "reason", "reference", "kind"])
@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_text_on_the_stock_form_never_breaks_the_page(manager_client, store, sku, field, value):
    data = {"kind": "receipt", "sku": sku.code, "quantity": "1", "reason": "Delivery", "reference": ""}
    data[field] = value

    response = manager_client.post(reverse("stores:stock_change", args=[store.code]), data)

    assert response.status_code in (200, 302)
    if response.status_code == 200:  # refused: nothing written
        assert not StockMovement.objects.exists()
    else:  # a reason or reference the ledger can hold as it is
        movement = StockMovement.objects.get()
        assert movement.on_hand_delta == 1 and "\x00" not in movement.reason + movement.reference


def test_the_largest_movement_is_taken_and_one_more_unit_is_refused(manager_client, store, sku):
    url = reverse("stores:stock_change", args=[store.code])
    ok = manager_client.post(
        url, {"kind": "receipt", "sku": sku.code, "quantity": str(MAX_MOVEMENT_QUANTITY), "reason": "Big"}
    )
    refused = manager_client.post(
        url, {"kind": "receipt", "sku": sku.code, "quantity": str(MAX_MOVEMENT_QUANTITY + 1), "reason": "Big"}
    )

    assert ok.status_code == 302
    assert refused.status_code == 200 and refused.context["form"].errors["quantity"]
    assert Stock.objects.get().on_hand == MAX_MOVEMENT_QUANTITY


def test_a_stock_row_stops_at_its_ceiling_with_a_clear_refusal(store, sku):
    Stock.objects.create(location=store, sku=sku, on_hand=STOCK_CEILING - 1)

    with pytest.raises(StockRefused) as refused:
        stock_receive(location=store, sku=sku, quantity=2, reason="Delivery", actor=SYSTEM)
    assert "more than" in refused.value.message and refused.value.fields["quantity"]
    stock_adjust(location=store, sku=sku, delta=1, reason="Count", actor=SYSTEM)
    assert Stock.objects.get().on_hand == STOCK_CEILING
    assert StockMovement.objects.count() == 1


PAGES = [
    ("stores:list", lambda store, sku: [], ["q", "kind", "status", "partner", "city", "tier", "page"]),
    (
        "stores:detail",
        lambda store, sku: [store.code],
        ["location", "sku", "sku_code", "barcode", "available_min", "page"],
    ),
    (
        "stores:ledger",
        lambda store, sku: [store.code, sku.code],
        ["location", "sku", "kind", "reference", "created_after", "created_before", "page"],
    ),
    ("stores:lookup", lambda store, sku: [store.code], ["q"]),
    ("stores:lookup_start", lambda store, sku: [], ["q", "store", "choose"]),
]


@pytest.mark.parametrize("who", ["hq", "clerk"])
@pytest.mark.parametrize(("name", "args", "params"), PAGES)
def test_hostile_query_parameters_on_the_store_pages_never_answer_5xx(store, sku, who, name, args, params):
    stock_receive(location=store, sku=sku, quantity=1, reason="Delivery", actor=SYSTEM)
    client = Client(raise_request_exception=False)
    client.force_login(hq_user() if who == "hq" else clerk_at(store))
    url = reverse(name, args=args(store, sku))
    for param in params:
        for value in HOSTILE:
            response = client.get(url, {param: value})
            assert response.status_code < 500, (url, param, value)
    assert written() == ([(1, 0)], 1)


def test_hostile_query_parameters_on_the_stores_api_never_answer_5xx(store, sku):
    stock_receive(location=store, sku=sku, quantity=1, reason="Delivery", actor=SYSTEM)
    client = Client(raise_request_exception=False)
    client.force_login(hq_user())
    stock = Stock.objects.get()
    endpoints = {
        "/api/v1/stores/": ["q", "kind", "partner", "tier", "lat", "lng", "radius_km", "city", "page"],
        "/api/v1/stock/": ["location", "sku", "sku_code", "barcode", "available_min", "page"],
        f"/api/v1/stock/{stock.pk}/movements/": ["location", "sku", "kind", "created_after", "page"],
        "/api/v1/stock/availability/": ["sku", "store"],
    }
    for url, params in endpoints.items():
        for param in params:
            for value in HOSTILE:
                base = {"sku": sku.code, "store": store.code} if "availability" in url else {}
                response = client.get(url, {**base, param: value})
                assert response.status_code < 500, (url, param, value)
                if response.status_code == 400:
                    assert set(response.json()) == {"code", "message", "fields"}
