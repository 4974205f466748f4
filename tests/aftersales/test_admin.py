"""HQ's admin for warranty policies (new versions through policy_set, refusals on the form, "End
now", the audit inline) and tickets (read-only, with history and photos, constant queries)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from aftersales.choices import TicketStatus
from aftersales.models import Ticket, TicketPhoto, WarrantyPolicy, WarrantyPolicyChange
from tests.aftersales.helpers import png
from tests.aftersales.pages import delivered, make_ticket, page
from tests.factories import CategoryFactory

pytestmark = pytest.mark.django_db

POLICIES = "/admin/aftersales/warrantypolicy/"
TICKETS = "/admin/aftersales/ticket/"


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def policy_data(**overrides) -> dict:
    data = {
        "code": "tv-promise",
        "name": "TV promise",
        "category": "",
        "return_days": "15",
        "exchange_days": "30",
        "repair_days": "30",
        "warranty_months": "24",
        "no_fault_return_days": "7",
        "valid_from_0": "",
        "valid_from_1": "",
    }
    data.update(overrides)
    return data


# --- policies ---------------------------------------------------------------------------------------


def test_policy_list_and_add_page_load(hq_client):
    text = page(hq_client.get(POLICIES))
    assert "national-standard" in text and "brand-promise" in text
    assert hq_client.get(f"{POLICIES}add/").status_code == 200


def test_hq_adds_a_category_policy_through_policy_set(hq_client, hq):
    category = CategoryFactory(name="Televisions")
    response = hq_client.post(f"{POLICIES}add/", policy_data(category=category.pk))
    assert response.status_code == 302, page(response)
    policy = WarrantyPolicy.objects.get(code="tv-promise")
    assert policy.category == category and policy.created_by == hq
    assert (policy.return_days, policy.exchange_days, policy.repair_days, policy.warranty_months) == (
        15,
        30,
        30,
        24,
    )
    assert policy.valid_from <= timezone.now() and policy.valid_to is None
    change = WarrantyPolicyChange.objects.get(policy=policy)
    assert change.action == "set" and change.changed_by == hq


def test_windows_that_are_not_nested_are_refused_on_the_form(hq_client):
    category = CategoryFactory()
    response = hq_client.post(f"{POLICIES}add/", policy_data(category=category.pk, exchange_days="10"))
    assert response.status_code == 200
    assert "At least the return window" in page(response)
    assert not WarrantyPolicy.objects.filter(code="tv-promise").exists()
    assert not WarrantyPolicyChange.objects.exists()


def test_a_new_default_ends_the_default_in_force(hq_client):
    before = set(WarrantyPolicy.objects.filter(category=None, valid_to=None).values_list("pk", flat=True))
    start = timezone.localtime() + timedelta(days=400)
    response = hq_client.post(
        f"{POLICIES}add/",
        policy_data(valid_from_0=start.strftime("%Y-%m-%d"), valid_from_1=start.strftime("%H:%M:%S")),
    )
    assert response.status_code == 302, page(response)
    (ended,) = WarrantyPolicy.objects.filter(pk__in=before)
    assert ended.valid_to is not None
    assert WarrantyPolicyChange.objects.filter(policy=ended, action="ended").exists()


def test_policy_page_is_read_only_with_its_changes(hq_client):
    category = CategoryFactory()
    hq_client.post(f"{POLICIES}add/", policy_data(category=category.pk))
    policy = WarrantyPolicy.objects.get(code="tv-promise")
    response = hq_client.get(f"{POLICIES}{policy.pk}/change/")
    text = page(response)
    assert response.status_code == 200
    assert 'name="return_days"' not in text  # nothing to edit
    assert "Changes (who, when, before → after)" in text
    assert hq_client.post(f"{POLICIES}{policy.pk}/delete/").status_code == 403


def test_end_now_ends_the_policy_through_policy_end(hq_client, hq):
    category = CategoryFactory()
    hq_client.post(f"{POLICIES}add/", policy_data(category=category.pk))
    policy = WarrantyPolicy.objects.get(code="tv-promise")
    response = hq_client.post(
        POLICIES, {"action": "end_now", "_selected_action": [policy.pk], "index": 0}, follow=True
    )
    assert "1 policies ended." in page(response)
    policy.refresh_from_db()
    assert policy.valid_to is not None and policy.valid_to <= timezone.now()
    assert WarrantyPolicyChange.objects.filter(policy=policy, action="ended", changed_by=hq).exists()


def test_ending_an_ended_policy_is_refused_and_changes_nothing(hq_client):
    category = CategoryFactory()
    hq_client.post(f"{POLICIES}add/", policy_data(category=category.pk))
    policy = WarrantyPolicy.objects.get(code="tv-promise")
    data = {"action": "end_now", "_selected_action": [policy.pk], "index": 0}
    hq_client.post(POLICIES, data)
    policy.refresh_from_db()
    ended_at = policy.valid_to
    response = hq_client.post(POLICIES, data, follow=True)
    assert "No policy was ended" in page(response)
    policy.refresh_from_db()
    assert policy.valid_to == ended_at


def test_policy_audit_trail_is_view_only(hq_client):
    assert hq_client.get("/admin/aftersales/warrantypolicychange/").status_code == 200
    assert hq_client.get("/admin/aftersales/warrantypolicychange/add/").status_code == 403


# --- tickets ----------------------------------------------------------------------------------------


def test_ticket_list_and_page_load_with_constant_queries(hq_client, world):
    order = delivered(world)
    first = make_ticket(
        order, intake_store=world.b, status=TicketStatus.REFUSED, refused_reason="Water damage"
    )
    few = queries(hq_client, TICKETS)
    for _ in range(5):
        make_ticket(order, intake_store=world.c)
    assert queries(hq_client, TICKETS) == few
    text = page(hq_client.get(TICKETS))
    assert all(ticket.number in text for ticket in Ticket.objects.all())

    TicketPhoto.objects.create(ticket=first, image=png())
    response = hq_client.get(f"{TICKETS}{first.pk}/change/")
    text = page(response)
    assert response.status_code == 200
    assert "Water damage" in text and "History" in text and "Photos of the fault" in text
    assert f"/portal/service/{first.number}/photos/" in text


def test_tickets_cannot_be_added_changed_or_deleted_in_the_admin(hq_client, world):
    ticket = make_ticket(delivered(world), intake_store=world.b)
    assert hq_client.get(f"{TICKETS}add/").status_code == 403
    assert hq_client.post(f"{TICKETS}{ticket.pk}/change/", {"status": "closed"}).status_code == 403
    assert hq_client.post(f"{TICKETS}{ticket.pk}/delete/").status_code == 403
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPENED


def test_ticket_list_finds_by_number_order_and_mobile(hq_client, world):
    order = delivered(world)
    target = make_ticket(order, phone="13700000001")
    make_ticket(delivered(world), phone="13700000002")
    for term in (target.number, "13700000001"):
        rows = hq_client.get(TICKETS, {"q": term}).context["cl"].result_list
        assert [t.pk for t in rows] == [target.pk], term
    rows = hq_client.get(TICKETS, {"q": order.number}).context["cl"].result_list
    assert [t.pk for t in rows] == [target.pk]
