"""Idempotency keys never get stuck (issue 14, defect 6): only answers decided by the request's content
are stored (Stripe's rule: never an auth, throttle or scope refusal, never a 5xx), and an in-progress
claim is a lease that expires after the request timeout, so a worker killed mid-request does not
hold its key for 24 hours."""

import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from config.roles import SYSTEM
from integrations.idempotency import idempotency_purge, request_fingerprint
from integrations.models import IdempotentRequest
from integrations.services import api_key_create
from members.models import Member
from tests.factories import ChannelFactory, StoreFactory, hq_user

pytestmark = pytest.mark.django_db

UPSERT = "/api/v1/members/upsert/"


def post(client, body, key, **extra):
    headers = {"Idempotency-Key": key}
    return client.post(UPSERT, body, content_type="application/json", headers=headers, **extra)


def machine(scopes):
    channel = ChannelFactory(code="jd", name="JD")
    api_key, plaintext = api_key_create(name="JD", channel=channel, scopes=scopes, actor=SYSTEM)
    return api_key, Client(headers={"Authorization": f"Bearer {plaintext}"})


def lease() -> timedelta:
    return timedelta(seconds=django_settings.IDEMPOTENCY_LEASE_SECONDS)


def test_a_throttled_answer_is_not_stored_and_the_retry_runs(settings):
    _key, client = machine(["members:write", "members:read"])
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "1/min"}}
    assert post(client, {"phone": "13900139000"}, key="first").status_code == 201

    throttled = post(client, {"phone": "13800138000"}, key="retry-me")
    assert throttled.status_code == 429
    assert not IdempotentRequest.objects.filter(key="retry-me").exists()
    cache.clear()  # the minute has passed

    retried = post(client, {"phone": "13800138000"}, key="retry-me")

    assert retried.status_code == 201, retried.content
    assert "Idempotent-Replayed" not in retried.headers
    assert Member.objects.filter(phone="13800138000").exists()
    assert IdempotentRequest.objects.get(key="retry-me").status_code == 201


def test_a_missing_scope_is_not_stored_and_runs_once_the_scope_is_granted():
    api_key, client = machine(["members:read"])

    refused = post(client, {"phone": "13800138000"}, key="scoped")
    assert refused.status_code == 403
    assert refused.json()["code"] == "scope_missing"
    assert not IdempotentRequest.objects.exists()
    api_key.scopes = ["members:read", "members:write"]
    api_key.save()

    retried = post(client, {"phone": "13800138000"}, key="scoped")

    assert retried.status_code == 201, retried.content
    assert "Idempotent-Replayed" not in retried.headers
    assert Member.objects.count() == 1


def test_a_refusal_of_the_person_is_not_stored(client):
    clerk = hq_user()
    clerk.is_superuser = False
    clerk.is_staff = False
    clerk.groups.clear()
    clerk.save()
    client.force_login(clerk)

    refused = post(client, {"phone": "13800138000"}, key="who-am-i")

    assert refused.status_code in (401, 403, 404)
    assert not IdempotentRequest.objects.exists()


def _claim_left_by_a_dead_worker(user, body, key, *, age):
    """The row a worker killed mid-request leaves: claimed, no answer."""
    from django.test import RequestFactory

    request = RequestFactory().post(UPSERT, body, content_type="application/json")
    row = IdempotentRequest.objects.create(
        owner=f"user:{user.pk}", key=key, method="POST", path=UPSERT, fingerprint=request_fingerprint(request)
    )
    IdempotentRequest.objects.filter(pk=row.pk).update(created_at=timezone.now() - age)
    return row


def test_a_claim_whose_lease_ran_out_is_taken_over_by_the_retry(hq_client, hq):
    body = {"phone": "13800138000"}
    _claim_left_by_a_dead_worker(hq, body, "dead", age=lease() + timedelta(seconds=1))

    retried = post(hq_client, body, key="dead")

    assert retried.status_code == 201, retried.content
    assert "Idempotent-Replayed" not in retried.headers
    assert Member.objects.count() == 1
    row = IdempotentRequest.objects.get(key="dead")
    assert row.status_code == 201
    assert row.created_at > timezone.now() - timedelta(minutes=1)


def test_a_claim_within_its_lease_is_still_in_progress(hq_client, hq):
    body = {"phone": "13800138000"}
    _claim_left_by_a_dead_worker(hq, body, "busy", age=lease() - timedelta(seconds=5))

    response = post(hq_client, body, key="busy")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_in_progress"
    assert not Member.objects.exists()


def test_purge_removes_expired_leases_and_keeps_live_ones(hq, capsys):
    _claim_left_by_a_dead_worker(hq, {"phone": "1"}, "dead", age=lease() + timedelta(seconds=1))
    _claim_left_by_a_dead_worker(hq, {"phone": "2"}, "running", age=timedelta(seconds=1))

    call_command("idempotency_purge")

    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["running"]
    assert "Deleted 1 " in capsys.readouterr().out
    assert idempotency_purge(now=timezone.now() + lease() + timedelta(seconds=2)) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_retries_of_a_dead_claim_at_once_run_it_once(monkeypatch):
    user = hq_user()
    StoreFactory()
    body = {"phone": "13800138000"}
    _claim_left_by_a_dead_worker(user, body, "dead-race", age=lease() + timedelta(seconds=1))
    from members.api import views as member_views

    real = member_views.member_upsert

    def slow(**kwargs):
        time.sleep(0.3)
        return real(**kwargs)

    monkeypatch.setattr(member_views, "member_upsert", slow)
    barrier = threading.Barrier(2)
    answers = []

    def send():
        try:
            client = Client()
            client.force_login(user)
            barrier.wait()
            answers.append(post(client, body, key="dead-race"))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201, 409], [a.content for a in answers]
    assert next(a for a in answers if a.status_code == 409).json()["code"] == "idempotency_in_progress"
    assert Member.objects.count() == 1
    assert IdempotentRequest.objects.get().status_code == 201
