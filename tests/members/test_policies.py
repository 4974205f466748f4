"""Who sees which member and which of their fields (members.policies), through the API as each
principal of docs/security.md: the regression tests of issue 14's member leaks."""

import threading

import pytest
from django.db import connection
from django.test import Client, override_settings
from rest_framework.settings import api_settings

from catalog.models import Channel
from config.roles import SYSTEM, Role
from integrations.choices import Scope
from integrations.services import api_key_create
from members.errors import IdentityConflict
from members.models import ExternalIdentity, Member, PointsEntry
from members.policies import member_fields_for, member_lookup_for, members_visible_to
from members.services import member_set_consent, member_upsert
from tests.factories import (
    ChannelFactory,
    GuideFactory,
    MemberFactory,
    PartnerFactory,
    StoreFactory,
    UserFactory,
    clerk_at,
    partner_user,
)

pytestmark = pytest.mark.django_db

PERSONAL = ("phone", "name", "birthday", "gender", "city", "tier", "points_balance", "total_spend")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def key_client(scopes=(Scope.MEMBERS_READ, Scope.MEMBERS_WRITE), **kwargs) -> Client:
    _key, plaintext = api_key_create(name="k", scopes=list(scopes), actor=SYSTEM, **kwargs)
    return Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")


@pytest.fixture
def tmall_member():
    """A Tmall customer with a birthday, a Tmall buyer id and a loyalty card; consent given on Tmall."""
    tmall = ChannelFactory(code="tmall", kind="marketplace")
    member = member_upsert(
        phone="13800138000", source="tmall", external_id="tb-secret-9", actor=SYSTEM
    ).member
    member_upsert(phone="13800138000", source="store_card", external_id="CARD-9", actor=SYSTEM)
    Member.objects.filter(pk=member.pk).update(birthday="1990-05-04", gender="female", name="Han Meimei")
    member_set_consent(member=member, consent=True, channel=tmall)
    member.refresh_from_db()
    return member


def test_self_registered_guide_gets_403_on_lookup_and_no_member_data_anywhere(tmall_member):
    guide = GuideFactory().user  # signed up at /g/join/: no store, no partner
    client = logged_in(guide)
    response = client.get("/api/v1/members/lookup/", {"q": "13800138000"})
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["code"] == "permission_denied"
    assert "13800138000" not in response.content.decode() and "tb-secret-9" not in response.content.decode()
    for url in (f"/api/v1/members/{tmall_member.pk}/", f"/api/v1/members/{tmall_member.pk}/points/"):
        response = client.get(url)
        assert response.status_code == 404, (url, response.content)
        assert "Han Meimei" not in response.content.decode()
    assert client.get("/api/v1/members/").status_code == 403
    assert client.get("/api/v1/members/lookup/", {"q": "CARD-9"}).status_code == 403
    assert not members_visible_to(guide).exists()


def test_account_without_a_role_gets_403_on_lookup(tmall_member):
    response = logged_in(UserFactory()).get("/api/v1/members/lookup/", {"q": "13800138000"})
    assert response.status_code == 403
    assert "Han Meimei" not in response.content.decode()


def test_guide_who_is_also_a_clerk_looks_up_as_the_clerk(tmall_member):
    clerk = clerk_at(StoreFactory())
    clerk.groups.add(*clerk.groups.model.objects.filter(name=Role.GUIDE))
    GuideFactory(user=clerk)
    body = logged_in(clerk).get("/api/v1/members/lookup/", {"q": "138 0013 8000"}).json()
    assert body["id"] == tmall_member.pk
    assert body["name"] == "Han Meimei" and body["birthday"] == "1990-05-04"
    assert {i["external_id"] for i in body["identities"]} == {"tb-secret-9", "CARD-9"}


def test_partner_finds_only_the_members_of_the_stores_it_runs(tmall_member):
    partner = PartnerFactory()
    theirs = MemberFactory(home_store=StoreFactory(partner=partner), phone="13900139000")
    client = logged_in(partner_user(partner))
    assert client.get("/api/v1/members/lookup/", {"q": "13900139000"}).json()["id"] == theirs.pk
    response = client.get("/api/v1/members/lookup/", {"q": "13800138000"})
    assert response.status_code == 404
    assert "Han Meimei" not in response.content.decode()


def test_partner_may_not_register_members_or_move_points(tmall_member):
    partner = PartnerFactory()
    client = logged_in(partner_user(partner))
    response = client.post(
        "/api/v1/members/upsert/", {"phone": "13700137000"}, content_type="application/json"
    )
    assert response.status_code == 403, response.content
    assert not Member.objects.filter(phone="13700137000").exists()
    response = client.post(
        f"/api/v1/members/{tmall_member.pk}/points/redeem/",
        {"points": 1, "channel": "tmall"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert not PointsEntry.objects.filter(member=tmall_member).exists()


def test_jd_key_upserting_a_tmall_members_phone_learns_only_the_id_and_what_it_sent(tmall_member):
    jd = ChannelFactory(code="jd", kind="marketplace")
    client = key_client(channel=jd)
    response = client.post(
        "/api/v1/members/upsert/", {"phone": "138-0013-8000"}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    text = response.content.decode()
    assert body["id"] == tmall_member.pk
    assert body["phone"] == "13800138000"  # what it sent, normalised
    assert "tb-secret-9" not in text and "CARD-9" not in text
    assert body["birthday"] is None and "1990-05-04" not in text
    assert body["name"] is None and "Han Meimei" not in text
    assert body["identities"] == []
    assert body["points_balance"] is None and body["marketing_consent"] is None
    # Nothing was written for the JD key's look.
    assert set(tmall_member.identities.values_list("external_id", flat=True)) == {"tb-secret-9", "CARD-9"}


def test_channel_key_sees_its_own_channels_identities_of_its_member_only(tmall_member):
    jd = ChannelFactory(code="jd", kind="marketplace")
    ExternalIdentity.objects.create(member=tmall_member, source="jd", external_id="jd-own-1")
    member_set_consent(member=tmall_member, consent=True, channel=jd)  # now a JD member too
    body = key_client(channel=jd).get("/api/v1/members/lookup/", {"q": "jd-own-1"}).json()
    assert body["id"] == tmall_member.pk and body["name"] == "Han Meimei"
    assert [i["external_id"] for i in body["identities"]] == ["jd-own-1"]
    tmall = key_client(channel=Channel.objects.get(code="tmall"))
    assert tmall.get(f"/api/v1/members/{tmall_member.pk}/").status_code == 404  # consent moved to JD


def test_partner_key_sees_partner_numbers_only():
    partner = PartnerFactory()
    member = member_upsert(
        phone="13900139000",
        source="partner",
        external_id="P-77",
        home_store=StoreFactory(partner=partner),
        actor=SYSTEM,
    ).member
    ExternalIdentity.objects.create(member=member, source="tmall", external_id="tb-hidden")
    client = key_client(scopes=[Scope.MEMBERS_READ], partner=partner)
    body = client.get(f"/api/v1/members/{member.pk}/").json()
    assert [i["external_id"] for i in body["identities"]] == ["P-77"]


def test_field_decision_for_each_principal(tmall_member):
    store = StoreFactory()
    clerk = clerk_at(store)
    assert not member_fields_for(clerk, tmall_member).personal  # not their store's customer
    assert member_fields_for(clerk, tmall_member, found_by_lookup=True).personal  # serving the walk-in
    assert not member_fields_for(GuideFactory().user, tmall_member, found_by_lookup=True).personal
    assert member_lookup_for(clerk, "CARD-9") == tmall_member


@override_settings(
    REST_FRAMEWORK={**api_settings.user_settings, "DEFAULT_THROTTLE_RATES": {"member_lookup": "3/min"}}
)
def test_lookups_are_throttled_per_caller(tmall_member):
    api_settings.reload()
    try:
        client = logged_in(clerk_at(StoreFactory()))
        answers = [client.get("/api/v1/members/lookup/", {"q": "13800138000"}).status_code for _ in range(5)]
        assert answers == [200, 200, 200, 429, 429]
        other = logged_in(clerk_at(StoreFactory()))
        assert other.get("/api/v1/members/lookup/", {"q": "13800138000"}).status_code == 200
    finally:
        api_settings.reload()


def test_a_percent_sign_in_the_phone_filter_is_a_400_field_error(hq_client):
    for value in ("%", "%s", "%(x)s", "12%"):
        response = hq_client.get("/api/v1/members/", {"phone": value})
        assert response.status_code == 400, (value, response.content)
        body = response.json()
        assert body["fields"]["phone"], body
        assert value in body["fields"]["phone"][0]  # the message names the value, % and all


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_upserts_of_one_identity_make_one_member_and_no_conflict():
    """Issue 14, defect 11: ten requests for one Tmall buyer at once, half also sending the phone,
    gave spurious 409 identity_conflict; each must get the one member."""
    requests = 10
    barrier = threading.Barrier(requests)
    outcomes: list[object] = []
    lock = threading.Lock()

    def upsert(n: int) -> None:
        try:
            barrier.wait()
            phone = "13800138000" if n % 2 else None
            result: object = member_upsert(
                source="tmall", external_id="tb-race", phone=phone, actor=SYSTEM
            ).member.pk
        except IdentityConflict as conflict:
            result = conflict
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=upsert, args=(n,)) for n in range(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    member = Member.objects.get()
    assert outcomes == [member.pk] * requests
    assert member.phone == "13800138000"
    assert list(ExternalIdentity.objects.values_list("member_id", "external_id")) == [(member.pk, "tb-race")]


# --- strict input -------------------------------------------------------------------------------


def test_unknown_fields_on_member_writes_are_refused_naming_them(hq_client):
    response = hq_client.post(
        "/api/v1/members/upsert/",
        {"phone": "13700137000", "nmae": "typo"},
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert "nmae" in response.json()["fields"]
    assert not Member.objects.filter(phone="13700137000").exists()


@pytest.mark.parametrize("points", ["1.0", 1.0, "１", True, "1e3", 10**12])
def test_points_must_be_a_whole_number_in_range(hq_client, points):
    channel = ChannelFactory(code="mall")
    member = MemberFactory()
    PointsEntry.objects.create(member=member, kind="adjust", points=50, reason="seed")
    Member.objects.filter(pk=member.pk).update(points_balance=50)
    for action, body in (
        ("redeem", {"points": points, "channel": channel.code}),
        ("adjust", {"points": points, "reason": "typo check"}),
    ):
        response = hq_client.post(
            f"/api/v1/members/{member.pk}/points/{action}/", body, content_type="application/json"
        )
        assert response.status_code == 400, (action, points, response.content)
        assert response.json()["fields"]["points"], response.json()
    member.refresh_from_db()
    assert member.points_balance == 50 and member.points_entries.count() == 1


# --- the portal asks the same policy --------------------------------------------------------------


def test_portal_and_api_agree_on_a_partners_lookup(tmall_member):
    partner = PartnerFactory()
    client = logged_in(partner_user(partner))
    page = client.get("/portal/members/", {"q": "13800138000"})
    assert page.status_code == 200 and page.context["not_found"]
    detail = client.get(f"/portal/members/{tmall_member.pk}/", {"via": "lookup", "q": "13800138000"})
    assert detail.status_code == 404
    assert "Han Meimei" not in detail.content.decode()
    assert client.get("/api/v1/members/lookup/", {"q": "13800138000"}).status_code == 404


def test_portal_refuses_a_self_registered_guide_like_the_api(tmall_member):
    client = logged_in(GuideFactory().user)
    assert client.get("/portal/members/", {"q": "13800138000"}).status_code == 403
    detail = client.get(f"/portal/members/{tmall_member.pk}/", {"via": "lookup", "q": "13800138000"})
    assert detail.status_code == 403


@override_settings(
    REST_FRAMEWORK={**api_settings.user_settings, "DEFAULT_THROTTLE_RATES": {"member_lookup": "2/min"}}
)
def test_portal_lookups_count_with_the_api_ones(tmall_member):
    api_settings.reload()
    try:
        client = logged_in(clerk_at(StoreFactory()))
        assert client.get("/api/v1/members/lookup/", {"q": "13800138000"}).status_code == 200
        assert client.get("/portal/members/", {"q": "13800138000"}).status_code == 302
        page = client.get("/portal/members/", {"q": "13800138000"})
        assert page.status_code == 429
        assert page.context["form"].errors["q"]
    finally:
        api_settings.reload()


def test_member_visible_answers_as_members_visible_to_for_every_principal_and_member():
    """members.policies.member_visible decides one member from its row where it can (orders and
    quotes ask it on every request); its answer must be the browse scope's, for everyone."""
    from decimal import Decimal

    from django.contrib.auth.models import AnonymousUser

    from integrations.authentication import KeyUser
    from members.policies import member_visible
    from orders.models import Order

    tmall, jd = (
        ChannelFactory(code="tmall", kind="marketplace"),
        ChannelFactory(code="jd", kind="marketplace"),
    )
    partner = PartnerFactory()
    store, partner_store = StoreFactory(), StoreFactory(partner=partner)
    consented = MemberFactory(home_store=store)
    member_set_consent(member=consented, consent=True, channel=tmall)
    ordered = MemberFactory(home_store=partner_store)
    Order.objects.create(
        number="T000001",
        channel=jd,
        member=ordered,
        origin="online",
        delivery_method="ship",
        status="completed",
        subtotal=Decimal("10"),
        total=Decimal("10"),
    )
    earned = MemberFactory()
    PointsEntry.objects.create(member=earned, channel=jd, kind="earn", points=50, reason="seed")
    stranger = MemberFactory(home_store=StoreFactory())
    merged = MemberFactory(home_store=store)
    member_set_consent(member=merged, consent=True, channel=tmall)
    Member.objects.filter(pk=merged.pk).update(merged_into=consented)
    members = [Member.objects.get(pk=m.pk) for m in (consented, ordered, earned, stranger, merged)]

    def key_user(**kwargs):
        key, _plaintext = api_key_create(name="k", scopes=[Scope.MEMBERS_READ], actor=SYSTEM, **kwargs)
        return KeyUser(key)

    principals = {
        "anonymous": AnonymousUser(),
        "hq": UserFactory(is_superuser=True),
        "clerk": clerk_at(store),
        "guide": GuideFactory().user,
        "partner": partner_user(partner),
        "tmall key": key_user(channel=tmall),
        "jd key": key_user(channel=jd),
        "partner key": key_user(partner=partner),
    }
    answers = {}
    for name, actor in principals.items():
        for member in members:
            expected = members_visible_to(actor).filter(pk=member.pk).exists()
            assert member_visible(actor, member) is expected, (name, member.pk)
            answers[name, member.pk] = expected
    # The cases are not all one answer: each key sees its own channel's members only.
    assert answers["tmall key", consented.pk] and not answers["tmall key", ordered.pk]
    assert (
        answers["jd key", ordered.pk] and answers["jd key", earned.pk] and not answers["jd key", consented.pk]
    )
    assert not answers["tmall key", merged.pk] and not answers["hq", merged.pk]
    assert answers["partner key", ordered.pk] and not answers["partner key", stranger.pk]
    assert answers["clerk", consented.pk] and not answers["guide", consented.pk]
