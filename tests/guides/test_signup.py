"""Guide self-registration at /g/join/: allauth's sign-up opened for this page only, making the
account and the guide in one transaction; a signed-in clerk becomes a guide with their account;
the generic staff sign-up stays closed. Outcomes are asserted in the database."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from config.roles import Role
from guides import public_views
from guides.errors import GuideRefused
from guides.models import Guide
from guides.services import CODE_ALPHABET, CODE_LENGTH
from stores.choices import StoreStatus
from tests.factories import GuideFactory, PartnerFactory, StoreFactory, UserFactory, clerk_at, partner_user

pytestmark = pytest.mark.django_db
User = get_user_model()
JOIN = "/g/join/"


def signup_data(**overrides):
    data = {
        "name": "Li Lei",
        "phone": "138 0013 8000",
        "email": "li.lei@example.com",
        "password1": "a-Long-pass-4791",
        "password2": "a-Long-pass-4791",
        "store_code": "",
        "partner_code": "",
    }
    data.update(overrides)
    return data


def test_join_url_is_short_and_stable():
    assert reverse("guides_public:join") == JOIN


def test_join_page_asks_for_account_and_guide_details(client, db):
    response = client.get(JOIN)
    assert response.status_code == 200
    page = response.content.decode()
    for name in ("name", "phone", "email", "password1", "password2", "store_code", "partner_code"):
        assert f'name="{name}"' in page
    assert 'type="tel"' in page


def test_signup_creates_the_user_and_the_guide_and_logs_in(client, world):
    partner = PartnerFactory(code="acme")
    world.a.partner = partner
    world.a.save()
    response = client.post(JOIN, signup_data(store_code="a", partner_code="ACME"))
    assert response.status_code == 302
    assert response["Location"] == public_views.guide_home_url()
    user = User.objects.get(email="li.lei@example.com")
    assert user.check_password("a-Long-pass-4791")
    assert not user.is_staff
    assert user.groups.filter(name=Role.GUIDE).exists()
    assert not user.groups.exclude(name=Role.GUIDE).exists()  # a guide, not staff
    guide = Guide.objects.get(user=user)
    assert (guide.name, guide.phone, guide.store, guide.partner) == (
        "Li Lei",
        "13800138000",
        world.a,
        partner,
    )
    assert len(guide.code) == CODE_LENGTH and set(guide.code) <= set(CODE_ALPHABET)
    assert int(client.session["_auth_user_id"]) == user.pk


def test_two_signups_get_different_codes(client, db):
    client.post(JOIN, signup_data())
    client.logout()
    client.post(JOIN, signup_data(email="han@example.com", phone="13800138001"))
    codes = list(Guide.objects.values_list("code", flat=True))
    assert len(codes) == 2 and len(set(codes)) == 2


def test_signup_without_store_or_partner_makes_a_free_guide(client, db):
    client.post(JOIN, signup_data())
    guide = Guide.objects.get()
    assert guide.store is None and guide.partner is None


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"phone": "12345"}, "phone", "not a mainland China mobile number"),
        ({"phone": "+1 415 555 0100"}, "phone", "not a mainland China mobile number"),
        ({"store_code": "NOPE"}, "store_code", "No store has the code NOPE"),
        ({"store_code": "W"}, "store_code", "No store has the code W"),  # a warehouse sells nothing
        ({"partner_code": "nobody"}, "partner_code", "No partner has the code nobody"),
        ({"name": "   "}, "name", "This field is required"),
        ({"password2": "another-pass-4791"}, "password2", "same password"),
    ],
)
def test_signup_refuses_bad_input_with_field_errors_and_no_rows(client, world, overrides, field, message):
    response = client.post(JOIN, signup_data(**overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors
    assert message in " ".join(errors[field])
    assert not User.objects.filter(email="li.lei@example.com").exists()
    assert not Guide.objects.exists()
    assert "_auth_user_id" not in client.session


def test_signup_refuses_a_closed_store(client, world):
    world.b.status = StoreStatus.CLOSED
    world.b.save()
    response = client.post(JOIN, signup_data(store_code="B"))
    assert "Store B is not open" in " ".join(response.context["form"].errors["store_code"])
    assert not User.objects.filter(email="li.lei@example.com").exists()
    assert not Guide.objects.exists()


def test_signup_refuses_an_inactive_partner_and_another_partners_store(client, world):
    PartnerFactory(code="gone", is_active=False)
    response = client.post(JOIN, signup_data(partner_code="gone"))
    assert "no longer an active partner" in " ".join(response.context["form"].errors["partner_code"])
    world.a.partner = PartnerFactory(code="acme", name="Acme")
    world.a.save()
    PartnerFactory(code="other")
    response = client.post(JOIN, signup_data(store_code="A", partner_code="other"))
    assert "belongs to another partner (Acme)" in " ".join(response.context["form"].errors["partner_code"])
    assert not User.objects.filter(email="li.lei@example.com").exists()
    assert not Guide.objects.exists()


def test_signup_refuses_a_taken_email(client, db):
    UserFactory(email="li.lei@example.com")
    response = client.post(JOIN, signup_data())
    assert "email" in response.context["form"].errors
    assert User.objects.filter(email="li.lei@example.com").count() == 1
    assert not Guide.objects.exists()


def test_a_refused_guide_leaves_no_account_behind(client, db, monkeypatch):
    def refuse(**kwargs):
        raise GuideRefused("No guides today.", fields={"phone": ["Try tomorrow."]})

    monkeypatch.setattr("guides.forms.guide_register", refuse)
    response = client.post(JOIN, signup_data())
    assert response.status_code == 200
    assert response.context["form"].errors["phone"] == ["Try tomorrow."]
    assert "No guides today." in response.content.decode()
    assert not User.objects.filter(email="li.lei@example.com").exists()
    assert "_auth_user_id" not in client.session


def test_signup_is_rate_limited_by_allauth(client, db, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": "1/m/ip"}
    client.post(JOIN, signup_data())
    client.logout()
    response = client.post(JOIN, signup_data(email="han@example.com", phone="13800138001"))
    assert response.status_code == 429
    assert Guide.objects.count() == 1


# --- the staff sign-up stays closed ----------------------------------------------------------------


def test_generic_staff_signup_stays_closed(client, db):
    response = client.get(reverse("account_signup"))
    assert response.status_code == 200
    assert 'name="password1"' not in response.content.decode()
    client.post(
        reverse("account_signup"),
        {"email": "staff@example.com", "password1": "a-Long-pass-4791", "password2": "a-Long-pass-4791"},
    )
    assert not User.objects.filter(email="staff@example.com").exists()
    assert not Guide.objects.exists()


# --- signed-in users become guides with their own account ------------------------------------------


def test_signed_in_clerk_becomes_a_guide_of_their_store_without_a_second_account(client, world):
    clerk = clerk_at(world.b, first_name="Han", last_name="Meimei")
    client.force_login(clerk)
    page = client.get(JOIN)
    assert page.status_code == 200
    form = page.context["form"]
    assert set(form.fields) == {"name", "phone", "store"}
    assert form["store"].value() == world.b.pk
    assert form["name"].value() == "Han Meimei"
    users = User.objects.count()
    response = client.post(JOIN, {"name": "Han Meimei", "phone": "13800138000", "store": world.b.pk})
    assert response.status_code == 302
    assert response["Location"] == public_views.guide_home_url()
    assert User.objects.count() == users
    guide = Guide.objects.get(user=clerk)
    assert (guide.name, guide.phone, guide.store) == ("Han Meimei", "13800138000", world.b)
    assert clerk.groups.filter(name=Role.GUIDE).exists()
    assert clerk.groups.filter(name=Role.STORE_CLERK).exists()


def test_signed_in_clerk_cannot_pick_a_store_that_is_not_theirs(client, world):
    client.force_login(clerk_at(world.b))
    response = client.post(JOIN, {"name": "Han", "phone": "13800138000", "store": world.a.pk})
    assert "store" in response.context["form"].errors
    assert not Guide.objects.exists()


def test_signed_in_clerk_with_a_bad_mobile_gets_a_field_error(client, world):
    client.force_login(clerk_at(world.b))
    response = client.post(JOIN, {"name": "Han", "phone": "555", "store": world.b.pk})
    assert response.status_code == 200
    assert response.context["form"].errors["phone"]
    assert not Guide.objects.exists()


def test_signed_in_partner_user_becomes_their_partners_guide(client, db):
    partner = PartnerFactory()
    client.force_login(partner_user(partner))
    page = client.get(JOIN)
    assert "store" not in page.context["form"].fields
    client.post(JOIN, {"name": "Partner Guide", "phone": "13800138000"})
    guide = Guide.objects.get()
    assert (guide.partner, guide.store) == (partner, None)


def test_signed_in_guide_is_sent_to_their_page(client, db):
    guide = GuideFactory()
    client.force_login(guide.user)
    response = client.get(JOIN)
    assert response.status_code == 302
    assert response["Location"] == public_views.guide_home_url()
    assert Guide.objects.count() == 1


def test_closed_store_is_not_offered_to_its_clerk(client, db):
    store = StoreFactory(status=StoreStatus.CLOSED)
    client.force_login(clerk_at(store))
    assert "store" not in client.get(JOIN).context["form"].fields
