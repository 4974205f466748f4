"""Service tickets end to end: opening (eligibility, serials, quantity, photos), the steps, and
what each resolution does to money, stock, points, commission and the revenue split."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from aftersales.choices import OpenedVia, TicketKind, TicketStatus
from aftersales.errors import NotEligible, PhotoRefused, SerialRefused, TicketRefused
from aftersales.models import Ticket, TicketPhoto, TicketStatusChange
from aftersales.selectors import tickets_visible_to
from aftersales.services import (
    ticket_approve,
    ticket_close,
    ticket_inspect,
    ticket_open,
    ticket_receive,
    ticket_refuse,
    ticket_resolve,
)
from aftersales.states import TRANSITIONS
from config.errors import DomainError, IllegalTransition
from config.money import quantize_money
from config.roles import SYSTEM
from guides.choices import EntryKind
from guides.models import CommissionEntry, CommissionRule
from members.models import Member, PointsEntry, PointsRule
from orders.choices import OrderStatus, PaymentKind
from orders.fulfilment import order_complete
from orders.models import Order, OrderLine, Payment, RevenueShare, SoldUnit
from orders.services import line_share_reversals
from stores.errors import InsufficientStock
from stores.models import Stock, StockMovement
from tests.aftersales.helpers import on_hand, placed_order, png, serial_sku, ship_from_a
from tests.factories import GuideFactory, MemberFactory, clerk_at, hq_user

# --- a delivered order, as the customer brings it back ---------------------------------------


@pytest.fixture
def loyalty(db):
    """One point per yuan on every channel; a guide earning 5% on every sale."""
    PointsRule.objects.create(channel=None, points_per_yuan=Decimal("1"))
    CommissionRule.objects.create(rate_percent=Decimal("5"), valid_from=timezone.now() - timedelta(days=30))


def delivered(world, *, member=None, sku=None, quantity=1, serials=(), guide=None, channel=None):
    """A home-delivery order near store A, paid (points, split, commission), shipped by A and
    delivered now. With a guide, the line's held accrual is there (made here if the commission
    service did not make it)."""
    order = placed_order(world, sku=sku, quantity=quantity, member=member, channel=channel, guide=guide)
    line = ship_from_a(world, order, serials=serials)
    order_complete(order=order, actor=SYSTEM)
    order.refresh_from_db()
    if guide is not None and not CommissionEntry.objects.filter(line=line, kind=EntryKind.ACCRUAL).exists():
        CommissionEntry.objects.create(
            kind=EntryKind.ACCRUAL,
            guide=guide,
            store=guide.store,
            order=order,
            line=line,
            base_amount=line.line_total,
            held_change=quantize_money(line.line_total * 5 / 100),
            created_at=timezone.now(),
        )
    return order


def walk_to_approved(ticket, *, store, user=SYSTEM):
    ticket_receive(ticket=ticket, store=store, actor=user)
    ticket_inspect(ticket=ticket, actor=user, note="Screen flickers")
    return ticket_approve(ticket=ticket, actor=user, note="Fault confirmed")


def line_shares_total(line) -> Decimal:
    return RevenueShare.objects.filter(line=line).aggregate(total=Sum("amount"))["total"]


# --- the state machine -------------------------------------------------------------------------


def test_every_state_has_a_row_and_closed_is_final():
    assert set(TRANSITIONS) == set(TicketStatus.values)
    assert TRANSITIONS[TicketStatus.CLOSED] == set()


@pytest.mark.django_db
def test_illegal_moves_are_refused_naming_both_states_and_write_nothing(world):
    order = delivered(world, member=MemberFactory())
    ticket = ticket_open(
        line=order.lines.get(),
        kind=TicketKind.REPAIR,
        opened_via=OpenedVia.STORE,
        intake_store=world.a,
        actor=SYSTEM,
    )
    with pytest.raises(IllegalTransition) as refused:
        ticket_resolve(ticket=ticket, note="Fixed", actor=SYSTEM)
    assert "Opened" in refused.value.message and "Repaired" in refused.value.message
    with pytest.raises(IllegalTransition):
        ticket_close(ticket=ticket, actor=SYSTEM)
    with pytest.raises(IllegalTransition):
        ticket_refuse(ticket=ticket, reason="No fault found", actor=SYSTEM)
    with pytest.raises(IllegalTransition):
        ticket_approve(ticket=ticket, actor=SYSTEM)
    walk_to_approved(ticket, store=world.a)
    with pytest.raises(IllegalTransition):
        ticket_approve(ticket=ticket, actor=SYSTEM)
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.APPROVED
    assert ticket.status_changes.count() == 4


# --- return ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_return_refunds_restocks_and_reverses_points_commission_and_split_in_one_go(world, loyalty):
    member = MemberFactory()
    guide = GuideFactory(store=world.c)
    order = delivered(world, member=member, guide=guide)
    line = order.lines.get()
    payment = order.payments.get()
    accrual = CommissionEntry.objects.get(line=line, kind=EntryKind.ACCRUAL)
    member.refresh_from_db()
    assert member.points_balance == 2999
    clerk = clerk_at(world.a)

    ticket = ticket_open(
        line=line,
        kind=TicketKind.RETURN,
        opened_via=OpenedVia.STORE,
        intake_store=world.a,
        actor=clerk,
        description="Dead pixels",
    )
    assert ticket.customer_phone == member.phone  # defaults to the member's
    assert (ticket.member, ticket.channel, ticket.order) == (member, world.mall, order)
    assert ticket.policy == line.warranty_policy and ticket.eligibility
    assert len(ticket.number) == 16 and ticket.number.startswith(f"{timezone.localtime():%y%m%d}")
    walk_to_approved(ticket, store=world.a, user=clerk)
    ticket = ticket_resolve(ticket=ticket, actor=clerk)

    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.REFUNDED
    # money: one refund reversing the payment, the whole line
    refund = Payment.objects.get(kind=PaymentKind.REFUND)
    assert (refund.order, refund.amount, refund.reverses, refund.method) == (
        order,
        Decimal("2999.00"),
        payment,
        "wechat",
    )
    assert ticket.refund == refund
    # stock: back on hand at the handling store, with a ledger row on the ticket's number
    assert on_hand(world.a, world.tv) == 1
    movement = StockMovement.objects.get(reference=ticket.number)
    assert (movement.kind, movement.on_hand_delta, movement.reserved_delta) == ("return", 1, 0)
    # points: the earned points reversed, balance back to zero, spend too
    reverse = PointsEntry.objects.get(kind="reverse")
    assert (reverse.points, reverse.reference, reverse.reverses.reference) == (
        -2999,
        ticket.number,
        order.number,
    )
    member.refresh_from_db()
    assert (member.points_balance, member.total_spend) == (0, Decimal("0.00"))
    # commission: the held accrual clawed back in full
    clawback = CommissionEntry.objects.get(kind=EntryKind.CLAWBACK)
    assert (clawback.accrual, clawback.held_change, clawback.payable_change) == (
        accrual,
        -accrual.held_change,
        Decimal("0.00"),
    )
    # revenue split: every share of the line reversed, the line sums to zero
    assert line_shares_total(line) == Decimal("0.00")
    reversals = RevenueShare.objects.filter(line=line, reverses__isnull=False)
    assert reversals.aggregate(total=Sum("amount"))["total"] == Decimal("-2999.00")
    # the order and the line
    line.refresh_from_db()
    order.refresh_from_db()
    assert line.returned_quantity == 1
    assert order.status == OrderStatus.RETURNED

    ticket_close(ticket=ticket, actor=clerk)
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED and ticket.closed_at is not None
    steps = list(ticket.status_changes.values_list("from_status", "to_status", "store__code", "changed_by"))
    assert steps == [
        ("", "opened", "A", clerk.pk),
        ("opened", "received", "A", clerk.pk),
        ("received", "inspected", "A", clerk.pk),
        ("inspected", "approved", "A", clerk.pk),
        ("approved", "refunded", "A", clerk.pk),
        ("refunded", "closed", "A", clerk.pk),
    ]
    assert ticket.status_changes.get(to_status="inspected").note == "Screen flickers"


@pytest.mark.django_db
def test_returning_one_of_two_units_reverses_half_then_the_second_reverses_the_rest(world, loyalty):
    member = MemberFactory()
    guide = GuideFactory(store=world.c)
    order = delivered(world, member=member, sku=world.phone, quantity=2, guide=guide)
    line = order.lines.get()
    assert line.line_total == Decimal("3998.00")
    accrual = CommissionEntry.objects.get(line=line, kind=EntryKind.ACCRUAL)

    first = ticket_open(line=line, kind=TicketKind.RETURN, opened_via=OpenedVia.HQ, actor=hq_user())
    walk_to_approved(first, store=world.a)
    ticket_resolve(ticket=first, actor=SYSTEM)

    assert Payment.objects.get(kind=PaymentKind.REFUND).amount == Decimal("1999.00")
    assert on_hand(world.a, world.phone) == 1
    member.refresh_from_db()
    assert member.points_balance == 3998 - 1999
    clawed = CommissionEntry.objects.filter(kind=EntryKind.CLAWBACK).aggregate(total=Sum("held_change"))
    assert clawed["total"] == -quantize_money(accrual.held_change / 2)
    assert line_shares_total(line) == Decimal("1999.00")
    shares = {s.party: s.amount for s in RevenueShare.objects.filter(line=line, reverses__isnull=True)}
    reversed_ = {s.party: s.amount for s in RevenueShare.objects.filter(line=line, reverses__isnull=False)}
    assert reversed_ == {party: -quantize_money(amount / 2) for party, amount in shares.items()}
    order.refresh_from_db()
    line.refresh_from_db()
    assert (order.status, line.returned_quantity) == (OrderStatus.PARTLY_RETURNED, 1)

    second = ticket_open(
        line=line, kind=TicketKind.RETURN, opened_via=OpenedVia.STORE, intake_store=world.b, actor=SYSTEM
    )
    walk_to_approved(second, store=world.b)
    ticket_resolve(ticket=second, actor=SYSTEM)

    refunds = Payment.objects.filter(kind=PaymentKind.REFUND).aggregate(total=Sum("amount"))["total"]
    assert refunds == Decimal("3998.00")
    assert (on_hand(world.a, world.phone), on_hand(world.b, world.phone)) == (1, 1)
    member.refresh_from_db()
    assert member.points_balance == 0
    assert CommissionEntry.objects.filter(line=line).aggregate(total=Sum("held_change"))["total"] == 0
    assert line_shares_total(line) == Decimal("0.00")
    order.refresh_from_db()
    assert order.status == OrderStatus.RETURNED


@pytest.mark.django_db
def test_a_clerk_at_store_b_services_an_online_order_fulfilled_by_store_a(world):
    order = delivered(world, member=MemberFactory())  # own mall, shipped by A
    assert (order.channel, order.fulfilling_location) == (world.mall, world.a)
    clerk_b = clerk_at(world.b)
    ticket = ticket_open(
        line=order.lines.get(),
        kind=TicketKind.RETURN,
        opened_via=OpenedVia.STORE,
        intake_store=world.b,
        actor=clerk_b,
    )
    walk_to_approved(ticket, store=world.b, user=clerk_b)
    ticket_resolve(ticket=ticket, actor=clerk_b, store=world.b)

    ticket.refresh_from_db()
    assert (ticket.intake_store, ticket.handling_store, ticket.status) == (world.b, world.b, "refunded")
    assert (on_hand(world.a, world.tv), on_hand(world.b, world.tv)) == (0, 1)
    assert StockMovement.objects.get(reference=ticket.number).stock.location == world.b
    assert list(tickets_visible_to(clerk_b)) == [ticket]
    assert not tickets_visible_to(clerk_at(world.c)).exists()


@pytest.mark.django_db
def test_a_unit_received_at_one_store_is_resolved_there_only(world):
    order = delivered(world, member=MemberFactory())
    ticket = ticket_open(
        line=order.lines.get(), kind=TicketKind.RETURN, opened_via=OpenedVia.HQ, actor=SYSTEM
    )
    walk_to_approved(ticket, store=world.b)
    with pytest.raises(TicketRefused) as refused:
        ticket_resolve(ticket=ticket, store=world.c, actor=SYSTEM)
    assert "store" in refused.value.fields
    assert not Payment.objects.filter(kind=PaymentKind.REFUND).exists()


@pytest.mark.django_db
def test_a_refund_never_exceeds_what_is_left_of_the_payment(world):
    order = delivered(world, member=MemberFactory())
    payment = order.payments.get()
    Payment.objects.create(  # a goodwill refund made earlier by HQ
        order=order, kind=PaymentKind.REFUND, method="wechat", amount=Decimal("2900.00"), reverses=payment
    )
    ticket = ticket_open(
        line=order.lines.get(), kind=TicketKind.RETURN, opened_via=OpenedVia.HQ, actor=SYSTEM
    )
    walk_to_approved(ticket, store=world.a)
    ticket_resolve(ticket=ticket, actor=SYSTEM)
    ticket.refresh_from_db()
    assert ticket.refund.amount == Decimal("99.00")
    assert line_shares_total(ticket.line) == Decimal("0.00")  # the split follows the goods


def test_share_reversals_sum_exactly_to_the_amount_and_the_brand_takes_the_remainder(db, world):
    order = delivered(world, sku=world.phone, quantity=3)
    line = order.lines.get()  # 5997.00: store fee 8% = 479.76, brand 5517.24
    rows = line_share_reversals(line=line, amount=Decimal("1999.00"))
    by_party = {row.party: row.amount for row in rows}
    assert by_party == {"fulfilling_store": Decimal("-159.92"), "brand": Decimal("-1839.08")}
    assert sum(by_party.values()) == Decimal("-1999.00")
    RevenueShare.objects.bulk_create(rows)
    rest = line_share_reversals(line=line, amount=Decimal("3998.00"))
    RevenueShare.objects.bulk_create(rest)
    assert line_shares_total(line) == Decimal("0.00")
    assert line_share_reversals(line=line, amount=Decimal("1.00")) == []


def test_a_negative_reversal_grows_the_shares_in_proportion_and_a_full_one_takes_them_to_zero(db, world):
    order = delivered(world, sku=world.phone, quantity=3)
    line = order.lines.get()  # 5997.00: store fee 8% = 479.76, brand 5517.24
    grow = line_share_reversals(line=line, amount=Decimal("-100.00"))  # the kept units cost 100 more
    assert {row.party: row.amount for row in grow} == {
        "fulfilling_store": Decimal("8.00"),
        "brand": Decimal("92.00"),
    }
    assert all(row.reverses.line_id == line.pk and row.reverses.reverses_id is None for row in grow)
    RevenueShare.objects.bulk_create(grow)
    assert line_shares_total(line) == Decimal("6097.00")
    RevenueShare.objects.bulk_create(line_share_reversals(line=line, amount=Decimal("6097.00")))
    assert line_shares_total(line) == Decimal("0.00")
    for share in RevenueShare.objects.filter(line=line, reverses__isnull=True):
        assert share.amount + sum(r.amount for r in share.reversed_by.all()) == 0


# --- exchange ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_exchange_hands_over_a_replacement_and_takes_the_faulty_unit_back(world, loyalty):
    sku = serial_sku()
    member = MemberFactory()
    order = delivered(world, member=member, sku=sku, serials=["sn-001"])
    line = order.lines.get()
    world.stock(world.b, sku, 1)
    clerk_b = clerk_at(world.b)
    ticket = ticket_open(
        line=line,
        kind=TicketKind.EXCHANGE,
        serial=" sn-001 ",
        opened_via=OpenedVia.STORE,
        intake_store=world.b,
        actor=clerk_b,
    )
    old = SoldUnit.objects.get(serial="SN-001")
    assert ticket.unit == old
    walk_to_approved(ticket, store=world.b, user=clerk_b)
    with pytest.raises(DomainError) as refused:
        ticket_resolve(ticket=ticket, actor=clerk_b)
    assert "replacement_serial" in refused.value.fields
    ticket_resolve(ticket=ticket, actor=clerk_b, replacement_serial="SN-002")

    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.EXCHANGED
    movements = list(
        StockMovement.objects.filter(reference=ticket.number)
        .order_by("id")
        .values_list("kind", "on_hand_delta", "reserved_delta")
    )
    assert movements == [("reservation", 0, 1), ("sale", -1, -1), ("return", 1, 0)]
    stock = Stock.objects.get(location=world.b, sku=sku)
    assert (stock.on_hand, stock.reserved) == (1, 0)  # the faulty unit, back for the store to deal with
    old.refresh_from_db()
    assert old.returned_at is not None
    assert list(line.units.filter(returned_at__isnull=True).values_list("serial", flat=True)) == ["SN-002"]
    # no money, points or quantity move on an exchange
    assert not Payment.objects.filter(kind=PaymentKind.REFUND).exists()
    assert not PointsEntry.objects.filter(kind="reverse").exists()
    line.refresh_from_db()
    order.refresh_from_db()
    assert (line.returned_quantity, order.status) == (0, OrderStatus.COMPLETED)
    ticket_close(ticket=ticket, actor=SYSTEM)
    # the replacement can be serviced in turn, by its own serial
    again = ticket_open(
        line=line, kind=TicketKind.REPAIR, serial="SN-002", opened_via=OpenedVia.HQ, actor=SYSTEM
    )
    assert again.unit.serial == "SN-002"


@pytest.mark.django_db
def test_exchange_without_a_unit_in_stock_is_refused_and_writes_nothing(world):
    order = delivered(world, member=MemberFactory())
    ticket = ticket_open(
        line=order.lines.get(),
        kind=TicketKind.EXCHANGE,
        opened_via=OpenedVia.STORE,
        intake_store=world.b,
        actor=SYSTEM,
    )
    walk_to_approved(ticket, store=world.b)
    with pytest.raises(InsufficientStock):
        ticket_resolve(ticket=ticket, actor=SYSTEM)
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.APPROVED
    assert not StockMovement.objects.filter(reference=ticket.number).exists()


# --- repair and refusal ------------------------------------------------------------------------


@pytest.mark.django_db
def test_repair_needs_a_note_and_then_closes_without_touching_stock_or_money(world):
    order = delivered(world, member=MemberFactory())
    clerk = clerk_at(world.a)
    ticket = ticket_open(
        line=order.lines.get(),
        kind=TicketKind.REPAIR,
        opened_via=OpenedVia.STORE,
        intake_store=world.a,
        actor=SYSTEM,
    )
    walk_to_approved(ticket, store=world.a, user=clerk)
    movements_before = StockMovement.objects.count()
    with pytest.raises(DomainError) as refused:
        ticket_resolve(ticket=ticket, actor=clerk, note="  ")
    assert "note" in refused.value.fields
    ticket_resolve(ticket=ticket, actor=clerk, note="Replaced the power board")
    ticket_close(ticket=ticket, actor=clerk)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.repair_note) == (TicketStatus.CLOSED, "Replaced the power board")
    assert ticket.status_changes.get(to_status="repaired").note == "Replaced the power board"
    assert StockMovement.objects.count() == movements_before
    assert not Payment.objects.filter(kind=PaymentKind.REFUND).exists()


@pytest.mark.django_db
def test_a_refusal_needs_its_reason_and_frees_the_unit_for_another_ticket(world):
    order = delivered(world, member=MemberFactory())
    line = order.lines.get()
    ticket = ticket_open(line=line, kind=TicketKind.RETURN, opened_via=OpenedVia.HQ, actor=SYSTEM)
    ticket_receive(ticket=ticket, store=world.a, actor=SYSTEM)
    ticket_inspect(ticket=ticket, actor=SYSTEM)
    with pytest.raises(DomainError):
        ticket_refuse(ticket=ticket, reason=" ", actor=SYSTEM)
    ticket_refuse(ticket=ticket, reason="Water damage, not covered", actor=SYSTEM)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.refused_reason) == (TicketStatus.REFUSED, "Water damage, not covered")
    ticket_close(ticket=ticket, actor=SYSTEM)
    assert (
        ticket_open(line=line, kind=TicketKind.RETURN, opened_via=OpenedVia.HQ, actor=SYSTEM).status
        == "opened"
    )


# --- what may be opened ------------------------------------------------------------------------


@pytest.mark.django_db
def test_outside_the_policy_the_ticket_is_refused_with_the_policys_reason(world):
    order = delivered(world, member=MemberFactory())
    with pytest.raises(NotEligible) as refused:
        ticket_open(
            line=order.lines.get(),
            kind=TicketKind.RETURN,
            opened_via=OpenedVia.HQ,
            at=timezone.now() + timedelta(days=40),
            actor=SYSTEM,
        )
    assert "Day 40" in refused.value.message
    assert refused.value.fields["kind"] == [refused.value.message]
    assert not Ticket.objects.exists()


@pytest.mark.django_db
def test_an_undelivered_order_cannot_be_serviced_yet(world):
    order = placed_order(world, pay=False, recipient_phone="13800138000")
    with pytest.raises(NotEligible):
        ticket_open(line=order.lines.get(), kind=TicketKind.REPAIR, opened_via=OpenedVia.HQ, actor=SYSTEM)


@pytest.mark.django_db
def test_units_held_by_open_returns_or_exchanges_cannot_be_claimed_twice(world):
    order = delivered(world, member=MemberFactory(), sku=world.phone, quantity=2)
    line = order.lines.get()
    with pytest.raises(TicketRefused):
        ticket_open(line=line, kind=TicketKind.RETURN, quantity=3, opened_via=OpenedVia.HQ, actor=SYSTEM)
    ticket_open(line=line, kind=TicketKind.RETURN, opened_via=OpenedVia.HQ, actor=SYSTEM)
    ticket_open(line=line, kind=TicketKind.EXCHANGE, opened_via=OpenedVia.HQ, actor=SYSTEM)
    with pytest.raises(TicketRefused) as refused:
        ticket_open(line=line, kind=TicketKind.RETURN, opened_via=OpenedVia.HQ, actor=SYSTEM)
    assert "quantity" in refused.value.fields
    # a repair gives the unit back, so it does not compete with them
    assert ticket_open(line=line, kind=TicketKind.REPAIR, quantity=2, opened_via=OpenedVia.HQ, actor=SYSTEM)
    assert Ticket.objects.count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "refund"}, "kind"),
        ({"opened_via": "fax"}, "opened_via"),
        ({"intake_store": None}, "intake_store"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"customer_phone": "12345"}, "customer_phone"),
    ],
)
def test_bad_input_is_refused_on_its_field_with_nothing_written(world, changes, field):
    order = delivered(world, member=MemberFactory())
    request = {
        "line": order.lines.get(),
        "kind": TicketKind.RETURN,
        "opened_via": OpenedVia.STORE,
        "intake_store": world.a,
        "actor": SYSTEM,
    }
    with pytest.raises(DomainError) as refused:
        ticket_open(**(request | changes))
    assert field in refused.value.fields
    assert not Ticket.objects.exists() and not TicketStatusChange.objects.exists()


@pytest.mark.django_db
def test_without_a_member_the_customer_phone_comes_from_the_order_or_is_asked_for(world):
    order = delivered(world)
    Order.objects.filter(pk=order.pk).update(recipient_phone="+86 138 0013 8000")
    ticket = ticket_open(
        line=order.lines.get(), kind=TicketKind.REPAIR, opened_via=OpenedVia.HQ, actor=SYSTEM
    )
    assert ticket.member is None and ticket.customer_phone == "13800138000"
    other = delivered(world)
    with pytest.raises(DomainError) as refused:
        ticket_open(line=other.lines.get(), kind=TicketKind.REPAIR, opened_via=OpenedVia.HQ, actor=SYSTEM)
    assert "customer_phone" in refused.value.fields
    given = ticket_open(
        line=other.lines.get(),
        kind=TicketKind.REPAIR,
        opened_via=OpenedVia.HQ,
        customer_phone="139 0000 0001",
        actor=SYSTEM,
    )
    assert given.customer_phone == "13900000001"


# --- serial numbers ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_serial_checks_not_sold_sold_elsewhere_missing_and_already_returned(world):
    sku = serial_sku()
    mine = delivered(world, member=MemberFactory(), sku=sku, serials=["SN-1"])
    other = delivered(world, member=MemberFactory(), sku=sku, serials=["SN-2"])
    line = mine.lines.get()
    opening = {"line": line, "kind": TicketKind.RETURN, "opened_via": OpenedVia.HQ, "actor": SYSTEM}

    for serial, words in [
        ("", "serial-tracked"),
        ("SN-404", "never sold"),
        ("SN-2", "another order"),
    ]:
        with pytest.raises(SerialRefused) as refused:
            ticket_open(**opening, serial=serial)
        assert words in refused.value.message
        assert "serial" in refused.value.fields
    assert other.lines.get().units.get().serial == "SN-2"

    ticket = ticket_open(**opening, serial="sn-1")
    with pytest.raises(TicketRefused):  # one ticket at a time on a unit
        ticket_open(**(opening | {"kind": TicketKind.REPAIR}), serial="SN-1")
    walk_to_approved(ticket, store=world.a)
    ticket_resolve(ticket=ticket, actor=SYSTEM)
    unit = SoldUnit.objects.get(serial="SN-1")
    assert unit.returned_at is not None
    with pytest.raises(DomainError) as refused:
        ticket_open(**(opening | {"kind": TicketKind.REPAIR}), serial="SN-1")
    assert "returned" in refused.value.message
    assert Ticket.objects.count() == 1


@pytest.mark.django_db
def test_a_serial_names_one_unit(world):
    sku = serial_sku()
    order = delivered(world, member=MemberFactory(), sku=sku, quantity=2, serials=["A1", "A2"])
    with pytest.raises(DomainError) as refused:
        ticket_open(
            line=order.lines.get(),
            kind=TicketKind.RETURN,
            quantity=2,
            serial="A1",
            opened_via=OpenedVia.HQ,
            actor=SYSTEM,
        )
    assert "quantity" in refused.value.fields


# --- photos ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_photos_are_kept_under_random_names(world):
    order = delivered(world, member=MemberFactory())
    ticket = ticket_open(
        line=order.lines.get(),
        kind=TicketKind.REPAIR,
        opened_via=OpenedVia.HQ,
        photos=[png("../../etc/passwd.png"), png("side.webp", fmt="WEBP"), png("back.jpg", fmt="JPEG")],
        actor=SYSTEM,
    )
    names = list(ticket.photos.values_list("image", flat=True))
    assert len(names) == 3
    assert [name.rsplit(".", 1)[1] for name in names] == ["png", "webp", "jpg"]
    assert not any("passwd" in name or "side" in name for name in names)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("photos", "words"),
    [
        ([SimpleUploadedFile("fault.jpg", b"this is not a picture")], "not an image"),
        ([png("anim.gif", fmt="GIF")], "GIF"),
        ([SimpleUploadedFile("huge.jpg", b"\xff" * (5 * 1024 * 1024 + 1))], "5 MB"),
        ([png(f"p{n}.png") for n in range(7)], "at most 6"),
        ([png("ok.png"), SimpleUploadedFile("bad.png", b"\x89PNG\r\n\x1a\nbroken")], "bad.png"),
    ],
)
def test_a_bad_photo_is_refused_and_no_ticket_is_written(world, photos, words):
    order = delivered(world, member=MemberFactory())
    with pytest.raises(PhotoRefused) as refused:
        ticket_open(
            line=order.lines.get(),
            kind=TicketKind.REPAIR,
            opened_via=OpenedVia.HQ,
            photos=photos,
            actor=SYSTEM,
        )
    assert words in refused.value.message
    assert "photos" in refused.value.fields
    assert not Ticket.objects.exists()
    assert not TicketPhoto.objects.exists() and not TicketStatusChange.objects.exists()


# --- concurrency (PostgreSQL) ------------------------------------------------------------------


def _race(target, count):
    barrier = threading.Barrier(count)
    outcomes = []
    lock = threading.Lock()

    def run(n):
        try:
            barrier.wait()
            target(n)
            outcome = "ok"
        except DomainError as exc:
            outcome = type(exc).__name__
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_clerks_opening_returns_of_the_last_unit_at_once_make_one_ticket(world):
    order = delivered(world, member=MemberFactory())
    line = order.lines.get()
    stores = [world.a, world.b]

    def open_return(n):
        ticket_open(
            line=line,
            kind=TicketKind.RETURN,
            opened_via=OpenedVia.STORE,
            intake_store=stores[n],
            actor=SYSTEM,
        )

    assert _race(open_return, 2) == ["TicketRefused", "ok"]
    assert Ticket.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_returns_of_the_last_unit_resolved_at_once_refund_it_once(world, loyalty):
    member = MemberFactory()
    order = delivered(world, member=member)
    line = order.lines.get()
    first = ticket_open(
        line=line, kind=TicketKind.RETURN, opened_via=OpenedVia.STORE, intake_store=world.a, actor=SYSTEM
    )
    walk_to_approved(first, store=world.a)
    # A second approved return of the same unit, as a double-entry from another desk would leave it.
    second = Ticket.objects.create(
        number="X" + first.number[1:],
        kind=TicketKind.RETURN,
        status=TicketStatus.APPROVED,
        order=order,
        line=line,
        customer_phone=first.customer_phone,
        channel=order.channel,
        opened_via=OpenedVia.STORE,
        intake_store=world.b,
        handling_store=world.b,
    )
    tickets = [first, second]

    def resolve(n):
        ticket_resolve(ticket=tickets[n], actor=SYSTEM)

    assert _race(resolve, 2) == ["TicketRefused", "ok"]
    line.refresh_from_db()
    assert line.returned_quantity == 1
    assert Payment.objects.filter(kind=PaymentKind.REFUND).count() == 1
    assert on_hand(world.a, world.tv) + on_hand(world.b, world.tv) == 1
    assert line_shares_total(line) == Decimal("0.00")
    assert Member.objects.get(pk=member.pk).points_balance == 0
    assert OrderLine.objects.filter(pk=line.pk, returned_quantity__gt=1).count() == 0


def test_reversing_an_orders_shares_takes_what_stands_after_earlier_moves_to_zero(db, world):
    # A cancellation or re-routing reverses what stands of each share, whatever moved it before.
    from orders.services import share_reversals

    order = delivered(world, sku=world.phone, quantity=3)
    line = order.lines.get()
    RevenueShare.objects.bulk_create(line_share_reversals(line=line, amount=Decimal("1999.00")))
    RevenueShare.objects.bulk_create(line_share_reversals(line=line, amount=Decimal("-10.00")))
    assert line_shares_total(line) == Decimal("4008.00")

    rows = share_reversals(order=order)

    assert sum(row.amount for row in rows) == Decimal("-4008.00")
    RevenueShare.objects.bulk_create(rows)
    assert line_shares_total(line) == Decimal("0.00")
    assert share_reversals(order=order) == []
