"""HQ's admin for members: merges through member_merge with refusals shown, the points ledger
read-only (adjustments through points_adjust), consent through its service, segments with
their count, store lists through the group services, and constant list queries."""

import html
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.roles import SYSTEM
from members.choices import PointsKind
from members.models import (
    ExternalIdentity,
    Member,
    MemberMerge,
    PointsEntry,
    PointsRule,
    Segment,
    StaticGroup,
    Tier,
)
from members.selectors import points_balance_from_ledger
from members.services import member_merge, member_set_consent, member_upsert, points_earn
from tests.factories import ChannelFactory, MemberFactory, StoreFactory, UserFactory

pytestmark = pytest.mark.django_db


def page(response) -> str:
    return html.unescape(response.content.decode())


class _FormFields(HTMLParser):
    """The values a browser would submit from the page's form (inputs, selects, textareas)."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, object] = {}
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.data[name] = a.get("value", "on")
            else:
                self.data[name] = a.get("value", "")
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.data[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += data


def form_data(response) -> dict:
    parser = _FormFields()
    parser.feed(response.content.decode())
    return {k: v for k, v in parser.data.items() if k != "csrfmiddlewaretoken"}


def change(client, url, **changes):
    data = form_data(client.get(url))
    data.update(changes)
    return client.post(url, data, follow=True)


def run_action(client, action, objects):
    data = {"action": action, "_selected_action": [o.pk for o in objects], "index": 0}
    return client.post("/admin/members/member/", data, follow=True)


@pytest.fixture
def mall():
    PointsRule.objects.create(channel=None, points_per_yuan=Decimal("1"), life_days=365)
    return ChannelFactory(code="mall", name="Own mall")


def with_points(member, channel, amount):
    points_earn(member=member, channel=channel, paid_amount=Decimal(amount), reference="seed")
    member.refresh_from_db()
    return member


# --- Merging


def test_merge_action_merges_the_selected_into_the_oldest(hq_client, hq, mall):
    oldest = member_upsert(
        phone="13800138000", source="store_card", external_id="CARD-1", actor=SYSTEM
    ).member
    tmall = with_points(member_upsert(source="tmall", external_id="tb-1", actor=SYSTEM).member, mall, 30)
    jd = with_points(member_upsert(source="jd", external_id="jd-1", actor=SYSTEM).member, mall, 12)

    response = run_action(hq_client, "merge_into_oldest", [jd, oldest, tmall])

    text = page(response)
    assert f"Merged 2 members into member {oldest.pk}" in text
    assert "2 identities and 42 points moved" in text
    oldest.refresh_from_db()
    assert oldest.points_balance == points_balance_from_ledger(oldest) == 42
    assert sorted(oldest.identities.values_list("external_id", flat=True)) == ["CARD-1", "jd-1", "tb-1"]
    assert set(Member.objects.filter(merged_into=oldest).values_list("pk", flat=True)) == {tmall.pk, jd.pk}
    assert set(MemberMerge.objects.values_list("merged_by", flat=True)) == {hq.pk}


def test_merge_action_refusal_is_shown_and_merges_none_of_the_selected(hq_client):
    first, second, third, fourth = (MemberFactory() for _ in range(4))
    member_merge(
        survivor=second, merged=first, actor=SYSTEM
    )  # the oldest selected is already a merged duplicate

    response = run_action(hq_client, "merge_into_oldest", [first, third, fourth])

    text = page(response)
    assert "No member was merged" in text
    assert f"already merged into member {second.pk}" in text
    assert MemberMerge.objects.count() == 1
    assert not Member.objects.filter(pk__in=[third.pk, fourth.pk], merged_into__isnull=False).exists()


def test_merge_action_needs_two_members(hq_client):
    member = MemberFactory()

    assert "Select at least two members" in page(run_action(hq_client, "merge_into_oldest", [member]))
    assert not MemberMerge.objects.exists()


def test_merge_action_is_not_offered_to_staff_without_the_hq_role(client):
    staff = UserFactory(is_staff=True, is_superuser=False)
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_member", "change_member"]))
    client.force_login(staff)
    a, b = MemberFactory(), MemberFactory()

    response = client.get("/admin/members/member/")

    assert response.status_code == 200
    assert "merge_into_oldest" not in response.content.decode()
    run_action(client, "merge_into_oldest", [a, b])
    assert not MemberMerge.objects.exists()


# --- The member page


def test_member_search_finds_a_mobile_in_any_format_and_an_external_id(hq_client):
    target = member_upsert(
        phone="13800138000", source="tmall", external_id="tb-77", name="Li Lei", actor=SYSTEM
    ).member
    MemberFactory(name="Someone else")

    for term in ("138 0013 8000", "+86 13800138000", "tb-77", "Li Lei"):
        response = hq_client.get("/admin/members/member/", {"q": term})
        rows = response.context["cl"].result_list
        assert [m.pk for m in rows] == [target.pk], term


def test_member_page_shows_identities_and_ledger_and_the_balance_cannot_be_edited(hq_client, mall):
    member = member_upsert(
        phone="13800138000", source="wechat", external_id="wx-openid-9", actor=SYSTEM
    ).member
    with_points(member, mall, 25)
    url = f"/admin/members/member/{member.pk}/change/"

    text = page(hq_client.get(url))
    assert "wx-openid-9" in text
    assert "Points ledger" in text
    assert 'name="points_balance"' not in text
    assert 'name="identities-0-external_id"' not in text

    response = change(hq_client, url, name="Han Meimei", points_balance="9999", tier="1")

    assert "was changed successfully" in page(response)
    member.refresh_from_db()
    assert (member.name, member.points_balance, member.tier) == ("Han Meimei", 25, None)
    assert PointsEntry.objects.filter(member=member).count() == 1


def test_member_ledger_inline_shows_the_newest_entries_only(hq_client, mall):
    member = MemberFactory()
    for n in range(55):
        points_earn(member=member, channel=mall, paid_amount=Decimal("1"), reference=f"ref-{n:02d}")

    text = page(hq_client.get(f"/admin/members/member/{member.pk}/change/"))

    assert "ref-54" in text
    assert "ref-05" in text
    assert "ref-04" not in text


def test_member_phone_is_normalised_and_an_invalid_one_refused(hq_client):
    member = MemberFactory(phone="13900000001")
    url = f"/admin/members/member/{member.pk}/change/"

    refused = change(hq_client, url, phone="12345")
    assert "12345 is not a mainland China mobile number" in page(refused)
    member.refresh_from_db()
    assert member.phone == "13900000001"

    change(hq_client, url, phone="+86 138 0013 8000")
    member.refresh_from_db()
    assert member.phone == "13800138000"


def test_consent_changed_in_the_admin_is_recorded_with_its_time(hq_client):
    member = MemberFactory()
    assert member.consent_changed_at is None

    change(hq_client, f"/admin/members/member/{member.pk}/change/", marketing_consent="on")

    member.refresh_from_db()
    assert member.marketing_consent is True
    assert member.consent_changed_at is not None


def test_merged_member_page_is_read_only(hq_client):
    survivor, dup = MemberFactory(), MemberFactory(name="Dup")
    member_merge(survivor=survivor, merged=dup, actor=SYSTEM)

    response = hq_client.post(f"/admin/members/member/{dup.pk}/change/", {"name": "Changed"})

    assert response.status_code == 403
    dup.refresh_from_db()
    assert dup.name == "Dup"


# --- Points ledger


def test_points_entries_cannot_be_changed_or_deleted(hq_client, mall):
    member = with_points(MemberFactory(), mall, 10)
    entry = PointsEntry.objects.get()

    assert 'name="points"' not in page(hq_client.get(f"/admin/members/pointsentry/{entry.pk}/change/"))
    assert hq_client.post(f"/admin/members/pointsentry/{entry.pk}/change/", {"points": 99}).status_code == 403
    assert (
        hq_client.post(f"/admin/members/pointsentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    entry.refresh_from_db()
    member.refresh_from_db()
    assert (entry.points, member.points_balance) == (10, 10)


def test_adjust_points_in_the_admin_goes_through_the_service(hq_client, hq, mall):
    member = with_points(MemberFactory(), mall, 10)

    form = hq_client.get(f"/admin/members/pointsentry/add/?member={member.pk}")
    assert "Adjust points" in page(form)
    response = hq_client.post(
        "/admin/members/pointsentry/add/",
        {"member": member.pk, "points": "-4", "reason": "receipt typed twice"},
        follow=True,
    )

    assert "was added successfully" in page(response)
    entry = PointsEntry.objects.get(kind=PointsKind.ADJUST)
    assert (entry.points, entry.reason, entry.created_by) == (-4, "receipt typed twice", hq)
    member.refresh_from_db()
    assert member.points_balance == points_balance_from_ledger(member) == 6


@pytest.mark.parametrize(
    ("points", "reason", "message"),
    [("-11", "typo", "Member has 10 points"), ("5", "", "Say why the points change"), ("0", "x", "change")],
)
def test_adjust_refusal_is_shown_on_the_form_and_writes_nothing(hq_client, mall, points, reason, message):
    member = with_points(MemberFactory(), mall, 10)

    response = hq_client.post(
        "/admin/members/pointsentry/add/", {"member": member.pk, "points": points, "reason": reason}
    )

    assert response.status_code == 200
    assert message in page(response)
    assert PointsEntry.objects.count() == 1
    member.refresh_from_db()
    assert member.points_balance == 10


# --- Segments and store lists


def test_segment_page_shows_its_count_and_consenting_members(hq_client, mall):
    for n in range(3):
        member = MemberFactory(city="Shanghai")
        if n == 0:
            member_set_consent(member=member, consent=True, channel=mall)
    MemberFactory(city="Beijing")
    segment = Segment.objects.create(name="Shanghai", filters={"city": ["Shanghai"]})

    text = page(hq_client.get(f"/admin/members/segment/{segment.pk}/change/"))

    assert "3 members, 1 with marketing consent" in text


def test_segment_with_bad_filters_is_refused_on_the_form(hq_client, hq):
    response = hq_client.post(
        "/admin/members/segment/add/", {"name": "Broken", "filters": '{"colour": "red", "spend_min": "x"}'}
    )

    text = page(response)
    assert "colour: Unknown filter." in text
    assert "spend_min: Not a number." in text
    assert not Segment.objects.exists()

    hq_client.post("/admin/members/segment/add/", {"name": "Big spenders", "filters": '{"spend_min": 1000}'})
    assert Segment.objects.get().created_by == hq


def test_store_list_members_are_added_and_removed_through_the_group_services(hq_client):
    store = StoreFactory()
    keep, drop, add = MemberFactory(), MemberFactory(), MemberFactory()
    group = StaticGroup.objects.create(name="VIP", store=store)
    group.members.add(keep, drop)
    url = f"/admin/members/staticgroup/{group.pk}/change/"

    change(hq_client, url, members=f"{keep.pk},{add.pk}")

    assert set(group.members.values_list("pk", flat=True)) == {keep.pk, add.pk}


def test_store_list_refuses_a_merged_member(hq_client):
    survivor, dup = MemberFactory(), MemberFactory()
    member_merge(survivor=survivor, merged=dup, actor=SYSTEM)
    store = StoreFactory()

    response = hq_client.post(
        "/admin/members/staticgroup/add/", {"name": "VIP", "store": store.pk, "members": str(dup.pk)}
    )

    assert "was merged; add the surviving member" in page(response)
    assert not StaticGroup.objects.exists()


# --- Every page, and constant list queries


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "url",
    [
        "/admin/members/member/",
        "/admin/members/externalidentity/",
        "/admin/members/membermerge/",
        "/admin/members/pointsentry/",
        "/admin/members/staticgroup/",
    ],
)
def test_admin_lists_run_a_constant_number_of_queries(hq_client, mall, url):
    gold = Tier.objects.create(code="gold", name="Gold", min_spend_12m=Decimal("1000"))

    def grow(n):
        for _ in range(n):
            store = StoreFactory()
            survivor = MemberFactory(tier=gold, home_store=store)
            dup = member_upsert(source="jd", external_id=f"jd-{survivor.pk}", actor=SYSTEM).member
            points_earn(member=dup, channel=mall, paid_amount=Decimal("5"), reference="r")
            member_merge(survivor=survivor, merged=dup, actor=UserFactory())
            StaticGroup.objects.create(name="VIP", store=store).members.add(survivor)

    grow(2)
    hq_client.get(url)  # warm per-request caches (content types, permissions)
    few = _queries(hq_client, url)
    grow(12)
    assert _queries(hq_client, url) == few


def test_every_members_admin_page_renders(hq_client, mall):
    member = with_points(
        member_upsert(phone="13800138000", source="tmall", external_id="tb-1", actor=SYSTEM).member, mall, 5
    )
    dup = MemberFactory()
    record = member_merge(survivor=member, merged=dup, actor=SYSTEM)
    group = StaticGroup.objects.create(name="VIP", store=StoreFactory())
    group.members.add(member)
    objects = {
        "member": member,
        "externalidentity": ExternalIdentity.objects.get(),
        "membermerge": record,
        "pointsrule": PointsRule.objects.get(),
        "tier": Tier.objects.create(code="gold", name="Gold", min_spend_12m=Decimal("1000")),
        "pointsentry": PointsEntry.objects.get(),
        "segment": Segment.objects.create(name="All", filters={}),
        "staticgroup": group,
    }
    for path, obj in objects.items():
        for url in (f"/admin/members/{path}/", f"/admin/members/{path}/{obj.pk}/change/"):
            assert hq_client.get(url).status_code == 200, url
    for path in ("member", "pointsrule", "tier", "pointsentry", "segment", "staticgroup"):
        assert hq_client.get(f"/admin/members/{path}/add/").status_code == 200, path
    for path in ("externalidentity", "membermerge"):
        assert hq_client.get(f"/admin/members/{path}/add/").status_code == 403, path
