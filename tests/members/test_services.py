import threading
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from config.errors import Conflict
from config.roles import SYSTEM
from members.choices import IdentitySource, PointsKind
from members.errors import IdentityConflict, InsufficientPoints, InvalidPhone, MergeRefused, PointsRefused
from members.models import ExternalIdentity, Member, MemberMerge, PointsEntry, PointsRule, StaticGroup, Tier
from members.phones import normalise_phone
from members.selectors import points_balance_from_ledger
from members.services import (
    member_merge,
    member_upsert,
    points_adjust,
    points_earn,
    points_expire,
    points_redeem,
    points_reverse,
    tiers_refresh,
)
from tests.factories import ChannelFactory, MemberFactory, StoreFactory

SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "138 0013 8000",
        "+86 13800138000",
        "8613800138000",
        "0086-138-0013-8000",
        "(138)00138000",
    ],
)
def test_mainland_mobiles_normalise_to_eleven_digits(raw):
    assert normalise_phone(raw) == "13800138000"


@pytest.mark.parametrize(
    "raw", ["", "12345", "12800138000", "1380013800", "138001380001", "+1 4155550100", "abc"]
)
def test_invalid_numbers_are_refused_with_a_clear_message(raw):
    with pytest.raises(InvalidPhone) as exc:
        normalise_phone(raw)
    assert "mobile" in exc.value.message
    assert "phone" in exc.value.fields


@pytest.fixture
def store_channel():
    return ChannelFactory(code="stores", name="Own stores", kind="own_store")


@pytest.fixture
def mall():
    return ChannelFactory(code="mall", name="Own mall")


@pytest.fixture
def rules(db, store_channel):
    PointsRule.objects.create(channel=None, points_per_yuan=Decimal("1"), life_days=365)
    PointsRule.objects.create(channel=store_channel, points_per_yuan=Decimal("2"), life_days=365)


# --- identity ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_upsert_by_phone_in_any_format_finds_the_one_member():
    first = member_upsert(phone="138 0013 8000", name="Li Lei", actor=SYSTEM)
    again = member_upsert(phone="+86 13800138000", actor=SYSTEM)
    assert first.created and not again.created
    assert again.member.pk == first.member.pk
    assert Member.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("source", [s.value for s in IdentitySource])
def test_upsert_by_each_identity_with_a_phone_links_both(source):
    result = member_upsert(phone="13800138000", source=source, external_id=f"{source}-42", actor=SYSTEM)
    assert result.created and result.identity_created
    by_identity = member_upsert(source=source, external_id=f"{source}-42", actor=SYSTEM)
    by_phone = member_upsert(phone="8613800138000", actor=SYSTEM)
    assert by_identity.member.pk == by_phone.member.pk == result.member.pk
    assert ExternalIdentity.objects.get().reported_phone == "13800138000"


@pytest.mark.django_db
def test_tmall_buyer_then_phone_attaches_to_the_existing_member():
    existing = member_upsert(phone="13800138000", actor=SYSTEM).member
    result = member_upsert(phone="138-0013-8000", source="tmall", external_id="tb_buyer_1", actor=SYSTEM)
    assert not result.created and result.identity_created
    assert result.member.pk == existing.pk
    assert existing.identities.get().source == "tmall"


@pytest.mark.django_db
def test_identity_and_phone_of_two_different_members_is_a_conflict_not_a_guess():
    member_upsert(source="jd", external_id="jd-1", actor=SYSTEM)
    member_upsert(phone="13800138000", actor=SYSTEM)
    with pytest.raises(IdentityConflict) as exc:
        member_upsert(phone="13800138000", source="jd", external_id="jd-1", actor=SYSTEM)
    assert "merge" in exc.value.message
    assert Member.objects.count() == 2


@pytest.mark.django_db
def test_upsert_needs_a_phone_or_an_identity_and_valid_input():
    with pytest.raises(IdentityConflict):
        member_upsert(name="nobody", actor=SYSTEM)
    with pytest.raises(InvalidPhone):
        member_upsert(phone="12345", actor=SYSTEM)
    with pytest.raises(IdentityConflict):
        member_upsert(source="tmall", actor=SYSTEM)
    assert not Member.objects.exists()


# --- merge ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_merge_moves_identities_points_and_groups_and_records_what_moved(rules, mall):
    survivor = member_upsert(phone="13800138000", source="wechat", external_id="wx-1", actor=SYSTEM).member
    duplicate = member_upsert(
        source="tmall", external_id="tb-1", name="Han Meimei", city="Shanghai", actor=SYSTEM
    ).member
    points_earn(member=survivor, channel=mall, paid_amount=Decimal("100"), reference="O-1")
    points_earn(member=duplicate, channel=mall, paid_amount=Decimal("50"), reference="O-2")
    group = StaticGroup.objects.create(name="VIP", store=StoreFactory())
    group.members.add(duplicate)

    record = member_merge(survivor=survivor, merged=duplicate, reason="Same customer", actor=SYSTEM)

    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    assert set(survivor.identities.values_list("external_id", flat=True)) == {"wx-1", "tb-1"}
    assert survivor.points_entries.count() == 2
    assert survivor.points_balance == 150 == points_balance_from_ledger(survivor)
    assert survivor.total_spend == Decimal("150.00")
    assert survivor.name == "Han Meimei" and survivor.city == "Shanghai"  # filled where the survivor had none
    assert list(group.members.all()) == [survivor]
    assert duplicate.merged_into == survivor and duplicate.points_balance == 0
    assert record.moved["members.pointsentry.member"] and record.moved["static_groups"] == [group.pk]
    assert MemberMerge.objects.get().reason == "Same customer"


@pytest.mark.django_db
def test_merge_into_itself_or_an_already_merged_member_is_refused():
    a, b, c = MemberFactory(), MemberFactory(), MemberFactory()
    with pytest.raises(MergeRefused):
        member_merge(survivor=a, merged=a, actor=SYSTEM)
    member_merge(survivor=a, merged=b, actor=SYSTEM)
    with pytest.raises(MergeRefused):
        member_merge(survivor=b, merged=c, actor=SYSTEM)
    with pytest.raises(MergeRefused):
        member_merge(survivor=c, merged=b, actor=SYSTEM)
    assert MemberMerge.objects.count() == 1


@pytest.mark.django_db
def test_identity_of_a_merged_member_finds_the_survivor():
    survivor = member_upsert(phone="13800138000", actor=SYSTEM).member
    dup = member_upsert(source="jd", external_id="jd-9", actor=SYSTEM).member
    member_merge(survivor=survivor, merged=dup, actor=SYSTEM)
    assert member_upsert(source="jd", external_id="jd-9", actor=SYSTEM).member.pk == survivor.pk


# --- points --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_earn_uses_the_channels_rule_and_rounds_down(rules, store_channel, mall):
    member = MemberFactory()
    store_entry = points_earn(
        member=member, channel=store_channel, paid_amount=Decimal("99.99"), reference="S-1"
    )
    mall_entry = points_earn(member=member, channel=mall, paid_amount=Decimal("10.90"), reference="M-1")
    assert (store_entry.points, mall_entry.points) == (199, 10)
    member.refresh_from_db()
    assert member.points_balance == 209 == points_balance_from_ledger(member)
    assert member.total_spend == Decimal("110.89")


@pytest.mark.django_db
def test_points_earned_in_store_spend_online_and_back(rules, store_channel, mall):
    member = MemberFactory()
    points_earn(
        member=member, channel=store_channel, paid_amount=Decimal("100"), reference="S-1"
    )  # 200 points
    points_redeem(member=member, points=150, channel=mall, reference="M-2", actor=SYSTEM)
    points_earn(member=member, channel=mall, paid_amount=Decimal("40"), reference="M-3")  # 40 points
    points_redeem(member=member, points=90, channel=store_channel, reference="S-4", actor=SYSTEM)
    member.refresh_from_db()
    assert member.points_balance == 0 == points_balance_from_ledger(member)
    with pytest.raises(InsufficientPoints):
        points_redeem(member=member, points=1, channel=mall, actor=SYSTEM)


@pytest.mark.django_db
def test_redeem_more_than_the_balance_is_refused_and_writes_nothing(rules, mall):
    member = MemberFactory()
    points_earn(member=member, channel=mall, paid_amount=Decimal("10"), reference="O-1")
    with pytest.raises(InsufficientPoints) as exc:
        points_redeem(member=member, points=11, channel=mall, actor=SYSTEM)
    assert "10 points" in exc.value.message
    assert PointsEntry.objects.count() == 1


@pytest.mark.django_db
def test_redeem_is_idempotent_by_client_reference(rules, mall):
    member = MemberFactory()
    points_earn(member=member, channel=mall, paid_amount=Decimal("100"), reference="O-1")
    first = points_redeem(member=member, points=30, channel=mall, client_reference="tmall-r-1", actor=SYSTEM)
    again = points_redeem(member=member, points=30, channel=mall, client_reference="tmall-r-1", actor=SYSTEM)
    assert first.pk == again.pk
    with pytest.raises(Conflict):
        points_redeem(member=member, points=31, channel=mall, client_reference="tmall-r-1", actor=SYSTEM)
    member.refresh_from_db()
    assert member.points_balance == 70


@pytest.mark.django_db
def test_partial_refund_reverses_points_in_proportion(rules, mall):
    member = MemberFactory()
    earned = points_earn(member=member, channel=mall, paid_amount=Decimal("300"), reference="O-1")
    points_reverse(earned=earned, refunded_amount=Decimal("100"), reference="R-1")
    points_reverse(earned=earned, refunded_amount=Decimal("200"), reference="R-2")
    member.refresh_from_db()
    assert member.points_balance == 0 == points_balance_from_ledger(member)
    assert member.total_spend == Decimal("0.00")
    assert list(earned.reversed_by.values_list("points", flat=True).order_by("id")) == [-100, -200]
    with pytest.raises(PointsRefused):
        points_reverse(earned=earned, refunded_amount=Decimal("301"), reference="R-3")


@pytest.mark.django_db
def test_reversal_never_takes_the_balance_below_zero(rules, mall):
    member = MemberFactory()
    earned = points_earn(member=member, channel=mall, paid_amount=Decimal("100"), reference="O-1")
    points_redeem(member=member, points=80, channel=mall, actor=SYSTEM)
    entry = points_reverse(earned=earned, reference="R-1")
    assert entry.points == -20
    assert "80 points already spent" in entry.reason
    member.refresh_from_db()
    assert member.points_balance == 0


@pytest.mark.django_db
def test_adjust_needs_a_reason_and_cannot_go_negative():
    member = MemberFactory()
    with pytest.raises(PointsRefused):
        points_adjust(member=member, points=10, reason="", actor=SYSTEM)
    points_adjust(member=member, points=10, reason="Goodwill after a late delivery", actor=SYSTEM)
    with pytest.raises(InsufficientPoints):
        points_adjust(member=member, points=-11, reason="Correction", actor=SYSTEM)
    assert points_balance_from_ledger(member) == 10


@pytest.mark.django_db
def test_points_expire_oldest_first_after_their_life(mall):
    PointsRule.objects.create(channel=None, points_per_yuan=Decimal("1"), life_days=30)
    member = MemberFactory()
    t0 = datetime(2026, 1, 1, 12, tzinfo=SH)
    points_earn(member=member, channel=mall, paid_amount=Decimal("100"), reference="old", at=t0)
    points_earn(
        member=member, channel=mall, paid_amount=Decimal("50"), reference="new", at=t0 + timedelta(days=20)
    )
    points_redeem(member=member, points=30, channel=mall, actor=SYSTEM)  # spends the oldest lot first
    assert points_expire(at=t0 + timedelta(days=31)) == 1
    member.refresh_from_db()
    assert member.points_balance == 50  # 70 left of the old lot expired, the new lot lives on
    assert points_expire(at=t0 + timedelta(days=31)) == 0  # idempotent
    assert points_expire(at=t0 + timedelta(days=51)) == 1
    member.refresh_from_db()
    assert member.points_balance == 0 == points_balance_from_ledger(member)
    assert PointsEntry.objects.filter(kind=PointsKind.EXPIRE).count() == 2


@pytest.mark.django_db
def test_tiers_follow_twelve_month_spend(rules, mall):
    Tier.objects.create(code="silver", name="Silver", min_spend_12m=Decimal("0"))
    gold = Tier.objects.create(code="gold", name="Gold", min_spend_12m=Decimal("5000"))
    big, small = MemberFactory(), MemberFactory()
    points_earn(member=big, channel=mall, paid_amount=Decimal("6000"), reference="O-1")
    points_earn(member=small, channel=mall, paid_amount=Decimal("100"), reference="O-2")
    tiers_refresh()
    big.refresh_from_db(), small.refresh_from_db()
    assert big.tier == gold
    assert small.tier.code == "silver"
    from django.utils import timezone

    tiers_refresh(at=timezone.now() + timedelta(days=366))  # a year later the spend has aged out
    big.refresh_from_db()
    assert big.tier.code == "silver"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_redeems_of_the_whole_balance_exactly_one_wins(rules, mall):
    member = MemberFactory()
    points_earn(member=member, channel=mall, paid_amount=Decimal("500"), reference="O-1")
    barrier = threading.Barrier(2)
    outcomes = []

    def redeem(n):
        try:
            barrier.wait()
            points_redeem(member=member, points=500, channel=mall, reference=f"R-{n}", actor=SYSTEM)
            outcomes.append("won")
        except InsufficientPoints:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=redeem, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "won"]
    member.refresh_from_db()
    assert member.points_balance == 0 == points_balance_from_ledger(member)
