"""Helpers the test modules share: a signed-in client per user, and the API's error shape."""

from django.test import Client


def login(user) -> Client:
    """A client signed in as `user`, with its own session: tests use several users side by side."""
    client = Client()
    client.force_login(user)
    return client


def assert_error(response, status: int, code: str, field: str | None = None) -> dict:
    """The API's error answer: `status`, exactly {"code", "message", "fields"}, this code, a
    message, and (if `field` is named) that field's messages as non-empty strings."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code, body
    assert body["message"]
    if field is not None:
        assert body["fields"].get(field), body
        assert all(isinstance(m, str) for m in body["fields"][field])
    return body
