"""Plain statements on the member reads every order and basket quote makes (docs/benchmarks.md,
"Flash sale with a coupon per order": the ORM spent ~3.6 ms building what PostgreSQL answered in
~0.2). Table and column names come from the models' _meta, the connection from the router."""

from django.db import connections, router

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
