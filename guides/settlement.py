"""Settlement: held commission is released once the return window has closed; payable entries
are gathered into monthly statements per guide and per partner (draft -> approved -> paid); the
yearly partner reward is computed from the ledger.

Rules (written here and tested in tests/guides/test_settlement.py)
- Release: an accrual is released when its line's `returnable_until` (exclusive end of the
  return window, Shanghai midnight) is <= now, moving what is still held (the accrual net of
  its held clawbacks) to payable; nothing if that is 0. A run writes one release row per guide,
  partner and store with the sums; the row says which accruals it releases by a rule (see
  CommissionEntry and covered_by_rule): those of its guide, partner and store whose window
  closed by `released_through`, up to `accruals_through`, not released by an earlier row.
- A statement is for one month: `period` is the first day of the month (Asia/Shanghai). It
  claims its party's payable entries (payable_change != 0) booked at or before `now` that are
  on no statement of that party yet: a guide's statement its guide's entries, a partner's
  statement the entries of its stores and guides (the entry's partner) and its rewards.
- Only drafts take entries. Approved and paid statements never change: entries booked later
  (a clawback after the payout, a late release) wait for the party's next draft.
- draft -> approved (HQ) -> paid (with a payment reference); any other move is refused.
- Everything large is set-based SQL (guides.sql: INSERT ... SELECT, UPDATE ... FROM; SQLite
  3.33+), the same text on SQLite and PostgreSQL: a month of a million orders never comes into
  Python. Each run reads the ledger once for the due accruals and once for the unclaimed entries
  into temporary tables; on PostgreSQL runs take turns and refunds wait for a run under way (see
  guides.sql.SETTLEMENT_LOCK).
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from config.dates import SHANGHAI
from config.errors import DomainError, IllegalTransition
from config.money import quantize_money
from guides import sql
from guides.choices import EntryKind, StatementParty, StatementStatus
from guides.models import CommissionEntry, PartnerReward, PartnerRewardRule, Statement
from guides.policies import statement_actionable_by
from guides.sql import covered_by_rule  # noqa: F401 (moved to guides.sql; still imported from here)
from integrations.authentication import actor as person_of
from integrations.outbox import statement_event

# The statement's state machine: every allowed move; anything else is refused naming both states.
TRANSITIONS: dict[str, set[str]] = {
    StatementStatus.DRAFT: {StatementStatus.APPROVED},
    StatementStatus.APPROVED: {StatementStatus.PAID},
    StatementStatus.PAID: set(),
}


class StatementRefused(DomainError):
    """A statement cannot be approved or paid as asked."""

    code = "statement_refused"


class StatementForbidden(StatementRefused):
    """Only HQ approves and pays statements."""

    code = "statement_forbidden"
    status = 403


class RewardRefused(DomainError):
    """A partner reward cannot be computed (yet)."""

    code = "partner_reward_refused"


@dataclass(frozen=True)
class DraftResult:
    """What one drafting run did: statements it started and ledger entries it put on them."""

    guide_statements: int
    partner_statements: int
    entries_claimed: int


@dataclass(frozen=True)
class MonthEndResult:
    """A month-end run: entries released, then the statements drafted."""

    released: int
    drafts: DraftResult


# --- periods ------------------------------------------------------------------------------


def month_start(day: date) -> date:
    """The period a day belongs to: the first of its month."""
    return day.replace(day=1)


def previous_period(now: datetime | None = None) -> date:
    """Last month (Asia/Shanghai), the period a month-end run settles by default."""
    today = timezone.localtime(now or timezone.now(), SHANGHAI).date()
    return month_start(month_start(today) - timedelta(days=1))


def _checked_period(period: date) -> date:
    if isinstance(period, datetime) or not isinstance(period, date):
        raise StatementRefused(_("A statement period is a date (the first of a month)."))
    return month_start(period)


# --- release --------------------------------------------------------------------------------


# Runs that write statements or releases take turns (PostgreSQL): two at once would both see
# "no release yet" or "no draft yet" and the second would fail on the unique constraints.
# Refunds take the same key shared (guides.commission.wait_for_settlement): a release run waits
# for the clawbacks under way and a clawback waits for a release run, so a clawback is booked
# "held" only if no release has been (or is being) written for its accrual.
def _one_run_at_a_time() -> None:
    sql.settlement_take_turn()


@transaction.atomic
def commission_release(*, now: datetime | None = None) -> int:
    """Release to payable the commission of every line whose return window closed by `now`
    (one row per guide, partner and store); returns the accruals released (0 on a re-run)."""
    now = now or timezone.now()
    _one_run_at_a_time()
    sql.due_collect(now=now)
    released = sql.release_write(now=now, period=None)
    sql.due_drop()
    return released


def releases_of(accrual: CommissionEntry):
    """The release row that released `accrual` (a queryset: empty while it is held)."""
    return CommissionEntry.objects.filter(pk__in=sql.release_ids_of(accrual.pk))


def released_accruals(release: CommissionEntry) -> list[dict]:
    """The accruals a release row released, oldest first: id, order number, SKU code, guide
    code, the base still paid (net of refunds) and the commission released (net of clawbacks)."""
    if release.kind != EntryKind.RELEASE:
        return []
    return _released_lines([release.pk]).get(release.pk, [])


def _released_lines(release_ids: list[int]) -> dict[int, list[dict]]:
    """Release row id -> its accruals as in released_accruals, in one query."""
    lines: dict[int, list[dict]] = {}
    for release_id, accrual_id, number, sku_code, guide_code, base, held in sql.released_lines(release_ids):
        lines.setdefault(release_id, []).append(
            {
                "accrual_id": accrual_id,
                "order": number or "",
                "sku": sku_code or "",
                "guide": guide_code or "",
                "base_amount": quantize_money(base),
                "change": quantize_money(held),
            }
        )
    return lines


# --- statements -----------------------------------------------------------------------------


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


# --- partner rewards ----------------------------------------------------------------------


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    start = datetime.combine(date(year, 1, 1), time.min, tzinfo=SHANGHAI)
    return start, datetime.combine(date(year + 1, 1, 1), time.min, tzinfo=SHANGHAI)


def partner_sales(*, year: int, write: bool = False) -> list[tuple[int, Decimal]]:
    """(partner id, attributed sales) for a year, best first; ties by partner code.

    Attributed sales: the paid amounts commission accrued on in the year (Asia/Shanghai), less
    what was refunded of them (the clawbacks' base), per the partner on the entry. `write`: read
    where the rewards are written (inside their transaction)."""
    start, end = _year_bounds(year)
    # SQLite hands sums back as floats: quantize to the money rule.
    return [
        (partner_id, quantize_money(sales))
        for partner_id, sales in sql.partner_sales(start=start, end=end, write=write)
    ]


@transaction.atomic
def partner_rewards_compute(
    *, rule: PartnerRewardRule, actor, now: datetime | None = None
) -> list[PartnerReward]:
    """Reward the year's top N partners by attributed sales with the rule's bonus (a payable
    reward entry each); computed once, after the year has ended (Asia/Shanghai)."""
    user = person_of(actor)
    rule = PartnerRewardRule.objects.select_for_update().get(pk=rule.pk)
    existing = list(rule.rewards.select_related("partner", "entry").order_by("rank"))
    if existing:
        return existing
    now = now or timezone.now()
    if now < _year_bounds(rule.year)[1]:
        raise RewardRefused(
            _("The %(year)s reward is computed after the year has ended.") % {"year": rule.year}
        )
    ranking = partner_sales(year=rule.year, write=True)[: rule.top_n]
    rewards = []
    for rank, (partner_id, sales) in enumerate(ranking, start=1):
        entry = CommissionEntry.objects.create(
            kind=EntryKind.REWARD,
            partner_id=partner_id,
            base_amount=sales,
            payable_change=rule.bonus,
            note=_("Partner reward %(year)s, rank %(rank)s") % {"year": rule.year, "rank": rank},
            created_by=user,
            created_at=now,
        )
        rewards.append(
            PartnerReward(rule=rule, partner_id=partner_id, rank=rank, attributed_sales=sales, entry=entry)
        )
    return PartnerReward.objects.bulk_create(rewards)
