"""Release of held commission, monthly statements, partner rewards (guides/settlement.py) and
the month-end commands.

Most tests write ledger rows directly (an accrual is what guides.commission books at payment)
so that the settlement rules are tested on their own; the last section goes through the real
order flow and guides.commission.
"""

import threading
import time as clock
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from aftersales.warranty import day_end
from config.errors import IllegalTransition
from config.roles import SYSTEM
from guides.choices import EntryKind, StatementParty, StatementStatus
from guides.commission import commission_clawback, wait_for_settlement
from guides.models import CommissionEntry, Guide, PartnerReward, PartnerRewardRule, Statement
from guides.settlement import (
    RewardRefused,
    StatementForbidden,
    StatementRefused,
    commission_release,
    month_end,
    partner_rewards_compute,
    previous_period,
    released_accruals,
    releases_of,
    statement_approve,
    statement_pay,
    statement_rows,
    statements_draft,
)
from orders.models import Order, OrderLine
from tests.factories import (
    ChannelFactory,
    GuideFactory,
    PartnerFactory,
    SKUFactory,
    StoreFactory,
    UserFactory,
)

D = Decimal
SH = ZoneInfo("Asia/Shanghai")
FEB = date(2026, 2, 1)
MAR = date(2026, 3, 1)


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


# --- helpers: ledger rows as guides.commission writes them -----------------------------------


class Ledger:
    """A channel, a SKU, a partner with a store, a guide in that store (partner through the
    store), a guide of the partner directly, and a guide of nobody."""

    def __init__(self):
        self.channel = ChannelFactory(code="mall")
        self.sku = SKUFactory(code="TV-55")
        self.partner = PartnerFactory(code="p-east", name="East")
        self.store = StoreFactory(code="E1", partner=self.partner)
        self.clerk = GuideFactory(code="CLERK001", store=self.store)
        self.agent = GuideFactory(code="AGENT001", partner=self.partner)
        self.fan = GuideFactory(code="FAN00001")
        self.numbers = 0

    def partner_of(self, guide):
        return guide.partner_id or (guide.store.partner_id if guide.store_id else None)

    def accrual(self, guide, *, base="1000.00", held="50.00", paid_at=None, returnable_until=None):
        """A paid line of `base` attributed to `guide` with `held` commission accrued."""
        self.numbers += 1
        paid_at = paid_at or sh(2026, 1, 10, 12)
        order = Order.objects.create(
            number=f"T{self.numbers:06d}",
            channel=self.channel,
            origin="online",
            delivery_method="ship",
            status="completed",
            subtotal=D(base),
            total=D(base),
            guide=guide,
            paid_at=paid_at,
        )
        line = OrderLine.objects.create(
            order=order,
            sku=self.sku,
            quantity=1,
            unit_price=D(base),
            line_total=D(base),
            returnable_until=returnable_until or sh(2026, 2, 1),
        )
        return CommissionEntry.objects.create(
            kind=EntryKind.ACCRUAL,
            guide=guide,
            partner_id=self.partner_of(guide),
            store=guide.store,
            order=order,
            line=line,
            base_amount=D(base),
            held_change=D(held),
            created_at=paid_at,
        )

    def clawback(self, accrual, *, base, amount, payable=False, at=None):
        """A refund of `base` of the accrual's line clawing back `amount` (held or payable)."""
        return CommissionEntry.objects.create(
            kind=EntryKind.CLAWBACK,
            guide_id=accrual.guide_id,
            partner_id=accrual.partner_id,
            store_id=accrual.store_id,
            order_id=accrual.order_id,
            line_id=accrual.line_id,
            accrual=accrual,
            base_amount=D(base),
            held_change=D(0) if payable else -D(amount),
            payable_change=-D(amount) if payable else D(0),
            created_at=at or sh(2026, 1, 20),
        )


@pytest.fixture
def ledger(db):
    return Ledger()


def released(accrual):
    """The release row that released the accrual (one row releases many: by its rule)."""
    return releases_of(accrual)


def held_left(accrual):
    """The accrual's held amount less its clawbacks' held and what its release row released of it."""
    release = released(accrual).first()
    taken = (
        sum(r["change"] for r in released_accruals(release) if r["accrual_id"] == accrual.pk)
        if release
        else 0
    )
    return (
        CommissionEntry.objects.filter(pk=accrual.pk).aggregate(s=Sum("held_change"))["s"]
        + (CommissionEntry.objects.filter(accrual=accrual).aggregate(s=Sum("held_change"))["s"] or 0)
        - taken
    )


def statement(party, period=FEB):
    field = "guide" if isinstance(party, Guide) else "partner"
    return Statement.objects.get(**{field: party, "period": period})


def figures(period=FEB):
    return sorted(
        Statement.objects.filter(period=period).values_list(
            "party", "guide_id", "partner_id", "status", "total", "entry_count"
        ),
        key=str,
    )


# --- release --------------------------------------------------------------------------------


def test_nothing_is_released_a_second_before_the_return_window_closes(ledger):
    accrual = ledger.accrual(ledger.clerk, returnable_until=sh(2026, 2, 1))
    assert commission_release(now=sh(2026, 1, 31, 23, 59, 59)) == 0
    assert not released(accrual).exists()


def test_release_at_the_end_of_the_window_moves_what_is_still_held_to_payable(ledger):
    accrual = ledger.accrual(ledger.clerk, base="1000.00", held="50.00", returnable_until=sh(2026, 2, 1))
    ledger.clawback(accrual, base="400.00", amount="20.00")

    assert commission_release(now=sh(2026, 2, 1)) == 1

    [release] = released(accrual)
    assert (release.held_change, release.payable_change) == (D("-30.00"), D("30.00"))
    assert release.base_amount == D("600.00")
    assert (release.guide, release.partner, release.store) == (ledger.clerk, ledger.partner, ledger.store)
    assert (release.order, release.accrual, release.accrual_count) == (None, None, 1)
    assert [(r["accrual_id"], r["order"], r["change"]) for r in released_accruals(release)] == [
        (accrual.pk, accrual.order.number, D("30.00"))
    ]
    assert release.created_at == sh(2026, 2, 1)
    assert release.statement is None and release.partner_statement is None
    assert held_left(accrual) == D("0.00")


def test_a_fifteen_day_window_releases_at_the_shanghai_midnight_that_starts_day_sixteen(ledger):
    # Delivered in the evening of 1 March (Shanghai): day 1 is 2 March, day 15 is 16 March.
    delivered = sh(2026, 3, 1, 21, 30)
    until = day_end(delivered, 15)
    assert until == sh(2026, 3, 17)
    accrual = ledger.accrual(ledger.fan, returnable_until=until)

    assert commission_release(now=sh(2026, 3, 16, 23, 59, 59)) == 0  # still day 15
    assert commission_release(now=sh(2026, 3, 17, 0, 0)) == 1  # day 16
    assert released(accrual).get().payable_change == D("50.00")


def test_release_is_idempotent(ledger):
    accrual = ledger.accrual(ledger.clerk)
    assert commission_release(now=sh(2026, 2, 2)) == 1
    assert commission_release(now=sh(2026, 2, 2)) == 0
    assert commission_release(now=sh(2026, 3, 2)) == 0
    assert released(accrual).count() == 1


def test_a_fully_clawed_back_accrual_releases_nothing(ledger):
    accrual = ledger.accrual(ledger.clerk, base="999.99", held="33.33")
    ledger.clawback(accrual, base="333.33", amount="11.11")
    ledger.clawback(accrual, base="666.66", amount="22.22")
    assert commission_release(now=sh(2026, 2, 2)) == 0
    assert not released(accrual).exists()


def test_lines_not_delivered_yet_are_not_released(ledger):
    accrual = ledger.accrual(ledger.clerk)
    OrderLine.objects.filter(pk=accrual.line_id).update(returnable_until=None)
    assert commission_release(now=sh(2030, 1, 1)) == 0


def test_a_payable_clawback_after_release_does_not_change_the_release(ledger):
    accrual = ledger.accrual(ledger.clerk)
    commission_release(now=sh(2026, 2, 2))
    ledger.clawback(accrual, base="1000.00", amount="50.00", payable=True, at=sh(2026, 2, 5))
    assert commission_release(now=sh(2026, 2, 6)) == 0
    assert released(accrual).get().payable_change == D("50.00")


def test_release_is_set_based_the_same_queries_for_one_line_or_thirty(ledger):
    ledger.accrual(ledger.clerk)
    with CaptureQueriesContext(connection) as one:
        assert commission_release(now=sh(2026, 2, 2)) == 1
    for _ in range(30):
        ledger.accrual(ledger.clerk)
    with CaptureQueriesContext(connection) as thirty:
        assert commission_release(now=sh(2026, 2, 2)) == 30
    # savepoint, (PostgreSQL: run lock,) drop, the due sums into a temporary table, the INSERT,
    # the count released, drop, release savepoint
    assert len(thirty) == len(one) <= 10


# --- statements -----------------------------------------------------------------------------


def test_drafts_claim_payable_entries_per_guide_and_per_partner_and_sum_them(ledger):
    a1 = ledger.accrual(ledger.clerk, held="50.00")
    a2 = ledger.accrual(ledger.clerk, held="12.34")
    a3 = ledger.accrual(ledger.agent, held="7.00")
    ledger.accrual(ledger.fan, held="5.00")
    held_only = ledger.accrual(ledger.clerk, held="99.00", returnable_until=sh(2026, 3, 1))
    commission_release(now=sh(2026, 2, 2))
    late = ledger.clawback(a1, base="1000.00", amount="50.00", payable=True, at=sh(2026, 2, 3))

    result = statements_draft(period=FEB, now=sh(2026, 3, 1, 2))

    assert (result.guide_statements, result.partner_statements) == (3, 1)
    # One release row per guide (a1 and a2 share the clerk's): 4 guide entries (3 releases + 1
    # clawback); 3 for the partner (the clerk's and the agent's releases, the clawback)
    assert result.entries_claimed == 4 + 3
    assert released(a1).get() == released(a2).get()
    assert sorted(r["accrual_id"] for r in released_accruals(released(a1).get())) == [a1.pk, a2.pk]
    clerk = statement(ledger.clerk)
    assert (clerk.party, clerk.status, clerk.total, clerk.entry_count) == (
        StatementParty.GUIDE,
        StatementStatus.DRAFT,
        D("12.34"),
        2,
    )
    assert set(clerk.guide_entries.all()) == {released(a1).get(), late}
    assert statement(ledger.agent).total == D("7.00")
    assert statement(ledger.fan).total == D("5.00")
    east = statement(ledger.partner)
    assert (east.party, east.total, east.entry_count) == (StatementParty.PARTNER, D("19.34"), 3)
    assert set(east.partner_entries.all()) == {
        released(a1).get(),
        late,
        released(a3).get(),
    }
    assert not CommissionEntry.objects.filter(pk=held_only.pk, statement__isnull=False).exists()
    assert not Statement.objects.filter(partner__isnull=False).exclude(partner=ledger.partner).exists()


def test_a_rerun_with_nothing_new_inserts_nothing_and_changes_nothing(ledger):
    ledger.accrual(ledger.clerk)
    ledger.accrual(ledger.fan)
    commission_release(now=sh(2026, 2, 2))
    statements_draft(period=FEB, now=sh(2026, 3, 1))
    before = figures()

    again = statements_draft(period=FEB, now=sh(2026, 3, 1, 1))

    assert (again.guide_statements, again.partner_statements, again.entries_claimed) == (0, 0, 0)
    assert figures() == before


def test_a_rerun_tops_up_the_draft_with_new_entries(ledger):
    ledger.accrual(ledger.clerk, held="10.00")
    commission_release(now=sh(2026, 2, 2))
    statements_draft(period=FEB, now=sh(2026, 2, 3))
    ledger.accrual(ledger.clerk, held="2.50", returnable_until=sh(2026, 2, 10))
    commission_release(now=sh(2026, 2, 10))

    result = statements_draft(period=FEB, now=sh(2026, 2, 11))

    assert (result.guide_statements, result.partner_statements, result.entries_claimed) == (0, 0, 2)
    assert (statement(ledger.clerk).total, statement(ledger.clerk).entry_count) == (D("12.50"), 2)
    assert statement(ledger.partner).total == D("12.50")


def test_entries_booked_after_now_wait_for_a_later_run(ledger):
    ledger.accrual(ledger.clerk)
    commission_release(now=sh(2026, 3, 1, 0, 30))
    result = statements_draft(period=FEB, now=sh(2026, 3, 1))
    assert result.guide_statements == 0
    assert not Statement.objects.exists()


def test_month_end_is_set_based_the_same_queries_for_any_number_of_rows(ledger):
    ledger.accrual(ledger.clerk)
    with CaptureQueriesContext(connection) as small:
        month_end(period=FEB, now=sh(2026, 3, 1))
    for guide in (ledger.clerk, ledger.agent, ledger.fan):
        for _ in range(10):
            ledger.accrual(guide, returnable_until=sh(2026, 3, 5))
    with CaptureQueriesContext(connection) as large:
        result = month_end(period=MAR, now=sh(2026, 4, 1))
    assert result.released == 30
    assert len(large) == len(small) <= 24  # incl. ANALYZE of the two temporary tables


def test_month_end_releases_straight_onto_the_drafts(ledger):
    a1 = ledger.accrual(ledger.clerk, held="50.00")
    ledger.clawback(a1, base="500.00", amount="25.00")
    ledger.accrual(ledger.agent, held="8.00")
    ledger.accrual(ledger.fan, held="3.00", returnable_until=sh(2026, 3, 2))  # window still open

    result = month_end(period=FEB, now=sh(2026, 3, 1))

    assert result.released == 2
    assert (result.drafts.guide_statements, result.drafts.partner_statements) == (2, 1)
    assert result.drafts.entries_claimed == 4
    assert released(a1).get().statement == statement(ledger.clerk)
    assert released(a1).get().partner_statement == statement(ledger.partner)
    assert statement(ledger.clerk).total == D("25.00")
    assert statement(ledger.partner).total == D("33.00")
    assert not Statement.objects.filter(guide=ledger.fan).exists()

    again = month_end(period=FEB, now=sh(2026, 3, 1))
    assert (again.released, again.drafts.guide_statements, again.drafts.entries_claimed) == (0, 0, 0)


def test_month_end_then_statements_draft_agree(ledger):
    """The shortcut (release onto drafts) ends where release + draft would have."""
    for guide, held in ((ledger.clerk, "1.11"), (ledger.agent, "2.22"), (ledger.fan, "3.33")):
        ledger.accrual(guide, held=held)
    month_end(period=FEB, now=sh(2026, 3, 1))
    shortcut = [row[3:] for row in figures()]
    CommissionEntry.objects.update(statement=None, partner_statement=None)
    Statement.objects.all().delete()
    statements_draft(period=FEB, now=sh(2026, 3, 1))
    assert [row[3:] for row in figures()] == shortcut


# --- approve and pay ------------------------------------------------------------------------


@pytest.fixture
def draft(ledger):
    ledger.accrual(ledger.clerk, held="50.00")
    month_end(period=FEB, now=sh(2026, 3, 1))
    return statement(ledger.clerk)


def test_hq_approves_then_pays_a_statement(draft, hq):
    approved = statement_approve(statement=draft, user=hq)
    assert (approved.status, approved.approved_by, approved.paid_at) == (StatementStatus.APPROVED, hq, None)
    assert approved.approved_at is not None

    paid = statement_pay(statement=draft, user=hq, payment_reference=" WX-2026-03-0001 ")

    paid.refresh_from_db()
    assert (paid.status, paid.paid_by, paid.payment_reference) == (
        StatementStatus.PAID,
        hq,
        "WX-2026-03-0001",
    )
    assert paid.paid_at is not None and paid.total == D("50.00")


def test_only_hq_approves_or_pays(draft, ledger):
    with pytest.raises(StatementForbidden):
        statement_approve(statement=draft, user=ledger.clerk.user)
    with pytest.raises(StatementForbidden):
        statement_approve(statement=draft, user=UserFactory())
    draft.refresh_from_db()
    assert draft.status == StatementStatus.DRAFT


def test_moves_out_of_order_are_refused_naming_both_states(draft, hq):
    with pytest.raises(IllegalTransition) as refused:
        statement_pay(statement=draft, user=hq, payment_reference="X1")
    assert "Draft" in refused.value.message and "Paid" in refused.value.message
    statement_approve(statement=draft, user=hq)
    with pytest.raises(IllegalTransition):
        statement_approve(statement=draft, user=hq)
    statement_pay(statement=draft, user=hq, payment_reference="X1")
    with pytest.raises(IllegalTransition):
        statement_pay(statement=draft, user=hq, payment_reference="X2")
    with pytest.raises(IllegalTransition):
        statement_approve(statement=draft, user=hq)
    draft.refresh_from_db()
    assert (draft.status, draft.payment_reference) == (StatementStatus.PAID, "X1")


def test_payment_needs_a_reference(draft, hq):
    statement_approve(statement=draft, user=hq)
    with pytest.raises(StatementRefused) as refused:
        statement_pay(statement=draft, user=hq, payment_reference="  ")
    assert "payment_reference" in refused.value.fields
    draft.refresh_from_db()
    assert draft.status == StatementStatus.APPROVED


def test_an_empty_draft_cannot_be_approved(ledger, hq):
    empty = Statement.objects.create(party=StatementParty.GUIDE, guide=ledger.fan, period=FEB)
    with pytest.raises(StatementRefused):
        statement_approve(statement=empty, user=hq)


@pytest.mark.parametrize("paid", [False, True])
def test_an_approved_statement_never_changes_and_a_later_clawback_goes_to_next_month(ledger, hq, paid):
    accrual = ledger.accrual(ledger.clerk, held="50.00")
    month_end(period=FEB, now=sh(2026, 3, 1))
    feb = statement(ledger.clerk)
    statement_approve(statement=feb, user=hq)
    statement_approve(statement=statement(ledger.partner), user=hq)
    if paid:
        statement_pay(statement=feb, user=hq, payment_reference="WX1")
    refund = ledger.clawback(accrual, base="1000.00", amount="50.00", payable=True, at=sh(2026, 3, 2))
    frozen = figures()

    again = statements_draft(period=FEB, now=sh(2026, 3, 3))  # February again: nothing moves

    assert (again.guide_statements, again.partner_statements, again.entries_claimed) == (0, 0, 0)
    assert figures() == frozen
    refund.refresh_from_db()
    assert refund.statement is None

    march = statements_draft(period=MAR, now=sh(2026, 4, 1))

    assert (march.guide_statements, march.partner_statements, march.entries_claimed) == (1, 1, 2)
    refund.refresh_from_db()
    assert refund.statement == statement(ledger.clerk, MAR)
    assert statement(ledger.clerk, MAR).total == D("-50.00")
    assert statement(ledger.partner, MAR).total == D("-50.00")
    feb.refresh_from_db()
    assert (feb.total, feb.entry_count) == (D("50.00"), 1)


def test_a_draft_of_an_earlier_month_keeps_its_entries(ledger):
    ledger.accrual(ledger.clerk, held="5.00")
    month_end(period=FEB, now=sh(2026, 3, 1))
    ledger.accrual(ledger.clerk, held="6.00", returnable_until=sh(2026, 3, 10))
    month_end(period=MAR, now=sh(2026, 4, 1))
    assert statement(ledger.clerk, FEB).total == D("5.00")
    assert statement(ledger.clerk, MAR).total == D("6.00")


# --- CSV rows ---------------------------------------------------------------------------------


def test_statement_rows_name_the_order_and_sku_of_each_entry(ledger):
    accrual = ledger.accrual(ledger.clerk, base="2999.00", held="149.95")
    commission_release(now=sh(2026, 2, 1))  # 00:00 Shanghai, the day before in UTC
    ledger.clawback(accrual, base="2999.00", amount="149.95", payable=True, at=sh(2026, 2, 5, 9))
    statements_draft(period=FEB, now=sh(2026, 3, 1))

    rows = statement_rows(statement(ledger.clerk))
    partner_rows = statement_rows(statement(ledger.partner))

    assert rows == partner_rows
    assert [(r["date"], r["order"], r["sku"], r["guide"], r["base_amount"], r["change"]) for r in rows] == [
        (date(2026, 2, 1), accrual.order.number, "TV-55", "CLERK001", D("2999.00"), D("149.95")),
        (date(2026, 2, 5), accrual.order.number, "TV-55", "CLERK001", D("2999.00"), D("-149.95")),
    ]
    assert [r["kind"] for r in rows] == [str(EntryKind.RELEASE.label), str(EntryKind.CLAWBACK.label)]


# --- partner rewards --------------------------------------------------------------------------


@pytest.fixture
def ranked(ledger):
    """2025 attributed sales: East 3000 - 1000 refunded = 2000 (two guides); West 2000; North
    1500 (its 2024 and 2026 sales do not count); South nothing."""
    west, north, south = (PartnerFactory(code=c, name=c.title()) for c in ("p-west", "p-north", "p-south"))
    del south
    at = sh(2025, 6, 1)
    east_sale = ledger.accrual(ledger.clerk, base="2000.00", paid_at=at)
    ledger.accrual(ledger.agent, base="1000.00", paid_at=sh(2025, 12, 31, 23, 59))
    ledger.clawback(east_sale, base="1000.00", amount="25.00", at=sh(2026, 1, 5))
    ledger.accrual(GuideFactory(partner=west), base="2000.00", paid_at=at)
    northern = GuideFactory(partner=north)
    ledger.accrual(northern, base="1500.00", paid_at=at)
    ledger.accrual(northern, base="9000.00", paid_at=sh(2024, 12, 31, 23, 59))
    ledger.accrual(northern, base="9000.00", paid_at=sh(2026, 1, 1, 0, 0))
    return {"east": ledger.partner, "west": west, "north": north}


def test_the_top_partners_by_attributed_sales_get_the_bonus_ties_by_code(ranked, hq):
    rule = PartnerRewardRule.objects.create(year=2025, top_n=2, bonus=D("5000.00"))

    rewards = partner_rewards_compute(rule=rule, actor=hq, now=sh(2026, 1, 2))

    # East and West tie at 2000.00: "p-east" sorts before "p-west".
    assert [(r.rank, r.partner, r.attributed_sales) for r in rewards] == [
        (1, ranked["east"], D("2000.00")),
        (2, ranked["west"], D("2000.00")),
    ]
    entries = CommissionEntry.objects.filter(kind=EntryKind.REWARD).order_by("pk")
    assert [(e.partner, e.guide, e.held_change, e.payable_change) for e in entries] == [
        (ranked["east"], None, D("0.00"), D("5000.00")),
        (ranked["west"], None, D("0.00"), D("5000.00")),
    ]
    assert [r.entry for r in rewards] == list(entries)


def test_rewards_are_computed_once(ranked):
    rule = PartnerRewardRule.objects.create(year=2025, top_n=5, bonus=D("100.00"))
    first = partner_rewards_compute(rule=rule, now=sh(2026, 1, 2), actor=SYSTEM)
    second = partner_rewards_compute(rule=rule, now=sh(2026, 2, 2), actor=SYSTEM)
    assert [r.pk for r in second] == [r.pk for r in first]
    assert len(first) == 3  # South sold nothing
    assert PartnerReward.objects.count() == 3
    assert CommissionEntry.objects.filter(kind=EntryKind.REWARD).count() == 3


def test_rewards_wait_for_the_end_of_the_year_in_shanghai(ranked):
    rule = PartnerRewardRule.objects.create(year=2025, top_n=1, bonus=D("100.00"))
    with pytest.raises(RewardRefused):
        partner_rewards_compute(rule=rule, now=sh(2025, 12, 31, 23, 59), actor=SYSTEM)
    assert not PartnerReward.objects.exists()


def test_a_reward_lands_on_the_partner_statement_only(ranked):
    rule = PartnerRewardRule.objects.create(year=2025, top_n=1, bonus=D("800.00"))
    partner_rewards_compute(rule=rule, now=sh(2026, 1, 2), actor=SYSTEM)
    result = statements_draft(period=date(2026, 1, 1), now=sh(2026, 2, 1))
    assert (result.guide_statements, result.partner_statements) == (0, 1)
    east = statement(ranked["east"], date(2026, 1, 1))
    assert (east.total, east.entry_count) == (D("800.00"), 1)


# --- commands ---------------------------------------------------------------------------------


def test_month_end_command_settles_the_given_month(ledger):
    ledger.accrual(ledger.clerk, held="50.00")
    out = StringIO()
    call_command("guides_month_end", "--period", "2026-02", "--at", "2026-03-01T02:00+08:00", stdout=out)
    assert "released 1" in out.getvalue()
    assert statement(ledger.clerk).total == D("50.00")


def test_month_end_command_defaults_to_last_month(ledger):
    assert previous_period(sh(2026, 3, 1, 0, 5)) == FEB
    assert previous_period(sh(2026, 1, 15)) == date(2025, 12, 1)
    # 2026-02-28 20:00 UTC is already 1 March in Shanghai.
    assert previous_period(datetime(2026, 2, 28, 20, tzinfo=ZoneInfo("UTC"))) == FEB


def test_month_end_command_refuses_a_bad_period(ledger):
    with pytest.raises(CommandError):
        call_command("guides_month_end", "--period", "2026-13", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("guides_month_end", "--at", "2026-03-01 02:00", stdout=StringIO())


def test_release_command(ledger):
    accrual = ledger.accrual(ledger.clerk)
    out = StringIO()
    call_command("commission_release", "--at", "2026-02-01T00:00+08:00", stdout=out)
    assert "1" in out.getvalue()
    assert released(accrual).exists()


# --- concurrency (PostgreSQL) -----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_clawback_under_way_is_netted_by_a_concurrent_release():
    """The clawback takes the settlement key shared and locks its accrual (as guides.commission
    does) and books "held"; the release started meanwhile waits for it and releases only what is
    left."""
    ledger = Ledger()
    accrual = ledger.accrual(ledger.clerk, held="50.00")
    locked = threading.Event()
    errors = []

    def refund():
        try:
            with transaction.atomic():
                wait_for_settlement()  # as guides.commission's clawback does, before it reads
                CommissionEntry.objects.select_for_update().get(pk=accrual.pk)
                assert not released(accrual).exists()
                locked.set()
                clock.sleep(0.5)  # the release starts now and must wait
                ledger.clawback(accrual, base="400.00", amount="20.00")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=refund)
    thread.start()
    locked.wait(5)
    commission_release(now=sh(2026, 2, 2))
    thread.join()

    assert errors == []
    assert released(accrual).get().payable_change == D("30.00")
    assert held_left(accrual) == D("0.00")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_refund_holding_its_order_and_a_month_end_do_not_deadlock():
    """A refund locks the order first, then (guides.commission's clawback) takes the settlement
    key shared and locks the accrual; the month-end locks neither orders nor accruals, only the
    key, so neither waits for a lock the other holds. Whichever goes first, the clawback is
    booked against what the accrual then is: held before the release, payable after it."""
    ledger = Ledger()
    accrual = ledger.accrual(ledger.clerk, held="50.00")
    locked = threading.Event()
    errors = []

    def refund():
        try:
            with transaction.atomic():
                order = Order.objects.select_for_update().get(pk=accrual.order_id)
                locked.set()
                clock.sleep(0.5)  # the month-end starts now
                commission_clawback(order=order, refunds={accrual.line_id: D("1000.00")})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=refund)
    thread.start()
    locked.wait(5)
    result = month_end(period=FEB, now=sh(2026, 3, 1))
    thread.join()

    assert errors == []
    clawback = CommissionEntry.objects.get(kind=EntryKind.CLAWBACK, accrual=accrual)
    if result.released:  # the month-end went first: the refund waited, then clawed back payable
        assert (clawback.held_change, clawback.payable_change) == (D("0.00"), D("-50.00"))
        assert released(accrual).get().payable_change == D("50.00")
    else:  # the refund went first: nothing was left to release
        assert (clawback.held_change, clawback.payable_change) == (D("-50.00"), D("0.00"))
        assert not released(accrual).exists()
    assert held_left(accrual) == D("0.00")


# --- through the real order flow (needs guides.commission, H2) -------------------------------


def test_a_paid_delivered_order_is_released_and_settled_end_to_end(world, hq):
    from guides.commission import commission_clawback, commission_rule_set
    from orders.choices import DeliveryMethod
    from orders.fulfilment import assignment_accept, order_complete, order_ship
    from orders.services import LineRequest, order_create, order_pay
    from tests.world import north

    partner = PartnerFactory()
    guide = GuideFactory(store=StoreFactory(partner=partner))
    commission_rule_set(rate_percent=D("5"), valid_from=timezone.now() - timedelta(days=1), actor=SYSTEM)
    world.stock(world.a, world.tv, 1)
    lat, lng = north(0.1)
    order = order_create(
        channel=world.mall,
        lines=[LineRequest(sku=world.tv, quantity=1)],
        delivery_method=DeliveryMethod.SHIP,
        address="1 Chang'an Avenue",
        latitude=lat,
        longitude=lng,
        actor=SYSTEM,
    )
    Order.objects.filter(pk=order.pk).update(guide=guide)
    order_pay(order=Order.objects.get(pk=order.pk), amount=order.total, method="wechat", actor=SYSTEM)
    order = Order.objects.get(pk=order.pk)
    if order.status == "allocated":
        assignment_accept(order=order, store=order.fulfilling_location, actor=SYSTEM)
    order_ship(order=order, store=order.fulfilling_location, tracking_number="SF1", actor=SYSTEM)
    order_complete(order=order, actor=SYSTEM)
    line = order.lines.get()
    line.refresh_from_db()
    assert line.returnable_until is not None
    commission_clawback(order=order, refunds={line.pk: D("999.00")})  # a partial refund inside the window

    result = month_end(period=previous_period(line.returnable_until), now=line.returnable_until)

    assert result.released == 1
    accrual = CommissionEntry.objects.get(kind=EntryKind.ACCRUAL, line=line)
    assert accrual.held_change == D("149.95")
    release = released(accrual).get()
    assert release.payable_change == D("149.95") - D("49.95")
    assert held_left(accrual) == D("0.00")
    mine = Statement.objects.get(guide=guide)
    assert (mine.total, mine.entry_count) == (D("100.00"), 1)
    assert Statement.objects.get(partner=partner).total == D("100.00")
