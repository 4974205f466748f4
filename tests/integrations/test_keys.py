"""API keys: made once and shown once, only a hash at rest, refused when revoked, expired or
unknown (401 in the error shape), scopes per action (403 `scope_missing`), throttled per key (429
with Retry-After); people with sessions are unaffected."""

import hashlib
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.test import override_settings
from django.utils import timezone

from config.errors import DomainError
from config.roles import SYSTEM
from integrations.choices import Scope
from integrations.models import ApiKey
from integrations.services import api_key_create, api_key_revoke
from tests.factories import ChannelFactory, PartnerFactory
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def bearer(plaintext: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}


@pytest.fixture
def channel():
    return ChannelFactory()


@pytest.fixture
def made(channel):
    return api_key_create(name="Mall", channel=channel, scopes=[Scope.CATALOG_READ], actor=SYSTEM)


# --- lifecycle -------------------------------------------------------------------------------


def test_a_key_is_shown_once_and_only_its_hash_is_stored(made, channel):
    key, plaintext = made
    prefix, secret = plaintext.split(".")
    assert len(prefix) == 8 and len(secret) >= 32
    key.refresh_from_db()
    assert key.prefix == prefix
    assert key.hashed_key == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in key.hashed_key and plaintext not in str(
        ApiKey.objects.filter(pk=key.pk).values().get()
    )
    assert key.channel == channel and key.partner is None
    assert key.scopes == ["catalog:read"]


def test_two_keys_differ(channel):
    first = api_key_create(name="a", channel=channel, scopes=[Scope.CATALOG_READ], actor=SYSTEM)
    second = api_key_create(name="b", channel=channel, scopes=[Scope.CATALOG_READ], actor=SYSTEM)
    assert first[1] != second[1] and first[0].prefix != second[0].prefix


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scopes": ["catalog:read", "everything:write"]},
        {"scopes": []},
        {"scopes": ["catalog:read"], "partner": "both"},
        {"scopes": ["catalog:read"], "channel": None},
        {"scopes": ["catalog:read"], "expires_at": "past"},
        {"scopes": ["catalog:read"], "name": " "},
    ],
)
def test_a_key_with_unknown_scopes_or_a_bad_binding_is_refused(channel, kwargs):
    kwargs = {"name": "x", "channel": channel, **kwargs}
    if kwargs.get("partner") == "both":
        kwargs["partner"] = PartnerFactory()
    if kwargs.get("expires_at") == "past":
        kwargs["expires_at"] = timezone.now() - timedelta(seconds=1)
    with pytest.raises(DomainError) as caught:
        api_key_create(actor=SYSTEM, **kwargs)
    assert caught.value.code == "api_key_refused"
    assert not ApiKey.objects.exists()


def test_a_valid_key_reads_and_a_revoked_one_gets_401(client, made):
    key, plaintext = made
    assert client.get("/api/v1/channels/", **bearer(plaintext)).status_code == 200
    assert client.get("/api/v1/channels/", HTTP_X_API_KEY=plaintext).status_code == 200
    api_key_revoke(key=key, actor=SYSTEM)
    response = client.get("/api/v1/channels/", **bearer(plaintext))
    assert_error(response, 401, "key_revoked")
    assert response["WWW-Authenticate"].startswith("Bearer")
    revoked_at = ApiKey.objects.get(pk=key.pk).revoked_at
    api_key_revoke(key=key, actor=SYSTEM)  # revoking twice keeps the first time
    assert ApiKey.objects.get(pk=key.pk).revoked_at == revoked_at


def test_an_expired_key_gets_401(client, channel):
    key, plaintext = api_key_create(
        name="x",
        channel=channel,
        scopes=[Scope.CATALOG_READ],
        expires_at=timezone.now() + timedelta(hours=1),
        actor=SYSTEM,
    )
    assert client.get("/api/v1/channels/", **bearer(plaintext)).status_code == 200
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(client.get("/api/v1/channels/", **bearer(plaintext)), 401, "key_expired")


@pytest.mark.parametrize("presented", ["nonsense", "abcdefgh.wrong-secret", "", "a.b"])
def test_an_unknown_or_malformed_key_gets_401(client, made, presented):
    key, plaintext = made
    if presented == "":
        presented = f"{key.prefix}.{plaintext.split('.')[1][:-1]}x"  # right prefix, wrong secret
    assert_error(client.get("/api/v1/channels/", **bearer(presented)), 401, "key_invalid")


def test_a_key_changed_by_another_process_is_seen_on_the_next_request(client, made):
    # Each process keeps the keys it loaded, but reads the key's row on every request: a change
    # written elsewhere (another app server, the admin, SQL) takes effect at once.
    key, plaintext = made
    assert client.get("/api/v1/channels/", **bearer(plaintext)).status_code == 200
    ApiKey.objects.filter(pk=key.pk).update(scopes=[Scope.STOCK_READ])
    assert_error(client.get("/api/v1/channels/", **bearer(plaintext)), 403, "scope_missing")
    assert client.get("/api/v1/stock/", **bearer(plaintext)).status_code == 200
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(client.get("/api/v1/stock/", **bearer(plaintext)), 401, "key_expired")
    ApiKey.objects.filter(pk=key.pk).delete()
    assert_error(client.get("/api/v1/stock/", **bearer(plaintext)), 401, "key_invalid")


def test_anonymous_callers_keep_the_403_not_authenticated(client, made):
    assert_error(client.get("/api/v1/channels/"), 403, "not_authenticated")


def test_last_used_is_written_at_most_once_a_minute(client, made, django_assert_num_queries):
    key, plaintext = made
    assert key.last_used_at is None
    client.get("/api/v1/channels/", **bearer(plaintext))
    first = ApiKey.objects.get(pk=key.pk).last_used_at
    assert first is not None
    client.get("/api/v1/channels/", **bearer(plaintext))
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first
    # key lookup + channels count + page: no UPDATE within the minute
    with django_assert_num_queries(3):
        client.get("/api/v1/channels/", **bearer(plaintext))
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=first - timedelta(minutes=2))
    client.get("/api/v1/channels/", **bearer(plaintext))
    assert ApiKey.objects.get(pk=key.pk).last_used_at > first


# --- scopes ----------------------------------------------------------------------------------


def test_a_key_without_the_scope_gets_403_scope_missing(client, made):
    _key, plaintext = made
    assert client.get("/api/v1/skus/", **bearer(plaintext)).status_code == 200
    assert_error(client.get("/api/v1/stock/", **bearer(plaintext)), 403, "scope_missing")
    assert_error(client.get("/api/v1/orders/", **bearer(plaintext)), 403, "scope_missing")


def test_an_action_no_viewset_lists_is_closed_to_keys(client, channel):
    """Deny by default: a key with every scope still cannot use HQ-only or staff-only actions."""
    _key, plaintext = api_key_create(name="all", channel=channel, scopes=list(Scope.values), actor=SYSTEM)
    assert_error(client.get("/api/v1/segments/", **bearer(plaintext)), 403, "permission_denied")
    assert client.get("/api/v1/commission-rules/", **bearer(plaintext)).status_code == 403
    response = client.get("/api/v1/orders/queue/", {"store": "x"}, **bearer(plaintext))
    assert_error(response, 403, "scope_missing")


def test_people_are_unaffected_by_scopes(hq_client):
    assert hq_client.get("/api/v1/stock/").status_code == 200
    assert hq_client.get("/api/v1/orders/").status_code == 200


# --- throttling ------------------------------------------------------------------------------


def _rates(rate: str) -> dict:
    from django.conf import settings

    return {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": rate}}


def test_a_key_over_its_rate_gets_429_with_retry_after(client, made, channel):
    _key, plaintext = made
    _other, other_plaintext = api_key_create(
        name="other", channel=channel, scopes=[Scope.CATALOG_READ], actor=SYSTEM
    )
    with override_settings(REST_FRAMEWORK=_rates("2/min")):
        assert client.get("/api/v1/channels/", **bearer(plaintext)).status_code == 200
        assert client.get("/api/v1/channels/", **bearer(plaintext)).status_code == 200
        response = client.get("/api/v1/channels/", **bearer(plaintext))
        assert_error(response, 429, "throttled")
        assert 0 < int(response["Retry-After"]) <= 60
        # the bucket is per key: another key, and people, are not held back
        assert client.get("/api/v1/channels/", **bearer(other_plaintext)).status_code == 200


def test_people_are_not_throttled_per_key(hq_client):
    with override_settings(REST_FRAMEWORK=_rates("1/min")):
        for _ in range(3):
            assert hq_client.get("/api/v1/channels/").status_code == 200


# --- admin -----------------------------------------------------------------------------------


def test_admin_creates_a_key_shows_it_once_and_revokes(admin_client, channel):
    response = admin_client.post(
        "/admin/integrations/apikey/add/",
        {"name": "JD flagship", "channel": channel.pk, "scopes": ["catalog:read", "orders:write"]},
        follow=True,
    )
    assert response.status_code == 200
    key = ApiKey.objects.get()
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    plaintext = next(word for text in shown for word in text.split() if word.startswith(f"{key.prefix}."))
    prefix, secret = plaintext.split(".")
    assert key.hashed_key == hashlib.sha256(secret.encode()).hexdigest()
    assert key.created_by is not None
    assert key.scopes == ["catalog:read", "orders:write"]

    listing = admin_client.get("/admin/integrations/apikey/")
    assert key.prefix in listing.content.decode()
    assert secret not in listing.content.decode()
    assert secret not in admin_client.get(f"/admin/integrations/apikey/{key.pk}/change/").content.decode()

    admin_client.post(
        "/admin/integrations/apikey/",
        {"action": "revoke_keys", "_selected_action": [key.pk]},
        follow=True,
    )
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_admin_refuses_an_unknown_binding(admin_client, channel):
    response = admin_client.post(
        "/admin/integrations/apikey/add/",
        {"name": "two", "channel": channel.pk, "partner": PartnerFactory().pk, "scopes": ["catalog:read"]},
    )
    assert response.status_code == 200  # the form again, with the error
    assert not ApiKey.objects.exists()


def _api_routes():
    """(viewset class, HTTP method, action, initkwargs) of every route under /api/v1/."""
    from django.urls import get_resolver

    routes = []

    def walk(patterns):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                walk(pattern.url_patterns)
                continue
            callback = pattern.callback
            cls, actions = getattr(callback, "cls", None), getattr(callback, "actions", None)
            if cls is not None and actions:
                for method, action in actions.items():
                    routes.append((cls, method.upper(), action, getattr(callback, "initkwargs", {})))

    walk(get_resolver().url_patterns)
    return routes


def test_every_declared_key_scope_names_a_real_action_and_a_known_scope():
    """A typo in `key_scopes` would silently close an action to keys (or name a scope nobody
    can hold): each entry names a routed action and a Scope."""
    actions: dict[type, set[str]] = {}
    for cls, _method, action, _kwargs in _api_routes():
        actions.setdefault(cls, set()).add(action)
    declared = {cls: getattr(cls, "key_scopes", None) or {} for cls in actions}
    assert any(declared.values())
    for cls, scopes in declared.items():
        assert set(scopes) <= actions[cls], (cls.__name__, set(scopes) - actions[cls])
        assert {str(s) for s in scopes.values()} <= set(Scope.values), cls.__name__


def test_key_scopes_are_checked_on_every_api_route():
    """Deny by default holds only if KeyScopes, or a permission that refuses keys (HQ only, desk
    staff), guards each route as it is actually served (action-level permission_classes too)."""
    from integrations.authentication import KeyUser
    from integrations.permissions import KeyScopes

    key = ApiKey(prefix="abcdefgh", scopes=[])
    for cls, method, action, initkwargs in _api_routes():
        view = cls(action=action, **{k: v for k, v in initkwargs.items() if k != "suffix"})
        permissions = view.get_permissions()
        if any(isinstance(p, KeyScopes) for p in permissions):
            continue
        request = type("R", (), {"user": KeyUser(key), "method": method})()
        refused = any(not p.has_permission(request, view) for p in permissions)
        assert refused, f"{cls.__name__}.{action} lets an API key through without a scope check"


# --- the HQ API and the command --------------------------------------------------------------


def test_hq_makes_lists_and_revokes_keys_through_the_api(hq_client, channel):
    response = hq_client.post(
        "/api/v1/api-keys/",
        {"name": "JD", "channel": channel.code, "scopes": ["orders:write", "catalog:read"]},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    key = ApiKey.objects.get()
    assert body["key"].startswith(f"{key.prefix}.") and body["channel"] == channel.code
    assert key.scopes == ["catalog:read", "orders:write"]
    listed = hq_client.get("/api/v1/api-keys/").json()["results"]
    assert [row["prefix"] for row in listed] == [key.prefix] and "key" not in listed[0]
    assert hq_client.post(f"/api/v1/api-keys/{key.pk}/revoke/").json()["revoked_at"]
    assert_error(hq_client.get("/api/v1/channels/", **bearer(body["key"])), 401, "key_revoked")


def test_the_api_refuses_bad_keys_and_non_hq_callers(hq_client, client, made, channel):
    bad = {"name": "x", "channel": channel.code, "partner": PartnerFactory().code, "scopes": ["catalog:read"]}
    assert_error(
        hq_client.post("/api/v1/api-keys/", bad, content_type="application/json"), 400, "api_key_refused"
    )
    _key, plaintext = api_key_create(name="all", channel=channel, scopes=list(Scope.values), actor=SYSTEM)
    assert_error(client.get("/api/v1/api-keys/", **bearer(plaintext)), 403, "permission_denied")


def test_the_command_prints_a_key_once(channel, capsys):
    from django.core.management import call_command

    call_command("api_key_create", name="Mall", channel=channel.code, scopes="catalog:read,orders:read")
    plaintext = capsys.readouterr().out.strip()
    key = ApiKey.objects.get()
    assert plaintext.startswith(f"{key.prefix}.") and key.scopes == ["catalog:read", "orders:read"]


# --- HTTP Basic on /api/v1/api-keys/: a key made with curl -------------------------------------


def basic(email: str, password: str = "pass-1234-word") -> dict:
    import base64

    token = base64.b64encode(f"{email}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


@pytest.fixture
def basic_client():
    from django.core.cache import cache
    from django.test import Client

    cache.clear()  # allauth's failed-login counters live in the cache
    yield Client(enforce_csrf_checks=True)
    cache.clear()


def test_an_hq_admin_makes_a_key_with_http_basic_and_sees_it_once(basic_client, channel):
    from tests.factories import hq_user

    admin = hq_user()
    body = {"name": "Tmall flagship", "channel": channel.code, "scopes": ["orders:read", "orders:write"]}

    response = basic_client.post(
        "/api/v1/api-keys/", body, content_type="application/json", **basic(admin.email)
    )

    assert response.status_code == 201, response.content
    made = response.json()
    key = ApiKey.objects.get()
    assert made["key"].startswith(f"{key.prefix}.") and made["partner"] is None
    assert key.created_by == admin and key.scopes == ["orders:read", "orders:write"]
    assert "sessionid" not in response.cookies  # Basic makes no session
    listed = basic_client.get("/api/v1/api-keys/", **basic(admin.email))
    assert listed.status_code == 200 and "key" not in listed.json()["results"][0]
    assert basic_client.get("/api/v1/orders/", **bearer(made["key"])).status_code == 200
    revoked = basic_client.post(f"/api/v1/api-keys/{key.pk}/revoke/", **basic(admin.email))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]


def test_basic_is_refused_for_wrong_passwords_other_roles_and_other_endpoints(basic_client, channel):
    from tests.factories import StoreFactory, clerk_at, hq_user

    admin = hq_user()
    body = {"name": "x", "channel": channel.code, "scopes": ["catalog:read"]}

    wrong = basic_client.post(
        "/api/v1/api-keys/", body, content_type="application/json", **basic(admin.email, "no")
    )
    assert_error(wrong, 401, "authentication_failed")
    assert wrong["WWW-Authenticate"] == 'Basic realm="api-keys"'
    clerk = clerk_at(StoreFactory())
    as_clerk = basic_client.post(
        "/api/v1/api-keys/", body, content_type="application/json", **basic(clerk.email)
    )
    assert_error(as_clerk, 403, "permission_denied")
    # Basic opens the key endpoints only: elsewhere it is no credential at all.
    assert_error(basic_client.get("/api/v1/orders/", **basic(admin.email)), 403, "not_authenticated")
    assert_error(basic_client.get("/api/v1/api-keys/"), 403, "not_authenticated")
    assert not ApiKey.objects.exists()


def test_basic_is_refused_for_an_account_with_two_factor_authentication(basic_client, channel):
    from allauth.mfa.models import Authenticator

    from tests.factories import hq_user

    admin = hq_user()
    Authenticator.objects.create(user=admin, type=Authenticator.Type.TOTP, data={"secret": "x"})

    response = basic_client.get("/api/v1/api-keys/", **basic(admin.email))

    body = assert_error(response, 401, "mfa_required")
    assert "two-factor" in body["message"]


def test_failed_basic_attempts_hit_the_login_limits(basic_client):
    from tests.factories import hq_user

    admin = hq_user()
    for _attempt in range(5):
        assert basic_client.get("/api/v1/api-keys/", **basic(admin.email, "guess")).status_code == 401

    response = basic_client.get("/api/v1/api-keys/", **basic(admin.email))  # even the right password

    assert_error(response, 429, "throttled")
    assert response["Retry-After"]


def test_failed_basic_attempts_from_one_address_do_not_lock_the_owner_out_elsewhere(basic_client):
    # docs/security.md, "Sign-in limits": per account and address, with an account-wide ceiling.
    from tests.factories import hq_user

    admin = hq_user()
    for _attempt in range(5):
        basic_client.get("/api/v1/api-keys/", REMOTE_ADDR="203.0.113.7", **basic(admin.email, "guess"))
    spoofed = basic_client.get(
        "/api/v1/api-keys/",
        REMOTE_ADDR="203.0.113.7",
        HTTP_X_FORWARDED_FOR="198.51.100.1",
        **basic(admin.email),
    )
    assert_error(spoofed, 429, "throttled")  # X-Forwarded-For from a client is not its address

    owner = basic_client.get("/api/v1/api-keys/", REMOTE_ADDR="198.51.100.9", **basic(admin.email))

    assert owner.status_code == 200


def test_the_readme_flow_key_by_curl_then_an_idempotent_order(basic_client):
    """docs/integrating.md: the curl commands, with the same bodies and headers."""
    from orders.models import Order
    from tests.factories import hq_user
    from tests.world import World

    world = World()
    ChannelFactory(code="jd", name="JD flagship")
    world.stock(world.a, world.tv, 3)
    hq_user(email="ops@brand.example")
    made = basic_client.post(
        "/api/v1/api-keys/",
        {
            "name": "JD flagship",
            "channel": "jd",
            "scopes": ["catalog:read", "stock:read", "orders:read", "orders:write", "members:write"],
            "expires_at": "2027-12-31T23:59:59+08:00",
        },
        content_type="application/json",
        **basic("ops@brand.example"),
    )
    assert made.status_code == 201, made.content
    key = made.json()["key"]
    order = {
        "channel": "jd",
        "external_reference": "JD-000123",
        "delivery_method": "ship",
        "member_phone": "13800138000",
        "recipient_name": "Li Na",
        "address": "1 Chang'an Ave",
        "latitude": "39.9087",
        "longitude": "116.3975",
        "lines": [{"sku": "TV-55", "quantity": 1}],
    }
    headers = {**bearer(key), "HTTP_IDEMPOTENCY_KEY": "jd-20261122-000123"}

    first = basic_client.post("/api/v1/orders/", order, content_type="application/json", **headers)
    again = basic_client.post("/api/v1/orders/", order, content_type="application/json", **headers)

    assert first.status_code == 201, first.content
    assert again.status_code == 201 and again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    created = Order.objects.get()
    assert created.channel.code == "jd" and created.external_reference == "JD-000123"
    assert first.json()["number"] == created.number
    other = {**order, "external_reference": "JD-000124"}
    conflict = basic_client.post("/api/v1/orders/", other, content_type="application/json", **headers)
    assert_error(conflict, 409, "idempotency_conflict")
    assert Order.objects.count() == 1
