"""Issue #7: the Idempotency-Key on the creating POSTs beyond order intake and member upsert. The
order's `pay` action, earning points, opening a ticket and approving a statement each replay their
first answer byte for byte under a used key (and change the database once), and refuse the same key
with another body with a 409 `idempotency_conflict`."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from django.test import Client

from aftersales.models import Ticket
from guides.choices import StatementParty, StatementStatus
from guides.models import Statement
from guides.services import guide_register
from integrations.models import IdempotentRequest
from members.models import PointsEntry, PointsRule
from orders.models import Payment
from tests.aftersales.pages import delivered
from tests.factories import (
    ChannelFactory,
    MemberFactory,
    PartnerFactory,
    StoreFactory,
    UserFactory,
    clerk_at,
    hq_user,
)
from tests.helpers import login
from tests.world import World

pytestmark = pytest.mark.django_db


def post(client, url, body, key):
    return client.post(url, body, content_type="application/json", headers={"Idempotency-Key": key})


@dataclass
class Case:
    client: Client
    url: str
    body: dict
    other_body: dict  # the same call with one parameter changed
    status: int  # the first answer's status
    effect: object  # () -> what the first call wrote; must not change on replay or conflict
    expected_effect: object


def order_pay() -> Case:
    world = World()
    order = world.ship_order()
    body = {"amount": "2999.00", "method": "alipay", "external_reference": "ALI-77"}
    return Case(
        client=login(hq_user()),
        url=f"/api/v1/orders/{order.number}/pay/",
        body=body,
        other_body={**body, "method": "wechat"},
        status=201,
        effect=lambda: list(Payment.objects.values_list("order__number", "amount", "method")),
        expected_effect=[(order.number, Decimal("2999.00"), "alipay")],
    )


def points_earn() -> Case:
    PointsRule.objects.create(channel=None, points_per_yuan=Decimal("1"), life_days=365)
    ChannelFactory(code="mall", name="Own mall")
    store = StoreFactory(code="BJ-01")
    member = MemberFactory(home_store=store)  # a customer of the clerk's store
    # No client_reference: the Idempotency-Key alone must make the retry harmless.
    body = {"channel": "mall", "paid_amount": "100.00", "reference": "O-1"}
    return Case(
        client=login(clerk_at(store)),
        url=f"/api/v1/members/{member.pk}/points/earn/",
        body=body,
        other_body={**body, "paid_amount": "500.00"},
        status=201,
        effect=lambda: (
            list(PointsEntry.objects.values_list("member_id", "points")),
            type(member).objects.get(pk=member.pk).points_balance,
        ),
        expected_effect=([(member.pk, 100)], 100),
    )


def ticket_open() -> Case:
    order = delivered(World(), member=MemberFactory(phone="13912345678"))
    body = {"order": order.number, "kind": "repair", "description": "No picture"}
    return Case(
        client=login(hq_user()),
        url="/api/v1/tickets/",
        body=body,
        other_body={**body, "description": "Cracked screen"},
        status=201,
        effect=lambda: list(Ticket.objects.values_list("line__order__number", "kind", "description")),
        expected_effect=[(order.number, "repair", "No picture")],
    )


def statement_approve() -> Case:
    partner = PartnerFactory(code="p1")
    guide = guide_register(
        user=UserFactory(), name="Li Na", store=StoreFactory(code="S1", partner=partner), partner=partner
    )
    statement = Statement.objects.create(
        party=StatementParty.GUIDE,
        guide=guide,
        period=date(2025, 3, 1),
        total=Decimal("12.50"),
        entry_count=1,
    )
    hq = hq_user()
    return Case(
        client=login(hq),
        url=f"/api/v1/statements/{statement.pk}/approve/",
        body={},
        other_body={"note": "another body"},
        status=200,
        effect=lambda: list(Statement.objects.values_list("pk", "status", "approved_by")),
        expected_effect=[(statement.pk, StatementStatus.APPROVED, hq.pk)],
    )


@pytest.mark.parametrize(
    "make", [order_pay, points_earn, ticket_open, statement_approve], ids=lambda f: f.__name__
)
def test_a_creating_action_is_replayed_byte_for_byte_and_another_body_under_its_key_is_409(make):
    case = make()

    first = post(case.client, case.url, case.body, key="action-1")
    assert first.status_code == case.status, first.content
    assert "Idempotent-Replayed" not in first.headers
    assert case.effect() == case.expected_effect

    replay = post(case.client, case.url, case.body, key="action-1")

    assert replay.status_code == first.status_code
    assert replay.content == first.content  # byte for byte
    assert replay["Content-Type"] == first["Content-Type"]
    assert replay["Idempotent-Replayed"] == "true"
    assert case.effect() == case.expected_effect  # written once

    changed = post(case.client, case.url, case.other_body, key="action-1")

    assert changed.status_code == 409, changed.content
    body = changed.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == "idempotency_conflict"
    assert body["fields"]["Idempotency-Key"]
    assert case.effect() == case.expected_effect  # nothing run
    row = IdempotentRequest.objects.get()
    assert (row.key, row.path, row.status_code) == ("action-1", case.url, case.status)
    assert bytes(row.response_body) == first.content
