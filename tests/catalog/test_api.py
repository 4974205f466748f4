"""/api/v1/ catalog endpoints: reference data, price versions, price writes and live prices."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

from catalog.choices import ChannelKind, PriceAction
from catalog.models import SKU, Price, PriceChange
from catalog.services import price_set
from config.roles import SYSTEM
from tests.factories import (
    CategoryFactory,
    ChannelFactory,
    DealerChannelFactory,
    ProductFactory,
    SKUFactory,
    StoreFactory,
    clerk_at,
)
from tests.helpers import assert_error

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 1, 1, 0, 0, tzinfo=SHANGHAI)


def at(days: int = 0, hours: int = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


@pytest.fixture
def mall(db):
    return ChannelFactory(code="mall", kind=ChannelKind.OWN_MALL)


@pytest.fixture
def tmall(db):
    return ChannelFactory(code="tmall", kind=ChannelKind.MARKETPLACE)


@pytest.fixture
def dealer(db):
    return DealerChannelFactory(code="dealer-east", margin_floor_percent=Decimal("10.00"))


@pytest.fixture
def sku(db):
    return SKUFactory(code="TV-55", dealer_cost=Decimal("1000.00"))


@pytest.fixture
def clerk_client(client, db):
    client.force_login(clerk_at(StoreFactory()))
    return client


def price_counts() -> tuple[int, int]:
    return Price.objects.count(), PriceChange.objects.count()


# --- access ---------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/api/v1/channels/", "/api/v1/prices/", "/api/v1/prices/live/?sku=1&channel=1"]
)
def test_anonymous_caller_is_refused_in_the_error_shape(client, url):
    body = assert_error(client.get(url), 403, "not_authenticated")
    assert body["fields"] == {}


# --- reference data -------------------------------------------------------------------------------


def test_channels_filter_by_kind(hq_client, mall, tmall, dealer):
    response = hq_client.get("/api/v1/channels/?kind=dealer")

    assert response.status_code == 200
    body = response.json()
    assert [row["code"] for row in body["results"]] == ["dealer-east"]
    assert body["results"][0]["margin_floor_percent"] == "10.00"


def test_channel_filter_with_an_unknown_kind_is_a_field_error(hq_client, mall):
    assert_error(hq_client.get("/api/v1/channels/?kind=bazaar"), 400, "invalid", field="kind")


def test_lists_are_paginated_with_page_size(hq_client, db):
    for n in range(5):
        ChannelFactory(code=f"ch-{n}")

    first = hq_client.get("/api/v1/channels/?page_size=2").json()
    last = hq_client.get("/api/v1/channels/?page_size=2&page=3").json()

    assert first["count"] == 5
    assert [row["code"] for row in first["results"]] == ["ch-0", "ch-1"]
    assert first["next"].endswith("page=2&page_size=2")
    assert first["previous"] is None
    assert [row["code"] for row in last["results"]] == ["ch-4"]
    assert last["next"] is None


def test_page_past_the_end_is_404_in_the_error_shape(hq_client, mall):
    assert_error(hq_client.get("/api/v1/channels/?page=9"), 404, "not_found")


def test_categories_filter_by_parent(hq_client, db):
    tv = CategoryFactory(code="tv")
    CategoryFactory(code="oled", parent=tv)
    CategoryFactory(code="phones")

    body = hq_client.get(f"/api/v1/categories/?parent={tv.pk}").json()

    assert [(row["code"], row["parent"]) for row in body["results"]] == [("oled", tv.pk)]


def test_products_list_nests_their_skus(hq_client, db):
    product = ProductFactory(code="SPU-TV", name="Super TV")
    SKUFactory(product=product, code="TV-65")
    SKUFactory(product=product, code="TV-55")
    ProductFactory(code="SPU-PHONE", name="Phone")

    body = hq_client.get("/api/v1/products/?q=tv").json()

    assert body["count"] == 1
    row = body["results"][0]
    assert row["code"] == "SPU-TV"
    assert row["category_code"] == product.category.code
    assert [s["code"] for s in row["skus"]] == ["TV-55", "TV-65"]


def test_products_list_costs_the_same_queries_for_3_or_30_products(hq_client, db, django_assert_num_queries):
    def add_products(n):
        for _ in range(n):
            SKUFactory.create_batch(2, product=ProductFactory())

    add_products(3)
    small = count_queries(hq_client, "/api/v1/products/")
    add_products(27)

    with django_assert_num_queries(small):
        response = hq_client.get("/api/v1/products/")
    assert response.json()["count"] == 30
    assert all(len(row["skus"]) == 2 for row in response.json()["results"])


def test_skus_filter_by_category_and_text(hq_client, db):
    tv = CategoryFactory(code="tv")
    wanted = SKUFactory(code="TV-55", product=ProductFactory(category=tv))
    SKUFactory(code="TV-65", product=ProductFactory())
    SKUFactory(code="PHONE-1", product=ProductFactory(category=tv))

    body = hq_client.get(f"/api/v1/skus/?category={tv.pk}&q=tv").json()

    assert [row["code"] for row in body["results"]] == ["TV-55"]
    assert body["results"][0]["product_code"] == wanted.product.code


def test_dealer_cost_is_shown_to_hq_only(hq_client, client, sku):
    hq_row = hq_client.get(f"/api/v1/skus/{sku.pk}/").json()
    client.force_login(clerk_at(StoreFactory()))
    clerk_row = client.get(f"/api/v1/skus/{sku.pk}/").json()

    assert hq_row["dealer_cost"] == "1000.00"
    assert clerk_row["dealer_cost"] is None
    assert clerk_row["code"] == "TV-55"


# --- price versions: reading ----------------------------------------------------------------------


def test_price_list_filters_by_sku_code_and_all_channels(hq_client, sku, mall):
    price_set(sku=sku, channel=None, amount=Decimal("1999"), valid_from=at(), actor=SYSTEM)
    price_set(sku=sku, channel=mall, amount=Decimal("1899"), valid_from=at(), actor=SYSTEM)
    price_set(sku=SKUFactory(), channel=None, amount=Decimal("5"), valid_from=at(), actor=SYSTEM)

    body = hq_client.get("/api/v1/prices/?sku_code=TV-55&all_channels=true").json()

    assert body["count"] == 1
    row = body["results"][0]
    assert (row["sku_code"], row["channel"], row["scope"]) == ("TV-55", None, "all")
    assert (row["amount"], row["currency"]) == ("1999.00", "CNY")


def test_clerk_may_read_price_versions(clerk_client, sku, mall):
    price_set(sku=sku, channel=mall, amount=Decimal("1899"), valid_from=at(), actor=SYSTEM)

    body = clerk_client.get("/api/v1/prices/").json()

    assert [(row["channel_code"], row["scope"]) for row in body["results"]] == [("mall", "channel")]


# --- price versions: writing ----------------------------------------------------------------------


def test_hq_sets_a_channel_price_by_codes_and_it_is_audited(hq_client, hq, sku, mall):
    response = hq_client.post(
        "/api/v1/prices/",
        {"sku": "TV-55", "channel": "mall", "amount": "1899.00", "valid_from": at().isoformat()},
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    price = Price.objects.get()
    assert (price.sku, price.channel, price.amount, price.valid_from) == (sku, mall, Decimal("1899.00"), at())
    assert price.created_by == hq
    change = PriceChange.objects.get()
    assert (change.action, change.new_amount, change.changed_by) == (PriceAction.SET, Decimal("1899.00"), hq)
    assert response.json()["id"] == price.pk
    assert response.json()["scope"] == "channel"


def test_a_code_with_a_nul_character_is_unknown_not_a_server_error(hq_client, sku, mall):
    # PostgreSQL refuses NUL in a query; found by the API fuzzing.
    response = hq_client.post(
        "/api/v1/prices/",
        {"sku": "TV-55\x00", "channel": "\x00", "amount": "1899.00", "valid_from": at().isoformat()},
        content_type="application/json",
    )

    assert response.status_code == 400, response.content
    assert set(response.json()["fields"]) == {"sku", "channel"}
    assert not Price.objects.exists()


def test_hq_sets_an_all_channels_price_by_ids_and_supersedes_the_open_one(hq_client, sku):
    old = price_set(sku=sku, channel=None, amount=Decimal("1999"), valid_from=at(), actor=SYSTEM)

    response = hq_client.post(
        "/api/v1/prices/",
        {"sku": sku.pk, "channel": None, "amount": "1799", "valid_from": at(days=10).isoformat()},
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    old.refresh_from_db()
    assert old.valid_to == at(days=10)
    new = Price.objects.get(pk=response.json()["id"])
    assert (new.channel, new.amount, new.valid_to) == (None, Decimal("1799.00"), None)
    assert PriceChange.objects.get(price=new).old_amount == Decimal("1999.00")


def test_a_sku_code_made_of_digits_wins_over_an_unrelated_id(hq_client, mall):
    by_id = SKUFactory()
    digits = SKUFactory(code=str(by_id.pk))
    # The SKU whose code is "<by_id.pk>" is meant, not the SKU with that primary key.
    response = hq_client.post(
        "/api/v1/prices/",
        {"sku": str(by_id.pk), "channel": "mall", "amount": "10"},
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    assert Price.objects.get().sku == digits


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        pytest.param({"channel": "mall", "amount": "0"}, "price_refused", "amount", id="zero"),
        pytest.param({"channel": "mall", "amount": "-5"}, "price_refused", "amount", id="negative"),
        pytest.param({"channel": "mall", "amount": "ten"}, "invalid", "amount", id="not-a-number"),
        pytest.param({"channel": "mall", "amount": "1.005"}, "invalid", "amount", id="sub-cent"),
        pytest.param(
            {
                "channel": "mall",
                "amount": "10",
                "valid_from": "2026-02-01T00:00",
                "valid_to": "2026-01-01T00:00",
            },
            "price_refused",
            "valid_to",
            id="window-ends-before-it-starts",
        ),
        pytest.param({"channel": "nowhere", "amount": "10"}, "invalid", "channel", id="unknown-channel"),
        pytest.param({"amount": "10"}, "invalid", "channel", id="channel-must-be-explicit"),
        pytest.param({"channel": "mall", "amount": "10", "sku": "NOPE"}, "invalid", "sku", id="unknown-sku"),
        pytest.param(
            {"channel": "mall", "amount": "10", "valid_from": "soon"}, "invalid", "valid_from", id="bad-date"
        ),
    ],
)
def test_bad_price_input_is_400_with_field_errors_and_writes_nothing(
    hq_client, sku, mall, payload, code, field
):
    before = price_counts()

    response = hq_client.post("/api/v1/prices/", {"sku": "TV-55", **payload}, content_type="application/json")

    assert_error(response, 400, code, field=field)
    assert price_counts() == before == (0, 0)


def test_unified_sku_refuses_a_channel_price_over_the_api(hq_client, mall):
    SKUFactory(code="UNI-1", unified=True)

    response = hq_client.post(
        "/api/v1/prices/",
        {"sku": "UNI-1", "channel": "mall", "amount": "99"},
        content_type="application/json",
    )

    body = assert_error(response, 400, "unified_sku_channel_price", field="channel")
    assert "UNI-1" in body["message"]
    assert price_counts() == (0, 0)


def test_overlapping_window_is_refused_and_leaves_the_existing_price_untouched(hq_client, sku, mall):
    existing = price_set(
        now=T0,
        sku=sku,
        channel=mall,
        amount=Decimal("1899"),
        valid_from=at(),
        valid_to=at(days=30),
        actor=SYSTEM,
    )
    before = price_counts()

    response = hq_client.post(
        "/api/v1/prices/",
        {"sku": "TV-55", "channel": "mall", "amount": "1799", "valid_from": at(days=10).isoformat()},
        content_type="application/json",
    )

    assert_error(response, 400, "price_window_overlap", field="valid_from")
    assert price_counts() == before == (1, 1)
    existing.refresh_from_db()
    assert (existing.amount, existing.valid_to) == (Decimal("1899.00"), at(days=30))


def test_price_below_dealer_margin_floor_is_refused_with_the_numbers(hq_client, sku, dealer):
    response = hq_client.post(
        "/api/v1/prices/",
        {"sku": "TV-55", "channel": "dealer-east", "amount": "1099.99"},
        content_type="application/json",
    )

    body = assert_error(response, 400, "below_dealer_margin_floor", field="amount")
    assert "1100.00" in body["message"] and "1000.00" in body["message"]
    assert price_counts() == (0, 0)


def test_only_hq_may_set_prices(clerk_client, sku, mall):
    response = clerk_client.post(
        "/api/v1/prices/",
        {"sku": "TV-55", "channel": "mall", "amount": "10"},
        content_type="application/json",
    )

    assert_error(response, 403, "permission_denied")
    assert price_counts() == (0, 0)


def test_hq_ends_a_price_and_the_end_is_audited(hq_client, hq, sku, mall):
    price = price_set(sku=sku, channel=mall, amount=Decimal("1899"), valid_from=at(), actor=SYSTEM)

    response = hq_client.post(
        f"/api/v1/prices/{price.pk}/end/", {"at": at(days=5).isoformat()}, content_type="application/json"
    )

    assert response.status_code == 200, response.content
    price.refresh_from_db()
    assert price.valid_to == at(days=5)
    assert response.json()["valid_to"] == timezone.localtime(at(days=5)).isoformat()
    ended = PriceChange.objects.get(action=PriceAction.ENDED)
    assert (ended.price, ended.old_amount, ended.changed_by) == (price, Decimal("1899.00"), hq)


def test_ending_a_price_outside_its_window_is_refused_and_changes_nothing(hq_client, sku, mall):
    price = price_set(
        now=T0,
        sku=sku,
        channel=mall,
        amount=Decimal("1899"),
        valid_from=at(),
        valid_to=at(days=3),
        actor=SYSTEM,
    )

    response = hq_client.post(
        f"/api/v1/prices/{price.pk}/end/", {"at": at(days=9).isoformat()}, content_type="application/json"
    )

    assert_error(response, 400, "price_refused", field="valid_to")
    price.refresh_from_db()
    assert price.valid_to == at(days=3)
    assert price_counts() == (1, 1)


def test_only_hq_may_end_prices(clerk_client, sku, mall):
    price = price_set(sku=sku, channel=mall, amount=Decimal("1899"), valid_from=at(), actor=SYSTEM)

    response = clerk_client.post(f"/api/v1/prices/{price.pk}/end/", {}, content_type="application/json")

    assert_error(response, 403, "permission_denied")
    price.refresh_from_db()
    assert price.valid_to is None
    assert price_counts() == (1, 1)


def test_ending_an_unknown_price_is_404(hq_client, db):
    assert_error(
        hq_client.post("/api/v1/prices/999/end/", {}, content_type="application/json"), 404, "not_found"
    )


# --- live prices ----------------------------------------------------------------------------------


def live(client, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return client.get(f"/api/v1/prices/live/?{query}")


def test_live_price_prefers_the_channels_own_price(clerk_client, sku, mall, tmall):
    price_set(sku=sku, channel=None, amount=Decimal("1999"), valid_from=at(), actor=SYSTEM)
    own = price_set(
        now=T0,
        sku=sku,
        channel=mall,
        amount=Decimal("1899"),
        valid_from=at(days=1),
        valid_to=at(days=5),
        actor=SYSTEM,
    )

    response = live(clerk_client, sku="TV-55", channel="mall", at=at(days=2).isoformat().replace("+", "%2B"))

    assert response.status_code == 200, response.content
    assert response.json() == {
        "sku": "TV-55",
        "sku_id": sku.pk,
        "channel": "mall",
        "channel_id": mall.pk,
        "at": timezone.localtime(at(days=2)).isoformat(),
        "price_id": own.pk,
        "amount": "1899.00",
        "currency": "CNY",
        "valid_from": timezone.localtime(at(days=1)).isoformat(),
        "valid_to": timezone.localtime(at(days=5)).isoformat(),
        "scope": "channel",
    }


def test_live_price_falls_back_to_all_channels_at_the_window_edge(clerk_client, sku, mall):
    price_set(sku=sku, channel=None, amount=Decimal("1999"), valid_from=at(), actor=SYSTEM)
    price_set(
        now=T0,
        sku=sku,
        channel=mall,
        amount=Decimal("1899"),
        valid_from=at(days=1),
        valid_to=at(days=5),
        actor=SYSTEM,
    )

    # valid_to is exclusive: at the very end of the channel price the all-channels price applies.
    body = live(clerk_client, sku=sku.pk, channel=mall.pk, at="2026-01-06T00:00:00").json()

    assert (body["amount"], body["scope"]) == ("1999.00", "all")


def test_live_price_defaults_to_now(clerk_client, sku, mall):
    price_set(
        sku=sku,
        channel=None,
        amount=Decimal("1999"),
        valid_from=timezone.now() - timedelta(hours=1),
        actor=SYSTEM,
    )

    body = live(clerk_client, sku="TV-55", channel="mall").json()

    assert body["amount"] == "1999.00"


def test_no_live_price_is_404_no_price(clerk_client, sku, mall):
    price_set(sku=sku, channel=None, amount=Decimal("1999"), valid_from=at(), actor=SYSTEM)

    body = assert_error(
        live(clerk_client, sku="TV-55", channel="mall", at="2025-12-31T23:59:59"), 404, "no_price"
    )
    assert "TV-55" in body["message"] and "mall" in body["message"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param({"sku": "TV-55"}, "channel", id="missing-channel"),
        pytest.param({"channel": "mall"}, "sku", id="missing-sku"),
        pytest.param({"sku": "NOPE", "channel": "mall"}, "sku", id="unknown-sku"),
        pytest.param({"sku": "TV-55", "channel": "nowhere"}, "channel", id="unknown-channel"),
        pytest.param({"sku": "TV-55", "channel": "mall", "at": "yesterday"}, "at", id="bad-instant"),
        pytest.param({"sku": "TV-55", "skus": "TV-55", "channel": "mall"}, "skus", id="sku-and-skus"),
    ],
)
def test_bad_live_price_query_is_400_with_field_errors(clerk_client, sku, mall, params, field):
    assert_error(live(clerk_client, **params), 400, "invalid", field=field)


@pytest.mark.parametrize("value", ["%C2%B2", "99999999999999999999999"])
def test_odd_ids_in_a_live_price_query_are_field_errors_not_500(clerk_client, sku, mall, value):
    # "²" passes str.isdigit() but not int(); a 23-digit id overflows a bigint.
    body = assert_error(live(clerk_client, sku=value, channel=value), 400, "invalid", field="sku")
    assert body["fields"]["channel"]


def test_batch_live_prices_answer_in_the_order_asked_with_null_for_no_price(clerk_client, mall):
    a, b, c = SKUFactory(code="A-1"), SKUFactory(code="B-1"), SKUFactory(code="C-1")
    price_set(sku=a, channel=None, amount=Decimal("10"), valid_from=at(), actor=SYSTEM)
    price_set(sku=a, channel=mall, amount=Decimal("9"), valid_from=at(), actor=SYSTEM)
    price_set(sku=c, channel=None, amount=Decimal("30"), valid_from=at(), actor=SYSTEM)

    response = live(
        clerk_client, skus=f"C-1,{b.pk},A-1", channel="mall", at=at(days=1).isoformat().replace("+", "%2B")
    )

    assert response.status_code == 200, response.content
    assert [(row["sku"], row["amount"], row["scope"]) for row in response.json()] == [
        ("C-1", "30.00", "all"),
        ("B-1", None, None),
        ("A-1", "9.00", "channel"),
    ]


def test_batch_live_prices_name_every_unknown_sku(clerk_client, sku, mall):
    body = assert_error(
        live(clerk_client, skus="TV-55,X-1,Y-2", channel="mall"), 400, "invalid", field="skus"
    )
    assert "X-1" in body["fields"]["skus"][0] and "Y-2" in body["fields"]["skus"][0]


def test_live_price_costs_the_same_queries_however_many_price_rows(
    clerk_client, mall, django_assert_num_queries
):
    sku = SKUFactory(code="TV-55")
    price_set(sku=sku, channel=None, amount=Decimal("100"), valid_from=at(), actor=SYSTEM)
    url = f"/api/v1/prices/live/?sku=TV-55&channel=mall&at={at(days=100).date()}T00:00"
    small = count_queries(clerk_client, url)
    for day in range(1, 30):  # 29 more versions of this SKU's price, and other SKUs' prices
        price_set(sku=sku, channel=None, amount=Decimal(100 + day), valid_from=at(days=day), actor=SYSTEM)
        price_set(sku=SKUFactory(), channel=mall, amount=Decimal("5"), valid_from=at(), actor=SYSTEM)

    with django_assert_num_queries(small):
        body = clerk_client.get(url).json()
    assert body["amount"] == "129.00"
    assert small <= 6  # session, user, roles, channel, SKU, price


def test_batch_live_prices_cost_the_same_queries_for_3_or_30_skus(
    clerk_client, mall, django_assert_num_queries
):
    def add_skus(n):
        for _ in range(n):
            sku = SKUFactory()
            price_set(sku=sku, channel=None, amount=Decimal("10"), valid_from=at(), actor=SYSTEM)
            price_set(sku=sku, channel=mall, amount=Decimal("9"), valid_from=at(days=1), actor=SYSTEM)

    def url():
        codes = ",".join(SKU.objects.values_list("code", flat=True))
        return f"/api/v1/prices/live/?skus={codes}&channel=mall&at=2026-01-03T00:00"

    add_skus(3)
    small = count_queries(clerk_client, url())
    add_skus(27)
    big_url = url()

    with django_assert_num_queries(small):
        body = clerk_client.get(big_url).json()
    assert len(body) == 30
    assert {row["amount"] for row in body} == {"9.00"}


# --- schema ---------------------------------------------------------------------------------------

API_PATHS = [
    "/api/v1/channels/",
    "/api/v1/categories/",
    "/api/v1/products/",
    "/api/v1/skus/",
    "/api/v1/prices/",
    "/api/v1/prices/{id}/end/",
    "/api/v1/prices/live/",
    "/api/v1/stores/",
    "/api/v1/stock/",
    "/api/v1/stock/availability/",
    "/api/v1/stock/{id}/movements/",
]


def test_schema_is_served_and_lists_the_catalog_and_stores_paths(client, db):
    response = client.get("/api/v1/schema/?format=json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in API_PATHS:
        assert path in paths, path
    assert "post" in paths["/api/v1/prices/"]
    assert paths["/api/v1/prices/live/"]["get"]["responses"]["404"]["content"]["application/json"][
        "schema"
    ] == {"$ref": "#/components/schemas/Error"}


def test_schema_generates_without_warnings(db):
    GENERATOR_STATS.reset()

    SchemaGenerator().get_schema(request=None, public=True)

    assert not GENERATOR_STATS, dict(GENERATOR_STATS._warn_cache) | dict(GENERATOR_STATS._error_cache)
