"""Plain statements on the member reads every order and basket quote makes (docs/benchmarks.md,
"Flash sale with a coupon per order": the ORM spent ~3.6 ms building what PostgreSQL answered in
~0.2), and the demo's bulk INSERTs (members.demo). Table and column names come from the models'
_meta, the connection from the router."""

from datetime import datetime

from django.db import connections, router
from django.db.models import Model

from config.sql import columns_of, from_row, names
from members.models import Member, PointsEntry


def member_by_id(pk: int) -> Member | None:
    """The member row with this id (merged or not), as `Member.objects.filter(pk=pk).first()`."""
    statement, params = member_statement(pk)
    with connections[router.db_for_read(Member)].cursor() as cursor:
        cursor.execute(statement, params)
        return member_from_rows(cursor.fetchall())


def member_statement(pk: int) -> tuple[str, list]:
    """member_by_id's statement and parameters (for a caller that batches its reads)."""
    table, key = names(Member, "id")
    return f"SELECT {columns_of(Member, 'm')} FROM {table} m WHERE m.{key} = %s", [pk]  # noqa: S608


def member_from_rows(rows) -> Member | None:
    return from_row(Member, rows[0]) if rows else None


def seen_on_channel(member_id: int, channel_id: int) -> bool:
    """Whether the member ordered or earned points on the channel: what opens a member to a
    channel's API key besides consent given through it (members.policies.members_visible_to).
    Orders are a later app's table, reached through the `orders` relation, not imported."""
    order_model = Member._meta.get_field("orders").related_model
    orders, order_member, order_channel = names(order_model, "member", "channel")
    points, points_member, points_channel = names(PointsEntry, "member", "channel")
    statement = (
        f"SELECT EXISTS (SELECT 1 FROM {orders} WHERE {order_member} = %s AND {order_channel} = %s) "  # noqa: S608
        f"OR EXISTS (SELECT 1 FROM {points} WHERE {points_member} = %s AND {points_channel} = %s)"
    )
    with connections[router.db_for_read(Member)].cursor() as cursor:
        cursor.execute(statement, [member_id, channel_id, member_id, channel_id])
        return bool(cursor.fetchone()[0])


def rows_insert(model: type[Model], fields: tuple[str, ...], rows: list[tuple], *, batch_size: int) -> None:
    """INSERT plain rows of `model` (values in `fields` order) with executemany, `batch_size` at a
    time: the demo's members' identities and points, hundreds of thousands of rows that need no model
    instance. Datetimes are adapted as the ORM would (naive UTC text on SQLite, aware on PostgreSQL)."""
    connection = connections[router.db_for_write(model)]
    table, *columns = names(model, *fields, write=True)
    statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608 (model names)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch_size):
            cursor.executemany(
                statement,
                [
                    tuple(adapt(v) if isinstance(v, datetime) else v for v in row)
                    for row in rows[start : start + batch_size]
                ],
            )
