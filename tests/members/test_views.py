"""Staff portal member pages and HQ segments: lookup and the clerk's store boundary, quick-register,
redeem at the counter, segments with the consent-only export, store lists, constant query counts."""

import csv
import io
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from catalog.choices import ChannelKind
from config.roles import SYSTEM, Role
from members.choices import IdentitySource, PointsKind
from members.models import Member, PointsEntry, PointsRule, Segment, StaticGroup, Tier
from members.services import member_set_consent, member_upsert, points_earn
from tests.factories import (
    ChannelFactory,
    MemberFactory,
    StoreFactory,
    UserFactory,
    clerk_at,
    manager_at,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def store():
    return StoreFactory(code="BJ001", name="Beijing Wangfujing")


@pytest.fixture
def other_store():
    return StoreFactory(code="SH001", name="Shanghai Nanjing Road")


@pytest.fixture
def clerk(store):
    return clerk_at(store)


@pytest.fixture
def clerk_client(client, clerk):
    client.force_login(clerk)
    return client


@pytest.fixture
def mall():
    PointsRule.objects.create(channel=None, points_per_yuan=Decimal("1"), life_days=365)
    return ChannelFactory(code="mall", name="Own Mall")


@pytest.fixture
def store_channel():
    return ChannelFactory(code="stores", name="Own Stores", kind=ChannelKind.OWN_STORE)


@pytest.fixture
def stranger(other_store):
    """A customer of another store, known there by a loyalty card."""
    member = member_upsert(
        phone="13800138000",
        source=IdentitySource.STORE_CARD,
        external_id="CARD-4711",
        name="Li Lei",
        actor=SYSTEM,
    ).member
    Member.objects.filter(pk=member.pk).update(home_store=other_store)
    return member


def detail_url(member, q=None):
    url = reverse("members:detail", args=[member.pk])
    return f"{url}?via=lookup&q={q}" if q else url


# --- lookup and the store boundary -------------------------------------------------------------


def test_clerk_lookup_by_phone_in_another_format_redirects_to_the_member_page(clerk_client, stranger):
    response = clerk_client.get(reverse("members:lookup"), {"q": "+86 138 0013 8000"})
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target.path == reverse("members:detail", args=[stranger.pk])
    assert parse_qs(target.query) == {"via": ["lookup"], "q": ["+86 138 0013 8000"]}

    page = clerk_client.get(response["Location"])
    body = page.content.decode()
    assert page.status_code == 200
    assert "Li Lei" in body
    assert "CARD-4711" in body
    assert "Store loyalty card" in body


def test_lookup_by_loyalty_card_finds_the_member(clerk_client, stranger):
    response = clerk_client.get(reverse("members:lookup"), {"q": "CARD-4711"})
    assert urlsplit(response["Location"]).path == reverse("members:detail", args=[stranger.pk])


def test_clerk_cannot_open_another_stores_member_directly_but_can_via_lookup(clerk_client, stranger):
    other = MemberFactory(phone="13900139000")
    assert clerk_client.get(detail_url(stranger)).status_code == 404
    # The lookup pass names the member it resolves to: another member's number does not open this one.
    assert clerk_client.get(detail_url(stranger, "13900139000")).status_code == 404
    assert clerk_client.get(detail_url(other, "13900139000")).status_code == 200
    # Without via=lookup, q is ignored.
    assert clerk_client.get(f"{detail_url(stranger)}?q=13800138000").status_code == 404
    response = clerk_client.get(detail_url(stranger, "138-0013-8000"))
    assert response.status_code == 200
    assert "Li Lei" in response.content.decode()


def test_clerk_opens_own_stores_customer_directly(clerk_client, store):
    regular = MemberFactory(home_store=store, name="Han Meimei")
    response = clerk_client.get(detail_url(regular))
    assert response.status_code == 200
    assert "Han Meimei" in response.content.decode()


def test_lookup_list_shows_only_own_stores_customers(clerk_client, store, stranger):
    MemberFactory(home_store=store, name="Han Meimei")
    MemberFactory(home_store=None, name="Walk In Without Store")
    response = clerk_client.get(reverse("members:lookup"))
    body = response.content.decode()
    assert [m.name for m in response.context["page_obj"]] == ["Han Meimei"]
    assert "Han Meimei" in body
    assert "Li Lei" not in body
    assert "Walk In Without Store" not in body


def test_a_prefix_is_no_match_and_lists_nobody_else(clerk_client, stranger):
    response = clerk_client.get(reverse("members:lookup"), {"q": "1380013"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "No member with that number" in body
    assert "Li Lei" not in body
    assert reverse("members:register") + "?phone=" not in body  # not a valid phone: nothing prefilled


def test_lookup_miss_offers_quick_register_with_the_phone_prefilled(clerk_client):
    response = clerk_client.get(reverse("members:lookup"), {"q": "137 0013 7000"})
    body = response.content.decode()
    assert "No member with that number" in body
    assert f"{reverse('members:register')}?phone=13700137000" in body


def test_hq_sees_the_most_recent_members(hq_client, stranger, store):
    newer = MemberFactory(home_store=store, name="Newest Member")
    response = hq_client.get(reverse("members:lookup"))
    assert list(response.context["page_obj"]) == [newer, stranger]


def test_a_guide_cannot_look_members_up(client, stranger):
    client.force_login(UserFactory(roles=[Role.GUIDE]))
    assert client.get(reverse("members:lookup"), {"q": "13800138000"}).status_code == 403
    assert client.get(detail_url(stranger, "13800138000")).status_code == 403


def test_anonymous_users_go_to_the_login_page(client, stranger):
    response = client.get(reverse("members:lookup"))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_member_page_shows_ledger_newest_first_consent_and_placeholders(
    clerk_client, store, mall, store_channel
):
    member = MemberFactory(home_store=store)
    points_earn(member=member, channel=mall, paid_amount=Decimal("120"), reference="ORDER-FIRST")
    points_earn(member=member, channel=mall, paid_amount=Decimal("30"), reference="ORDER-SECOND")
    member_set_consent(member=member, consent=True, channel=store_channel)
    body = clerk_client.get(detail_url(member)).content.decode()
    assert body.index("ORDER-SECOND") < body.index("ORDER-FIRST")
    assert '<span class="avail-big">150</span>' in body
    assert "Own Stores" in body  # consent channel
    assert "No orders yet on any channel." in body
    assert "Not bound to a guide" in body
    assert "No service tickets on any channel." in body


# --- redeem -------------------------------------------------------------------------------------


@pytest.fixture
def customer(store, mall):
    member = MemberFactory(home_store=store)
    points_earn(member=member, channel=mall, paid_amount=Decimal("100"), reference="O-1")
    return member


def test_redeem_more_than_the_balance_shows_the_refusal_and_writes_nothing(clerk_client, customer):
    response = clerk_client.post(
        detail_url(customer), {"points": "500", "reference": "R-1", "client_reference": "tab-1"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Member has 100 points; 500 cannot be taken." in body
    assert "More than the balance." in body
    customer.refresh_from_db()
    assert customer.points_balance == 100
    assert not PointsEntry.objects.filter(kind=PointsKind.REDEEM).exists()


def test_redeem_zero_points_is_refused_by_the_service(clerk_client, customer):
    body = clerk_client.post(
        detail_url(customer), {"points": "0", "client_reference": "tab-0"}
    ).content.decode()
    assert "Redeem a whole number of points above zero." in body
    assert PointsEntry.objects.filter(kind=PointsKind.REDEEM).count() == 0


def test_redeem_via_lookup_spends_points_on_the_store_channel_once(
    clerk_client, other_store, mall, store_channel
):
    member = MemberFactory(home_store=other_store, phone="13600136000")
    points_earn(member=member, channel=mall, paid_amount=Decimal("100"), reference="O-1")
    url = detail_url(member, "136 0013 6000")
    form = {"points": "30", "reference": "RECEIPT-9", "client_reference": "tab-2"}
    response = clerk_client.post(url, form)
    assert response.status_code == 302
    assert response["Location"] == reverse("members:detail", args=[member.pk]) + "?via=lookup&q=136+0013+6000"
    clerk_client.post(url, form)  # a double tap replays the same request
    entry = PointsEntry.objects.get(kind=PointsKind.REDEEM)
    assert (entry.points, entry.channel, entry.reference) == (-30, store_channel, "RECEIPT-9")
    member.refresh_from_db()
    assert member.points_balance == 70
    assert "The member has 70 points left." in clerk_client.get(url).content.decode()


def test_redeem_on_a_member_outside_the_store_without_lookup_is_404(clerk_client, other_store, mall):
    member = MemberFactory(home_store=other_store)
    points_earn(member=member, channel=mall, paid_amount=Decimal("100"), reference="O-1")
    response = clerk_client.post(detail_url(member), {"points": "10", "client_reference": "tab-3"})
    assert response.status_code == 404
    assert not PointsEntry.objects.filter(kind=PointsKind.REDEEM).exists()


# --- quick register -----------------------------------------------------------------------------


def test_quick_register_creates_one_member_and_a_second_time_does_not_duplicate(
    clerk_client, store, store_channel
):
    url = reverse("members:register")
    form = {"phone": "138 0013 8000", "name": "Zhang Wei", "city": "Beijing", "home_store": store.pk}
    response = clerk_client.post(url, {**form, "consent": "on"})
    member = Member.objects.get()
    assert (member.phone, member.name, member.city, member.home_store) == (
        "13800138000",
        "Zhang Wei",
        "Beijing",
        store,
    )
    assert member.marketing_consent is True
    assert member.consent_channel == store_channel
    assert member.consent_changed_at is not None
    assert urlsplit(response["Location"]).path == reverse("members:detail", args=[member.pk])

    again = clerk_client.post(url, {**form, "phone": "+8613800138000", "name": "Someone Else"}, follow=True)
    assert Member.objects.count() == 1
    member.refresh_from_db()
    assert member.name == "Zhang Wei"
    assert again.redirect_chain[-1][0].startswith(reverse("members:detail", args=[member.pk]))
    assert "is already a member" in again.content.decode()


def test_quick_register_of_another_stores_customer_opens_them_without_changes(clerk_client, store, stranger):
    response = clerk_client.post(
        reverse("members:register"),
        {"phone": "13800138000", "name": "", "city": "Wuhan", "home_store": store.pk, "consent": "on"},
        follow=True,
    )
    assert response.status_code == 200
    assert "is already a member" in response.content.decode()
    stranger.refresh_from_db()
    assert (stranger.city, stranger.marketing_consent) == ("", False)
    assert stranger.home_store.code == "SH001"


def test_quick_register_invalid_phone_shows_the_message_and_writes_nothing(clerk_client, store):
    response = clerk_client.post(
        reverse("members:register"), {"phone": "12345", "name": "X", "home_store": store.pk, "consent": "on"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "12345 is not a mainland China mobile number" in body
    assert Member.objects.count() == 0


def test_quick_register_refuses_a_store_that_is_not_the_clerks(clerk_client, other_store):
    response = clerk_client.post(
        reverse("members:register"), {"phone": "13800138000", "home_store": other_store.pk}
    )
    assert response.status_code == 200
    assert "home_store" in response.context["form"].errors
    assert Member.objects.count() == 0


def test_quick_register_prefills_the_phone_and_the_clerks_only_store(clerk_client, store):
    response = clerk_client.get(reverse("members:register"), {"phone": "13700137000"})
    form = response.context["form"]
    assert form.initial["phone"] == "13700137000"
    assert form.initial["home_store"] == str(store.pk)
    assert 'value="13700137000"' in response.content.decode()


# --- HQ segments --------------------------------------------------------------------------------


@pytest.fixture
def gold():
    return Tier.objects.create(code="gold", name="Gold", min_spend_12m=Decimal("1000"))


def test_hq_creates_a_segment_and_sees_its_count_and_consent_only_export(
    hq_client, store, mall, gold, store_channel
):
    consenting = MemberFactory(city="Chengdu", tier=gold, home_store=store, name="Consenting Gold")
    member_set_consent(member=consenting, consent=True, channel=store_channel)
    MemberFactory(city="Chengdu", tier=gold, home_store=store, name="Silent Gold")
    MemberFactory(city="Chengdu", home_store=store, name="No Tier")
    MemberFactory(city="Beijing", tier=gold, home_store=store, name="Other City")
    for m in Member.objects.all():
        points_earn(member=m, channel=mall, paid_amount=Decimal("50"), reference=f"O-{m.pk}")

    response = hq_client.post(
        reverse("members:segment_new"),
        {
            "name": "Chengdu gold",
            "city": "Chengdu, Xi'an",
            "tier": ["gold"],
            "home_store": "BJ001",
            "channel_used": ["mall"],
            "spend_min": "10",
            "last_purchase_after": "2020-01-01",
            "points_min": "1",
            "consent": "",
        },
    )
    segment = Segment.objects.get()
    assert response["Location"] == reverse("members:segment_detail", args=[segment.pk])
    assert segment.filters == {
        "city": ["Chengdu", "Xi'an"],
        "tier": ["gold"],
        "home_store": [store.pk],
        "channel_used": ["mall"],
        "spend_min": "10",
        "last_purchase_after": "2020-01-01T00:00:00+08:00",
        "points_min": 1,
    }

    page = hq_client.get(response["Location"])
    body = page.content.decode()
    assert page.context["total"] == 2
    assert page.context["left_out"] == 1
    assert "Consenting Gold" in body and "Silent Gold" in body
    assert "No Tier" not in body and "Other City" not in body
    assert "1 member without consent is left out." in body

    export = hq_client.get(response["Location"], {"format": "csv"})
    assert export["Content-Type"].startswith("text/csv")
    assert export["X-Left-Out"] == "1"
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["member_id", "phone", "name"]
    assert [row[2] for row in rows[1:]] == ["Consenting Gold"]


def test_segment_dates_are_midnight_in_shanghai_and_bounds_are_checked(hq_client):
    response = hq_client.post(
        reverse("members:segment_new"),
        {"name": "Lapsed", "last_purchase_before": "2026-03-01", "points_min": "50", "points_max": "10"},
    )
    assert response.status_code == 200
    assert "points_max" in response.context["form"].errors
    assert not Segment.objects.exists()
    hq_client.post(reverse("members:segment_new"), {"name": "Lapsed", "last_purchase_before": "2026-03-01"})
    assert Segment.objects.get().filters == {"last_purchase_before": "2026-03-01T00:00:00+08:00"}


def test_segment_with_an_unknown_store_is_a_form_error_and_not_saved(hq_client):
    response = hq_client.post(reverse("members:segment_new"), {"name": "Nowhere", "home_store": "NOPE1"})
    assert "No store has the code or id NOPE1" in response.content.decode()
    assert not Segment.objects.exists()


def test_a_segment_whose_saved_filters_no_longer_work_says_so(hq_client):
    segment = Segment.objects.create(name="Old", filters={"favourite_colour": "red"})
    response = hq_client.get(reverse("members:segment_detail", args=[segment.pk]))
    assert response.status_code == 200
    assert "Unknown segment filters: favourite_colour." in response.content.decode()


def test_segment_list_shows_the_filters_without_counting(hq_client, django_assert_max_num_queries):
    for i in range(3):
        Segment.objects.create(name=f"Segment {i}", filters={"city": ["Chengdu"]})
    # session, user, groups, count, page
    with django_assert_max_num_queries(5):
        body = hq_client.get(reverse("members:segments")).content.decode()
    assert "Cities: Chengdu" in body


@pytest.mark.parametrize(
    "name, args",
    [("members:segments", []), ("members:segment_new", []), ("members:segment_detail", [1])],
)
def test_non_hq_get_403_on_segment_pages(client, store, name, args):
    Segment.objects.create(pk=1, name="All", filters={})
    for user in (clerk_at(store), manager_at(store)):
        client.force_login(user)
        response = client.get(reverse(name, args=args))
        assert response.status_code == 403
        assert "This page is for HQ." in response.content.decode()
    client.force_login(clerk_at(store))
    assert client.get(reverse("members:segment_detail", args=[1]), {"format": "csv"}).status_code == 403


# --- store lists --------------------------------------------------------------------------------


@pytest.fixture
def manager(store):
    return manager_at(store)


def test_store_manager_makes_a_list_adds_and_removes_a_member(client, manager, store, stranger):
    client.force_login(manager)
    response = client.post(reverse("members:groups"), {"name": "VIP", "store": store.pk})
    group = StaticGroup.objects.get()
    assert (group.name, group.store) == ("VIP", store)
    assert response["Location"] == reverse("members:group_detail", args=[group.pk])

    page = client.post(
        reverse("members:group_add", args=[group.pk]), {"q": "138 0013 8000"}, follow=True
    ).content.decode()
    assert list(group.members.all()) == [stranger]
    assert "Li Lei is on the list “VIP”." in page

    missing = client.post(reverse("members:group_add", args=[group.pk]), {"q": "13999999999"}, follow=True)
    assert "No member with the number" in missing.content.decode()
    assert group.members.count() == 1

    client.post(reverse("members:group_remove", args=[group.pk]), {"member": stranger.pk})
    assert group.members.count() == 0


def test_store_manager_cannot_make_two_lists_with_one_name(client, manager, store):
    StaticGroup.objects.create(name="VIP", store=store)
    client.force_login(manager)
    response = client.post(reverse("members:groups"), {"name": "VIP", "store": store.pk})
    assert "already has a list with this name" in response.content.decode()
    assert StaticGroup.objects.count() == 1


def test_clerk_reads_the_list_but_cannot_change_it(clerk_client, store, stranger):
    group = StaticGroup.objects.create(name="VIP", store=store)
    regular = MemberFactory(home_store=store, name="Han Meimei")
    group.members.add(regular)

    page = clerk_client.get(reverse("members:group_detail", args=[group.pk]))
    body = page.content.decode()
    assert "Han Meimei" in body
    assert reverse("members:group_add", args=[group.pk]) not in body
    assert "Only this store's managers can change this list." in body

    # Refused before anything is looked up: a 403, as the API refuses (issue 14's access matrix).
    added = clerk_client.post(reverse("members:group_add", args=[group.pk]), {"q": "13800138000"})
    assert added.status_code == 403
    assert "Only a manager of Beijing Wangfujing can edit its list VIP." in added.content.decode()
    removed = clerk_client.post(reverse("members:group_remove", args=[group.pk]), {"member": regular.pk})
    assert removed.status_code == 403
    assert "Only a manager of Beijing Wangfujing can edit its list VIP." in removed.content.decode()
    assert list(group.members.all()) == [regular]

    assert (
        clerk_client.post(reverse("members:groups"), {"name": "Mine", "store": store.pk}).status_code == 403
    )
    assert StaticGroup.objects.count() == 1


def test_other_stores_lists_are_404(client, manager, other_store, stranger):
    theirs = StaticGroup.objects.create(name="Their VIP", store=other_store)
    theirs.members.add(stranger)
    client.force_login(manager)
    assert "Their VIP" not in client.get(reverse("members:groups")).content.decode()
    assert client.get(reverse("members:group_detail", args=[theirs.pk])).status_code == 404
    assert (
        client.post(reverse("members:group_add", args=[theirs.pk]), {"q": "13800138000"}).status_code == 404
    )
    response = client.post(reverse("members:group_remove", args=[theirs.pk]), {"member": stranger.pk})
    assert response.status_code == 404
    assert list(theirs.members.all()) == [stranger]
    # Nor can a manager make a list for a store they do not manage.
    client.post(reverse("members:groups"), {"name": "Sneaky", "store": other_store.pk})
    assert not StaticGroup.objects.filter(name="Sneaky").exists()


# --- query counts -------------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [2, 30])
def test_member_page_query_count_is_flat(client, store, mall, django_assert_max_num_queries, rows):
    member = MemberFactory(home_store=store)
    for i in range(rows):
        points_earn(member=member, channel=mall, paid_amount=Decimal("10"), reference=f"O-{i}")
        member_upsert(phone=member.phone, source=IdentitySource.TMALL, external_id=f"tb-{i}", actor=SYSTEM)
    client.force_login(clerk_at(store))
    # session, user, groups, member, identities, ledger count, ledger page, orders, guide bindings,
    # tickets; the timeline's merges, points and tickets; the clerk's store and the member's purchases
    # (suggestions)
    with django_assert_max_num_queries(15):
        response = client.get(detail_url(member))
    assert len(response.context["identities"]) == rows
    assert len(response.context["page_obj"].object_list) == min(rows, 20)


@pytest.mark.parametrize("rows", [2, 30])
def test_lookup_list_query_count_is_flat(client, store, gold, django_assert_max_num_queries, rows):
    MemberFactory.create_batch(rows, home_store=store, tier=gold)
    client.force_login(clerk_at(store))
    # session, user, groups, count, page
    with django_assert_max_num_queries(5):
        response = client.get(reverse("members:lookup"))
    assert len(response.context["page_obj"].object_list) == rows


def test_member_page_lists_orders_from_every_channel_linking_only_the_ones_the_clerk_may_open(client):
    from decimal import Decimal

    from django.utils import timezone

    from catalog.services import price_set
    from orders.choices import DeliveryMethod, Origin
    from orders.services import LineRequest, order_create
    from stores.services import stock_receive
    from tests.factories import ChannelFactory, SKUFactory

    mall = ChannelFactory(code="mall-x", name="Own mall X")
    sku = SKUFactory()
    price_set(
        sku=sku,
        channel=None,
        amount=Decimal("10"),
        valid_from=timezone.now() - timezone.timedelta(hours=1),
        actor=SYSTEM,
    )
    mine, other = (
        StoreFactory(code="MINE"),
        StoreFactory(code="OTHER", latitude=Decimal("31.2"), longitude=Decimal("121.4")),
    )
    for store in (mine, other):
        stock_receive(location=store, sku=sku, quantity=5, reason="Delivery", actor=SYSTEM)
    member = MemberFactory(home_store=mine)
    here = order_create(
        channel=mall,
        lines=[LineRequest(sku, 1)],
        delivery_method=DeliveryMethod.PICKUP,
        pickup_store=mine,
        member=member,
        actor=SYSTEM,
    )
    elsewhere = order_create(
        channel=mall,
        lines=[LineRequest(sku, 1)],
        delivery_method=DeliveryMethod.PICKUP,
        pickup_store=other,
        member=member,
        origin=Origin.ONLINE,
        actor=SYSTEM,
    )
    client.force_login(clerk_at(mine))
    body = client.get(f"/portal/members/{member.pk}/").content.decode()
    assert here.number in body and elsewhere.number in body
    assert f"/portal/orders/{here.number}/" in body
    assert f"/portal/orders/{elsewhere.number}/" not in body
