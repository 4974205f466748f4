"""Order intake through the API with an Idempotency-Key: one key check (the shared middleware's,
255 characters), one authentication, and a pinned number of statements per order."""

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer

from config.roles import SYSTEM
from integrations.services import api_key_create
from orders.api.serializers import OrderCreatedSerializer
from orders.models import Order
from stores.models import Stock, StockMovement
from tests.world import north

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


def ship_body(lines=None, **overrides) -> dict:
    lat, lng = north(1.0)
    body = {
        "channel": "mall",
        "lines": lines or [{"sku": "TV-55", "quantity": 1}],
        "delivery_method": "ship",
        "address": "1 Chang'an Ave",
        "latitude": str(lat),
        "longitude": str(lng),
    }
    body.update(overrides)
    return body


def post(client, body, key):
    return client.post(ORDERS, body, content_type="application/json", headers={"Idempotency-Key": key})


@pytest.fixture
def key_client(world):
    _key, plaintext = api_key_create(name="mall", channel=world.mall, scopes=["orders:write"], actor=SYSTEM)
    return Client(headers={"Authorization": f"Bearer {plaintext}"})


def test_an_order_key_of_255_characters_is_accepted_and_replayed(world, hq_client):
    world.stock(world.a, world.tv, 5)
    key = "k" * 255

    first = post(hq_client, ship_body(), key)
    again = post(hq_client, ship_body(), key)
    # the same meaning in other bytes: the view finds the order by its (hashed) key
    same = post(hq_client, ship_body(lines=[{"sku": world.tv.pk, "quantity": 1}]), key)

    assert first.status_code == 201, first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert same.status_code == 201, same.content
    assert same.headers["Idempotent-Replayed"] == "true"
    assert same.json()["number"] == first.json()["number"]
    order = Order.objects.get()
    assert len(order.idempotency_key) <= 128 and key not in order.idempotency_key
    assert Stock.objects.get(location=world.a, sku=world.tv).reserved == 1


def test_a_keyed_order_authenticates_its_api_key_once(world, key_client):
    world.stock(world.a, world.tv, 5)
    post(key_client, ship_body(), "warm-up")  # the key's last_used_at is written once a minute

    with CaptureQueriesContext(connection) as queries:
        response = post(key_client, ship_body(), "order-1")

    assert response.status_code == 201, response.content
    lookups = [q["sql"] for q in queries.captured_queries if 'FROM "integrations_apikey"' in q["sql"]]
    assert len(lookups) == 1


def test_a_bad_api_key_with_an_idempotency_key_is_401_and_stores_nothing(world):
    client = Client(headers={"Authorization": "Bearer abcdefgh.not-the-secret"})

    response = post(client, ship_body(), "order-1")

    assert response.status_code == 401
    assert response.json()["code"] == "key_invalid"
    assert not Order.objects.exists()


def test_a_two_line_order_is_a_fixed_few_statements_and_answers_what_it_wrote(world, key_client):
    world.stock(world.a, world.tv, 5)
    world.stock(world.a, world.phone, 5)
    post(key_client, ship_body(), "warm-up")
    lines = [{"sku": "TV-55", "quantity": 1}, {"sku": "PHONE-1", "quantity": 2}]

    with CaptureQueriesContext(connection) as queries:
        response = post(key_client, ship_body(lines=lines), "order-2")

    assert response.status_code == 201, response.content
    # Round trips: key, claim, SKUs (the key's channel is in hand), prices, the live promotions
    # (marketing.pricing; none here, so nothing more), route, the order, ONE
    # batch (lines, history, routing, outbox, ledger, 2 stock UPDATEs), the stored answer (+ the
    # test's transaction's savepoints). No lookup for a retry first, no query per line.
    # (SQLite takes one statement per call: there the batch is its 7 statements in a row.)
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert not [s for s in statements if 'FROM "catalog_channel"' in s or 'FROM "orders_order"' in s]
    assert len([s for s in statements if 'FROM "marketing_' in s]) == 1  # one read: no promotion live
    assert "\n".join(statements).count("UPDATE stores_stock") == 2
    assert statements[-2].rstrip().endswith("RETURNING id")  # the stock is the last thing touched
    if connection.vendor == "postgresql":
        assert len(statements) <= 9, "\n".join(statements)
        batch = [s for s in statements if s.startswith('INSERT INTO "orders_orderline"')]
        assert len(batch) == 1 and batch[0].count("UPDATE stores_stock") == 2
    else:
        assert len(statements) <= 15, "\n".join(statements)
    order = Order.objects.get(number=response.json()["number"])
    body = response.json()
    assert [(line["sku_code"], line["quantity"]) for line in body["lines"]] == [("TV-55", 1), ("PHONE-1", 2)]
    assert [line["id"] for line in body["lines"]] == list(order.lines.values_list("pk", flat=True))
    assert body["routing_decisions"][0]["location"]["code"] == "A"
    # what was written, as a fresh read of the order shows it
    stored = Order.objects.prefetch_related("lines__sku", "routing_decisions__location").get(pk=order.pk)
    assert body == json.loads(JSONRenderer().render(OrderCreatedSerializer(stored).data))
    moves = StockMovement.objects.filter(reference=order.number, kind="reservation")
    assert sorted(moves.values_list("stock__sku__code", "reserved_delta")) == [("PHONE-1", 2), ("TV-55", 1)]
