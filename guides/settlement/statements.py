"""Settlement: monthly statements per guide and per partner: drafted, approved, paid, exported."""

from datetime import date, datetime

from django.db import transaction
from django.db.models import F, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from config.dates import SHANGHAI
from config.errors import IllegalTransition
from guides import sql
from guides.choices import EntryKind, StatementParty, StatementStatus
from guides.models import CommissionEntry, Statement
from guides.policies import statement_actionable_by
from guides.settlement.base import (
    TRANSITIONS,
    DraftResult,
    MonthEndResult,
    StatementForbidden,
    StatementRefused,
)
from guides.settlement.periods import _checked_period
from guides.settlement.release import _one_run_at_a_time, _released_lines
from integrations.outbox import statement_event


def _lock_drafts(period: date) -> None:
    """Lock the period's drafts so an approval cannot slip between claiming and totalling."""
    list(
        Statement.objects.select_for_update()
        .filter(period=period, status=StatementStatus.DRAFT)
        .values_list("pk", flat=True)
    )


def _claimed_so_far(period: date) -> int:
    drafts = Statement.objects.filter(period=period, status=StatementStatus.DRAFT)
    return drafts.aggregate(n=Coalesce(Sum("entry_count"), 0))["n"]


def _draft(*, period: date, now: datetime, release: bool) -> tuple[int, DraftResult]:
    _one_run_at_a_time()
    _lock_drafts(period)
    if release:
        sql.due_collect(now=now)
    sql.unclaimed_collect(now=now)
    before = _claimed_so_far(period)
    guides, partners = sql.drafts_start(now=now, period=period, with_due=release)
    released = sql.release_write(now=now, period=period) if release else 0
    # Put the unclaimed payable entries on their party's draft of the period, if it has one (an
    # approved statement of the period takes nothing: they wait for the next draft).
    claimed = sql.drafts_claim(period=period)
    sql.unclaimed_drop()
    if release:
        sql.due_drop()
    if guides or partners or released or claimed:
        # Nothing new means every draft's figures are still those the last run set.
        sql.drafts_total(period=period)
    # Entries put on drafts by this run (a release row counts once per statement it is on).
    claimed = _claimed_so_far(period) - before
    return released, DraftResult(
        guide_statements=guides, partner_statements=partners, entries_claimed=claimed
    )


@transaction.atomic
def statements_draft(*, period: date, now: datetime | None = None) -> DraftResult:
    """Start or top up the period's draft statements with every unclaimed payable entry booked
    by `now`; a re-run with nothing new inserts nothing and changes nothing."""
    return _draft(period=_checked_period(period), now=now or timezone.now(), release=False)[1]


@transaction.atomic
def month_end(*, period: date, now: datetime | None = None) -> MonthEndResult:
    """Release what is due, then draft the period's statements, in one transaction; the release
    rows are written onto the drafts directly."""
    released, drafts = _draft(period=_checked_period(period), now=now or timezone.now(), release=True)
    return MonthEndResult(released=released, drafts=drafts)


def _move(statement: Statement, wanted: str) -> None:
    if wanted not in TRANSITIONS.get(statement.status, set()):
        raise IllegalTransition(
            current=StatementStatus(statement.status).label,
            wanted=StatementStatus(wanted).label,
            what=_("statement %(id)s") % {"id": statement.pk},
        )
    statement.status = wanted


def _locked(statement: Statement, user, action: str) -> Statement:
    """The statement's row, locked, once guides.policies said the actor may `action` it."""
    if not statement_actionable_by(user, statement, action):
        raise StatementForbidden(_("Only HQ approves and pays statements."))
    return Statement.objects.select_for_update().get(pk=statement.pk)


@transaction.atomic
def statement_approve(*, statement: Statement, user) -> Statement:
    """HQ approves a draft: its entries and total are frozen from now on."""
    statement = _locked(statement, user, "approve")
    _move(statement, StatementStatus.APPROVED)
    if statement.entry_count == 0:
        raise StatementRefused(_("This statement has no entries; there is nothing to approve."))
    statement.approved_by = user
    statement.approved_at = timezone.now()
    statement.full_clean()
    statement.save(update_fields=["status", "approved_by", "approved_at"])
    statement_event("settlement.approved", statement)
    return statement


@transaction.atomic
def statement_pay(*, statement: Statement, user, payment_reference: str) -> Statement:
    """HQ records the payout of an approved statement with the bank or wallet reference."""
    statement = _locked(statement, user, "pay")
    _move(statement, StatementStatus.PAID)
    reference = (payment_reference or "").strip()
    if not reference:
        message = _("Enter the payment reference.")
        raise StatementRefused(message, fields={"payment_reference": [message]})
    statement.payment_reference = reference
    statement.paid_by = user
    statement.paid_at = timezone.now()
    statement.full_clean()
    statement.save(update_fields=["status", "payment_reference", "paid_by", "paid_at"])
    return statement


def statement_entries(statement: Statement):
    """The ledger entries on a statement (a guide's or a partner's)."""
    if statement.party == StatementParty.PARTNER:
        return CommissionEntry.objects.filter(partner_statement=statement)
    return CommissionEntry.objects.filter(statement=statement)


def statement_rows(statement: Statement) -> list[dict]:
    """One dict per entry for the CSV export (date in Asia/Shanghai), oldest first.

    A release row becomes one row per accrual it released, naming its order and SKU, with the
    base still paid and the commission released (they sum to the release row)."""
    rows = list(
        statement_entries(statement)
        .annotate(
            order_number=Coalesce(F("order__number"), F("accrual__order__number"), Value("")),
            sku_code=Coalesce(F("line__sku__code"), F("accrual__line__sku__code"), Value("")),
            guide_code=Coalesce(F("guide__code"), Value("")),
        )
        .order_by("created_at", "pk")
        .values(
            "pk",
            "created_at",
            "kind",
            "guide_code",
            "order_number",
            "sku_code",
            "base_amount",
            "payable_change",
            "note",
            "released_through",
        )
    )
    released = _released_lines([row["pk"] for row in rows if row["released_through"] is not None])
    labels = dict(EntryKind.choices)
    out = []
    for row in rows:
        common = {
            "date": timezone.localtime(row["created_at"], SHANGHAI).date(),
            "kind": str(labels.get(row["kind"], row["kind"])),
            "note": row["note"],
        }
        if row["released_through"] is not None:
            for line in released.get(row["pk"], []):
                out.append(
                    {
                        **common,
                        "guide": line["guide"],
                        "order": line["order"],
                        "sku": line["sku"],
                        "base_amount": line["base_amount"],
                        "change": line["change"],
                    }
                )
            continue
        out.append(
            {
                **common,
                "guide": row["guide_code"],
                "order": row["order_number"],
                "sku": row["sku_code"],
                "base_amount": row["base_amount"],
                "change": row["payable_change"],
            }
        )
    return [{key: row[key] for key in STATEMENT_ROW_KEYS} for row in out]


STATEMENT_ROW_KEYS = ("date", "kind", "guide", "order", "sku", "base_amount", "change", "note")
