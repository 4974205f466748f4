"""Plain SQL of the guides app. Table and column names come from the models' _meta, the
connection from the database router; every value is a parameter.

- The one read every member's order makes in this app: which binding attributes it. The ORM spent
  ~3 ms a call building it (docs/benchmarks.md, "Flash sale with a coupon per order"); here it is
  one plain statement.
- Commission (guides.commission): a category's ancestors in one recursive query, whether an
  accrual was released, and the settlement lock a refund takes shared.
- Settlement (guides.settlement): everything large is set-based (INSERT ... SELECT, UPDATE ...
  FROM; SQLite 3.33+), the same text on SQLite and PostgreSQL, so a month of a million orders never
  comes into Python. A run reads the ledger once for the due accruals and once for the unclaimed
  entries into temporary tables of its connection, and every step of a run uses that connection
  (the one the router picks for writing the ledger).
"""

from datetime import date, datetime
from types import SimpleNamespace

from django.conf import settings
from django.db import connections, router
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from catalog.models import SKU, Category
from config.sql import columns_of, from_row, names
from guides.choices import EntryKind, StatementParty, StatementStatus
from guides.models import AttributionWindow, Binding, CommissionEntry, Guide, Statement
from orders.models import Order, OrderLine
from stores.models import Partner


def binding_in_effect(member_id: int, at: datetime, channel_id: int | None) -> Binding | None:
    """The member's binding in effect at `at` (started by then, not ended by then; the latest scan,
    then the highest id, wins) with its guide, and `window_days`: the channel's attribution window,
    else the brand's default (None if neither) - guides.selectors.bindings_in_effect's first row."""
    statement, params = binding_statement(member_id, at, channel_id)
    with connections[router.db_for_read(Binding)].cursor() as cursor:
        cursor.execute(statement, params)
        return binding_from_rows(cursor.fetchall())


def binding_statement(member_id: int, at: datetime, channel_id: int | None) -> tuple[str, list]:
    """binding_in_effect's statement and parameters (for a caller that batches its reads)."""
    binding, b_member, b_guide, started, ended, last_scan, b_pk = names(
        Binding, "member", "guide", "started_at", "ended_at", "last_scan_at", "id"
    )
    guide, g_pk = names(Guide, "id")
    window, w_channel, w_days = names(AttributionWindow, "channel", "days")
    default = f"(SELECT {w_days} FROM {window} WHERE {w_channel} IS NULL LIMIT 1)"  # noqa: S608
    if channel_id is None:
        days, params = default, []
    else:
        own = f"(SELECT {w_days} FROM {window} WHERE {w_channel} = %s LIMIT 1)"  # noqa: S608
        days, params = f"COALESCE({own}, {default})", [channel_id]
    statement = (
        f"SELECT {columns_of(Binding, 'b')}, {columns_of(Guide, 'g')}, {days} "  # noqa: S608 (model names)
        f"FROM {binding} b JOIN {guide} g ON g.{g_pk} = b.{b_guide} "
        f"WHERE b.{b_member} = %s AND b.{started} <= %s AND (b.{ended} IS NULL OR b.{ended} > %s) "
        f"ORDER BY b.{last_scan} DESC, b.{b_pk} DESC LIMIT 1"
    )
    return statement, [*params, member_id, at, at]


def binding_from_rows(rows) -> Binding | None:
    """binding_in_effect's answer from its statement's rows."""
    if not rows:
        return None
    row = rows[0]
    n = len(Binding._meta.concrete_fields)
    found = from_row(Binding, row[:n])
    found.guide = from_row(Guide, row[n:-1])
    found.window_days = row[-1]
    return found


# --- commission ---------------------------------------------------------------------------------


def category_ancestors(category_ids: list[int]) -> dict[int, list[int]]:
    """Category id -> [itself, parent, grandparent, ...] in one recursive query (depth capped at 50
    against a cycle)."""
    ids = sorted(set(category_ids))
    if not ids:
        return {}
    table, pk, parent = names(Category, "id", "parent")
    statement = (
        "WITH RECURSIVE up (leaf, node, parent, depth) AS ("  # noqa: S608 (model names)
        f" SELECT c.{pk}, c.{pk}, c.{parent}, 0 FROM {table} c"
        f" WHERE c.{pk} IN ({', '.join(['%s'] * len(ids))})"
        " UNION ALL"
        f" SELECT up.leaf, c.{pk}, c.{parent}, up.depth + 1 FROM {table} c JOIN up ON c.{pk} = up.parent"
        " WHERE up.depth < 50"
        ") SELECT leaf, node FROM up ORDER BY leaf, depth"
    )
    chains: dict[int, list[int]] = {}
    with connections[router.db_for_read(Category)].cursor() as cursor:
        cursor.execute(statement, ids)
        for leaf, node in cursor.fetchall():
            chains.setdefault(leaf, []).append(node)
    return chains


# The key settlement runs take exclusively and refunds shared (guides.commission.wait_for_settlement).
SETTLEMENT_LOCK = 0x5E771E


def settlement_wait() -> None:
    """Take the settlement key shared for this transaction (PostgreSQL; SQLite has one writer at a
    time): wait for a release run under way, and make the next one wait for this transaction."""
    connection = connections[router.db_for_write(CommissionEntry)]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [SETTLEMENT_LOCK])


def settlement_take_turn() -> None:
    """Take the settlement key exclusively for this transaction (PostgreSQL): runs that write
    statements or releases take turns, and wait for the refunds under way."""
    connection = connections[router.db_for_write(CommissionEntry)]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SETTLEMENT_LOCK])


def is_released() -> RawSQL:
    """An annotation on a CommissionEntry queryset of accruals: has a release row released it (by its
    rule or by name)? It names the ledger's table as the ORM's outer query does."""
    e = _entry(write=True)
    lines, line_pk = names(OrderLine, "id", write=True)
    sql = (
        f"EXISTS (SELECT 1 FROM {e.table} r, {lines} rl WHERE rl.{line_pk} = {e.table}.{e.line} "  # noqa: S608 (model names)
        f"AND r.{e.kind} = %s AND r.{e.guide} = {e.table}.{e.guide}"
        f" AND (r.{e.accrual} = {e.table}.{e.id} OR ({covered_by_rule('r', e.table, 'rl', write=True)})))"
    )
    return RawSQL(sql, [EntryKind.RELEASE.value], output_field=BooleanField())  # noqa: S611 (model names)


# --- settlement ---------------------------------------------------------------------------------

# What a run releases, per guide, partner and store, is computed once into a temporary table (this
# connection only, dropped at the end of the run) and used by every later step; so are the payable
# entries not on a statement of their guide or their partner yet. Their columns are their own.
DUE = "guides_settlement_due"  # guide_id, partner_id, store_id, n, base, held, last_id
UNCLAIMED = "guides_settlement_unclaimed"  # id, guide_id, partner_id, for_guide, for_partner

ENTRY_FIELDS = (
    "id",
    "kind",
    "guide",
    "partner",
    "store",
    "order",
    "line",
    "accrual",
    "base_amount",
    "held_change",
    "payable_change",
    "statement",
    "partner_statement",
    "note",
    "released_through",
    "accruals_through",
    "accrual_count",
    "created_at",
)
STATEMENT_FIELDS = (
    "id",
    "party",
    "guide",
    "partner",
    "period",
    "status",
    "total",
    "entry_count",
    "created_at",
    "payment_reference",
)
# Each party of a statement: its StatementParty value (a parameter name), its field on entries and
# statements, the entry's field naming its statement, and its column and flag in the temporary tables.
PARTIES = (
    ("guide", "guide", "statement", "guide_id", "for_guide"),
    ("partner", "partner", "partner_statement", "partner_id", "for_partner"),
)


def _named(model, fields: tuple[str, ...], write: bool) -> SimpleNamespace:
    """The quoted table (`table`) and columns (an attribute per field) of `model` (config.sql.names)."""
    table, *columns = names(model, *fields, write=write)
    return SimpleNamespace(table=table, **dict(zip(fields, columns, strict=True)))


def _entry(*, write: bool = False) -> SimpleNamespace:
    return _named(CommissionEntry, ENTRY_FIELDS, write)


def _statement(*, write: bool = False) -> SimpleNamespace:
    return _named(Statement, STATEMENT_FIELDS, write)


def _line(*, write: bool = False) -> SimpleNamespace:
    return _named(OrderLine, ("id", "sku", "order", "returnable_until"), write)


def _run_connection():
    """Every statement of a settlement run: the ledger's write connection, where its temporary
    tables live."""
    return connections[router.db_for_write(CommissionEntry)]


def _run(statement: str, params: dict | None = None) -> int:
    """Execute a step of a run; the rows it changed (0 when the database does not say)."""
    with _run_connection().cursor() as cursor:
        cursor.execute(statement, params)
        return max(cursor.rowcount, 0)


def _run_value(statement: str, params: dict | None = None):
    """The one value a run's read answers."""
    with _run_connection().cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone()[0]


def _read(statement: str, params: dict, *, write: bool) -> list[tuple]:
    alias = router.db_for_write(CommissionEntry) if write else router.db_for_read(CommissionEntry)
    with connections[alias].cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


def _temporary(name: str) -> str:
    return _run_connection().ops.quote_name(name)


def _params(connection, *, now: datetime | None = None, period: date | None = None) -> dict:
    params = {
        "places": settings.MONEY_DECIMAL_PLACES,
        "accrual": EntryKind.ACCRUAL.value,
        "release": EntryKind.RELEASE.value,
        "clawback": EntryKind.CLAWBACK.value,
        "draft": StatementStatus.DRAFT.value,
        "guide": StatementParty.GUIDE.value,
        "partner": StatementParty.PARTNER.value,
    }
    if now is not None:
        params["now"] = connection.ops.adapt_datetimefield_value(now)
    if period is not None:
        params["period"] = connection.ops.adapt_datefield_value(period)
    return params


def _same_party(a: str, b: str, *, write: bool) -> str:
    """The release rule's grouping: same guide, partner and store (an empty one matches empty)."""
    e = _entry(write=write)
    return " AND ".join(f"COALESCE({a}.{c}, 0) = COALESCE({b}.{c}, 0)" for c in (e.guide, e.partner, e.store))


def covered_by_rule(release: str, accrual: str, line: str, *, write: bool = False) -> str:
    """SQL: the release row `release` (a rule row) releases the accrual `accrual` of line `line`
    (each an alias, or a quoted table name, of CommissionEntry, CommissionEntry and OrderLine)."""
    e, ol = _entry(write=write), _line(write=write)
    return (
        f"{release}.{e.released_through} IS NOT NULL AND {_same_party(release, accrual, write=write)}"
        f" AND {line}.{ol.returnable_until} <= {release}.{e.released_through}"
        f" AND {accrual}.{e.id} <= {release}.{e.accruals_through}"
    )


def _held_clawbacks(*, write: bool) -> str:
    """Per accrual (accrual_id): the held clawbacks' sum (held) and the refunded base (base), signed
    (a clawback that grew the line after a threshold keep-back has a negative base); a hash join,
    not a lookup per accrual."""
    e = _entry(write=write)
    return f"""
        SELECT c.{e.accrual} AS accrual_id, SUM(c.{e.held_change}) AS held, SUM(c.{e.base_amount}) AS base
        FROM {e.table} c
        WHERE c.{e.kind} = %(clawback)s AND c.{e.held_change} <> 0
        GROUP BY c.{e.accrual}
    """  # noqa: S608 (model names)


def due_collect(*, now: datetime) -> None:
    """Into DUE, per guide, partner and store: the accruals whose line's return window closed by
    `now`, up to the last accrual id visible now, released by no earlier row, with something still
    held (net of their held clawbacks); their count, base and held sums, and that last id.

    The net is rounded in SQL so that SQLite's floating sums compare with 0 exactly."""
    e, ol, due = _entry(write=True), _line(write=True), _temporary(DUE)
    _run(f"DROP TABLE IF EXISTS {due}")
    # The last entry id first, as a constant: the planner then scans the ledger once.
    last_id = _run_value(f"SELECT MAX(x.{e.id}) FROM {e.table} x") or 0  # noqa: S608 (model names)
    rule = covered_by_rule("r", "a", "l", write=True)
    statement = f"""
        CREATE TEMPORARY TABLE {due} AS
        SELECT a.{e.guide} AS guide_id, a.{e.partner} AS partner_id, a.{e.store} AS store_id, COUNT(*) AS n,
               ROUND(SUM(a.{e.base_amount} - COALESCE(cb.base, 0)), %(places)s) AS base,
               ROUND(SUM(a.{e.held_change} + COALESCE(cb.held, 0)), %(places)s) AS held,
               CAST(%(last_id)s AS BIGINT) AS last_id
        FROM {e.table} a
        JOIN {ol.table} l ON l.{ol.id} = a.{e.line}
        LEFT JOIN ({_held_clawbacks(write=True)}) cb ON cb.accrual_id = a.{e.id}
        WHERE a.{e.kind} = %(accrual)s AND a.{e.id} <= %(last_id)s
          AND l.{ol.returnable_until} <= %(now)s
          AND ROUND(a.{e.held_change} + COALESCE(cb.held, 0), %(places)s) <> 0
          AND NOT EXISTS (
              SELECT 1 FROM {e.table} r WHERE r.{e.kind} = %(release)s AND {rule}
          )
          AND a.{e.id} NOT IN (
              SELECT r.{e.accrual} FROM {e.table} r
              WHERE r.{e.kind} = %(release)s AND r.{e.accrual} IS NOT NULL
          )
        GROUP BY a.{e.guide}, a.{e.partner}, a.{e.store}
    """  # noqa: S608 (model names)
    _run(statement, {**_params(_run_connection(), now=now), "last_id": last_id})
    # Temporary tables get no statistics by themselves: without them the planner guessed the
    # statements' INSERT ... SELECT over this table at a quarter of the run (10,000 guides).
    _run(f"ANALYZE {due}")


def due_drop() -> None:
    _run(f"DROP TABLE IF EXISTS {_temporary(DUE)}")


def release_write(*, now: datetime, period: date | None) -> int:
    """One INSERT ... SELECT of the release rows from DUE, one per guide, partner and store with
    something due; with `period`, straight onto that period's draft statements (created first by
    the caller), so that the rows are written once. Returns the accruals released."""
    e, st, due = _entry(write=True), _statement(write=True), _temporary(DUE)
    if period is None:
        statements, joins = "NULL, NULL", ""
    else:
        statements = f"gs.{st.id}, ps.{st.id}"
        joins = f"""
            LEFT JOIN {st.table} gs
              ON gs.{st.guide} = d.guide_id AND gs.{st.period} = %(period)s AND gs.{st.status} = %(draft)s
            LEFT JOIN {st.table} ps
              ON ps.{st.partner} = d.partner_id AND ps.{st.period} = %(period)s AND ps.{st.status} = %(draft)s
        """
    statement = f"""
        INSERT INTO {e.table} ({e.kind}, {e.guide}, {e.partner}, {e.store}, {e.base_amount}, {e.held_change},
                               {e.payable_change}, {e.statement}, {e.partner_statement}, {e.note},
                               {e.released_through}, {e.accruals_through}, {e.accrual_count}, {e.created_at})
        SELECT %(release)s, d.guide_id, d.partner_id, d.store_id, d.base, -d.held, d.held,
               {statements}, '', %(now)s, d.last_id, d.n, %(now)s
        FROM {due} d
        {joins}
        WHERE d.held <> 0
    """  # noqa: S608 (model names)
    if not _run(statement, _params(_run_connection(), now=now, period=period)):
        return 0
    return int(_run_value(f"SELECT SUM(d.n) FROM {due} d WHERE d.held <> 0") or 0)  # noqa: S608 (model names)


def release_ids_of(accrual_id: int) -> list[int]:
    """The id of the release row that released the accrual (none while it is held)."""
    e, ol = _entry(), _line()
    statement = f"""
        SELECT r.{e.id} FROM {e.table} r, {e.table} a JOIN {ol.table} l ON l.{ol.id} = a.{e.line}
        WHERE a.{e.id} = %(accrual_id)s AND r.{e.kind} = %(release)s
          AND (r.{e.accrual} = a.{e.id} OR ({covered_by_rule("r", "a", "l")}))
          AND NOT EXISTS (SELECT 1 FROM {e.table} r0 WHERE r0.{e.kind} = %(release)s AND r0.{e.id} < r.{e.id}
                          AND {covered_by_rule("r0", "a", "l")})
    """  # noqa: S608 (model names)
    params = {"release": EntryKind.RELEASE.value, "accrual_id": accrual_id}
    return [row[0] for row in _read(statement, params, write=False)]


def released_lines(release_ids: list[int]) -> list[tuple]:
    """The accruals the release rows released, oldest first per release: (release id, accrual id,
    order number, SKU code, guide code, the base still paid (net of refunds), the commission released
    (net of clawbacks)); the sums unrounded to money (SQLite answers floats)."""
    if not release_ids:
        return []
    e, ol = _entry(), _line()
    orders, order_pk, number = names(Order, "id", "number")
    skus, sku_pk, sku_code = names(SKU, "id", "code")
    guides, guide_pk, guide_code = names(Guide, "id", "code")
    marks = ", ".join(f"%(r{i})s" for i in range(len(release_ids)))
    statement = f"""
        SELECT r.{e.id}, a.{e.id}, o.{number}, k.{sku_code}, g.{guide_code},
               ROUND(a.{e.base_amount} - COALESCE(cb.base, 0), %(places)s),
               ROUND(a.{e.held_change} + COALESCE(cb.held, 0), %(places)s)
        FROM {e.table} r
        JOIN {e.table} a
          ON a.{e.kind} = %(accrual)s AND (a.{e.id} = r.{e.accrual} OR a.{e.guide} = r.{e.guide})
        JOIN {ol.table} l ON l.{ol.id} = a.{e.line}
        LEFT JOIN ({_held_clawbacks(write=False)}) cb ON cb.accrual_id = a.{e.id}
        LEFT JOIN {orders} o ON o.{order_pk} = a.{e.order}
        LEFT JOIN {skus} k ON k.{sku_pk} = l.{ol.sku}
        LEFT JOIN {guides} g ON g.{guide_pk} = a.{e.guide}
        WHERE r.{e.id} IN ({marks}) AND r.{e.kind} = %(release)s
          AND (r.{e.accrual} = a.{e.id} OR ({covered_by_rule("r", "a", "l")}
               AND ROUND(a.{e.held_change} + COALESCE(cb.held, 0), %(places)s) <> 0
               AND NOT EXISTS (SELECT 1 FROM {e.table} r0
                               WHERE r0.{e.kind} = %(release)s AND r0.{e.id} < r.{e.id}
                               AND {covered_by_rule("r0", "a", "l")})
               AND NOT EXISTS (SELECT 1 FROM {e.table} r1
                               WHERE r1.{e.kind} = %(release)s AND r1.{e.accrual} = a.{e.id})))
        ORDER BY r.{e.id}, a.{e.id}
    """  # noqa: S608 (model names)
    connection = connections[router.db_for_read(CommissionEntry)]
    params = {**_params(connection), **{f"r{i}": pk for i, pk in enumerate(release_ids)}}
    return _read(statement, params, write=False)


def unclaimed_collect(*, now: datetime) -> None:
    """Into UNCLAIMED: the payable entries booked by `now` not on a statement of their guide
    (for_guide = 1) or of their partner (for_partner = 1) yet: one scan of the ledger per run."""
    e, unclaimed = _entry(write=True), _temporary(UNCLAIMED)
    _run(f"DROP TABLE IF EXISTS {unclaimed}")
    statement = f"""
        CREATE TEMPORARY TABLE {unclaimed} AS
        SELECT e.{e.id} AS id, e.{e.guide} AS guide_id, e.{e.partner} AS partner_id,
               CASE WHEN e.{e.guide} IS NOT NULL AND e.{e.statement} IS NULL THEN 1 ELSE 0 END AS for_guide,
               CASE WHEN e.{e.partner} IS NOT NULL AND e.{e.partner_statement} IS NULL THEN 1 ELSE 0 END
                 AS for_partner
        FROM {e.table} e
        WHERE e.{e.payable_change} <> 0 AND (e.{e.statement} IS NULL OR e.{e.partner_statement} IS NULL)
          AND e.{e.created_at} <= %(now)s
          AND ((e.{e.guide} IS NOT NULL AND e.{e.statement} IS NULL)
               OR (e.{e.partner} IS NOT NULL AND e.{e.partner_statement} IS NULL))
    """  # noqa: S608 (model names)
    _run(statement, _params(_run_connection(), now=now))
    _run(f"ANALYZE {unclaimed}")  # as the due table: statistics for the statements below


def unclaimed_drop() -> None:
    _run(f"DROP TABLE IF EXISTS {_temporary(UNCLAIMED)}")


def drafts_start(*, now: datetime, period: date, with_due: bool) -> tuple[int, int]:
    """INSERT a draft for each guide and each partner with something in UNCLAIMED (and, `with_due`,
    in DUE: the accruals about to be released) and no statement of this period yet; how many of
    each."""
    st, unclaimed, due = _statement(write=True), _temporary(UNCLAIMED), _temporary(DUE)
    params = _params(_run_connection(), now=now, period=period)
    counts = []
    for party, field, _target, temporary, flag in PARTIES:
        ids = "x.id, NULL" if party == "guide" else "NULL, x.id"
        also_due = (
            f"UNION SELECT d.{temporary} FROM {due} d WHERE d.held <> 0 AND d.{temporary} IS NOT NULL"  # noqa: S608 (model names)
            if with_due
            else ""
        )
        column = getattr(st, field)
        statement = f"""
            INSERT INTO {st.table} ({st.party}, {st.guide}, {st.partner}, {st.period}, {st.status},
                                    {st.total}, {st.entry_count}, {st.created_at}, {st.payment_reference})
            SELECT %({party})s, {ids}, %(period)s, %(draft)s, 0, 0, %(now)s, ''
            FROM (
                SELECT DISTINCT u.{temporary} AS id FROM {unclaimed} u WHERE u.{flag} = 1
                {also_due}
            ) x
            WHERE NOT EXISTS (
                SELECT 1 FROM {st.table} s WHERE s.{column} = x.id AND s.{st.period} = %(period)s
            )
        """  # noqa: S608 (model names)
        counts.append(_run(statement, params))
    return counts[0], counts[1]


def drafts_claim(*, period: date) -> int:
    """Put the entries in UNCLAIMED on their party's draft of the period, if it has one (an approved
    statement of the period takes nothing: they wait for the next draft); how many claims."""
    e, st, unclaimed = _entry(write=True), _statement(write=True), _temporary(UNCLAIMED)
    params = _params(_run_connection(), period=period)
    claimed = 0
    for _party, field, target, _temporary_column, flag in PARTIES:
        draft = (
            f"FROM {st.table} s WHERE s.{getattr(st, field)} = {e.table}.{getattr(e, field)} "  # noqa: S608 (model names)
            f"AND s.{st.period} = %(period)s AND s.{st.status} = %(draft)s"
        )
        statement = f"""
            UPDATE {e.table} SET {getattr(e, target)} = (SELECT s.{st.id} {draft})
            WHERE {e.id} IN (SELECT u.id FROM {unclaimed} u WHERE u.{flag} = 1) AND EXISTS (SELECT 1 {draft})
        """  # noqa: S608 (model names)
        claimed += _run(statement, params)
    return claimed


def drafts_total(*, period: date) -> None:
    """Set each draft's total and entry count from its entries, in one UPDATE per party; drafts whose
    figures are already right are not written."""
    e, st = _entry(write=True), _statement(write=True)
    params = _params(_run_connection(), period=period)
    for party, _field, target, _temporary_column, _flag in PARTIES:
        column = getattr(e, target)
        statement = f"""
            UPDATE {st.table} SET {st.total} = agg.total, {st.entry_count} = agg.n
            FROM (
                SELECT e.{column} AS sid, ROUND(SUM(e.{e.payable_change}), %(places)s) AS total, COUNT(*) AS n
                FROM {e.table} e JOIN {st.table} d ON d.{st.id} = e.{column}
                WHERE d.{st.party} = %({party})s AND d.{st.period} = %(period)s AND d.{st.status} = %(draft)s
                GROUP BY e.{column}
            ) agg
            WHERE {st.table}.{st.id} = agg.sid
              AND (ROUND({st.table}.{st.total}, %(places)s) <> agg.total
                   OR {st.table}.{st.entry_count} <> agg.n)
        """  # noqa: S608 (model names)
        _run(statement, params)


def partner_sales(*, start: datetime, end: datetime, write: bool = False) -> list[tuple]:
    """(partner id, attributed sales) in [start, end), best first, ties by partner code; sales
    unrounded to money (SQLite answers floats). Attributed sales: the paid amounts commission
    accrued on, less what was refunded of them (the clawbacks' base), per the partner on the entry.
    `write`: read on the write connection (inside a transaction that writes on what it read)."""
    e = _entry(write=write)
    partners, partner_pk, partner_code = names(Partner, "id", "code", write=write)
    statement = f"""
        SELECT s.partner_id, s.sales FROM (
            SELECT a.{e.partner} AS partner_id,
                   ROUND(SUM(a.{e.base_amount} - COALESCE(cb.base, 0)), %(places)s) AS sales
            FROM {e.table} a
            LEFT JOIN (
                SELECT c.{e.accrual} AS accrual_id, SUM(c.{e.base_amount}) AS base FROM {e.table} c
                WHERE c.{e.kind} = %(clawback)s GROUP BY c.{e.accrual}
            ) cb ON cb.accrual_id = a.{e.id}
            WHERE a.{e.kind} = %(accrual)s AND a.{e.partner} IS NOT NULL
              AND a.{e.created_at} >= %(start)s AND a.{e.created_at} < %(end)s
            GROUP BY a.{e.partner}
        ) s JOIN {partners} p ON p.{partner_pk} = s.partner_id
        WHERE s.sales > 0
        ORDER BY s.sales DESC, p.{partner_code}, p.{partner_pk}
    """  # noqa: S608 (model names)
    alias = router.db_for_write(CommissionEntry) if write else router.db_for_read(CommissionEntry)
    ops = connections[alias].ops
    params = {
        **_params(connections[alias]),
        "start": ops.adapt_datetimefield_value(start),
        "end": ops.adapt_datetimefield_value(end),
    }
    return _read(statement, params, write=write)
