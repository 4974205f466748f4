"""Guides: registration, scans, binding (last scan wins, same guide extends) and the attribution
of orders to a guide, with the window counted in Asia/Shanghai days."""

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from catalog.choices import ChannelKind
from config.errors import IllegalTransition
from config.roles import SYSTEM, Role
from guides.choices import BindingEnd, GuideStatus, ScanOutcome
from guides.errors import GuideExists, GuideRefused, GuideSuspended, ScanRefused, WindowRefused
from guides.models import AttributionWindow, Binding, Guide, ScanEvent
from guides.selectors import current_binding
from guides.services import (
    CODE_ALPHABET,
    attribution_days,
    attribution_for,
    attribution_window_set,
    guide_register,
    guide_reinstate,
    guide_suspend,
    member_bind,
    scan_bind,
    scan_open,
    window_end,
)
from members.models import Member
from members.services import member_merge
from orders.choices import DeliveryMethod, Origin
from orders.services import LineRequest, order_create
from tests.factories import (
    ChannelFactory,
    GuideFactory,
    GuideLevelFactory,
    MemberFactory,
    PartnerFactory,
    StoreFactory,
    UserFactory,
    clerk_at,
)
from tests.world import north

SH = ZoneInfo("Asia/Shanghai")


def sh(*args) -> datetime:
    """An aware datetime on the Shanghai wall clock."""
    return datetime(*args, tzinfo=SH)


def future_day(days_ahead: int = 2) -> tuple[int, int, int]:
    """A Shanghai date a little ahead of today (world prices start yesterday, so orders placed
    at these instants find a price)."""
    day = timezone.localtime(timezone.now(), SH).date() + timedelta(days=days_ahead)
    return day.year, day.month, day.day


def order_for(world, member, *, channel=None, at=None, **kwargs):
    """A home-delivery TV order near store A through the real order_create."""
    world.stock(world.a, world.tv, 1)
    lat, lng = north(0.1)
    return order_create(
        channel=channel or world.mall,
        lines=[LineRequest(sku=world.tv, quantity=1)],
        delivery_method=DeliveryMethod.SHIP,
        member=member,
        address="1 Chang'an Avenue",
        latitude=lat,
        longitude=lng,
        at=at,
        **({"actor": SYSTEM} | kwargs),
    )


def bind(member, guide, at=None) -> Binding:
    scan = scan_open(guide=guide)
    return scan_bind(scan=scan, phone=member.phone, at=at)


# --- the window in Shanghai days --------------------------------------------------------------


def test_window_end_is_the_shanghai_midnight_after_the_last_day():
    # Scan day is day 1: a 15-day window from 1 March includes 15 March, ends at 16 March 00:00.
    assert window_end(sh(2025, 3, 1, 23, 30), 15) == sh(2025, 3, 16)
    assert window_end(sh(2025, 3, 1, 0, 0), 15) == sh(2025, 3, 16)
    # 00:30 in Shanghai is 16:30 the previous day in UTC; the Shanghai date counts.
    utc_previous_day = datetime(2025, 2, 28, 16, 30, tzinfo=ZoneInfo("UTC"))
    assert window_end(utc_previous_day, 15) == sh(2025, 3, 16)
    assert window_end(sh(2025, 3, 1, 12), 1) == sh(2025, 3, 2)


@pytest.mark.django_db
def test_scan_at_2330_attributes_an_order_at_235959_on_day_15_and_not_at_midnight_of_day_16(world):
    guide, member = GuideFactory(), MemberFactory()
    y, m, d = future_day()
    scanned = sh(y, m, d, 23, 30)
    bind(member, guide, at=scanned)
    day_15_last_second = datetime.combine(
        scanned.date() + timedelta(days=14), datetime.max.time(), SH
    ).replace(microsecond=0)
    day_16_midnight = day_15_last_second + timedelta(seconds=1)

    inside = order_for(world, member, at=day_15_last_second)
    outside = order_for(world, member, at=day_16_midnight)

    inside.refresh_from_db()
    outside.refresh_from_db()
    assert (inside.guide, inside.binding) == (guide, Binding.objects.get(member=member))
    assert guide.code in inside.attribution_reason
    assert (outside.guide, outside.binding) == (None, None)
    last_day = (scanned.date() + timedelta(days=14)).isoformat()
    assert f"window of guide {guide.code} ended on {last_day}" in outside.attribution_reason


@pytest.mark.django_db
def test_a_scan_at_0030_shanghai_counts_from_the_shanghai_date_not_the_utc_one():
    guide, member = GuideFactory(), MemberFactory()
    scanned = sh(2025, 3, 1, 0, 30)  # 2025-02-28 16:30 UTC
    assert scanned.astimezone(ZoneInfo("UTC")).day == 28
    binding = bind(member, guide, at=scanned)
    assert binding.ends_at == sh(2025, 3, 16)

    assert attribution_for(member=member, channel=None, at=sh(2025, 3, 15, 23, 59, 59)).guide == guide
    refused = attribution_for(member=member, channel=None, at=sh(2025, 3, 16, 0, 0))
    assert refused.guide is None
    assert "ended on 2025-03-15" in refused.reason


# --- binding rules ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_scan_bind_finds_or_creates_the_member_and_records_the_scan():
    guide = GuideFactory(store=StoreFactory())
    scan = scan_open(guide=guide, user_agent="Mozilla/5.0 (iPhone)")
    assert (scan.outcome, scan.store, scan.member) == (ScanOutcome.OPENED, guide.store, None)

    binding = scan_bind(scan=scan, phone="+86 138 0013 8000", name="Li Lei")

    member = Member.objects.get(phone="13800138000")
    assert member.name == "Li Lei"
    scan.refresh_from_db()
    assert (scan.member, scan.outcome, scan.user_agent) == (member, ScanOutcome.BOUND, "Mozilla/5.0 (iPhone)")
    assert (binding.member, binding.guide, binding.store, binding.scan_count) == (
        member,
        guide,
        guide.store,
        1,
    )
    assert binding.started_at == binding.last_scan_at
    assert binding.ends_at == window_end(binding.last_scan_at, 15)
    # The same phone sent again for the same scan (a double tap) changes nothing.
    assert scan_bind(scan=scan, phone="13800138000") == binding
    assert Binding.objects.get().scan_count == 1
    # Another phone on a used scan is refused: every page opening is one scan.
    with pytest.raises(ScanRefused):
        scan_bind(scan=scan, phone="13900139000")
    assert Binding.objects.count() == 1


@pytest.mark.django_db
def test_another_guides_scan_rebinds_and_ends_the_old_binding_with_who_took_over(world):
    first, second, member = GuideFactory(), GuideFactory(), MemberFactory()
    t0 = timezone.now() - timedelta(days=3)
    old = bind(member, first, at=t0)
    scan = scan_open(guide=second)

    new = scan_bind(scan=scan, phone=member.phone, at=t0 + timedelta(days=2))

    old.refresh_from_db()
    assert (old.ended_at, old.end_reason, old.ended_by) == (t0 + timedelta(days=2), BindingEnd.REBOUND, new)
    assert (new.guide, new.ended_at, new.scan_count) == (second, None, 1)
    scan.refresh_from_db()
    assert scan.outcome == ScanOutcome.REBOUND
    assert Binding.objects.filter(member=member, ended_at__isnull=True).get() == new
    order = order_for(world, member)
    assert (order.guide, order.binding) == (second, new)


@pytest.mark.django_db
def test_a_rescan_of_the_same_guide_extends_the_window(world):
    guide, member = GuideFactory(), MemberFactory()
    t0 = timezone.now() - timedelta(days=10)
    binding = bind(member, guide, at=t0)
    scan = scan_open(guide=guide)

    again = scan_bind(scan=scan, phone=member.phone, at=t0 + timedelta(days=8))

    assert again.pk == binding.pk
    binding.refresh_from_db()
    assert binding.started_at == t0
    assert binding.last_scan_at == t0 + timedelta(days=8)
    assert binding.ends_at == window_end(t0 + timedelta(days=8), 15)
    assert (binding.scan_count, binding.ended_at) == (2, None)
    scan.refresh_from_db()
    assert scan.outcome == ScanOutcome.EXTENDED
    assert Binding.objects.count() == 1
    # Day 20 after the first scan is day 12 after the second: still credited.
    assert attribution_for(member=member, channel=world.mall, at=t0 + timedelta(days=20)).guide == guide
    assert attribution_for(member=member, channel=world.mall, at=t0 + timedelta(days=25)).guide is None


@pytest.mark.django_db
def test_a_store_code_scan_records_the_member_and_binds_nobody():
    store, member = StoreFactory(), MemberFactory()
    scan = scan_open(store=store)
    assert scan.outcome == ScanOutcome.STORE
    assert scan_bind(scan=scan, phone=member.phone) is None
    scan.refresh_from_db()
    assert (scan.member, scan.outcome) == (member, ScanOutcome.STORE)
    assert not Binding.objects.exists()
    with pytest.raises(ScanRefused):
        scan_open()


# --- attribution on every channel and origin --------------------------------------------------


def _online(world, member, clerk):
    return order_for(world, member)


def _marketplace(world, member, clerk):
    tmall = ChannelFactory(code="tmall", name="Tmall flagship", kind=ChannelKind.MARKETPLACE)
    return order_for(world, member, channel=tmall)


def _store_qr(world, member, clerk):
    return order_for(world, member, channel=world.stores_channel, origin=Origin.QR_SCAN, origin_store=world.a)


def _clerk_tablet(world, member, clerk):
    return order_for(
        world,
        member,
        channel=world.stores_channel,
        origin=Origin.IN_STORE,
        origin_store=world.a,
        placed_by=clerk,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("place", [_online, _marketplace, _store_qr, _clerk_tablet])
def test_an_order_of_a_bound_member_is_attributed_on_every_channel_and_origin(world, place):
    guide, member = GuideFactory(), MemberFactory()
    binding = bind(member, guide)
    clerk = clerk_at(world.a)

    order = place(world, member, clerk)

    order.refresh_from_db()
    assert (order.guide, order.binding) == (guide, binding)
    assert f"Guide {guide.code}" in order.attribution_reason
    assert order.channel.name in order.attribution_reason


@pytest.mark.django_db
def test_an_order_after_the_window_is_not_attributed_and_says_why(world):
    guide, member = GuideFactory(), MemberFactory()
    scanned = timezone.now() - timedelta(days=20)
    bind(member, guide, at=scanned)

    order = order_for(world, member)

    order.refresh_from_db()
    assert (order.guide, order.binding) == (None, None)
    last_day = (timezone.localtime(scanned, SH).date() + timedelta(days=14)).isoformat()
    assert order.attribution_reason.startswith("Not attributed")
    assert f"ended on {last_day}" in order.attribution_reason


@pytest.mark.django_db
def test_an_unbound_member_is_not_attributed(world):
    GuideFactory()
    order = order_for(world, MemberFactory())
    order.refresh_from_db()
    assert (order.guide, order.binding) == (None, None)
    assert order.attribution_reason == "Not attributed: not bound to a guide."
    guest = order_for(world, None)
    assert (guest.guide, guest.attribution_reason) == (None, "")


@pytest.mark.django_db
def test_per_channel_window_overrides_the_default_for_orders_on_that_channel(world):
    tmall = ChannelFactory(code="tmall", name="Tmall flagship", kind=ChannelKind.MARKETPLACE)
    attribution_window_set(days=30, channel=tmall, actor=SYSTEM)
    guide, member = GuideFactory(), MemberFactory()
    bind(member, guide, at=timezone.now() - timedelta(days=20))
    assert (attribution_days(tmall), attribution_days(world.mall), attribution_days(None)) == (30, 15, 15)

    on_tmall = order_for(world, member, channel=tmall)
    on_mall = order_for(world, member)

    on_tmall.refresh_from_db()
    on_mall.refresh_from_db()
    assert on_tmall.guide == guide
    assert "30-day window on Tmall flagship" in on_tmall.attribution_reason
    assert on_mall.guide is None
    assert "15-day window" in on_mall.attribution_reason


@pytest.mark.django_db
def test_changing_the_default_window_moves_the_end_of_open_bindings_only():
    g1, g2, member, other = GuideFactory(), GuideFactory(), MemberFactory(), MemberFactory()
    t0 = sh(2025, 3, 1, 10)
    ended = bind(member, g1, at=t0)
    current = bind(member, g2, at=t0 + timedelta(hours=1))
    untouched = bind(other, g1, at=t0)

    attribution_window_set(days=20, actor=SYSTEM)

    ended.refresh_from_db()
    current.refresh_from_db()
    untouched.refresh_from_db()
    assert ended.ends_at == sh(2025, 3, 16)  # history keeps the window it had
    assert current.ends_at == untouched.ends_at == sh(2025, 3, 21)
    assert AttributionWindow.objects.get(channel__isnull=True).days == 20
    assert attribution_for(member=member, channel=None, at=sh(2025, 3, 20, 23)).guide == g2


@pytest.mark.django_db
@pytest.mark.parametrize("days", [0, 366, "15"])
def test_a_window_outside_1_to_365_days_is_refused(days):
    with pytest.raises(WindowRefused):
        attribution_window_set(days=days, actor=SYSTEM)
    assert AttributionWindow.objects.get(channel__isnull=True).days == 15


# --- suspended guides -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_suspended_guides_scan_binds_nobody():
    guide, member = GuideFactory(), MemberFactory()
    guide_suspend(guide=guide, reason="Fake orders", actor=SYSTEM)

    scan = scan_open(guide=guide)
    assert scan.outcome == ScanOutcome.SUSPENDED
    assert scan_bind(scan=scan, phone=member.phone) is None

    scan.refresh_from_db()
    assert (scan.member, scan.outcome) == (member, ScanOutcome.SUSPENDED)
    assert not Binding.objects.exists()
    with pytest.raises(GuideSuspended):
        member_bind(member=member, guide=guide)


@pytest.mark.django_db
def test_a_guide_suspended_after_the_page_opened_binds_nobody():
    guide, member = GuideFactory(), MemberFactory()
    scan = scan_open(guide=guide)
    guide_suspend(guide=guide, reason="Fake orders", actor=SYSTEM)
    assert scan_bind(scan=scan, phone=member.phone) is None
    scan.refresh_from_db()
    assert scan.outcome == ScanOutcome.SUSPENDED
    assert not Binding.objects.exists()


@pytest.mark.django_db
def test_suspension_stops_attribution_and_reinstating_restores_it_inside_the_window(world):
    guide, member = GuideFactory(), MemberFactory()
    binding = bind(member, guide)

    suspended = guide_suspend(guide=guide, reason="Fake orders", actor=SYSTEM)
    assert (suspended.status, suspended.suspended_reason) == (GuideStatus.SUSPENDED, "Fake orders")
    assert suspended.suspended_at is not None
    during = order_for(world, member)
    during.refresh_from_db()
    assert during.guide is None
    assert "guide suspended" in during.attribution_reason
    binding.refresh_from_db()
    assert binding.ended_at is None  # suspension keeps the fans, it only stops the credit

    guide_reinstate(guide=guide, actor=SYSTEM)
    after = order_for(world, member)
    after.refresh_from_db()
    assert (after.guide, after.binding) == (guide, binding)
    guide.refresh_from_db()
    assert (guide.status, guide.suspended_reason, guide.suspended_at) == (GuideStatus.ACTIVE, "", None)


@pytest.mark.django_db
def test_suspend_and_reinstate_are_transitions():
    guide = GuideFactory()
    with pytest.raises(IllegalTransition):
        guide_reinstate(guide=guide, actor=SYSTEM)
    with pytest.raises(GuideRefused):
        guide_suspend(guide=guide, reason="  ", actor=SYSTEM)
    guide_suspend(guide=guide, reason="Fake orders", actor=SYSTEM)
    with pytest.raises(IllegalTransition):
        guide_suspend(guide=guide, reason="Again", actor=SYSTEM)
    assert Guide.objects.get(pk=guide.pk).suspended_reason == "Fake orders"


# --- member merge -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_after_a_merge_the_latest_scan_wins_and_the_next_scan_ends_the_other(world):
    ga, gb = GuideFactory(), GuideFactory()
    survivor, duplicate = MemberFactory(), MemberFactory()
    t0 = timezone.now() - timedelta(days=2)
    older = bind(survivor, ga, at=t0)
    newer = bind(duplicate, gb, at=t0 + timedelta(hours=1))

    member_merge(survivor=survivor, merged=duplicate, actor=SYSTEM)

    assert Binding.objects.filter(member=survivor, ended_at__isnull=True).count() == 2
    assert current_binding(survivor) == newer
    order = order_for(world, survivor)
    assert (order.guide, order.binding) == (gb, newer)

    # The next scan (of the older binding's guide) extends it and ends the other one.
    bind(survivor, ga)
    newer.refresh_from_db()
    assert (newer.end_reason, newer.ended_by) == (BindingEnd.REBOUND, older)
    assert current_binding(survivor) == older


@pytest.mark.django_db
def test_after_a_merge_two_bindings_scanned_at_the_same_instant_pick_the_higher_id():
    ga, gb = GuideFactory(), GuideFactory()
    survivor, duplicate = MemberFactory(), MemberFactory()
    at = timezone.now() - timedelta(hours=1)
    bind(survivor, ga, at=at)
    later_row = bind(duplicate, gb, at=at)
    member_merge(survivor=survivor, merged=duplicate, actor=SYSTEM)
    assert current_binding(survivor) == later_row
    assert attribution_for(member=survivor, channel=None, at=timezone.now()).binding == later_row


# --- registration -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_guide_register_gives_a_readable_unique_code_the_role_and_the_standard_level():
    user = UserFactory()
    store = StoreFactory(partner=PartnerFactory())

    guide = guide_register(user=user, name=" Wang Fang ", phone="138-0013-8000", store=store)

    guide.refresh_from_db()
    assert len(guide.code) == 8
    assert set(guide.code) <= set(CODE_ALPHABET)
    assert not set("0O1IL") & set(CODE_ALPHABET)
    assert (guide.name, guide.phone, guide.store, guide.partner) == ("Wang Fang", "13800138000", store, None)
    assert guide.level.code == "standard"
    assert guide.status == GuideStatus.ACTIVE
    assert user.groups.filter(name=Role.GUIDE).exists()
    codes = {guide_register(user=UserFactory(), name=f"G{i}").code for i in range(30)}
    assert len(codes) == 30


@pytest.mark.django_db
def test_a_user_has_at_most_one_guide():
    user = UserFactory()
    guide_register(user=user, name="Wang Fang")
    with pytest.raises(GuideExists):
        guide_register(user=user, name="Wang Fang again")
    assert Guide.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_guide_register_refuses_a_blank_name_and_a_store_of_another_partner():
    mine, theirs = PartnerFactory(), PartnerFactory()
    with pytest.raises(GuideRefused):
        guide_register(user=UserFactory(), name=" ")
    with pytest.raises(GuideRefused) as refused:
        guide_register(user=UserFactory(), name="X", store=StoreFactory(partner=theirs), partner=mine)
    assert "partner" in refused.value.fields
    level = GuideLevelFactory(code="gold")
    assert guide_register(user=UserFactory(), name="Y", partner=mine, level=level).level == level
    assert Guide.objects.count() == 1
    assert not Group.objects.get(name=Role.GUIDE).user_set.filter(guide__isnull=True).exists()


# --- pages ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_member_page_shows_the_bound_guide_and_earlier_bindings(client, world):
    ga, gb = GuideFactory(name="Wang Fang"), GuideFactory(name="Zhao Lei")
    member = MemberFactory(home_store=world.a)
    bind(member, ga, at=timezone.now() - timedelta(days=2))
    bind(member, gb)
    client.force_login(clerk_at(world.a))

    response = client.get(reverse("members:detail", args=[member.pk]))

    body = response.content.decode()
    assert [b.guide for b in response.context["bindings"]] == [gb, ga]
    assert response.context["bindings"][0].active is True
    assert "Zhao Lei" in body and gb.code in body
    assert "1 earlier binding." in body


@pytest.mark.django_db
def test_member_page_says_when_the_window_is_over(client, world):
    guide, member = GuideFactory(), MemberFactory(home_store=world.a)
    bind(member, guide, at=timezone.now() - timedelta(days=30))
    client.force_login(clerk_at(world.a))
    body = client.get(reverse("members:detail", args=[member.pk])).content.decode()
    assert "Window over" in body
    assert guide.code in body


@pytest.mark.django_db
def test_order_page_shows_the_guide_and_why(client, world):
    guide, member = GuideFactory(name="Wang Fang"), MemberFactory()
    bind(member, guide)
    order = order_for(world, member)
    client.force_login(clerk_at(world.a))
    body = client.get(reverse("orders:detail", args=[order.number])).content.decode()
    assert "Wang Fang" in body
    assert f"Guide {guide.code}: last scan" in body


# --- concurrency ------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("existing_member", [True, False])
def test_two_scans_of_two_guides_at_once_leave_exactly_one_open_binding(existing_member):
    rounds = 5
    guides = [GuideFactory(), GuideFactory()]
    phones = [f"1360000000{n}" for n in range(rounds)]
    if existing_member:
        for phone in phones:
            MemberFactory(phone=phone)
    errors: list[Exception] = []

    for phone in phones:
        scans = [scan_open(guide=guide) for guide in guides]
        barrier = threading.Barrier(len(scans))

        def scan(event, phone=phone, barrier=barrier):
            try:
                barrier.wait()
                scan_bind(scan=event, phone=phone)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=scan, args=(event,)) for event in scans]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    for phone in phones:
        member = Member.objects.get(phone=phone)
        bindings = Binding.objects.filter(member=member)
        assert bindings.count() == 2
        open_binding = bindings.get(ended_at__isnull=True)
        ended = bindings.get(ended_at__isnull=False)
        assert (ended.ended_by, ended.end_reason) == (open_binding, BindingEnd.REBOUND)
        outcomes = sorted(ScanEvent.objects.filter(member=member).values_list("outcome", flat=True))
        assert outcomes == [ScanOutcome.BOUND, ScanOutcome.REBOUND]
