"""Rows for the guide portal and HQ page tests, written straight into the tables: the pages are
what these tests try, so they do not wait on the services that normally write the rows."""

from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

from guides.choices import BindingEnd, EntryKind, ScanOutcome, StatementParty, StatementStatus
from guides.models import Binding, CommissionEntry, ScanEvent, Statement
from orders.choices import DeliveryMethod, OrderStatus, Origin
from orders.models import Order, OrderLine

SHANGHAI = ZoneInfo("Asia/Shanghai")
_numbers = count(1)


def sh(year, month, day, hour=12, minute=0, second=0) -> datetime:
    """A Shanghai wall-clock time."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def bind(guide, member, *, started_at, days=15, ended_at=None, scans=1) -> Binding:
    """A fan: window ends at the Shanghai midnight after day `days` (the scan day is day 1)."""
    local = started_at.astimezone(SHANGHAI)
    ends_at = datetime.combine(local.date() + timedelta(days=days), datetime.min.time(), tzinfo=SHANGHAI)
    return Binding.objects.create(
        member=member,
        guide=guide,
        store=guide.store,
        started_at=started_at,
        last_scan_at=started_at,
        ends_at=ends_at,
        scan_count=scans,
        ended_at=ended_at,
        end_reason=BindingEnd.REBOUND if ended_at else "",
    )


def scan(guide, *, at, member=None, outcome=ScanOutcome.OPENED) -> ScanEvent:
    event = ScanEvent.objects.create(guide=guide, store=guide.store, member=member, outcome=outcome)
    ScanEvent.objects.filter(pk=event.pk).update(scanned_at=at)
    return event


def order(world, guide, *, total="1000.00", paid_at=None, binding=None, member=None, status=OrderStatus.PAID):
    """An order attributed to `guide` (one TV line), paid at `paid_at` unless status is created."""
    total = Decimal(total)
    created = paid_at or sh(2025, 3, 10)
    row = Order.objects.create(
        number=f"T{next(_numbers):08d}",
        channel=world.mall,
        member=member or (binding.member if binding else None),
        origin=Origin.ONLINE,
        guide=guide,
        binding=binding,
        attribution_reason=f"bound to {guide.code}",
        delivery_method=DeliveryMethod.SHIP,
        status=status,
        subtotal=total,
        total=total,
        paid_at=None if status == OrderStatus.CREATED else created,
    )
    Order.objects.filter(pk=row.pk).update(created_at=created)
    OrderLine.objects.create(order=row, sku=world.tv, quantity=1, unit_price=total, line_total=total)
    row.refresh_from_db()
    return row


def partner_of(guide):
    return guide.partner or (guide.store.partner if guide.store_id else None)


def accrue(order_row, amount, *, at=None) -> CommissionEntry:
    line = order_row.lines.first()
    guide = order_row.guide
    return CommissionEntry.objects.create(
        kind=EntryKind.ACCRUAL,
        guide=guide,
        partner=partner_of(guide),
        store=guide.store,
        order=order_row,
        line=line,
        base_amount=line.line_total,
        held_change=Decimal(amount),
        created_at=at or order_row.paid_at,
    )


def release(accrual, *, at, statement=None, partner_statement=None) -> CommissionEntry:
    return CommissionEntry.objects.create(
        kind=EntryKind.RELEASE,
        guide=accrual.guide,
        partner=accrual.partner,
        store=accrual.store,
        order=accrual.order,
        line=accrual.line,
        accrual=accrual,
        base_amount=accrual.base_amount,
        held_change=-accrual.held_change,
        payable_change=accrual.held_change,
        statement=statement,
        partner_statement=partner_statement,
        created_at=at,
    )


def clawback(accrual, amount, *, at, released=False) -> CommissionEntry:
    amount = Decimal(amount)
    return CommissionEntry.objects.create(
        kind=EntryKind.CLAWBACK,
        guide=accrual.guide,
        partner=accrual.partner,
        store=accrual.store,
        order=accrual.order,
        line=accrual.line,
        accrual=accrual,
        base_amount=-accrual.base_amount,
        held_change=Decimal(0) if released else -amount,
        payable_change=-amount if released else Decimal(0),
        note="refund",
        created_at=at,
    )


def statement(*, guide=None, partner=None, period, status=StatementStatus.DRAFT, total="0.00", entries=0):
    return Statement.objects.create(
        party=StatementParty.GUIDE if guide else StatementParty.PARTNER,
        guide=guide,
        partner=partner,
        period=period,
        status=status,
        total=Decimal(total),
        entry_count=entries,
    )
