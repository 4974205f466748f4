"""The checked-in OpenAPI schema (openapi/schema.yaml) is what the code generates: a change to the API
that is not followed by `make schema` fails here (and in CI's own regeneration)."""

import difflib
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

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
