"""Who reads dealer cost and dealer-channel prices, who sets prices, and price windows that break
the published schema (catalog.policies; issue 14, defects 4 and 7), through the API as each principal."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from catalog.choices import ChannelKind
from catalog.models import Price, PriceChange
from catalog.policies import may_see_dealer_cost, price_settable_by
from catalog.services import price_set
from config.roles import SYSTEM
from integrations.choices import Scope
from integrations.services import api_key_create
from tests.factories import (
    ChannelFactory,
    DealerChannelFactory,
    GuideFactory,
    SKUFactory,
    StoreFactory,
    clerk_at,
    hq_user,
)

pytestmark = pytest.mark.django_db

# RFC 3339 date-time as the schema's `format: date-time` means it: offsets in whole minutes.
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def key_client(channel, scopes=(Scope.CATALOG_READ,)) -> Client:
    _key, plaintext = api_key_create(name="k", channel=channel, scopes=list(scopes), actor=SYSTEM)
    return Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")


@pytest.fixture
def world():
    class World:
        mall = ChannelFactory(code="mall", kind=ChannelKind.OWN_MALL)
        dealer = DealerChannelFactory(code="dealer-north", margin_floor_percent=Decimal("8.00"))
        other_dealer = DealerChannelFactory(code="dealer-south", margin_floor_percent=Decimal("10.00"))
        sku = SKUFactory(code="TV-55", dealer_cost=Decimal("1000.00"))

    start = timezone.now() - timedelta(days=1)
    price_set(sku=World.sku, channel=None, amount=Decimal("1999"), valid_from=start, actor=SYSTEM)
    World.dealer_price = price_set(
        sku=World.sku, channel=World.dealer, amount=Decimal("1188"), valid_from=start, actor=SYSTEM
    )
    World.south_price = price_set(
        sku=World.sku, channel=World.other_dealer, amount=Decimal("1177"), valid_from=start, actor=SYSTEM
    )
    return World


def principals(world) -> dict[str, tuple[Client, bool]]:
    """Each principal and whether it may see dealer cost and the dealer-north channel's prices."""
    return {
        "self-registered guide": (logged_in(GuideFactory().user), False),
        "clerk": (logged_in(clerk_at(StoreFactory())), False),
        "mall key": (key_client(world.mall), False),
        "dealer key": (key_client(world.dealer), True),
        "hq": (logged_in(hq_user()), True),
    }


def test_dealer_cost_and_dealer_prices_only_to_hq_and_the_dealers_key(world):
    for who, (client, allowed) in principals(world).items():
        sku = client.get(f"/api/v1/skus/{world.sku.pk}/").json()
        assert sku["dealer_cost"] == ("1000.00" if allowed else None), who
        product = client.get(f"/api/v1/products/{world.sku.product_id}/").json()
        assert product["skus"][0]["dealer_cost"] == ("1000.00" if allowed else None), who

        listed = client.get("/api/v1/prices/", {"sku": world.sku.pk}).json()["results"]
        codes = {row["channel_code"] for row in listed}
        assert (world.dealer.code in codes) is allowed, who
        assert None in codes  # the all-channels price is public
        text = client.get("/api/v1/prices/").content.decode()
        assert ("1188.00" in text) is allowed, who

        detail = client.get(f"/api/v1/prices/{world.dealer_price.pk}/")
        assert detail.status_code == (200 if allowed else 404), who

        live = client.get("/api/v1/prices/live/", {"sku": "TV-55", "channel": "dealer-north"})
        assert live.status_code == (200 if allowed else 403), (who, live.content)
        if allowed:
            assert live.json()["amount"] == "1188.00"
        else:
            assert live.json()["code"] == "permission_denied" and "1188" not in live.content.decode()

        channels = {row["code"]: row for row in client.get("/api/v1/channels/").json()["results"]}
        assert channels["dealer-north"]["margin_floor_percent"] == ("8.00" if allowed else None), who


def test_a_dealer_key_does_not_read_another_dealers_prices(world):
    client = key_client(world.dealer)
    text = client.get("/api/v1/prices/").content.decode()
    assert "1188.00" in text and "1177.00" not in text
    assert client.get(f"/api/v1/prices/{world.south_price.pk}/").status_code == 404
    live = client.get("/api/v1/prices/live/", {"sku": "TV-55", "channel": "dealer-south"})
    assert live.status_code == 403


def test_policy_answers_for_each_principal(world):
    hq, clerk, guide = hq_user(), clerk_at(StoreFactory()), GuideFactory().user
    assert may_see_dealer_cost(hq) and not may_see_dealer_cost(clerk) and not may_see_dealer_cost(guide)
    assert price_settable_by(hq, world.dealer) and price_settable_by(hq, None)
    assert not price_settable_by(clerk, world.mall)
    with pytest.raises(Exception, match="Only HQ sets prices"):
        price_set(sku=world.sku, channel=world.mall, amount=Decimal("1"), actor=clerk)
    assert not Price.objects.filter(channel=world.mall).exists()


# --- defect 7: windows that break the schema ----------------------------------------------------


def test_a_price_dated_1800_is_refused_with_a_field_error(hq_client, world):
    response = hq_client.post(
        "/api/v1/prices/",
        {"sku": "TV-55", "channel": "mall", "amount": "10", "valid_from": "1800-01-01T00:00:00+08:00"},
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "price_refused" and body["fields"]["valid_from"]
    assert not Price.objects.filter(channel=world.mall).exists()
    assert not PriceChange.objects.filter(channel=world.mall).exists()


def test_a_window_wholly_in_the_past_is_refused(hq_client, world):
    now = timezone.now()
    response = hq_client.post(
        "/api/v1/prices/",
        {
            "sku": "TV-55",
            "channel": "mall",
            "amount": "10",
            "valid_from": (now - timedelta(days=10)).isoformat(),
            "valid_to": (now - timedelta(days=5)).isoformat(),
        },
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert response.json()["fields"]["valid_to"]
    assert not Price.objects.filter(channel=world.mall).exists()


def test_every_catalog_datetime_is_rfc3339_even_for_an_old_row(hq_client, world):
    # A row written before the floor existed (or by hand): the answers must still be valid.
    old = Price.objects.create(
        sku=world.sku,
        channel=world.mall,
        amount=Decimal("5"),
        valid_from=datetime(1800, 1, 1, tzinfo=UTC),
        valid_to=datetime(1800, 2, 1, tzinfo=UTC),
    )
    rows = hq_client.get("/api/v1/prices/", {"sku": world.sku.pk}).json()["results"]
    values = [row[name] for row in rows for name in ("valid_from", "valid_to", "created_at") if row[name]]
    assert values and all(RFC3339.match(value) for value in values), values
    assert hq_client.get(f"/api/v1/prices/{old.pk}/").json()["valid_from"] == "1800-01-01T00:00:00Z"
    live = hq_client.get(
        "/api/v1/prices/live/", {"sku": "TV-55", "channel": "mall", "at": "1800-01-15T00:00:00Z"}
    ).json()
    assert RFC3339.match(live["at"]) and RFC3339.match(live["valid_from"]), live
    modern = hq_client.get(f"/api/v1/prices/{world.dealer_price.pk}/").json()["valid_from"]
    assert modern.endswith("+08:00")  # Shanghai time as before


# --- strict input -------------------------------------------------------------------------------


def test_unknown_fields_on_price_writes_are_refused_naming_them(hq_client, world):
    response = hq_client.post(
        "/api/v1/prices/",
        {"sku": "TV-55", "channel": "mall", "amount": "10", "valid_form": "2030-01-01T00:00:00Z"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "valid_form" in response.json()["fields"]
    assert not Price.objects.filter(channel=world.mall).exists()
    response = hq_client.post(
        f"/api/v1/prices/{world.dealer_price.pk}/end/", {"when": "now"}, content_type="application/json"
    )
    assert response.status_code == 400 and "when" in response.json()["fields"]
    world.dealer_price.refresh_from_db()
    assert world.dealer_price.valid_to is None
