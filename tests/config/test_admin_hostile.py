"""Hostile input on the Django admin (docs/security.md, "Hostile input"), answered once for every app
by config.admin: a key field re-rendered with a value that is no key shows "Select a valid choice",
an action's rows that are no keys, a POST to a list without actions and filters an export does not
know say what is wrong; never a 500, nothing written."""

import html
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.contrib.staticfiles import finders

from config.admin import HostileInputAdmin, HostileInputModelAdmin
from stores.models import Partner, StaffMembership, StockMovement
from tests.config.test_access_matrix import OUR_APPS
from tests.factories import PartnerFactory, StoreFactory, UserFactory

pytestmark = pytest.mark.django_db

JUNK = ["a\x00b", str(10**12 * 10**12), "abc", "1e400", "\U0001f600"]


def page(response) -> str:
    return html.unescape(response.content.decode())


def refused_on_the_form(response) -> bool:
    """The field's error: no such row, or (for a NUL byte) the character itself."""
    text = page(response)
    return "Select a valid choice" in text or "Null characters are not allowed" in text


def shown_messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.mark.parametrize("value", JUNK)
def test_an_autocomplete_key_that_is_no_key_is_refused_on_the_form(hq_client, value):
    """Django's autocomplete widget looked the sent value up as it was: a 500 (ValueError)."""
    store = StoreFactory()
    user = UserFactory()
    response = hq_client.post(
        "/admin/stores/staffmembership/add/", {"user": value, "store": store.pk, "role": "clerk"}
    )
    assert response.status_code == 200
    assert refused_on_the_form(response)
    assert not StaffMembership.objects.exists()
    # The valid value of the other key field is shown again as chosen.
    assert f'<option value="{store.pk}" selected>' in response.content.decode()
    assert user.username  # the user exists, it was just not the one sent


@pytest.mark.parametrize("value", JUNK)
def test_the_price_form_refuses_a_sku_and_channel_that_are_no_keys(hq_client, value):
    from catalog.models import Price

    response = hq_client.post("/admin/catalog/price/add/", {"sku": value, "channel": value, "amount": "10"})
    assert response.status_code == 200
    assert refused_on_the_form(response)
    assert not Price.objects.exists()


def test_an_inline_autocomplete_key_that_is_no_key_is_refused(hq_client):
    """The store's staff inline (an autocomplete in an inline form)."""
    store = StoreFactory()
    data = {
        "code": store.code,
        "name": "Renamed",
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "0",
        "memberships-0-user": "abc",
        "memberships-0-role": "clerk",
    }
    response = hq_client.post(f"/admin/stores/store/{store.pk}/change/", data)
    assert response.status_code == 200
    assert refused_on_the_form(response)
    assert not StaffMembership.objects.exists()
    store.refresh_from_db()
    assert store.name != "Renamed"


@pytest.mark.parametrize("page_value", ["abc", str(10**12), "a\x00b"])
def test_an_export_with_filters_the_list_does_not_know_says_so(hq_client, page_value):
    """import-export built the admin's list from the address: IncorrectLookupParameters, a 500."""
    response = hq_client.get("/admin/catalog/product/export/", {"page": page_value})
    assert response.status_code == 302
    assert response["Location"] == "/admin/catalog/product/export/"
    response = hq_client.get(response["Location"])
    assert response.status_code == 200
    assert any("not valid for this list" in m for m in shown_messages(response))


@pytest.mark.parametrize("value", JUNK)
def test_an_action_on_rows_that_are_no_keys_changes_nothing_and_says_so(hq_client, value):
    """The admin filtered the list on the sent rows as they were: a 500 (ValueError)."""
    partner = PartnerFactory()
    data = {"action": "delete_selected", "_selected_action": [partner.pk, value], "index": "0"}
    response = hq_client.post("/admin/stores/partner/", data)
    assert response.status_code == 302
    assert Partner.objects.filter(pk=partner.pk).exists()
    response = hq_client.get(response["Location"])
    assert any("Items must be selected" in m for m in shown_messages(response))


@pytest.mark.parametrize("value", ["a\x00b", "x" * 300, "%"])
def test_a_post_to_a_read_only_list_says_no_action_was_selected(hq_client, value):
    """A list without actions showed itself again on a POST, without saying anything."""
    before = StockMovement.objects.count()
    data = {"action": value, "_selected_action": value, "index": value, "select_across": value}
    response = hq_client.post("/admin/stores/stockmovement/", data)
    assert response.status_code == 302
    assert StockMovement.objects.count() == before
    response = hq_client.get(response["Location"])
    assert "No action selected." in shown_messages(response)


def test_every_admin_of_the_project_answers_hostile_input():
    """Every model admin of our apps, and each of its inlines, builds on config.admin."""
    missing = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in OUR_APPS:
            continue
        if not isinstance(model_admin, HostileInputModelAdmin):
            missing.append(type(model_admin).__qualname__)
        for inline in model_admin.inlines:
            if not issubclass(inline, HostileInputAdmin):
                missing.append(inline.__qualname__)
    assert not missing


def test_the_ticket_photo_thumbnail_is_sized_by_a_class_not_an_inline_style():
    """The Content-Security-Policy allows no style attribute: the size comes from css/admin.css."""
    from aftersales.admin import TicketPhotoInline
    from aftersales.models import TicketPhoto

    inline = TicketPhotoInline(TicketPhoto, admin.site)
    photo = SimpleNamespace(pk=7, ticket=SimpleNamespace(number="T-1"))
    markup = str(inline.photo(photo))
    assert "style=" not in markup
    assert 'class="admin-thumbnail"' in markup
    assert "css/admin.css" in str(inline.media)
    with open(finders.find("css/admin.css")) as css:
        assert ".admin-thumbnail" in css.read()


@pytest.mark.parametrize(
    "query",
    [
        "opened_at__year=1000000000000",
        "opened_at__year=2026&opened_at__month=1000000000000",
        "opened_at__year=2026&opened_at__month=1&opened_at__day=1000000000000",
    ],
)
def test_a_date_drill_down_past_any_calendar_is_a_bad_lookup_not_a_500(hq_client, query):
    """Django checks the date hierarchy's year, month and day for ValueError only; a year past the
    C integer raised OverflowError: a 500. Now it is a bad lookup (the list, unfiltered, ?e=1)."""
    response = hq_client.get(f"/admin/aftersales/ticket/?{query}")
    assert response.status_code == 302 and response["Location"].endswith("?e=1")
    assert hq_client.get(response["Location"]).status_code == 200
