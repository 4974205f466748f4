"""The member's 360° timeline: identities and merges, orders on every channel, points, guide
bindings and tickets in time order, capped per source, on the member page."""

from decimal import Decimal

import pytest
from django.urls import reverse

import tests.world
from aftersales.choices import OpenedVia, TicketKind
from aftersales.services import ticket_open
from config.roles import SYSTEM
from guides.models import Binding
from guides.services import member_bind
from insights.member_timeline import member_timeline
from members.choices import IdentitySource
from members.models import MemberMerge, PointsEntry, PointsRule
from members.services import member_merge, member_upsert
from orders.fulfilment import order_complete
from tests.aftersales.helpers import ship_from_a
from tests.factories import GuideFactory, MemberFactory, clerk_at, hq_user

world = tests.world.world  # the shared World fixture


def kinds(timeline, kind):
    return [entry for entry in timeline if entry.kind == kind]


@pytest.fixture
def busy_member(world):
    """Han: a Tmall identity, a merged duplicate, orders online and in store, points, two guides
    (the first binding ended by the second scan) and a repair ticket."""
    PointsRule.objects.create(channel=None, points_per_yuan=Decimal("1"))
    han = member_upsert(
        phone="13900000001",
        name="Han Meimei",
        source=IdentitySource.TMALL,
        external_id="tb-han",
        actor=SYSTEM,
    )
    han = han.member
    duplicate = MemberFactory(phone="13900000002")
    member_merge(survivor=han, merged=duplicate, reason="Same person, two phones", actor=SYSTEM)
    member_bind(member=han, guide=GuideFactory(name="Guide Wang", store=world.a))
    member_bind(member=han, guide=GuideFactory(name="Guide Zhao", store=world.b))
    online = world.pay(world.ship_order(member=han))
    ship_from_a(world, online)
    order_complete(order=online, actor=SYSTEM)
    in_store = world.pay(world.ship_order(member=han, sku=world.phone, channel=world.stores_channel))
    ticket_open(
        line=online.lines.get(),
        kind=TicketKind.REPAIR,
        opened_via=OpenedVia.STORE,
        intake_store=world.a,
        actor=SYSTEM,
    )
    han.refresh_from_db()
    return han, online, in_store


def test_every_source_is_on_the_member_timeline_in_time_order(busy_member, world):
    han, online, in_store = busy_member
    timeline = member_timeline(han, user=hq_user())

    assert [e.at for e in timeline] == sorted(e.at for e in timeline)
    assert kinds(timeline, "joined")[0].at == han.created_at
    assert [e.what for e in kinds(timeline, "identity")] == ["Identity linked: Tmall buyer tb-han"]
    merge = MemberMerge.objects.get(survivor=han)
    (merged,) = kinds(timeline, "merge")
    assert merged.what == f"Member {merge.merged_id} (13900000002) merged into this one"
    assert "Same person, two phones" in merged.detail
    orders = kinds(timeline, "order")
    assert [e.what.split()[1] for e in orders] == [online.number, in_store.number]
    assert "on Own mall" in orders[0].what and "on Own stores" in orders[1].what
    assert orders[0].url == reverse("orders:detail", args=[online.number])
    points = list(PointsEntry.objects.filter(member=han).order_by("created_at", "id"))
    assert [e.what for e in kinds(timeline, "points")] == [
        f"{p.points:+} points: earned · {p.channel.name}" for p in points
    ]
    assert len(points) == 2
    bindings = Binding.objects.filter(member=han)
    assert len(kinds(timeline, "binding")) == bindings.count() == 2
    (ended,) = kinds(timeline, "binding_end")
    assert "Guide Wang" in ended.what and "Another guide's code was scanned" in ended.what
    (ticket,) = kinds(timeline, "ticket")
    assert ticket.flow == "service" and "Repair ticket" in ticket.what
    assert {e.flow for e in timeline} == {"information", "order", "capital", "service"}


def test_each_source_is_capped_to_its_newest_rows_with_a_see_all_link(world):
    member = MemberFactory()
    PointsRule.objects.create(channel=None, points_per_yuan=Decimal("1"))
    for _ in range(4):
        world.pay(world.ship_order(member=member))
    timeline = member_timeline(member, user=hq_user(), limit=3)
    newest = list(PointsEntry.objects.filter(member=member).order_by("-created_at", "-id")[:3])
    assert sorted(e.at for e in kinds(timeline, "points")) == sorted(p.created_at for p in newest)
    assert len(kinds(timeline, "order")) == 3
    labels = [label for label, _url in timeline.more]
    assert labels == ["All orders", "Whole points ledger"]
    assert dict(timeline.more)["All orders"] == f"{reverse('orders:list')}?member={member.pk}"


@pytest.mark.parametrize("rows", [2, 25])
def test_the_member_timeline_costs_the_same_queries_however_long_the_history(
    world, django_assert_max_num_queries, rows
):
    member = MemberFactory()
    for i in range(rows):
        member_upsert(phone=member.phone, source=IdentitySource.JD, external_id=f"jd-{i}", actor=SYSTEM)
        member_merge(survivor=member, merged=MemberFactory(), actor=SYSTEM)
    user = hq_user()
    # identities, merges, orders + visibility, points, bindings, tickets
    with django_assert_max_num_queries(7):
        timeline = member_timeline(member, user=user)
    assert len(kinds(timeline, "merge")) == min(rows, 20)


def test_the_member_page_shows_the_timeline_filterable_by_flow(client, busy_member, world):
    han, online, _in_store = busy_member
    client.force_login(clerk_at(world.a))
    url = reverse("members:detail", args=[han.pk])
    lookup = {"via": "lookup", "q": han.phone}

    body = client.get(url, lookup).content.decode()
    assert "Timeline: identities, orders, points, guides and service" in body
    assert "Identity linked: Tmall buyer tb-han" in body
    assert f"Order {online.number} on Own mall" in body
    assert "Bound to guide Guide Zhao" in body
    # the chips keep the lookup that let the clerk in
    assert f"?via=lookup&amp;q={han.phone}&amp;flow=capital#timeline-h" in body

    capital = client.get(url, {**lookup, "flow": "capital"})
    assert capital.status_code == 200
    assert {e.flow for e in capital.context["timeline"]} == {"capital"}
    text = capital.content.decode()
    section = text[text.index('id="timeline-h"') :]
    assert "points: earned" in section and "Identity linked" not in section


def test_a_foreign_stores_clerk_gets_404_without_the_members_number(client, busy_member, world):
    han, _online, _in_store = busy_member
    client.force_login(clerk_at(world.c))
    assert client.get(reverse("members:detail", args=[han.pk]), {"flow": "order"}).status_code == 404
