"""/api/v1/ members and segments: upsert and lookup by identity, scoping, idempotent points,
merges and consent-filtered segment exports, all in the one error shape."""

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from config.roles import SYSTEM
from members.choices import PointsKind
from members.models import ExternalIdentity, Member, MemberMerge, PointsEntry, PointsRule, Segment, Tier
from members.selectors import points_balance_from_ledger
from members.services import member_set_consent, member_upsert, points_earn
from tests.factories import ChannelFactory, MemberFactory, StoreFactory, clerk_at
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def post(client, url, data):
    return client.post(url, data, content_type="application/json")


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


@pytest.fixture
def mall():
    PointsRule.objects.create(channel=None, points_per_yuan=Decimal("1"), life_days=365)
    return ChannelFactory(code="mall", name="Own mall")


@pytest.fixture
def store_channel():
    return ChannelFactory(code="stores", name="Own stores", kind="own_store")


@pytest.fixture
def store():
    return StoreFactory(code="BJ-01")


@pytest.fixture
def clerk_client(store):
    client = Client()  # its own session: tests use it next to hq_client
    client.force_login(clerk_at(store))
    return client


def member_with_points(points: int, channel, **kwargs) -> Member:
    member = MemberFactory(**kwargs)
    points_earn(member=member, channel=channel, paid_amount=Decimal(points), reference="seed")
    member.refresh_from_db()
    return member


# --- access ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/api/v1/members/", "/api/v1/members/lookup/?q=13800138000", "/api/v1/segments/"]
)
def test_anonymous_caller_is_refused_in_the_error_shape(client, url):
    assert_error(client.get(url), 403, "not_authenticated")


def test_clerk_cannot_list_members_but_sees_their_customer_and_finds_a_walk_in_by_phone(clerk_client, store):
    regular = MemberFactory(home_store=store, name="Regular")
    walk_in = MemberFactory(home_store=StoreFactory(), phone="13700137000", name="Walk-in")

    body = assert_error(clerk_client.get("/api/v1/members/"), 403, "permission_denied")
    assert "look a customer up" in body["message"]
    assert clerk_client.get(f"/api/v1/members/{regular.pk}/").json()["name"] == "Regular"
    assert_error(clerk_client.get(f"/api/v1/members/{walk_in.pk}/"), 404, "not_found")
    assert_error(clerk_client.get(f"/api/v1/members/{walk_in.pk}/points/"), 404, "not_found")

    found = clerk_client.get("/api/v1/members/lookup/", {"q": "+86 137 0013 7000"})

    assert found.status_code == 200
    assert (found.json()["id"], found.json()["name"]) == (walk_in.pk, "Walk-in")


def test_lookup_is_exact_no_prefix_browsing(clerk_client):
    MemberFactory(phone="13700137000")

    body = assert_error(clerk_client.get("/api/v1/members/lookup/?q=1370013"), 404, "not_found", "q")
    assert "1370013" in body["message"]
    assert_error(clerk_client.get("/api/v1/members/lookup/"), 400, "invalid", "q")


def test_lookup_by_loyalty_card_answers_the_member_with_identities(clerk_client):
    member = member_upsert(
        phone="13800138000", source="store_card", external_id="CARD-0077", actor=SYSTEM
    ).member
    member_upsert(source="tmall", external_id="tb-buyer-9", phone="13800138000", actor=SYSTEM)

    response = clerk_client.get("/api/v1/members/lookup/?q=CARD-0077")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["phone"]) == (member.pk, "13800138000")
    assert sorted((i["source"], i["external_id"]) for i in body["identities"]) == [
        ("store_card", "CARD-0077"),
        ("tmall", "tb-buyer-9"),
    ]


def test_hq_lists_members_with_filters_and_phone_in_any_format(hq_client, store):
    gold = Tier.objects.create(code="gold", name="Gold", min_spend_12m=Decimal("1000"))
    target = MemberFactory(phone="13800138000", city="Shanghai", tier=gold, home_store=store)
    MemberFactory(city="Shanghai")
    MemberFactory(city="Beijing", tier=gold)

    def ids(query):
        response = hq_client.get("/api/v1/members/", query)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids({"phone": "138 0013 8000"}) == [target.pk]
    assert ids({"city": "Shanghai", "tier": "gold"}) == [target.pk]
    assert ids({"home_store": store.pk}) == [target.pk]
    member_set_consent(member=target, consent=True, channel=None)
    assert ids({"consent": "true"}) == [target.pk]
    row = hq_client.get("/api/v1/members/?phone=13800138000").json()["results"][0]
    assert (row["tier"], row["home_store_code"], row["marketing_consent"]) == ("gold", "BJ-01", True)


def test_member_list_phone_filter_refuses_an_invalid_number_as_a_field_error(hq_client):
    body = assert_error(hq_client.get("/api/v1/members/?phone=12345"), 400, "invalid", "phone")
    assert "12345" in body["fields"]["phone"][0]


def test_member_id_that_is_not_a_plain_number_is_404_not_500(hq_client):
    assert_error(hq_client.get("/api/v1/members/²/"), 404, "not_found")
    assert_error(hq_client.get("/api/v1/members/99999999999999999999999/points/"), 404, "not_found")


def test_merged_member_is_not_shown_by_id(hq_client):
    survivor, dup = MemberFactory(), MemberFactory()
    post(hq_client, "/api/v1/members/merge/", {"survivor": survivor.pk, "merged": dup.pk})

    assert_error(hq_client.get(f"/api/v1/members/{dup.pk}/"), 404, "not_found")


# --- upsert ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["13800138000", "138 0013 8000", "+86 13800138000", "8613800138000"])
def test_upsert_by_phone_in_each_format_creates_then_finds_the_one_member(clerk_client, store, raw):
    created = post(clerk_client, "/api/v1/members/upsert/", {"phone": raw, "name": "Li Lei"})
    found = post(clerk_client, "/api/v1/members/upsert/", {"phone": "138-0013-8000", "city": "Beijing"})

    assert created.status_code == 201, created.content
    assert found.status_code == 200, found.content
    assert created.json()["id"] == found.json()["id"]
    member = Member.objects.get()
    assert (member.phone, member.name, member.city) == ("13800138000", "Li Lei", "Beijing")
    assert found.json()["phone"] == "13800138000"


def test_upsert_by_tmall_identity_then_by_phone_and_jd_id_is_one_member(clerk_client):
    first = post(
        clerk_client, "/api/v1/members/upsert/", {"source": "tmall", "external_id": "tb-001", "phone": ""}
    )
    by_identity = post(
        clerk_client,
        "/api/v1/members/upsert/",
        {"source": "tmall", "external_id": "tb-001", "phone": "13800138000"},
    )
    by_phone_and_jd = post(
        clerk_client,
        "/api/v1/members/upsert/",
        {"source": "jd", "external_id": "jd-777", "phone": "+8613800138000"},
    )

    assert first.status_code == 201
    assert by_identity.status_code == 200
    assert by_phone_and_jd.status_code == 200
    member = Member.objects.get()
    assert first.json()["id"] == by_identity.json()["id"] == by_phone_and_jd.json()["id"] == member.pk
    assert member.phone == "13800138000"
    assert sorted(member.identities.values_list("source", "external_id")) == [
        ("jd", "jd-777"),
        ("tmall", "tb-001"),
    ]
    assert sorted(i["external_id"] for i in by_phone_and_jd.json()["identities"]) == ["jd-777", "tb-001"]


def test_upsert_with_identity_and_phone_of_two_members_is_409_and_links_nothing(clerk_client):
    member_upsert(source="tmall", external_id="tb-001", actor=SYSTEM)
    member_upsert(phone="13800138000", actor=SYSTEM)

    body = assert_error(
        post(
            clerk_client,
            "/api/v1/members/upsert/",
            {"source": "tmall", "external_id": "tb-001", "phone": "13800138000"},
        ),
        409,
        "identity_conflict",
        "phone",
    )

    assert "merge" in body["message"]
    assert Member.objects.count() == 2
    assert ExternalIdentity.objects.count() == 1


@pytest.mark.parametrize("raw", ["12345", "12800138000", "+1 415 555 0100"])
def test_upsert_with_an_invalid_phone_is_400_and_writes_nothing(clerk_client, raw):
    body = assert_error(
        post(
            clerk_client,
            "/api/v1/members/upsert/",
            {"phone": raw, "source": "wechat", "external_id": "wx-openid-1"},
        ),
        400,
        "invalid_phone",
        "phone",
    )

    assert raw in body["message"]
    assert Member.objects.count() == 0
    assert ExternalIdentity.objects.count() == 0


def test_upsert_input_shape_errors_are_400_field_errors(clerk_client):
    assert_error(post(clerk_client, "/api/v1/members/upsert/", {}), 400, "invalid", "phone")
    assert_error(
        post(clerk_client, "/api/v1/members/upsert/", {"source": "tmall"}), 400, "invalid", "external_id"
    )
    assert_error(
        post(clerk_client, "/api/v1/members/upsert/", {"source": "myspace", "external_id": "x"}),
        400,
        "invalid",
        "source",
    )
    assert Member.objects.count() == 0


def test_clerk_registers_a_walk_in_to_their_own_store_only(clerk_client, store):
    other = StoreFactory(code="SH-09")

    refused = post(
        clerk_client, "/api/v1/members/upsert/", {"phone": "13800138000", "home_store": other.code}
    )
    accepted = post(
        clerk_client, "/api/v1/members/upsert/", {"phone": "13800138000", "home_store": store.code}
    )

    assert_error(refused, 400, "invalid", "home_store")
    assert accepted.status_code == 201
    assert Member.objects.get().home_store == store
    assert accepted.json()["home_store_code"] == "BJ-01"


# --- points ---------------------------------------------------------------------------------------


def earn_url(member):
    return f"/api/v1/members/{member.pk}/points/earn/"


def redeem_url(member):
    return f"/api/v1/members/{member.pk}/points/redeem/"


def test_earn_in_store_and_redeem_online_across_channels(clerk_client, store, mall, store_channel):
    PointsRule.objects.create(channel=store_channel, points_per_yuan=Decimal("2"), life_days=365)
    member = MemberFactory(home_store=store)

    earned = post(
        clerk_client,
        earn_url(member),
        {"channel": "stores", "paid_amount": "99.90", "reference": "R-1", "client_reference": "pos-1"},
    )
    spent = post(
        clerk_client,
        redeem_url(member),
        {"points": 150, "channel": mall.pk, "reference": "WEB-9", "client_reference": "web-1"},
    )

    assert earned.status_code == 201, earned.content
    assert earned.json()["entry"]["points"] == 199  # 2 per yuan, rounded down
    assert earned.json()["entry"]["channel"] == "stores"
    assert spent.status_code == 201, spent.content
    assert spent.json()["entry"]["points"] == -150
    assert spent.json()["balance"] == 49
    member.refresh_from_db()
    assert member.points_balance == points_balance_from_ledger(member) == 49


def test_earn_replay_returns_the_same_entry_and_a_different_body_is_409(clerk_client, store, mall):
    member = MemberFactory(home_store=store)
    body = {"channel": "mall", "paid_amount": "100.00", "reference": "O-1", "client_reference": "mall-O-1"}

    first = post(clerk_client, earn_url(member), body)
    replay = post(clerk_client, earn_url(member), body)
    changed = post(clerk_client, earn_url(member), {**body, "paid_amount": "500.00"})

    assert first.status_code == 201
    assert replay.status_code == 200
    assert replay.json()["replayed"] is True
    assert replay.json()["entry"]["id"] == first.json()["entry"]["id"]
    assert_error(changed, 409, "idempotency_conflict", "client_reference")
    member.refresh_from_db()
    assert member.points_balance == 100
    assert member.total_spend == Decimal("100.00")
    assert PointsEntry.objects.filter(member=member).count() == 1


def test_redeem_replay_returns_the_same_entry_and_a_different_body_is_409(clerk_client, store, mall):
    member = member_with_points(100, mall, home_store=store)
    body = {"points": 30, "channel": "mall", "reference": "ORDER-5", "client_reference": "redeem-5"}

    first = post(clerk_client, redeem_url(member), body)
    replay = post(clerk_client, redeem_url(member), body)
    more = post(clerk_client, redeem_url(member), {**body, "points": 60})
    elsewhere = post(clerk_client, redeem_url(member), {**body, "reference": "ORDER-6"})

    assert first.status_code == 201
    assert (replay.status_code, replay.json()["entry"]["id"]) == (200, first.json()["entry"]["id"])
    assert replay.json()["balance"] == 70
    assert_error(more, 409, "idempotency_conflict", "client_reference")
    assert_error(elsewhere, 409, "idempotency_conflict", "client_reference")
    member.refresh_from_db()
    assert member.points_balance == points_balance_from_ledger(member) == 70
    assert PointsEntry.objects.filter(member=member, kind=PointsKind.REDEEM).count() == 1


def test_client_reference_of_another_member_is_409(clerk_client, store, mall):
    a, b = member_with_points(50, mall, home_store=store), member_with_points(50, mall, home_store=store)
    body = {"points": 10, "channel": "mall", "client_reference": "shared-ref"}
    post(clerk_client, redeem_url(a), body)

    assert_error(post(clerk_client, redeem_url(b), body), 409, "idempotency_conflict")
    b.refresh_from_db()
    assert b.points_balance == 50


def test_redeem_more_than_the_balance_is_409_and_writes_no_entry(clerk_client, store, mall):
    member = member_with_points(40, mall, home_store=store)

    body = assert_error(
        post(clerk_client, redeem_url(member), {"points": 41, "channel": "mall", "client_reference": "x"}),
        409,
        "insufficient_points",
        "points",
    )

    assert "40" in body["message"]
    member.refresh_from_db()
    assert member.points_balance == 40
    assert not PointsEntry.objects.filter(kind=PointsKind.REDEEM).exists()
    assert not PointsEntry.objects.filter(client_reference="x").exists()


@pytest.mark.parametrize("points", [0, -5])
def test_redeem_of_no_points_is_refused_as_a_field_error(clerk_client, store, mall, points):
    member = member_with_points(40, mall, home_store=store)

    assert_error(
        post(clerk_client, redeem_url(member), {"points": points, "channel": "mall"}),
        400,
        "points_refused",
        "points",
    )
    assert PointsEntry.objects.count() == 1


def test_points_of_a_merged_member_are_refused_naming_the_survivor(hq_client, mall):
    survivor, dup = MemberFactory(), member_with_points(10, mall)
    post(hq_client, "/api/v1/members/merge/", {"survivor": survivor.pk, "merged": dup.pk})

    body = assert_error(
        post(hq_client, earn_url(dup), {"channel": "mall", "paid_amount": "10", "reference": "r"}),
        400,
        "points_refused",
        "member",
    )

    assert str(survivor.pk) in body["message"]
    dup.refresh_from_db()
    assert (dup.points_balance, dup.total_spend) == (0, Decimal("0"))


def test_clerk_moves_points_of_their_stores_customers_only(clerk_client, mall):
    # A walk-in from another store is served through the member page the lookup opens; by id, the
    # API moves points of the members the clerk may see only (docs/security.md).
    elsewhere = member_with_points(40, mall, home_store=StoreFactory())
    assert_error(
        post(clerk_client, redeem_url(elsewhere), {"points": 1, "channel": "mall"}), 404, "not_found"
    )
    elsewhere.refresh_from_db()
    assert elsewhere.points_balance == 40 and elsewhere.points_entries.count() == 1


def test_points_of_an_unknown_member_or_channel(clerk_client, store, mall):
    assert_error(
        post(clerk_client, "/api/v1/members/999999/points/redeem/", {"points": 1, "channel": "mall"}),
        404,
        "not_found",
    )
    member = MemberFactory(home_store=store)
    assert_error(
        post(clerk_client, earn_url(member), {"channel": "bazaar", "paid_amount": "1", "reference": "r"}),
        400,
        "invalid",
        "channel",
    )


def test_ledger_shows_balance_and_entries_newest_first_paginated(hq_client, mall):
    member = member_with_points(100, mall)
    for n in range(3):
        post(hq_client, redeem_url(member), {"points": 10 + n, "channel": "mall", "reference": f"R{n}"})

    body = hq_client.get(f"/api/v1/members/{member.pk}/points/?page_size=2").json()
    rest = hq_client.get(f"/api/v1/members/{member.pk}/points/?page_size=2&page=2").json()
    redeems = hq_client.get(f"/api/v1/members/{member.pk}/points/?kind=redeem").json()

    assert body["balance"] == 100 - 10 - 11 - 12
    assert body["count"] == 4
    assert [e["points"] for e in body["results"] + rest["results"]] == [-12, -11, -10, 100]
    assert redeems["count"] == 3


def test_adjust_is_hq_only_and_needs_a_reason(clerk_client, hq_client, mall):
    member = member_with_points(10, mall)
    url = f"/api/v1/members/{member.pk}/points/adjust/"

    assert_error(post(clerk_client, url, {"points": 5, "reason": "goodwill"}), 403, "permission_denied")
    assert_error(post(hq_client, url, {"points": 5, "reason": " "}), 400, "invalid", "reason")
    assert_error(post(hq_client, url, {"points": -11, "reason": "typo"}), 409, "insufficient_points")
    done = post(hq_client, url, {"points": -4, "reason": "typo on receipt"})

    assert done.status_code == 201
    entry = PointsEntry.objects.get(kind=PointsKind.ADJUST)
    assert (entry.points, entry.reason, done.json()["balance"]) == (-4, "typo on receipt", 6)


# --- merges ---------------------------------------------------------------------------------------


def test_merge_via_api_moves_identities_and_points_and_returns_what_moved(hq_client, hq, mall):
    survivor = member_upsert(
        phone="13800138000", source="store_card", external_id="CARD-1", actor=SYSTEM
    ).member
    dup = member_upsert(source="tmall", external_id="tb-9", actor=SYSTEM).member
    points_earn(member=dup, channel=mall, paid_amount=Decimal("80"), reference="T-1")

    response = post(
        hq_client,
        "/api/v1/members/merge/",
        {"survivor": survivor.pk, "merged": str(dup.pk), "reason": "same person"},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["survivor"], body["merged"], body["merged_by"]) == (survivor.pk, dup.pk, hq.username)
    assert body["moved"]["points_balance"] == 80
    assert body["moved"]["members.externalidentity.member"] == [
        ExternalIdentity.objects.get(external_id="tb-9").pk
    ]
    survivor.refresh_from_db()
    dup.refresh_from_db()
    assert dup.merged_into == survivor
    assert sorted(survivor.identities.values_list("external_id", flat=True)) == ["CARD-1", "tb-9"]
    assert survivor.points_balance == points_balance_from_ledger(survivor) == 80
    assert MemberMerge.objects.get().reason == "same person"
    found = hq_client.get("/api/v1/members/lookup/?q=tb-9").json()
    assert (found["id"], found["points_balance"]) == (survivor.pk, 80)


def test_merge_into_itself_is_400_and_changes_nothing(hq_client):
    member = MemberFactory()

    assert_error(
        post(hq_client, "/api/v1/members/merge/", {"survivor": member.pk, "merged": member.pk}),
        400,
        "merge_refused",
        "merged",
    )
    assert not MemberMerge.objects.exists()
    member.refresh_from_db()
    assert member.merged_into is None


def test_merge_into_an_already_merged_member_is_refused(hq_client):
    a, b, c = MemberFactory(), MemberFactory(), MemberFactory()
    post(hq_client, "/api/v1/members/merge/", {"survivor": a.pk, "merged": b.pk})

    assert_error(
        post(hq_client, "/api/v1/members/merge/", {"survivor": b.pk, "merged": c.pk}),
        400,
        "merge_refused",
        "survivor",
    )
    assert MemberMerge.objects.count() == 1


def test_merge_input_errors_and_clerks_are_refused(hq_client, clerk_client):
    member = MemberFactory()

    assert_error(
        post(hq_client, "/api/v1/members/merge/", {"survivor": member.pk, "merged": 424242}),
        400,
        "invalid",
        "merged",
    )
    assert_error(
        post(hq_client, "/api/v1/members/merge/", {"survivor": "²", "merged": member.pk}),
        400,
        "invalid",
        "survivor",
    )
    assert_error(
        post(clerk_client, "/api/v1/members/merge/", {"survivor": member.pk, "merged": 1}),
        403,
        "permission_denied",
    )
    assert_error(clerk_client.get("/api/v1/members/duplicates/"), 403, "permission_denied")


def test_duplicates_lists_the_same_mobile_reported_by_another_system(hq_client):
    a = member_upsert(phone="13800138000", actor=SYSTEM).member
    b = member_upsert(source="jd", external_id="jd-1", actor=SYSTEM).member
    b.identities.update(reported_phone="13800138000")

    body = hq_client.get("/api/v1/members/duplicates/").json()

    assert {"reason": "Same mobile 13800138000", "member_ids": sorted([a.pk, b.pk])} in body


# --- segments -------------------------------------------------------------------------------------


@pytest.fixture
def shanghai(mall):
    """Four members in Shanghai (two consenting) and one consenting member in Beijing."""
    members = [MemberFactory(city="Shanghai", name=f"SH {n}") for n in range(4)]
    for member in members[:2]:
        member_set_consent(member=member, consent=True, channel=mall)
    member_set_consent(member=MemberFactory(city="Beijing"), consent=True, channel=mall)
    return members


def test_segment_create_counts_and_lists_its_members(hq_client, hq, shanghai):
    response = post(hq_client, "/api/v1/segments/", {"name": "Shanghai", "filters": {"city": ["Shanghai"]}})

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["count"], body["created_by"]) == ("Shanghai", 4, hq.username)
    segment = Segment.objects.get()
    assert segment.filters == {"city": ["Shanghai"]}
    assert hq_client.get(f"/api/v1/segments/{segment.pk}/").json()["count"] == 4
    page = hq_client.get(f"/api/v1/segments/{segment.pk}/members/?page_size=3").json()
    assert page["count"] == 4
    assert len(page["results"]) == 3
    assert {row["city"] for row in page["results"]} == {"Shanghai"}
    assert [row["name"] for row in hq_client.get("/api/v1/segments/").json()["results"]] == ["Shanghai"]


def test_segment_with_bad_filters_is_400_naming_each_and_saves_nothing(hq_client):
    body = assert_error(
        post(
            hq_client,
            "/api/v1/segments/",
            {
                "name": "Broken",
                "filters": {
                    "colour": "red",
                    "spend_min": "lots",
                    "spend_max": "Infinity",
                    "home_store": ["abc"],
                    "city": ["X"],
                },
            },
        ),
        400,
        "segment_invalid",
        "filters",
    )

    problems = " ".join(body["fields"]["filters"])
    assert "colour" in problems
    assert "spend_min" in problems
    assert "spend_max" in problems
    assert "home_store" in problems
    assert "city" not in problems
    assert not Segment.objects.exists()


def test_segment_filters_must_be_an_object_and_name_given(hq_client):
    assert_error(
        post(hq_client, "/api/v1/segments/", {"name": "List", "filters": ["city"]}),
        400,
        "segment_invalid",
        "filters",
    )
    assert_error(post(hq_client, "/api/v1/segments/", {"name": "", "filters": {}}), 400, "invalid", "name")
    assert not Segment.objects.exists()


def test_segment_export_includes_only_consenting_members_and_counts_the_others(hq_client, shanghai):
    segment = Segment.objects.create(name="Shanghai", filters={"city": "Shanghai"})

    response = hq_client.get(f"/api/v1/segments/{segment.pk}/export/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["X-Left-Out"] == "2"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "member_id",
        "phone",
        "name",
        "city",
        "tier",
        "points_balance",
        "total_spend",
    ]
    assert sorted(int(row[0]) for row in rows[1:]) == sorted(m.pk for m in shanghai[:2])
    assert {row[3] for row in rows[1:]} == {"Shanghai"}


def test_segment_export_answers_a_client_that_accepts_only_csv(hq_client, shanghai):
    segment = Segment.objects.create(name="All", filters={})

    response = hq_client.get(f"/api/v1/segments/{segment.pk}/export/", HTTP_ACCEPT="text/csv")

    assert response.status_code == 200
    assert response["X-Left-Out"] == "2"
    assert len(response.content.decode().splitlines()) == 1 + 3


def test_segment_export_defuses_spreadsheet_formulas_in_names(hq_client, mall):
    member = MemberFactory(name='=HYPERLINK("http://x")', city="Shanghai")
    member_set_consent(member=member, consent=True, channel=mall)
    segment = Segment.objects.create(name="All", filters={})

    rows = list(
        csv.reader(io.StringIO(hq_client.get(f"/api/v1/segments/{segment.pk}/export/").content.decode()))
    )

    assert rows[1][2] == '\'=HYPERLINK("http://x")'


def test_segments_are_hq_only(clerk_client):
    segment = Segment.objects.create(name="All", filters={})

    for url in (
        "/api/v1/segments/",
        f"/api/v1/segments/{segment.pk}/",
        f"/api/v1/segments/{segment.pk}/members/",
        f"/api/v1/segments/{segment.pk}/export/",
    ):
        assert_error(clerk_client.get(url), 403, "permission_denied")
    assert_error(
        post(clerk_client, "/api/v1/segments/", {"name": "Mine", "filters": {}}), 403, "permission_denied"
    )
    assert Segment.objects.count() == 1


# --- query counts ---------------------------------------------------------------------------------


def test_member_list_and_segment_members_run_a_constant_number_of_queries(hq_client, mall):
    gold = Tier.objects.create(code="gold", name="Gold", min_spend_12m=Decimal("1000"))
    segment = Segment.objects.create(name="Shanghai", filters={"city": ["Shanghai"]})

    def grow(n):
        for _ in range(n):
            member = MemberFactory(city="Shanghai", tier=gold, home_store=StoreFactory())
            member_upsert(phone=member.phone, source="tmall", external_id=f"tb-{member.pk}", actor=SYSTEM)

    urls = ["/api/v1/members/", f"/api/v1/segments/{segment.pk}/members/"]
    grow(2)
    few = [count_queries(hq_client, url) for url in urls]
    grow(20)
    many = [count_queries(hq_client, url) for url in urls]

    assert many == few
    assert hq_client.get(urls[1]).json()["count"] == 22


def test_member_detail_and_ledger_run_a_constant_number_of_queries(hq_client, mall):
    member = member_with_points(5, mall)
    url = f"/api/v1/members/{member.pk}/points/"
    detail = f"/api/v1/members/{member.pk}/"
    few = [count_queries(hq_client, url), count_queries(hq_client, detail)]
    for n in range(15):
        points_earn(member=member, channel=mall, paid_amount=Decimal("1"), reference=f"x{n}")
        member_upsert(phone=member.phone, source="wechat", external_id=f"wx-{n}", actor=SYSTEM)

    assert [count_queries(hq_client, url), count_queries(hq_client, detail)] == few


# --- schema ---------------------------------------------------------------------------------------


def test_schema_documents_the_members_and_segments_endpoints(client):
    paths = client.get("/api/v1/schema/?format=json").json()["paths"]

    for path in (
        "/api/v1/members/",
        "/api/v1/members/{id}/",
        "/api/v1/members/lookup/",
        "/api/v1/members/upsert/",
        "/api/v1/members/merge/",
        "/api/v1/members/duplicates/",
        "/api/v1/members/{id}/points/",
        "/api/v1/members/{id}/points/earn/",
        "/api/v1/members/{id}/points/redeem/",
        "/api/v1/members/{id}/points/adjust/",
        "/api/v1/segments/",
        "/api/v1/segments/{id}/",
        "/api/v1/segments/{id}/members/",
        "/api/v1/segments/{id}/export/",
    ):
        assert path in paths, path
    redeem = paths["/api/v1/members/{id}/points/redeem/"]["post"]["responses"]
    assert redeem["409"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert "text/csv" in paths["/api/v1/segments/{id}/export/"]["get"]["responses"]["200"]["content"]
