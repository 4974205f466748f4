"""The checked-in OpenAPI schema (openapi/schema.yaml) is what the code generates: a change to the API
that is not followed by `make schema` fails here (and in CI's own regeneration)."""

import difflib
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

CHECKED_IN = Path(settings.BASE_DIR) / "openapi" / "schema.yaml"


def test_checked_in_schema_matches_the_code(tmp_path):
    fresh = tmp_path / "schema.yaml"
    call_command("spectacular", file=str(fresh), validate=True, fail_on_warn=True)
    expected = fresh.read_text()
    actual = CHECKED_IN.read_text() if CHECKED_IN.exists() else ""
    if actual != expected:
        diff = "".join(
            list(
                difflib.unified_diff(
                    actual.splitlines(True), expected.splitlines(True), "openapi/schema.yaml", "generated"
                )
            )[:80]
        )
        raise AssertionError(f"openapi/schema.yaml is out of date: run `make schema`.\n{diff}")


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["api-docs", "api-redoc"])
def test_the_swagger_and_redoc_pages_open_and_load_the_schema(client, name):
    page = client.get(reverse(name))

    assert page.status_code == 200
    text = page.content.decode()
    if name == "api-docs":  # Swagger's init script is a file (CSP: no inline script): the schema is there
        script = client.get(reverse(name) + "?script=")
        assert script["Content-Type"].startswith("application/javascript")
        text = script.content.decode()
    assert reverse("api-schema") in text


@pytest.mark.django_db
def test_the_schema_endpoint_serves_the_checked_in_operations(client):
    served = client.get(reverse("api-schema"), HTTP_ACCEPT="application/vnd.oai.openapi")

    assert served.status_code == 200
    checked_in = CHECKED_IN.read_text()
    assert "paths:" in served.content.decode()
    assert served.content.decode().count("operationId:") == checked_in.count("operationId:")
