"""The one read every member's order makes in this app: which binding attributes it. The ORM
spent ~3 ms a call building it (docs/benchmarks.md, "Flash sale with a coupon per order"); here it
is one plain statement. Table and column names come from the models' _meta, the connection from
the router."""

from datetime import datetime

from django.db import connections, router

from config.sql import columns_of, from_row, names
from guides.models import AttributionWindow, Binding, Guide


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
