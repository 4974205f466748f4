"""Who sees which guides, fans, scans, attributed orders, ledger rows and statements; the member's
current binding; the "bound_guide" member segment."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from django.utils import timezone

from config.roles import SYSTEM
from guides.choices import EntryKind, StatementParty
from guides.models import Binding, CommissionEntry, Guide, ScanEvent, Statement
from guides.selectors import (
    attributed_orders_visible_to,
    bindings_visible_to,
    current_binding,
    entries_visible_to,
    guide_for_user,
    guides_visible_to,
    partners_of_user,
    scans_visible_to,
    statements_visible_to,
)
from guides.services import scan_bind, scan_open
from members.selectors import segment_members
from members.services import segment_create
from orders.choices import DeliveryMethod
from orders.models import Order
from orders.services import LineRequest, order_create
from tests.factories import (
    GuideFactory,
    MemberFactory,
    PartnerFactory,
    StoreFactory,
    UserFactory,
    clerk_at,
    hq_user,
    partner_user,
)
from tests.world import north


class Scene:
    """Two partners, each with a store; guides placed by partner, by store, by both, or free;
    every guide with a fan, a scan, an attributed order, a ledger row and a statement."""

    def __init__(self, world):
        self.p1, self.p2 = PartnerFactory(code="p1"), PartnerFactory(code="p2")
        self.s1 = StoreFactory(code="S1", partner=self.p1)
        self.s2 = StoreFactory(code="S2", partner=self.p2)
        self.g_partner = GuideFactory(code="P1DIRECT", partner=self.p1)
        self.g_store = GuideFactory(code="P1STORE", store=self.s1)
        self.g_both = GuideFactory(code="P1BOTH", partner=self.p1, store=self.s1)
        self.g_other = GuideFactory(code="P2DIRECT", partner=self.p2)
        self.g_other_store = GuideFactory(code="P2STORE", store=self.s2)
        self.g_free = GuideFactory(code="FREE")
        self.guides = [
            self.g_partner,
            self.g_store,
            self.g_both,
            self.g_other,
            self.g_other_store,
            self.g_free,
        ]
        self.p1_guides = {self.g_partner, self.g_store, self.g_both}

        self.store_scans = {self.s1: scan_open(store=self.s1), self.s2: scan_open(store=self.s2)}
        period = date(2025, 3, 1)
        for guide in self.guides:
            member = MemberFactory()
            scan_bind(scan=scan_open(guide=guide), phone=member.phone)
            world.stock(world.a, world.tv, 1)
            lat, lng = north(0.1)
            order_create(
                channel=world.mall,
                lines=[LineRequest(sku=world.tv, quantity=1)],
                delivery_method=DeliveryMethod.SHIP,
                member=member,
                address="1 Chang'an Avenue",
                latitude=lat,
                longitude=lng,
                actor=SYSTEM,
            )
            partner = guide.partner or (guide.store.partner if guide.store else None)
            CommissionEntry.objects.create(
                kind=EntryKind.ACCRUAL,
                guide=guide,
                partner=partner,
                held_change=Decimal("10.00"),
                created_at=timezone.now(),
            )
            Statement.objects.create(party=StatementParty.GUIDE, guide=guide, period=period)
        self.rewards = {
            p: CommissionEntry.objects.create(
                kind=EntryKind.REWARD, partner=p, payable_change=Decimal("500.00"), created_at=timezone.now()
            )
            for p in (self.p1, self.p2)
        }
        self.partner_statements = {
            p: Statement.objects.create(party=StatementParty.PARTNER, partner=p, period=period)
            for p in (self.p1, self.p2)
        }


@pytest.fixture
def scene(world):
    return Scene(world)


def guides_of(queryset, field="guide"):
    return [getattr(row, field) for row in queryset.select_related(field)]


@pytest.mark.django_db
def test_a_guide_sees_only_their_own_guide_and_what_hangs_off_it(scene):
    user = scene.g_free.user

    assert list(guides_visible_to(user)) == [scene.g_free]
    assert guides_of(bindings_visible_to(user)) == [scene.g_free]
    assert guides_of(scans_visible_to(user)) == [scene.g_free]
    assert guides_of(attributed_orders_visible_to(user)) == [scene.g_free]
    assert guides_of(entries_visible_to(user)) == [scene.g_free]
    assert guides_of(statements_visible_to(user)) == [scene.g_free]
    assert guide_for_user(user) == scene.g_free
    assert list(partners_of_user(user)) == []


@pytest.mark.django_db
def test_a_guide_at_a_partner_store_does_not_see_the_partners_other_guides(scene):
    user = scene.g_store.user
    assert list(guides_visible_to(user)) == [scene.g_store]
    assert guides_of(entries_visible_to(user)) == [scene.g_store]
    assert guides_of(statements_visible_to(user)) == [scene.g_store]


@pytest.mark.django_db
def test_a_partner_sees_their_guides_directly_or_through_their_stores_never_anothers(
    scene, django_assert_max_num_queries
):
    user = partner_user(scene.p1)

    with django_assert_max_num_queries(2):  # roles, guides (scoping is subqueries)
        guides = list(guides_visible_to(user))
    assert len(guides) == len(set(guides)) == 3  # the guide placed both ways is listed once
    assert set(guides) == scene.p1_guides
    assert set(guides_of(bindings_visible_to(user))) == scene.p1_guides
    assert bindings_visible_to(user).count() == 3
    assert set(guides_of(attributed_orders_visible_to(user))) == scene.p1_guides
    assert attributed_orders_visible_to(user).count() == 3

    scans = list(scans_visible_to(user))
    assert {s.guide for s in scans if s.guide} == scene.p1_guides
    assert [s for s in scans if s.guide is None] == [scene.store_scans[scene.s1]]

    entries = list(entries_visible_to(user))
    assert {e.guide for e in entries if e.guide} == scene.p1_guides
    assert [e for e in entries if e.guide is None] == [scene.rewards[scene.p1]]
    assert {e.partner for e in entries} == {scene.p1}

    statements = list(statements_visible_to(user))
    assert {s.guide for s in statements if s.guide} == scene.p1_guides
    assert [s for s in statements if s.guide is None] == [scene.partner_statements[scene.p1]]
    assert list(partners_of_user(user)) == [scene.p1]
    assert guide_for_user(user) is None


@pytest.mark.django_db
def test_a_partner_who_is_also_a_guide_sees_both(scene):
    user = scene.g_free.user
    scene.p2.users.add(user)
    assert set(guides_visible_to(user)) == {scene.g_free, scene.g_other, scene.g_other_store}
    assert set(statements_visible_to(user)) == {
        *Statement.objects.filter(guide__in=[scene.g_free, scene.g_other, scene.g_other_store]),
        scene.partner_statements[scene.p2],
    }


@pytest.mark.django_db
def test_a_clerk_who_is_not_a_guide_and_a_stranger_see_nothing(scene):
    for user in (clerk_at(scene.s1), UserFactory(), AnonymousUser()):
        for selector in (
            guides_visible_to,
            bindings_visible_to,
            scans_visible_to,
            attributed_orders_visible_to,
            entries_visible_to,
            statements_visible_to,
        ):
            assert not selector(user).exists(), (user, selector.__name__)
        assert guide_for_user(user) is None
        assert not partners_of_user(user).exists()


@pytest.mark.django_db
def test_hq_sees_everything(scene):
    hq = hq_user()
    assert guides_visible_to(hq).count() == Guide.objects.count() == 6
    assert bindings_visible_to(hq).count() == Binding.objects.count() == 6
    assert scans_visible_to(hq).count() == ScanEvent.objects.count() == 8
    assert attributed_orders_visible_to(hq).count() == Order.objects.filter(guide__isnull=False).count() == 6
    assert entries_visible_to(hq).count() == CommissionEntry.objects.count() == 8
    assert statements_visible_to(hq).count() == Statement.objects.count() == 8


@pytest.mark.django_db
def test_current_binding_is_the_open_one_and_none_for_a_stranger():
    ga, gb, member = GuideFactory(), GuideFactory(), MemberFactory()
    assert current_binding(member) is None
    t0 = timezone.now() - timedelta(days=3)
    first = scan_bind(scan=scan_open(guide=ga), phone=member.phone, at=t0)
    second = scan_bind(scan=scan_open(guide=gb), phone=member.phone, at=t0 + timedelta(days=1))
    assert current_binding(member) == second
    # As of a moment before the second scan, the first was the binding in effect.
    assert current_binding(member, at=t0 + timedelta(hours=1)) == first
    assert current_binding(member, at=t0 - timedelta(hours=1)) is None


# --- the member segment -------------------------------------------------------------------------


@pytest.mark.django_db
def test_bound_guide_segment_is_members_with_an_open_unexpired_binding_in_one_query(
    django_assert_num_queries,
):
    ga, gb, gc = GuideFactory(code="AAAA2222"), GuideFactory(code="BBBB3333"), GuideFactory(code="CCCC4444")
    fan_a, fan_b, expired, rebound, nobody = MemberFactory.create_batch(5)
    now = timezone.now()
    scan_bind(scan=scan_open(guide=ga), phone=fan_a.phone)
    scan_bind(scan=scan_open(guide=gb), phone=fan_b.phone)
    scan_bind(scan=scan_open(guide=ga), phone=expired.phone, at=now - timedelta(days=30))
    scan_bind(scan=scan_open(guide=ga), phone=rebound.phone, at=now - timedelta(days=2))
    scan_bind(scan=scan_open(guide=gc), phone=rebound.phone, at=now - timedelta(days=1))

    with django_assert_num_queries(1):
        assert set(segment_members({"bound_guide": ["aaaa2222", "BBBB3333"]})) == {fan_a, fan_b}
    assert set(segment_members({"bound_guide": "CCCC4444"})) == {rebound}
    assert set(segment_members({"bound_guide": "AAAA2222", "city": "Beijing"})) == {fan_a}
    assert nobody not in segment_members({"bound_guide": ["AAAA2222", "BBBB3333", "CCCC4444"]})


@pytest.mark.django_db
def test_a_bound_guide_segment_is_saved_and_described(hq_client):
    guide, fan = GuideFactory(code="AAAA2222"), MemberFactory()
    scan_bind(scan=scan_open(guide=guide), phone=fan.phone)
    segment = segment_create(name="Wang's fans", filters={"bound_guide": ["AAAA2222"]}, actor=SYSTEM)

    response = hq_client.get(reverse("members:segment_detail", args=[segment.pk]))

    assert response.status_code == 200
    assert ("Bound to guides", "AAAA2222") in response.context["filters"]
    assert response.context["total"] == 1
