"""Idempotency-Key on every creating POST under /api/v1/ (integrations.idempotency): the first answer
is stored and replayed byte for byte for 24 hours, per owner; another request under a used key, or a
retry while the first still runs, is a 409; a server error gives the key back."""

import threading
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.roles import SYSTEM
from integrations.idempotency import IDEMPOTENCY_TTL, idempotency_purge, request_fingerprint
from integrations.models import IdempotentRequest
from members.models import Member
from orders.models import Order
from tests import world as shared_world
from tests.factories import ChannelFactory, StoreFactory, hq_user
from tests.helpers import assert_error, login
from tests.world import north

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"
UPSERT = "/api/v1/members/upsert/"

world = shared_world.world  # the orders tests' world fixture (channels, SKUs, stores A/B/C)


def post(client, url, body, key=None, **extra):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(url, body, content_type="application/json", headers=headers, **extra)


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
    body.update(overrides)
    return body


def assert_replay_of(replay, first):
    assert replay.status_code == first.status_code
    assert replay.content == first.content  # byte for byte
    assert replay["Content-Type"] == first["Content-Type"]
    assert replay["Idempotent-Replayed"] == "true"


# --- replay ---------------------------------------------------------------------------------------


def test_an_order_retried_with_the_key_is_the_stored_answer_byte_for_byte(world, hq_client, hq):
    world.stock(world.a, world.tv, 5)
    first = post(hq_client, ORDERS, ship_body(), key="order-7")
    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first.headers

    replay = post(hq_client, ORDERS, ship_body(), key="order-7")

    assert_replay_of(replay, first)
    assert Order.objects.count() == 1
    row = IdempotentRequest.objects.get()
    assert (row.owner, row.key, row.method, row.path) == (f"user:{hq.pk}", "order-7", "POST", ORDERS)
    assert row.status_code == 201
    assert bytes(row.response_body) == first.content
    assert row.response_headers["Content-Type"] == "application/json"
    assert len(row.fingerprint) == 64


def test_an_order_under_a_used_key_with_another_body_is_still_refused(world, hq_client):
    world.stock(world.a, world.tv, 5)
    post(hq_client, ORDERS, ship_body(), key="order-8")

    response = post(hq_client, ORDERS, ship_body(lines=[{"sku": "TV-55", "quantity": 2}]), key="order-8")

    assert_error(response, 409, "idempotency_conflict")
    assert Order.objects.count() == 1


def test_a_member_upsert_is_replayed_from_the_store_not_run_again(hq_client):
    first = post(hq_client, UPSERT, {"phone": "13800138000", "name": "Li Lei"}, key="m-1")
    assert first.status_code == 201, first.content
    Member.objects.update(name="Renamed since")  # a re-run would answer 200 with the new name

    replay = post(hq_client, UPSERT, {"phone": "13800138000", "name": "Li Lei"}, key="m-1")

    assert_replay_of(replay, first)
    assert replay.json()["name"] == "Li Lei"
    assert Member.objects.count() == 1


def test_a_refused_request_is_stored_and_replayed_too(hq_client):
    first = post(hq_client, UPSERT, {"phone": "12"}, key="bad-phone")
    assert first.status_code == 400, first.content

    replay = post(hq_client, UPSERT, {"phone": "12"}, key="bad-phone")

    assert_replay_of(replay, first)
    assert IdempotentRequest.objects.get().status_code == 400
    assert Member.objects.count() == 0


def test_without_a_key_nothing_is_stored(hq_client):
    post(hq_client, UPSERT, {"phone": "13800138000"})
    again = post(hq_client, UPSERT, {"phone": "13800138000"})

    assert again.status_code == 200
    assert "Idempotent-Replayed" not in again.headers
    assert not IdempotentRequest.objects.exists()


# --- refusals -------------------------------------------------------------------------------------


def test_the_same_key_with_another_body_is_409_and_runs_nothing(hq_client):
    post(hq_client, UPSERT, {"phone": "13800138000"}, key="m-2")

    response = post(hq_client, UPSERT, {"phone": "13900139000"}, key="m-2")

    body = assert_error(response, 409, "idempotency_conflict")
    assert body["fields"]["Idempotency-Key"]
    assert Member.objects.count() == 1


def test_the_same_key_on_another_path_is_409(hq_client):
    post(hq_client, UPSERT, {"phone": "13800138000"}, key="m-3")

    response = post(hq_client, ORDERS, {"phone": "13800138000"}, key="m-3")

    assert_error(response, 409, "idempotency_conflict")


def test_a_retry_while_the_first_still_runs_is_409_with_retry_after(hq_client, hq):
    first = post(hq_client, UPSERT, {"phone": "13800138000"}, key="m-4")
    IdempotentRequest.objects.update(status_code=None, response_body=None)  # as while it runs

    response = post(hq_client, UPSERT, {"phone": "13800138000"}, key="m-4")

    assert first.status_code == 201
    assert_error(response, 409, "idempotency_in_progress")
    assert response["Retry-After"] == "1"
    assert Member.objects.count() == 1


@pytest.mark.parametrize("key", ["k" * 256, "tab\there"])
def test_a_key_too_long_or_not_printable_is_400(hq_client, key):
    response = post(hq_client, UPSERT, {"phone": "13800138000"}, key=key)

    body = assert_error(response, 400, "invalid")
    assert body["fields"]["Idempotency-Key"]
    assert not Member.objects.exists()
    assert not IdempotentRequest.objects.exists()


def test_a_key_of_255_characters_is_accepted(hq_client):
    response = post(hq_client, UPSERT, {"phone": "13800138000"}, key="k" * 255)

    assert response.status_code == 201
    assert IdempotentRequest.objects.get().key == "k" * 255


def test_an_anonymous_caller_is_refused_by_the_view_and_nothing_is_stored(client):
    response = post(client, UPSERT, {"phone": "13800138000"}, key="anon")

    assert response.status_code in (401, 403)
    assert not IdempotentRequest.objects.exists()


# --- owners ---------------------------------------------------------------------------------------


def test_another_owner_may_use_the_same_key(hq_client, hq):
    other = hq_user()
    one = post(hq_client, UPSERT, {"phone": "13800138000"}, key="shared")
    two = post(login(other), UPSERT, {"phone": "13900139000"}, key="shared")

    assert one.status_code == two.status_code == 201
    assert "Idempotent-Replayed" not in two.headers
    assert Member.objects.count() == 2
    assert set(IdempotentRequest.objects.values_list("owner", flat=True)) == {
        f"user:{hq.pk}",
        f"user:{other.pk}",
    }


def test_an_api_key_is_its_own_owner(hq_client):
    """Depends on I1's key authentication (integrations.authentication)."""
    from integrations.services import api_key_create

    channel = ChannelFactory(code="jd", name="JD")
    key, plaintext = api_key_create(
        name="JD", channel=channel, scopes=["members:write", "members:read"], actor=SYSTEM
    )
    machine = Client(headers={"Authorization": f"Bearer {plaintext}"})

    first = post(machine, UPSERT, {"phone": "13800138000"}, key="shared")
    replay = post(machine, UPSERT, {"phone": "13800138000"}, key="shared")
    person = post(hq_client, UPSERT, {"phone": "13900139000"}, key="shared")

    assert_replay_of(replay, first)
    assert "Idempotent-Replayed" not in person.headers
    assert IdempotentRequest.objects.filter(owner=f"key:{key.pk}").count() == 1


# --- server errors and expiry -----------------------------------------------------------------------


def test_a_server_error_gives_the_key_back(hq, monkeypatch):
    client = Client(raise_request_exception=False)
    client.force_login(hq)

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("members.api.views.member_upsert", broken)
    failed = post(client, UPSERT, {"phone": "13800138000"}, key="m-5")
    assert failed.status_code == 500
    assert not IdempotentRequest.objects.exists()
    monkeypatch.undo()

    retried = post(client, UPSERT, {"phone": "13800138000"}, key="m-5")

    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert Member.objects.count() == 1
    assert IdempotentRequest.objects.get().status_code == 201


def test_an_answer_is_replayed_for_24_hours_then_the_key_runs_again(hq_client):
    first = post(hq_client, UPSERT, {"phone": "13800138000"}, key="m-6")
    IdempotentRequest.objects.update(created_at=timezone.now() - IDEMPOTENCY_TTL + timedelta(minutes=1))
    assert post(hq_client, UPSERT, {"phone": "13800138000"}, key="m-6")["Idempotent-Replayed"] == "true"

    IdempotentRequest.objects.update(created_at=timezone.now() - IDEMPOTENCY_TTL - timedelta(minutes=1))
    later = post(hq_client, UPSERT, {"phone": "13800138000"}, key="m-6")

    assert first.status_code == 201
    assert later.status_code == 200  # run again: the member exists now
    assert "Idempotent-Replayed" not in later.headers
    row = IdempotentRequest.objects.get()
    assert row.status_code == 200
    assert row.created_at > timezone.now() - timedelta(minutes=1)


def test_purge_deletes_rows_older_than_24_hours_only(hq_client, capsys):
    post(hq_client, UPSERT, {"phone": "13800138000"}, key="old")
    post(hq_client, UPSERT, {"phone": "13800138000"}, key="fresh")
    IdempotentRequest.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))

    call_command("idempotency_purge")

    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["fresh"]
    assert "Deleted 1 " in capsys.readouterr().out
    assert idempotency_purge(now=timezone.now() + timedelta(hours=25)) == 1
    assert not IdempotentRequest.objects.exists()


# --- concurrency (PostgreSQL) ---------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_requests_with_one_key_at_once_create_one_row_and_one_member(monkeypatch):
    user = hq_user()
    StoreFactory()
    from members.api import views as member_views

    real = member_views.member_upsert

    def slow(**kwargs):
        time.sleep(0.3)  # the first request is still running when the second arrives
        return real(**kwargs)

    monkeypatch.setattr(member_views, "member_upsert", slow)
    barrier = threading.Barrier(2)
    answers = []

    def send():
        try:
            client = Client()
            client.force_login(user)
            barrier.wait()
            answers.append(post(client, UPSERT, {"phone": "13800138000"}, key="race"))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = sorted(a.status_code for a in answers)
    assert statuses in ([201, 201], [201, 409]), [a.content for a in answers]
    losers = [a for a in answers if a.status_code == 409 or a.headers.get("Idempotent-Replayed")]
    assert len(losers) == 1
    if losers[0].status_code == 409:
        assert losers[0].json()["code"] == "idempotency_in_progress"
    print("race answers:", statuses)
    assert IdempotentRequest.objects.count() == 1
    assert IdempotentRequest.objects.get().status_code == 201
    assert Member.objects.count() == 1


def test_replays_count_against_the_keys_rate(settings):
    """Depends on I1's per-key throttle (integrations.throttling) and members' key scopes."""
    from integrations.services import api_key_create

    channel = ChannelFactory(code="jd", name="JD")
    _key, plaintext = api_key_create(
        name="JD", channel=channel, scopes=["members:write", "members:read"], actor=SYSTEM
    )
    machine = Client(headers={"Authorization": f"Bearer {plaintext}"})
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "2/min"}}

    first = post(machine, UPSERT, {"phone": "13800138000"}, key="rate")
    replay = post(machine, UPSERT, {"phone": "13800138000"}, key="rate")
    over = post(machine, UPSERT, {"phone": "13800138000"}, key="rate")

    assert first.status_code != 429
    assert_replay_of(replay, first)
    assert_error(over, 429, "throttled")
    assert 0 < int(over["Retry-After"]) <= 60


def test_a_replay_costs_a_fixed_few_queries(hq_client):
    post(hq_client, UPSERT, {"phone": "13800138000"}, key="cheap")

    with CaptureQueriesContext(connection) as ctx:
        replay = post(hq_client, UPSERT, {"phone": "13800138000"}, key="cheap")

    assert replay["Idempotent-Replayed"] == "true"
    # session + user, the claim that fails (an INSERT, inside a savepoint because the test runs in a
    # transaction: 3 more statements; a bare INSERT in autocommit) and the stored row
    assert len(ctx.captured_queries) == 7


def test_a_multipart_fingerprint_covers_fields_and_file_bytes_and_leaves_the_file_readable():
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import RequestFactory

    def fingerprint(content: bytes, note="broken screen"):
        request = RequestFactory().post(
            "/api/v1/tickets/", {"note": note, "photo": SimpleUploadedFile("a.png", content)}
        )
        value = request_fingerprint(request)
        assert request.FILES["photo"].read() == content  # the view still reads the whole upload
        return value

    assert fingerprint(b"one") == fingerprint(b"one")
    assert fingerprint(b"one") != fingerprint(b"two")
    assert fingerprint(b"one") != fingerprint(b"one", note="scratched")


def test_the_openapi_hook_documents_the_key_on_every_creating_post():
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    from integrations.idempotency import openapi_idempotency_hook

    schema = SchemaGenerator().get_schema(request=None, public=True)
    schema = openapi_idempotency_hook(openapi_idempotency_hook(schema, None, None, True), None, None, True)

    validate_schema(schema)  # still valid OpenAPI 3
    posts = {path: item["post"] for path, item in schema["paths"].items() if "post" in item}
    assert ORDERS in posts and UPSERT in posts
    for path, operation in posts.items():
        keys = [p for p in operation["parameters"] if (p["in"], p["name"]) == ("header", "Idempotency-Key")]
        assert len(keys) == 1, path  # once, even where the view documents it (orders) or run twice
        assert {"400", "409"} <= set(operation["responses"]), path
        created = [r for code, r in operation["responses"].items() if code.startswith("2")]
        assert all("Idempotent-Replayed" in r["headers"] for r in created), path
    assert (
        "at most 255"
        in next(p for p in posts[ORDERS]["parameters"] if p["name"] == "Idempotency-Key")["description"]
    )


def test_a_channel_key_places_an_order_once_and_another_key_may_reuse_its_idempotency_key(world):
    """Depends on I1's key scopes on the orders API (orders:write on the key's own channel)."""
    from integrations.services import api_key_create

    world.stock(world.a, world.tv, 5)
    _one, one_plaintext = api_key_create(
        name="mall 1", channel=world.mall, scopes=["orders:write"], actor=SYSTEM
    )
    _two, two_plaintext = api_key_create(
        name="mall 2", channel=world.mall, scopes=["orders:write"], actor=SYSTEM
    )
    one = Client(headers={"Authorization": f"Bearer {one_plaintext}"})
    two = Client(headers={"Authorization": f"Bearer {two_plaintext}"})

    first = post(one, ORDERS, ship_body(), key="tm-20260101-1")
    replay = post(one, ORDERS, ship_body(), key="tm-20260101-1")
    other = post(two, ORDERS, ship_body(), key="tm-20260101-1")

    assert first.status_code == 201, first.content
    assert_replay_of(replay, first)
    assert other.status_code == 201, other.content
    assert "Idempotent-Replayed" not in other.headers
    assert other.json()["number"] != first.json()["number"]
    assert Order.objects.count() == 2
    assert IdempotentRequest.objects.count() == 2
