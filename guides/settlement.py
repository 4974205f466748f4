"""Settlement: held commission is released once the return window has closed; payable entries
are gathered into monthly statements per guide and per partner (draft -> approved -> paid); the
yearly partner reward is computed from the ledger.

Rules (written here and tested in tests/guides/test_settlement.py)
- Release: an accrual is released when its line's `returnable_until` (exclusive end of the
  return window, Shanghai midnight) is <= now: one release row per accrual, moving what is
  still held (the accrual net of its held clawbacks) to payable; nothing if that is 0.
- A statement is for one month: `period` is the first day of the month (Asia/Shanghai). It
  claims its party's payable entries (payable_change != 0) booked at or before `now` that are
  on no statement of that party yet: a guide's statement its guide's entries, a partner's
  statement the entries of its stores and guides (the entry's partner) and its rewards.
- Only drafts take entries. Approved and paid statements never change: entries booked later
  (a clawback after the payout, a late release) wait for the party's next draft.
- draft -> approved (HQ) -> paid (with a payment reference); any other move is refused.
- Everything large is set-based SQL (INSERT ... SELECT, UPDATE ... FROM; SQLite 3.33+), the
  same text on SQLite and PostgreSQL: a month of a million orders never comes into Python.
  Each run reads the ledger once for the due accruals and once for the unclaimed entries into
  temporary tables; on PostgreSQL runs take turns and lock what they release (see _lock_due).
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import DomainError, IllegalTransition
from config.money import quantize_money
from config.roles import is_hq
from guides.choices import EntryKind, StatementParty, StatementStatus
from guides.models import CommissionEntry, PartnerReward, PartnerRewardRule, Statement
from integrations.outbox import statement_event
from orders.models import Order, OrderLine
from stores.models import Partner

SHANGHAI = ZoneInfo("Asia/Shanghai")

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


# --- SQL helpers --------------------------------------------------------------------------
# Identifiers come from the models (quoted); every value is a query parameter.


def _t(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _dt(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def _params(*, now: datetime, period: date | None = None) -> dict:
    params = {
        "now": _dt(now),
        "places": settings.MONEY_DECIMAL_PLACES,
        "accrual": EntryKind.ACCRUAL.value,
        "release": EntryKind.RELEASE.value,
        "clawback": EntryKind.CLAWBACK.value,
        "draft": StatementStatus.DRAFT.value,
        "guide": StatementParty.GUIDE.value,
        "partner": StatementParty.PARTNER.value,
    }
    if period is not None:
        params["period"] = connection.ops.adapt_datefield_value(period)
    return params


def _execute(sql: str, params: dict | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


# Runs that write statements or releases take turns (PostgreSQL): two at once would both see
# "no release yet" or "no draft yet" and the second would fail on the unique constraints.
SETTLEMENT_LOCK = 0x5E771E


def _one_run_at_a_time() -> None:
    if connection.vendor == "postgresql":
        _execute("SELECT pg_advisory_xact_lock(%(key)s)", {"key": SETTLEMENT_LOCK})


# The accruals due for release are looked up once per run into a temporary table (this
# connection only, dropped at the end of the run) and used by every later step.
DUE = "guides_settlement_due"


def _collect_due(*, now: datetime) -> None:
    """The accruals whose line's return window closed by `now` and that have no release yet."""
    ce, ol, due = _t(CommissionEntry), _t(OrderLine), connection.ops.quote_name(DUE)
    _execute(f"DROP TABLE IF EXISTS {due}")
    sql = f"""
        CREATE TEMPORARY TABLE {due} AS
        SELECT a.id, a.order_id, a.guide_id, a.partner_id, a.base_amount, a.held_change
        FROM {ce} a
        JOIN {ol} l ON l.id = a.line_id
        WHERE a.kind = %(accrual)s
          AND l.returnable_until <= %(now)s
          AND NOT EXISTS (SELECT 1 FROM {ce} r WHERE r.kind = %(release)s AND r.accrual_id = a.id)
    """  # noqa: S608
    _execute(sql, _params(now=now))
    if connection.vendor == "postgresql":
        _execute(f"ANALYZE {due}")


def _drop_due() -> None:
    _execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(DUE)}")


def _due_accruals(joins: str = "") -> str:
    """FROM/WHERE over the due accruals `d` with what is still held of each (`cb` is the sum
    of its held clawbacks, read now: after the locks); accruals with nothing left are left out.

    The clawbacks are summed per accrual once (a hash join, not a lookup per accrual). The net
    is rounded in SQL so that SQLite's floating sums compare with 0 exactly.
    """
    ce, due = _t(CommissionEntry), connection.ops.quote_name(DUE)
    return f"""
        FROM {due} d
        LEFT JOIN (
            SELECT c.accrual_id, SUM(c.held_change) AS held, SUM(ABS(c.base_amount)) AS base
            FROM {ce} c
            WHERE c.kind = %(clawback)s AND c.held_change <> 0
            GROUP BY c.accrual_id
        ) cb ON cb.accrual_id = d.id
        {joins}
        WHERE ROUND(d.held_change + COALESCE(cb.held, 0), %(places)s) <> 0
    """  # noqa: S608


def _lock_due() -> None:
    """Lock the orders, then the accruals about to be released, each in id order (PostgreSQL;
    SQLite has one writer at a time).

    A refund locks its order, then its accruals (FOR UPDATE, id order), and books its clawback
    "held" or "payable" by whether a release exists; the release nets the held clawbacks it can
    see. FOR KEY SHARE on the same rows, in the same order, makes each wait for the other
    without a deadlock: a refund under way finishes before the release reads, a later one sees
    the committed release. The release rows' foreign-key checks take these very locks at commit
    anyway, so this costs a scan, not another write; payments (new accruals) are never blocked.
    """
    if connection.vendor != "postgresql":
        return
    due = connection.ops.quote_name(DUE)
    for table, column in ((_t(Order), "order_id"), (_t(CommissionEntry), "id")):
        _execute(
            f"SELECT COUNT(*) FROM (SELECT x.id FROM {table} x WHERE x.id IN (SELECT {column} FROM {due})"  # noqa: S608
            " ORDER BY x.id FOR KEY SHARE OF x) locked"
        )


def _prepare_release(*, now: datetime) -> None:
    _collect_due(now=now)
    _lock_due()


# --- release --------------------------------------------------------------------------------


def _release(*, now: datetime, period: date | None) -> int:
    """One INSERT ... SELECT of the release rows; with `period`, straight onto that period's
    draft statements (created first by the caller), so the big table is written once.

    A release row carries the party (guide, partner), the order, its accrual and its statements;
    the line, store and rule are the accrual's (entry.accrual.line). PostgreSQL checks every
    foreign key row by row, so three fewer keys make a month-end of a million rows faster.
    """
    ce, st = _t(CommissionEntry), _t(Statement)
    if period is None:
        statements, joins = "NULL, NULL", ""
    else:
        statements = "gs.id, ps.id"
        joins = f"""
            LEFT JOIN {st} gs
              ON gs.guide_id = d.guide_id AND gs.period = %(period)s AND gs.status = %(draft)s
            LEFT JOIN {st} ps
              ON ps.partner_id = d.partner_id AND ps.period = %(period)s AND ps.status = %(draft)s
        """
    sql = f"""
        INSERT INTO {ce} (kind, guide_id, partner_id, order_id, accrual_id, base_amount, held_change,
                          payable_change, statement_id, partner_statement_id, note, created_at)
        SELECT %(release)s, d.guide_id, d.partner_id, d.order_id, d.id,
               ROUND(d.base_amount - COALESCE(cb.base, 0), %(places)s),
               -ROUND(d.held_change + COALESCE(cb.held, 0), %(places)s),
               ROUND(d.held_change + COALESCE(cb.held, 0), %(places)s),
               {statements}, '', %(now)s
        {_due_accruals(joins)}
    """  # noqa: S608
    return _execute(sql, _params(now=now, period=period))


@transaction.atomic
def commission_release(*, now: datetime | None = None) -> int:
    """Release to payable the commission of every line whose return window closed by `now`;
    returns the release rows written (0 on a re-run: one release per accrual)."""
    now = now or timezone.now()
    _one_run_at_a_time()
    _prepare_release(now=now)
    released = _release(now=now, period=None)
    _drop_due()
    return released


# --- statements -----------------------------------------------------------------------------


# The payable entries not on a statement of their guide or their partner yet, looked up once per
# run (one scan of the ledger) into a temporary table, like the due accruals.
UNCLAIMED = "guides_settlement_unclaimed"


def _collect_unclaimed(*, now: datetime) -> None:
    ce, unclaimed = _t(CommissionEntry), connection.ops.quote_name(UNCLAIMED)
    _execute(f"DROP TABLE IF EXISTS {unclaimed}")
    sql = f"""
        CREATE TEMPORARY TABLE {unclaimed} AS
        SELECT e.id, e.guide_id, e.partner_id,
               CASE WHEN e.guide_id IS NOT NULL AND e.statement_id IS NULL THEN 1 ELSE 0 END AS for_guide,
               CASE WHEN e.partner_id IS NOT NULL AND e.partner_statement_id IS NULL THEN 1 ELSE 0 END
                 AS for_partner
        FROM {ce} e
        WHERE e.payable_change <> 0 AND e.created_at <= %(now)s
          AND ((e.guide_id IS NOT NULL AND e.statement_id IS NULL)
               OR (e.partner_id IS NOT NULL AND e.partner_statement_id IS NULL))
    """  # noqa: S608
    _execute(sql, _params(now=now))


PARTIES = (
    # party, its column on entries and statements, the entry's statement column, the temp flag
    ("guide", "guide_id", "statement_id", "for_guide"),
    ("partner", "partner_id", "partner_statement_id", "for_partner"),
)


def _start_drafts(*, now: datetime, period: date, with_due: bool) -> tuple[int, int]:
    """INSERT a draft for each guide and each partner with something to claim and no statement
    of this period yet; `with_due` counts the accruals about to be released too."""
    st, unclaimed = _t(Statement), connection.ops.quote_name(UNCLAIMED)
    counts = []
    for party, column, _target, flag in PARTIES:
        ids = "x.id, NULL" if party == "guide" else "NULL, x.id"
        due = f"UNION SELECT d.{column} {_due_accruals()} AND d.{column} IS NOT NULL" if with_due else ""
        sql = f"""
            INSERT INTO {st} (party, guide_id, partner_id, period, status, total, entry_count,
                              created_at, payment_reference)
            SELECT %({party})s, {ids}, %(period)s, %(draft)s, 0, 0, %(now)s, ''
            FROM (
                SELECT DISTINCT u.{column} AS id FROM {unclaimed} u WHERE u.{flag} = 1
                {due}
            ) x
            WHERE NOT EXISTS (SELECT 1 FROM {st} s WHERE s.{column} = x.id AND s.period = %(period)s)
        """  # noqa: S608
        counts.append(_execute(sql, _params(now=now, period=period)))
    return counts[0], counts[1]


def _claim(*, period: date) -> int:
    """Put the unclaimed payable entries on their party's draft of the period, if it has one
    (an approved statement of the period takes nothing: they wait for the next draft)."""
    ce, st, unclaimed = _t(CommissionEntry), _t(Statement), connection.ops.quote_name(UNCLAIMED)
    claimed = 0
    for _party, column, target, flag in PARTIES:
        draft = (
            f"FROM {st} s WHERE s.{column} = {ce}.{column} AND s.period = %(period)s AND s.status = %(draft)s"
        )
        sql = f"""
            UPDATE {ce} SET {target} = (SELECT s.id {draft})
            WHERE id IN (SELECT u.id FROM {unclaimed} u WHERE u.{flag} = 1) AND EXISTS (SELECT 1 {draft})
        """  # noqa: S608
        claimed += _execute(sql, _params(now=timezone.now(), period=period))
    return claimed


def _refresh_totals(*, period: date) -> None:
    """Set each draft's total and entry count from its entries, in one UPDATE per party;
    drafts whose figures are already right are not written."""
    ce, st = _t(CommissionEntry), _t(Statement)
    for party, _column, target, _flag in PARTIES:
        sql = f"""
            UPDATE {st} SET total = agg.total, entry_count = agg.n
            FROM (
                SELECT e.{target} AS sid, ROUND(SUM(e.payable_change), %(places)s) AS total, COUNT(*) AS n
                FROM {ce} e JOIN {st} d ON d.id = e.{target}
                WHERE d.party = %({party})s AND d.period = %(period)s AND d.status = %(draft)s
                GROUP BY e.{target}
            ) agg
            WHERE {st}.id = agg.sid
              AND (ROUND({st}.total, %(places)s) <> agg.total OR {st}.entry_count <> agg.n)
        """  # noqa: S608
        _execute(sql, _params(now=timezone.now(), period=period))


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
        _prepare_release(now=now)
    _collect_unclaimed(now=now)
    before = _claimed_so_far(period)
    guides, partners = _start_drafts(now=now, period=period, with_due=release)
    released = _release(now=now, period=period) if release else 0
    claimed = _claim(period=period)
    _execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(UNCLAIMED)}")
    if release:
        _drop_due()
    if guides or partners or released or claimed:
        # Nothing new means every draft's figures are still those the last run set.
        _refresh_totals(period=period)
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


def _locked(statement: Statement, user) -> Statement:
    if user is None or not is_hq(user):
        raise StatementForbidden(_("Only HQ approves and pays statements."))
    return Statement.objects.select_for_update().get(pk=statement.pk)


@transaction.atomic
def statement_approve(*, statement: Statement, user) -> Statement:
    """HQ approves a draft: its entries and total are frozen from now on."""
    statement = _locked(statement, user)
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
    statement = _locked(statement, user)
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

    Release rows name the order and SKU of the accrual they release."""
    rows = (
        statement_entries(statement)
        .annotate(
            order_number=Coalesce(F("order__number"), F("accrual__order__number"), Value("")),
            sku_code=Coalesce(F("line__sku__code"), F("accrual__line__sku__code"), Value("")),
            guide_code=Coalesce(F("guide__code"), Value("")),
        )
        .order_by("created_at", "pk")
        .values(
            "created_at",
            "kind",
            "guide_code",
            "order_number",
            "sku_code",
            "base_amount",
            "payable_change",
            "note",
        )
    )
    labels = dict(EntryKind.choices)
    return [
        {
            "date": timezone.localtime(row["created_at"], SHANGHAI).date(),
            "kind": str(labels.get(row["kind"], row["kind"])),
            "guide": row["guide_code"],
            "order": row["order_number"],
            "sku": row["sku_code"],
            "base_amount": row["base_amount"],
            "change": row["payable_change"],
            "note": row["note"],
        }
        for row in rows
    ]


# --- partner rewards ----------------------------------------------------------------------


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    start = datetime.combine(date(year, 1, 1), time.min, tzinfo=SHANGHAI)
    return start, datetime.combine(date(year + 1, 1, 1), time.min, tzinfo=SHANGHAI)


def partner_sales(*, year: int) -> list[tuple[int, Decimal]]:
    """(partner id, attributed sales) for a year, best first; ties by partner code.

    Attributed sales: the paid amounts commission accrued on in the year (Asia/Shanghai), less
    what was refunded of them (the clawbacks' base), per the partner on the entry."""
    ce, pt = _t(CommissionEntry), _t(Partner)
    start, end = _year_bounds(year)
    sql = f"""
        SELECT s.partner_id, s.sales FROM (
            SELECT a.partner_id, ROUND(SUM(a.base_amount - COALESCE(cb.base, 0)), %(places)s) AS sales
            FROM {ce} a
            LEFT JOIN (
                SELECT c.accrual_id, SUM(ABS(c.base_amount)) AS base FROM {ce} c
                WHERE c.kind = %(clawback)s GROUP BY c.accrual_id
            ) cb ON cb.accrual_id = a.id
            WHERE a.kind = %(accrual)s AND a.partner_id IS NOT NULL
              AND a.created_at >= %(start)s AND a.created_at < %(end)s
            GROUP BY a.partner_id
        ) s JOIN {pt} p ON p.id = s.partner_id
        WHERE s.sales > 0
        ORDER BY s.sales DESC, p.code, p.id
    """  # noqa: S608
    params = {**_params(now=timezone.now()), "start": _dt(start), "end": _dt(end)}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        # SQLite hands sums back as floats: quantize to the money rule.
        return [(partner_id, quantize_money(sales)) for partner_id, sales in cursor.fetchall()]


@transaction.atomic
def partner_rewards_compute(
    *, rule: PartnerRewardRule, user=None, now: datetime | None = None
) -> list[PartnerReward]:
    """Reward the year's top N partners by attributed sales with the rule's bonus (a payable
    reward entry each); computed once, after the year has ended (Asia/Shanghai)."""
    rule = PartnerRewardRule.objects.select_for_update().get(pk=rule.pk)
    existing = list(rule.rewards.select_related("partner", "entry").order_by("rank"))
    if existing:
        return existing
    now = now or timezone.now()
    if now < _year_bounds(rule.year)[1]:
        raise RewardRefused(
            _("The %(year)s reward is computed after the year has ended.") % {"year": rule.year}
        )
    ranking = partner_sales(year=rule.year)[: rule.top_n]
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
