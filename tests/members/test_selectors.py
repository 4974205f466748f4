from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from config.roles import SYSTEM
from members.errors import GroupRefused
from members.models import PointsRule, StaticGroup, Tier
from members.selectors import (
    SegmentInvalid,
    duplicate_candidates,
    member_lookup,
    members_visible_to,
    segment_members,
)
from members.services import (
    member_merge,
    member_set_consent,
    member_upsert,
    points_earn,
    segment_export,
    static_group_add,
    static_group_remove,
)
from tests.factories import ChannelFactory, MemberFactory, StoreFactory, clerk_at, hq_user, manager_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def mall():
    PointsRule.objects.create(channel=None, points_per_yuan=Decimal("1"), life_days=365)
    return ChannelFactory(code="mall", name="Own mall")


def test_clerk_sees_their_stores_customers_only_and_finds_others_by_exact_phone():
    mine, other = StoreFactory(), StoreFactory()
    regular = MemberFactory(home_store=mine)
    stranger = MemberFactory(home_store=other, phone="13700137000")
    clerk = clerk_at(mine)
    assert list(members_visible_to(clerk)) == [regular]
    assert members_visible_to(hq_user()).count() == 2
    assert member_lookup("137 0013 7000") == stranger  # the walk-in customer from elsewhere
    assert member_lookup("1370013") is None  # no prefix search: nothing to browse


def test_lookup_by_card_or_marketplace_id_and_merged_ids_lead_to_the_survivor():
    survivor = member_upsert(
        phone="13800138000", source="store_card", external_id="CARD-77", actor=SYSTEM
    ).member
    dup = member_upsert(source="tmall", external_id="tb-77", actor=SYSTEM).member
    assert member_lookup("CARD-77") == survivor
    member_merge(survivor=survivor, merged=dup, actor=SYSTEM)
    assert member_lookup("tb-77") == survivor


def test_duplicate_finder_lists_same_phone_other_format_same_id_and_same_person():
    a = member_upsert(phone="13800138000", actor=SYSTEM).member
    b = member_upsert(source="jd", external_id="jd-1", actor=SYSTEM).member
    # JD reported this buyer's phone in another format: same person as `a`.
    b.identities.update(reported_phone="13800138000")
    birthday = timezone.localdate() - timedelta(days=9000)
    c = MemberFactory(name="Wang Fang", birthday=birthday, city="Chengdu")
    d = MemberFactory(name="Wang Fang", birthday=birthday, city="Chengdu")
    MemberFactory(name="Wang Fang", birthday=birthday, city="Xi'an")
    groups = {tuple(g.member_ids) for g in duplicate_candidates()}
    assert tuple(sorted([a.pk, b.pk])) in groups
    assert tuple(sorted([c.pk, d.pk])) in groups
    assert len(groups) == 2


def test_segment_filters_are_evaluated_in_the_database(mall, django_assert_num_queries):
    gold = Tier.objects.create(code="gold", name="Gold", min_spend_12m=Decimal("1000"))
    store = StoreFactory()
    big = MemberFactory(city="Chengdu", home_store=store, tier=gold)
    points_earn(member=big, channel=mall, paid_amount=Decimal("2000"), reference="O-1")
    small = MemberFactory(city="Chengdu")
    points_earn(member=small, channel=mall, paid_amount=Decimal("50"), reference="O-2")
    MemberFactory(city="Beijing")

    assert set(segment_members({"city": ["Chengdu"]})) == {big, small}
    assert list(segment_members({"city": "Chengdu", "spend_min": "1000"})) == [big]
    assert list(segment_members({"tier": ["gold"], "home_store": [store.pk]})) == [big]
    assert set(segment_members({"channel_used": ["mall"], "points_max": 100})) == {small}
    assert (
        segment_members({"last_purchase_before": (timezone.now() - timedelta(days=1)).isoformat()}).count()
        == 0
    )
    with django_assert_num_queries(1):
        assert segment_members({"city": ["Chengdu"], "channel_used": ["mall"], "spend_min": 10}).count() == 2


@pytest.mark.parametrize(
    "filters", [{"colour": "red"}, {"spend_min": "lots"}, {"last_purchase_after": "yesterday"}]
)
def test_bad_segment_filters_are_field_errors(filters):
    with pytest.raises(SegmentInvalid) as exc:
        segment_members(filters).count()
    assert set(exc.value.fields) == set(filters)


def test_export_includes_only_consenting_members_and_says_how_many_were_left_out(mall):
    yes = MemberFactory(city="Wuhan")
    member_set_consent(member=yes, consent=True, channel=mall)
    MemberFactory(city="Wuhan")
    MemberFactory(city="Wuhan")
    export = segment_export(filters={"city": "Wuhan"})
    assert [row[0] for row in export.rows] == [yes.pk]
    assert (export.included, export.left_out) == (1, 2)


def test_static_group_is_edited_by_that_stores_manager_only():
    store, other = StoreFactory(), StoreFactory()
    group = StaticGroup.objects.create(name="VIP", store=store)
    member = MemberFactory()
    with pytest.raises(GroupRefused):
        static_group_add(group=group, member=member, user=clerk_at(store))
    with pytest.raises(GroupRefused):
        static_group_add(group=group, member=member, user=manager_at(other))
    static_group_add(group=group, member=member, user=manager_at(store))
    assert list(group.members.all()) == [member]
    static_group_remove(group=group, member=member, user=hq_user())
    assert not group.members.exists()
