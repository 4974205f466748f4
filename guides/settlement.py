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
- Everything large is set-based SQL (INSERT ... SELECT, UPDATE ... FROM; SQLite 3.33+), the
  same text on SQLite and PostgreSQL: a month of a million orders never comes into Python.
  Each run reads the ledger once for the due accruals and once for the unclaimed entries into
  temporary tables; on PostgreSQL runs take turns and refunds wait for a run under way (see
  SETTLEMENT_LOCK).
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from config.dates import SHANGHAI
from config.errors import DomainError, IllegalTransition
from config.money import quantize_money
from guides.choices import EntryKind, StatementParty, StatementStatus
from guides.commission import SETTLEMENT_LOCK
from guides.models import CommissionEntry, PartnerReward, PartnerRewardRule, Statement
from guides.policies import statement_actionable_by
from integrations.authentication import actor as person_of
from integrations.outbox import statement_event
from orders.models import Order, OrderLine
from stores.models import Partner

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
# Refunds take the same key shared (guides.commission.wait_for_settlement): a release run waits
# for the clawbacks under way and a clawback waits for a release run, so a clawback is booked
# "held" only if no release has been (or is being) written for its accrual.
def _one_run_at_a_time() -> None:
    if connection.vendor == "postgresql":
        _execute("SELECT pg_advisory_xact_lock(%(key)s)", {"key": SETTLEMENT_LOCK})


# What a run releases, per guide, partner and store, is computed once into a temporary table
# (this connection only, dropped at the end of the run) and used by every later step.
DUE = "guides_settlement_due"


def _same_party(a: str, b: str) -> str:
    """The release rule's grouping: same guide, partner and store (an empty one matches empty)."""
    return " AND ".join(
        f"COALESCE({a}.{c}, 0) = COALESCE({b}.{c}, 0)" for c in ("guide_id", "partner_id", "store_id")
    )


def covered_by_rule(release: str, accrual: str, line: str) -> str:
    """SQL: the release row `release` (a rule row) releases the accrual `accrual` of line `line`."""
    return (
        f"{release}.released_through IS NOT NULL AND {_same_party(release, accrual)}"
        f" AND {line}.returnable_until <= {release}.released_through"
        f" AND {accrual}.id <= {release}.accruals_through"
    )


def _held_clawbacks() -> str:
    """Per accrual: the held clawbacks' sum and the refunded base, signed (a clawback that grew the
    line after a threshold keep-back has a negative base); a hash join, not a lookup per accrual."""
    return f"""
        SELECT c.accrual_id, SUM(c.held_change) AS held, SUM(c.base_amount) AS base
        FROM {_t(CommissionEntry)} c
        WHERE c.kind = %(clawback)s AND c.held_change <> 0
        GROUP BY c.accrual_id
    """  # noqa: S608


def _collect_due(*, now: datetime) -> None:
    """Per guide, partner and store: the accruals whose line's return window closed by `now`,
    up to the last accrual id visible now, released by no earlier row, with something still
    held (net of their held clawbacks); their count, base and held sums, and that last id.

    The net is rounded in SQL so that SQLite's floating sums compare with 0 exactly."""
    ce, ol, due = _t(CommissionEntry), _t(OrderLine), connection.ops.quote_name(DUE)
    _execute(f"DROP TABLE IF EXISTS {due}")
    # The last entry id first, as a constant: the planner then scans the ledger once.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(x.id) FROM {ce} x")  # noqa: S608
        last_id = cursor.fetchone()[0] or 0
    sql = f"""
        CREATE TEMPORARY TABLE {due} AS
        SELECT a.guide_id, a.partner_id, a.store_id, COUNT(*) AS n,
               ROUND(SUM(a.base_amount - COALESCE(cb.base, 0)), %(places)s) AS base,
               ROUND(SUM(a.held_change + COALESCE(cb.held, 0)), %(places)s) AS held,
               CAST(%(last_id)s AS BIGINT) AS last_id
        FROM {ce} a
        JOIN {ol} l ON l.id = a.line_id
        LEFT JOIN ({_held_clawbacks()}) cb ON cb.accrual_id = a.id
        WHERE a.kind = %(accrual)s AND a.id <= %(last_id)s
          AND l.returnable_until <= %(now)s
          AND ROUND(a.held_change + COALESCE(cb.held, 0), %(places)s) <> 0
          AND NOT EXISTS (
              SELECT 1 FROM {ce} r WHERE r.kind = %(release)s AND {covered_by_rule("r", "a", "l")}
          )
          AND a.id NOT IN (
              SELECT r.accrual_id FROM {ce} r WHERE r.kind = %(release)s AND r.accrual_id IS NOT NULL
          )
        GROUP BY a.guide_id, a.partner_id, a.store_id
    """  # noqa: S608
    _execute(sql, {**_params(now=now), "last_id": last_id})
    # Temporary tables get no statistics by themselves: without them the planner guessed the
    # statements' INSERT ... SELECT over this table at a quarter of the run (10,000 guides).
    _execute(f"ANALYZE {due}")


def _drop_due() -> None:
    _execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(DUE)}")


def _prepare_release(*, now: datetime) -> None:
    _collect_due(now=now)


# --- release --------------------------------------------------------------------------------


def _release(*, now: datetime, period: date | None) -> int:
    """One INSERT ... SELECT of the release rows, one per guide, partner and store with
    something due; with `period`, straight onto that period's draft statements (created first
    by the caller), so that the rows are written once. Returns the accruals released."""
    ce, st, due = _t(CommissionEntry), _t(Statement), connection.ops.quote_name(DUE)
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
        INSERT INTO {ce} (kind, guide_id, partner_id, store_id, base_amount, held_change, payable_change,
                          statement_id, partner_statement_id, note, released_through, accruals_through,
                          accrual_count, created_at)
        SELECT %(release)s, d.guide_id, d.partner_id, d.store_id, d.base, -d.held, d.held,
               {statements}, '', %(now)s, d.last_id, d.n, %(now)s
        FROM {due} d
        {joins}
        WHERE d.held <> 0
    """  # noqa: S608
    if not _execute(sql, _params(now=now, period=period)):
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT SUM(d.n) FROM {due} d WHERE d.held <> 0")  # noqa: S608
        return int(cursor.fetchone()[0] or 0)


@transaction.atomic
def commission_release(*, now: datetime | None = None) -> int:
    """Release to payable the commission of every line whose return window closed by `now`
    (one row per guide, partner and store); returns the accruals released (0 on a re-run)."""
    now = now or timezone.now()
    _one_run_at_a_time()
    _prepare_release(now=now)
    released = _release(now=now, period=None)
    _drop_due()
    return released


def releases_of(accrual: CommissionEntry):
    """The release row that released `accrual` (a queryset: empty while it is held)."""
    ce, ol = _t(CommissionEntry), _t(OrderLine)
    rule = covered_by_rule("r", "a", "l")
    sql = f"""
        SELECT r.id FROM {ce} r, {ce} a JOIN {ol} l ON l.id = a.line_id
        WHERE a.id = %(accrual_id)s AND r.kind = %(release)s
          AND (r.accrual_id = a.id OR ({rule}))
          AND NOT EXISTS (SELECT 1 FROM {ce} r0 WHERE r0.kind = %(release)s AND r0.id < r.id
                          AND {covered_by_rule("r0", "a", "l")})
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, {**_params(now=timezone.now()), "accrual_id": accrual.pk})
        ids = [row[0] for row in cursor.fetchall()]
    return CommissionEntry.objects.filter(pk__in=ids)


def released_accruals(release: CommissionEntry) -> list[dict]:
    """The accruals a release row released, oldest first: id, order number, SKU code, guide
    code, the base still paid (net of refunds) and the commission released (net of clawbacks)."""
    if release.kind != EntryKind.RELEASE:
        return []
    return _released_lines([release.pk]).get(release.pk, [])


def _released_lines(release_ids: list[int]) -> dict[int, list[dict]]:
    """Release row id -> its accruals as in released_accruals, in one query."""
    from catalog.models import SKU
    from guides.models import Guide

    if not release_ids:
        return {}
    ce, ol, od, sku, gd = _t(CommissionEntry), _t(OrderLine), _t(Order), _t(SKU), _t(Guide)
    marks = ", ".join(f"%(r{i})s" for i in range(len(release_ids)))
    sql = f"""
        SELECT r.id, a.id, o.number, k.code, g.code,
               ROUND(a.base_amount - COALESCE(cb.base, 0), %(places)s),
               ROUND(a.held_change + COALESCE(cb.held, 0), %(places)s)
        FROM {ce} r
        JOIN {ce} a ON a.kind = %(accrual)s AND (a.id = r.accrual_id OR a.guide_id = r.guide_id)
        JOIN {ol} l ON l.id = a.line_id
        LEFT JOIN ({_held_clawbacks()}) cb ON cb.accrual_id = a.id
        LEFT JOIN {od} o ON o.id = a.order_id
        LEFT JOIN {sku} k ON k.id = l.sku_id
        LEFT JOIN {gd} g ON g.id = a.guide_id
        WHERE r.id IN ({marks}) AND r.kind = %(release)s
          AND (r.accrual_id = a.id OR ({covered_by_rule("r", "a", "l")}
               AND ROUND(a.held_change + COALESCE(cb.held, 0), %(places)s) <> 0
               AND NOT EXISTS (SELECT 1 FROM {ce} r0 WHERE r0.kind = %(release)s AND r0.id < r.id
                               AND {covered_by_rule("r0", "a", "l")})
               AND NOT EXISTS (SELECT 1 FROM {ce} r1 WHERE r1.kind = %(release)s AND r1.accrual_id = a.id)))
        ORDER BY r.id, a.id
    """  # noqa: S608
    params = {**_params(now=timezone.now()), **{f"r{i}": pk for i, pk in enumerate(release_ids)}}
    lines: dict[int, list[dict]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for release_id, accrual_id, number, sku_code, guide_code, base, held in cursor.fetchall():
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
        WHERE e.payable_change <> 0 AND (e.statement_id IS NULL OR e.partner_statement_id IS NULL)
          AND e.created_at <= %(now)s
          AND ((e.guide_id IS NOT NULL AND e.statement_id IS NULL)
               OR (e.partner_id IS NOT NULL AND e.partner_statement_id IS NULL))
    """  # noqa: S608
    _execute(sql, _params(now=now))
    _execute(f"ANALYZE {unclaimed}")  # as the due table: statistics for the statements below


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
        due = (
            f"UNION SELECT d.{column} FROM {connection.ops.quote_name(DUE)} d"  # noqa: S608
            f" WHERE d.held <> 0 AND d.{column} IS NOT NULL"
            if with_due
            else ""
        )
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
                SELECT c.accrual_id, SUM(c.base_amount) AS base FROM {ce} c
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
