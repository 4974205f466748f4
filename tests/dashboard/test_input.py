"""Issue 14, defect 5: every parameter of the dashboard's lists is parsed by a form before any
query or CSV stream starts. A NUL byte (PostgreSQL refuses it in a string literal: a 500, or a
CSV cut mid-stream after its 200), an overlong or unknown value is a 400 page naming the field."""

import pytest
from django.urls import reverse

from tests.dashboard.test_dashboard import read_csv

pytestmark = pytest.mark.django_db

ORDERS = reverse("dashboard:orders")
OFFERS = reverse("dashboard:offers")
HOSTILE = ["\x00", "A\x00B", "x" * 300, "%", "１", "😀", "\u202eA", "1e400", str(10**12)]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize(
    ("url", "param"), [(ORDERS, p) for p in ("sku", "channel", "guide")] + [(OFFERS, "store")]
)
def test_a_nul_byte_or_overlong_code_is_a_field_error_never_a_500_or_a_cut_csv(hq_client, url, param, value):
    for extra in ({}, {"format": "csv"}):
        response = hq_client.get(url, {param: value, **extra})
        if "\x00" in value or len(value) > 40:
            assert response.status_code == 400
            assert not response.streaming and response["Content-Type"].startswith("text/html")
            body = response.content.decode()
            label = {"sku": "SKU", "channel": "Channel", "guide": "Guide", "store": "Store"}[param]
            assert 'id="filter-errors"' in body and f"<li>{label}: " in body
        else:  # a well-formed code that names nothing: an empty list or CSV
            assert response.status_code == 200
            if extra:
                assert read_csv(response)[1:] == []


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (ORDERS, {"tier": "９"}),
        (ORDERS, {"online": "2"}),
        (ORDERS, {"region": "\u202enorth"}),
        (ORDERS, {"flow": "%"}),
        (ORDERS, {"day": "1e400"}),
        (ORDERS, {"day": "\x00"}),
        (ORDERS, {"format": "xlsx\x00"}),
        (OFFERS, {"status": "😀"}),
    ],
)
def test_unknown_choices_and_bad_dates_are_field_errors(hq_client, url, params):
    response = hq_client.get(url, {**params, "format": "csv"} if "format" not in params else params)
    assert response.status_code == 400 and 'id="filter-errors"' in response.content.decode()


def test_hostile_period_values_fall_back_to_the_default_period_with_the_error_shown(hq_client, march):
    for value in HOSTILE:
        response = hq_client.get(ORDERS, {"start": value, "end": value, "preset": value})
        assert response.status_code == 200
        assert response.context["form"].errors


def test_valid_filters_still_list_and_export(hq_client, march):
    response = hq_client.get(ORDERS, {"start": "2026-03-01", "end": "2026-03-31", "channel": "mall"})
    assert response.status_code == 200 and response.context["count"] == 3
    rows = read_csv(
        hq_client.get(ORDERS, {"start": "2026-03-01", "end": "2026-03-31", "sku": "SOUND-1", "format": "csv"})
    )
    assert len(rows) == 3
