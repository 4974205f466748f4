"""One error shape under /api/: unknown URLs, wrong methods, refusals and crashes all answer
{"code", "message", "fields"} as JSON - never an HTML page, a traceback or SQL text."""

import json

import pytest
from django.test import Client

from catalog.api import views as catalog_api

pytestmark = pytest.mark.django_db


def _shape(response):
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"code", "message", "fields"}, body
    assert isinstance(body["fields"], dict)
    text = response.content.decode()
    assert "Traceback" not in text and "SELECT" not in text
    return body


def test_unknown_api_url_is_a_json_404(hq_client):
    response = hq_client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert _shape(response)["code"] == "not_found"


def test_unknown_api_url_is_a_json_404_for_anonymous_too(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    _shape(response)


def test_unknown_object_is_a_json_404(hq_client):
    response = hq_client.get("/api/v1/channels/999999/")
    assert response.status_code == 404
    assert _shape(response)["code"] == "not_found"


def test_pages_keep_the_html_404(hq_client):
    response = hq_client.get("/portal/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_wrong_method_is_a_json_405_with_allow(hq_client):
    response = hq_client.delete("/api/v1/orders/")
    assert response.status_code == 405
    assert _shape(response)["code"] == "method_not_allowed"
    assert "GET" in response["Allow"]


def test_anonymous_is_refused_in_the_shape(client):
    response = client.get("/api/v1/orders/")
    assert response.status_code in (401, 403)
    assert _shape(response)["code"] == "not_authenticated"


def test_bad_input_names_the_fields(hq_client):
    response = hq_client.post(
        "/api/v1/members/upsert/", {"home_store": "not-a-number"}, content_type="application/json"
    )
    assert response.status_code == 400
    body = _shape(response)
    assert body["code"] == "invalid"
    assert "home_store" in body["fields"]


def test_malformed_json_is_a_400_in_the_shape(hq_client):
    response = hq_client.post("/api/v1/members/upsert/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert _shape(response)["code"] == "parse_error"


def test_a_crash_is_a_json_500_without_traceback_or_sql(hq, monkeypatch):
    def explode(self, request, *args, **kwargs):
        raise RuntimeError("SELECT secret FROM catalog_channel -- boom")

    monkeypatch.setattr(catalog_api.ChannelViewSet, "list", explode)
    client = Client(raise_request_exception=False)
    client.force_login(hq)
    response = client.get("/api/v1/channels/")
    assert response.status_code == 500
    body = _shape(response)
    assert body["code"] == "server_error"
    assert "boom" not in response.content.decode()


def test_a_csv_endpoint_answers_its_errors_in_json(hq_client):
    response = hq_client.get("/api/v1/statements/999999/csv/")
    assert response.status_code == 404
    assert _shape(response)["code"] == "not_found"


def test_a_malformed_id_is_a_404_not_a_500(hq_client):
    response = hq_client.get("/api/v1/stock/null,null/movements/")
    assert response.status_code == 404
    _shape(response)


def test_an_id_past_the_integer_range_is_not_a_500(hq_client):
    response = hq_client.get("/api/v1/stock/?location=-3.402823466e%2B38")
    assert response.status_code in (200, 400)  # 400 on SQLite (OverflowError), no rows on PostgreSQL
    if response.status_code == 400:
        assert _shape(response)["code"] == "invalid"


def test_an_offset_postgresql_refuses_is_compared_in_utc(hq_client):
    response = hq_client.get("/api/v1/orders/?created_before=0325-10-24T00:38:56%2B22:38")
    assert response.status_code == 200


@pytest.mark.parametrize("idempotency_key", [None, "big-1"])
def test_an_oversize_body_is_refused_in_the_shape(hq_client, settings, idempotency_key):
    from integrations.models import IdempotentRequest
    from members.models import Member

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"phone": "13800138000", "name": "' + "x" * 2000 + '"}'
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}

    response = hq_client.post(
        "/api/v1/members/upsert/", body, content_type="application/json", headers=headers
    )

    assert response.status_code == 413
    body = _shape(response)
    assert body["code"] == "too_large"
    assert "1000" in body["message"]
    assert not Member.objects.exists()
    assert not IdempotentRequest.objects.exists()


def test_a_bad_request_django_refuses_before_drf_is_answered_in_the_shape_under_api(rf):
    from django.core.exceptions import RequestDataTooBig, SuspiciousOperation

    from config.api.errors import handler400

    def shape(response):
        response.json = lambda: json.loads(response.content)
        return _shape(response)

    too_big = handler400(rf.post("/api/v1/orders/"), RequestDataTooBig("big"))
    suspicious = handler400(rf.post("/api/v1/orders/"), SuspiciousOperation("odd"))
    page = handler400(rf.post("/portal/"), SuspiciousOperation("odd"))

    assert too_big.status_code == 413
    assert shape(too_big)["code"] == "too_large"
    assert suspicious.status_code == 400
    assert shape(suspicious)["code"] == "bad_request"
    assert page.status_code == 400
    assert not page["Content-Type"].startswith("application/json")
