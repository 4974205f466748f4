"""Campaigns: who they reach (consenting, not merged; by segment, city and distance from a store),
that sending again reaches nobody twice, and the report after redemptions and a cancellation, on
the page and in its CSV."""

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from config.roles import SYSTEM
from integrations.models import OutboxEvent
from marketing.choices import CampaignStatus, CodeStatus, CouponKind, IssuedVia
from marketing.models import Campaign, CampaignRecipient, CouponCode
from marketing.services import (
    campaign_audience,
    campaign_create,
    campaign_preview,
    campaign_send,
    coupon_define,
)
from members.models import Member, Segment
from orders.choices import DeliveryMethod, Origin
from orders.services import LineRequest, order_cancel, order_create, order_pay
from tests.factories import ChannelFactory, GuideFactory, MemberFactory, StoreFactory
from tests.world import north

pytestmark = pytest.mark.django_db

D = Decimal


def coupon(code="WELCOME30", value="30", **fields):
    fields.setdefault("valid_from", timezone.now() - timezone.timedelta(hours=1))
    return coupon_define(
        code=code, name=f"Coupon {code}", kind=CouponKind.AMOUNT, value=D(value), actor=SYSTEM, **fields
    )


def campaign(**fields):
    fields.setdefault("name", "Autumn")
    fields.setdefault("message", "Autumn sale: 30 off")
    return campaign_create(actor=SYSTEM, **fields)


def reached(c) -> set:
    return set(CampaignRecipient.objects.filter(campaign=c).values_list("member_id", flat=True))


class People:
    """Members around the world's stores: A at 0 km, B 5 km and C 25 km north of A; a far
    warehouse-city store in Shanghai."""

    def __init__(self, world):
        self.shanghai = StoreFactory(
            code="SH", city="Shanghai", latitude=D("31.230400"), longitude=D("121.473700")
        )
        self.at_a = MemberFactory(name="At A", home_store=world.a, city="Beijing", marketing_consent=True)
        self.at_b = MemberFactory(name="At B", home_store=world.b, city="Beijing", marketing_consent=True)
        self.at_c = MemberFactory(name="At C", home_store=world.c, city="Beijing", marketing_consent=True)
        self.in_sh = MemberFactory(
            name="In Shanghai", home_store=self.shanghai, city="Shanghai", marketing_consent=True
        )
        self.no_consent = MemberFactory(name="Said no", home_store=world.a, marketing_consent=False)
        self.survivor = MemberFactory(name="Survivor", home_store=world.a, marketing_consent=True)
        self.merged = MemberFactory(name="Merged", home_store=world.a, marketing_consent=True)
        Member.objects.filter(pk=self.merged.pk).update(merged_into=self.survivor)
        self.merged.refresh_from_db()

    @property
    def consenting(self):
        return {m.pk for m in (self.at_a, self.at_b, self.at_c, self.in_sh, self.survivor)}


@pytest.fixture
def people(world):
    return People(world)


# --- the audience --------------------------------------------------------------------------------------


def test_the_audience_is_consenting_members_who_were_not_merged(people):
    audience = {m.pk for m in campaign_audience(campaign())}

    assert audience == people.consenting
    assert people.no_consent.pk not in audience and people.merged.pk not in audience


def test_the_audience_narrows_to_a_city(people):
    c = campaign(city="Shanghai")

    assert {m.pk for m in campaign_audience(c)} == {people.in_sh.pk}
    assert campaign_preview(c).recipients == 1


def test_the_audience_narrows_to_members_whose_home_store_is_within_the_distance(world, people):
    within_10 = campaign(near_store=world.a, radius_km="10")
    within_30 = campaign(near_store=world.a, radius_km="30")
    within_1 = campaign(near_store=world.c, radius_km="1")

    # A (0 km) and B (5 km) are within 10 km of A; C lies 25 km away; Shanghai ~1,000 km.
    assert {m.pk for m in campaign_audience(within_10)} == {
        people.at_a.pk,
        people.at_b.pk,
        people.survivor.pk,
    }
    assert {m.pk for m in campaign_audience(within_30)} == {
        people.at_a.pk,
        people.at_b.pk,
        people.at_c.pk,
        people.survivor.pk,
    }
    assert {m.pk for m in campaign_audience(within_1)} == {people.at_c.pk}


def _shopped_at(member, store, minutes_ago: int):
    """An order of the member's credited to `store`, `minutes_ago` minutes ago."""
    from orders.models import Order

    order = Order.objects.create(
        number=f"T{member.pk:04d}{minutes_ago:04d}",
        channel=ChannelFactory(),
        member=member,
        origin=Origin.IN_STORE,
        origin_store=store,
        delivery_method=DeliveryMethod.PICKUP,
        status="completed",
        subtotal=D("10"),
        total=D("10"),
    )
    Order.objects.filter(pk=order.pk).update(
        created_at=timezone.now() - timezone.timedelta(minutes=minutes_ago)
    )


def test_the_distance_counts_the_last_store_a_member_shopped_at_as_well_as_the_home_store(world, people):
    # Lives in Shanghai, last bought at A: near A. Bought at A once, but since then in Shanghai: not.
    visitor = MemberFactory(name="Visitor", home_store=people.shanghai, marketing_consent=True)
    _shopped_at(visitor, world.a, minutes_ago=5)
    moved = MemberFactory(name="Moved", home_store=people.shanghai, marketing_consent=True)
    _shopped_at(moved, world.a, minutes_ago=60)
    _shopped_at(moved, people.shanghai, minutes_ago=5)
    # Shopped at A but never said yes to marketing: never reached.
    _shopped_at(people.no_consent, world.a, minutes_ago=5)

    audience = {m.pk for m in campaign_audience(campaign(near_store=world.a, radius_km="10"))}

    assert audience == {people.at_a.pk, people.at_b.pk, people.survivor.pk, visitor.pk}
    assert campaign_preview(campaign(near_store=world.a, radius_km="10")).recipients == 4


def test_a_distance_of_thousands_of_km_reaches_other_cities(world, people):
    # Shanghai lies ~1,070 km from A: beyond the store finder's 500 km, within a campaign's 5,000.
    audience = {m.pk for m in campaign_audience(campaign(near_store=world.a, radius_km="1500"))}

    assert audience == people.consenting


def test_the_audience_narrows_to_a_segment_and_place_together(world, people):
    Member.objects.filter(pk__in=[people.at_b.pk, people.at_c.pk, people.no_consent.pk]).update(
        total_spend=D("5000")
    )
    big_spenders = Segment.objects.create(name="Big spenders", filters={"spend_min": "1000"})

    in_segment = campaign(segment=big_spenders)
    near_a = campaign(segment=big_spenders, near_store=world.a, radius_km="10")

    assert {m.pk for m in campaign_audience(in_segment)} == {people.at_b.pk, people.at_c.pk}
    assert {m.pk for m in campaign_audience(near_a)} == {people.at_b.pk}


def test_the_preview_counts_the_audience_and_what_the_coupons_may_cost(people):
    c = campaign(coupon=coupon(value="30", budget_count=3, budget_amount="1000"))

    preview = campaign_preview(c)

    assert preview.recipients == 5
    assert preview.coupon_value == D("150.00")  # 5 members x 30, under the money budget
    assert preview.budget_left == 3


# --- sending ------------------------------------------------------------------------------------------


def test_sending_twice_reaches_nobody_twice(world, people):
    c = campaign(coupon=coupon())

    first = campaign_send(campaign=c, actor=SYSTEM)
    late = MemberFactory(name="Joined later", home_store=world.a, marketing_consent=True)
    second = campaign_send(campaign=c, actor=SYSTEM)
    third = campaign_send(campaign=c, actor=SYSTEM)

    assert (first, second, third) == (5, 1, 0)
    assert reached(c) == people.consenting | {late.pk}
    assert CampaignRecipient.objects.filter(campaign=c).count() == 6
    events = OutboxEvent.objects.filter(type="campaign.message")
    assert events.count() == 6
    assert sorted(e.payload["member"] for e in events) == sorted(people.consenting | {late.pk})
    codes = CouponCode.objects.filter(campaign=c)
    assert codes.count() == 6
    assert sorted(codes.values_list("member_id", flat=True)) == sorted(people.consenting | {late.pk})
    assert set(codes.values_list("issued_via", flat=True)) == {IssuedVia.CAMPAIGN}
    assert {e.payload["coupon_code"] for e in events} == set(codes.values_list("code", flat=True))
    c.refresh_from_db()
    assert c.status == CampaignStatus.SENT and c.recipients == 6 and c.coupon.issued_count == 6


def test_a_big_send_goes_in_chunks_and_reaches_everyone_once(world, people, monkeypatch):
    import marketing.services

    monkeypatch.setattr(marketing.services, "CAMPAIGN_CHUNK", 2)
    c = campaign(coupon=coupon())

    assert campaign_send(campaign=c, actor=SYSTEM) == 5
    assert campaign_send(campaign=c, actor=SYSTEM) == 0

    assert reached(c) == people.consenting
    assert CouponCode.objects.filter(campaign=c).count() == 5
    assert OutboxEvent.objects.filter(type="campaign.message").count() == 5
    c.refresh_from_db()
    assert c.recipients == 5 and c.status == CampaignStatus.SENT


def test_a_member_who_holds_the_most_codes_still_gets_the_message_but_no_second_code(world, people):
    welcome = coupon()
    first = campaign(coupon=welcome, city="Shanghai")
    campaign_send(campaign=first, actor=SYSTEM)
    again = campaign(name="Reminder", coupon=welcome, city="Shanghai")

    campaign_send(campaign=again, actor=SYSTEM)

    assert CouponCode.objects.filter(member=people.in_sh, coupon=welcome).count() == 1
    row = CampaignRecipient.objects.get(campaign=again)
    assert row.member_id == people.in_sh.pk and row.code is None
    assert OutboxEvent.objects.filter(type="campaign.message", payload__member=people.in_sh.pk).count() == 2


def test_a_message_only_campaign_issues_no_codes(people):
    c = campaign(message="Store opening on Saturday")

    campaign_send(campaign=c, actor=SYSTEM)

    assert not CouponCode.objects.exists()
    assert OutboxEvent.objects.filter(type="campaign.message").count() == 5


# --- the report ---------------------------------------------------------------------------------------


def _order(world, member, code, *, store=None, channel=None):
    """An order for a TV with the campaign's code: in store at `store` (the code counts there),
    else a home delivery on the own mall."""
    world.stock(store or world.a, world.tv, 1)
    lat, lng = north(0.1)
    fields = (
        {"origin": Origin.IN_STORE, "origin_store": store, "channel": world.stores_channel}
        if store is not None
        else {"channel": channel or world.mall}
    )
    order = order_create(
        lines=[LineRequest(sku=world.tv, quantity=1)],
        delivery_method=DeliveryMethod.SHIP,
        member=member,
        coupons=[code],
        address="1 Chang'an Avenue",
        latitude=lat,
        longitude=lng,
        actor=SYSTEM,
        **fields,
    )
    order_pay(order=order, amount=order.total, method="wechat", actor=SYSTEM)
    order.refresh_from_db()
    return order


@pytest.fixture
def sent(world, people):
    """A sent campaign (30 off), three of its codes redeemed (at store B with guide G, at B, and
    on the own mall) and the third order cancelled."""
    from guides.services import member_bind

    c = campaign(coupon=coupon(value="30"))
    campaign_send(campaign=c, actor=SYSTEM)
    code_of = dict(CouponCode.objects.filter(campaign=c).values_list("member_id", "code"))
    guide = GuideFactory(store=world.b, code="G-REPORT")
    member_bind(member=people.at_a, guide=guide)
    orders = [
        _order(world, people.at_a, code_of[people.at_a.pk], store=world.b),
        _order(world, people.at_b, code_of[people.at_b.pk], store=world.b),
        _order(world, people.at_c, code_of[people.at_c.pk]),
    ]
    order_cancel(order=orders[2], reason="Changed mind", actor=SYSTEM)
    return c, orders, guide


def test_the_report_counts_redemptions_net_of_the_cancellation(world, sent):
    from marketing.services import campaign_report

    c, orders, guide = sent
    report = campaign_report(c)

    assert orders[0].guide == guide and orders[1].guide is None
    assert report["issued"] == 5
    assert report["redeemed"] == 2  # the cancelled order gave its code back
    assert report["discount"] == D("60.00")
    assert report["net_sales"] == orders[0].total + orders[1].total == D("5938.00")
    stores = {r["store__name"]: (r["discount"], r["net_sales"]) for r in report["by_store"]}
    # The mall order (no store) was redeemed, then released by its cancellation: it nets to zero.
    assert stores == {None: (D("0.00"), D("0.00")), "Store B": (D("60.00"), D("5938.00"))}
    guides = {r["guide__code"]: (r["discount"], r["net_sales"]) for r in report["by_guide"]}
    assert guides == {"G-REPORT": (D("30.00"), D("2969.00")), None: (D("30.00"), D("2969.00"))}
    channels = {r["channel__name"]: r["discount"] for r in report["by_channel"]}
    assert channels == {"Own stores": D("60.00"), "Own mall": D("0.00")}
    assert (
        CouponCode.objects.get(campaign=c, order_number="", member=orders[2].member).status == CodeStatus.HELD
    )


def test_the_report_page_and_its_csv_show_the_same_figures(hq_client, sent):
    c, orders, _guide = sent

    page = hq_client.get(reverse("marketing_hq:campaign_report", kwargs={"pk": c.pk}))
    response = hq_client.get(reverse("marketing_hq:campaign_report_csv", kwargs={"pk": c.pk}))

    text = page.content.decode()
    assert page.status_code == 200
    assert 'data-figure="issued">5<' in text
    assert 'data-figure="redeemed">2<' in text
    assert 'data-figure="net-sales">¥5938.00<' in text
    assert 'data-figure="discount">¥60.00<' in text
    assert "G-REPORT" in text and "Store B" in text
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["group", "key", "issued", "redeemed", "discount", "net_sales"]
    assert rows[1] == ["all", "", "5", "2", "60.00", "5938.00"]
    assert ["store", "Store B", "", "", "60.00", "5938.00"] in rows
    assert ["guide", "G-REPORT", "", "", "30.00", "2969.00"] in rows
    assert ["channel", "Own mall", "", "", "0.00", "0.00"] in rows


def test_the_campaign_page_sends_once_per_member_however_often_it_is_pressed(hq_client, world, people):
    c = campaign(coupon=coupon())
    url = reverse("marketing_hq:campaign_send", kwargs={"pk": c.pk})

    first = hq_client.post(url, follow=True)
    second = hq_client.post(url, follow=True)
    MemberFactory(name="Joined later", home_store=world.c, marketing_consent=True)
    detail = hq_client.get(reverse("marketing_hq:campaign", kwargs={"pk": c.pk}))

    assert "Sent to 5 members." in first.content.decode()
    assert "Nobody new to reach" in second.content.decode()
    assert "Sending again reaches 1 member not reached yet." in detail.content.decode()
    assert CampaignRecipient.objects.filter(campaign=c).count() == 5
    assert OutboxEvent.objects.filter(type="campaign.message").count() == 5
    assert CouponCode.objects.filter(campaign=c).count() == 5
    assert hq_client.get(url).status_code == 405  # sending is a POST only
    assert Campaign.objects.get(pk=c.pk).recipients == 5
