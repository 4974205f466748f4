"""Helpers the test modules share: a signed-in client per user, and the API's error shape."""

from django.test import Client


def login(user) -> Client:
    """A client signed in as `user`, with its own session: tests use several users side by side."""
    client = Client()
    client.force_login(user)
    return client


def login_into(client: Client, user) -> Client:
    """`client` (often pytest-django's fixture) signed in as `user`, and returned: for a test that
    keeps using the client it was given."""
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


def row_counts(app_labels) -> dict[str, int]:
    """Every table's row count of these apps (their models and many-to-many tables), in ONE
    statement: the access matrix and the page fuzz take it before and after each refused write,
    hundreds of times, and one query per table made them the slowest part of the suite."""
    from django.apps import apps
    from django.db import connection

    models = [m for m in apps.get_models(include_auto_created=True) if m._meta.app_label in app_labels]
    quote = connection.ops.quote_name
    statement = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {quote(m._meta.db_table)})" for m in models)
    with connection.cursor() as cursor:
        cursor.execute(statement)
        counts = cursor.fetchone()
    return {model._meta.label: count for model, count in zip(models, counts, strict=True)}
