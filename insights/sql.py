"""Plain SQL of the read models: what the ORM cannot say in one statement (which release row
released an accrual, by name or by its rule) and the set-based rebuild of the suggestion tables
(INSERT ... SELECT, the same statements on SQLite and PostgreSQL). Table and column names come
from the models' _meta, the connection from the router."""

from datetime import datetime

from django.db import connections, router

from catalog.models import SKU, Product
from config.sql import from_db_value, names
from guides.choices import EntryKind
from guides.models import CommissionEntry
from guides.sql import covered_by_rule
from members.models import CategoryBestSeller, Member, SkuAffinity, TierBestSeller
from orders.choices import OrderStatus
from orders.models import Order, OrderLine


def accrual_releases(accrual_ids: list[int]) -> list[tuple[int, datetime]]:
    """(accrual id, when) for each of these accruals that a release row released, in one query.

    Release rows cover many orders' accruals by a rule (guides.sql.covered_by_rule), so they
    carry no order: the first release row that names the accrual or covers it by its rule is it."""
    if not accrual_ids:
        return []
    entries, e_id, e_kind, e_line, e_accrual, e_created = names(
        CommissionEntry, "id", "kind", "line", "accrual", "created_at"
    )
    lines, l_id = names(OrderLine, "id")
    rule, earlier = covered_by_rule("r", "a", "l"), covered_by_rule("r0", "a", "l")
    marks = ", ".join(["%s"] * len(accrual_ids))
    statement = f"""
        SELECT a.{e_id}, r.{e_created} FROM {entries} a JOIN {lines} l ON l.{l_id} = a.{e_line}
        JOIN {entries} r ON r.{e_kind} = %s AND (r.{e_accrual} = a.{e_id} OR ({rule}))
        WHERE a.{e_id} IN ({marks}) AND NOT EXISTS (
            SELECT 1 FROM {entries} r0 WHERE r0.{e_kind} = %s AND r0.{e_id} < r.{e_id}
            AND (r0.{e_accrual} = a.{e_id} OR ({earlier})))
    """  # noqa: S608 (model names and the guides app's own SQL fragment only)
    release = EntryKind.RELEASE.value
    with connections[router.db_for_read(CommissionEntry)].cursor() as cursor:
        cursor.execute(statement, [release, *accrual_ids, release])
        found = cursor.fetchall()
    created_at = CommissionEntry._meta.get_field("created_at")
    return [(accrual_id, from_db_value(created_at, at)) for accrual_id, at in found]


def _bought() -> str:
    """Distinct (member, SKU) purchases, as a derived table: the order is paid and not cancelled,
    and the line was not returned in full. One parameter: the cancelled status."""
    orders, o_id, o_member, o_paid, o_status = names(Order, "id", "member", "paid_at", "status", write=True)
    lines, l_order, l_sku, l_returned, l_quantity = names(
        OrderLine, "order", "sku", "returned_quantity", "quantity", write=True
    )
    return (
        f"SELECT DISTINCT o.{o_member} AS member_id, l.{l_sku} AS sku_id "  # noqa: S608 (model names)
        f"FROM {lines} l JOIN {orders} o ON o.{o_id} = l.{l_order} "
        f"WHERE o.{o_member} IS NOT NULL AND o.{o_paid} IS NOT NULL AND o.{o_status} <> %s "
        f"AND l.{l_returned} < l.{l_quantity}"
    )


def suggestion_tables_rebuild(
    *, affinity_min_customers: int, affinity_keep: int, best_seller_keep: int
) -> tuple[int, int, int]:
    """Empty the three suggestion tables and fill them from every purchase (three DELETEs and three
    INSERT ... SELECTs, in the caller's transaction); answers the rows of each table:
    (SKU pairs, category best sellers, tier best sellers)."""
    bought, cancelled = _bought(), OrderStatus.CANCELLED.value
    affinity, a_sku, a_other, a_customers = names(SkuAffinity, "sku", "other_sku", "customers", write=True)
    by_category, c_category, c_sku, c_customers = names(
        CategoryBestSeller, "category", "sku", "customers", write=True
    )
    by_tier, t_tier, t_sku, t_customers = names(TierBestSeller, "tier", "sku", "customers", write=True)
    skus, s_id, s_product = names(SKU, "id", "product", write=True)
    products, p_id, p_category = names(Product, "id", "category", write=True)
    members, m_id, m_tier = names(Member, "id", "tier", write=True)
    with connections[router.db_for_write(SkuAffinity)].cursor() as cursor:
        for table in (affinity, by_category, by_tier):
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 (model name only)
        cursor.execute(
            f"INSERT INTO {affinity} ({a_sku}, {a_other}, {a_customers}) "  # noqa: S608 (model names)
            f"SELECT sku_id, other_sku_id, customers FROM ("
            f" SELECT a.sku_id AS sku_id, b.sku_id AS other_sku_id, COUNT(*) AS customers,"
            f"  ROW_NUMBER() OVER (PARTITION BY a.sku_id ORDER BY COUNT(*) DESC, b.sku_id) AS place"
            f" FROM ({bought}) a JOIN ({bought}) b ON b.member_id = a.member_id AND b.sku_id <> a.sku_id"
            f" GROUP BY a.sku_id, b.sku_id HAVING COUNT(*) >= %s"
            f") ranked WHERE place <= %s",
            [cancelled, cancelled, affinity_min_customers, affinity_keep],
        )
        affinities = cursor.rowcount
        cursor.execute(
            f"INSERT INTO {by_category} ({c_category}, {c_sku}, {c_customers}) "  # noqa: S608 (model names)
            f"SELECT category_id, sku_id, customers FROM ("
            f" SELECT p.{p_category} AS category_id, b.sku_id AS sku_id, COUNT(*) AS customers,"
            f"  ROW_NUMBER() OVER (PARTITION BY p.{p_category} ORDER BY COUNT(*) DESC, b.sku_id) AS place"
            f" FROM ({bought}) b JOIN {skus} s ON s.{s_id} = b.sku_id"
            f" JOIN {products} p ON p.{p_id} = s.{s_product}"
            f" GROUP BY p.{p_category}, b.sku_id"
            f") ranked WHERE place <= %s",
            [cancelled, best_seller_keep],
        )
        categories = cursor.rowcount
        cursor.execute(
            f"INSERT INTO {by_tier} ({t_tier}, {t_sku}, {t_customers}) "  # noqa: S608 (model names)
            f"SELECT tier_id, sku_id, customers FROM ("
            f" SELECT m.{m_tier} AS tier_id, b.sku_id AS sku_id, COUNT(*) AS customers,"
            f"  ROW_NUMBER() OVER (PARTITION BY m.{m_tier} ORDER BY COUNT(*) DESC, b.sku_id) AS place"
            f" FROM ({bought}) b JOIN {members} m ON m.{m_id} = b.member_id WHERE m.{m_tier} IS NOT NULL"
            f" GROUP BY m.{m_tier}, b.sku_id"
            f") ranked WHERE place <= %s",
            [cancelled, best_seller_keep],
        )
        tiers = cursor.rowcount
    return affinities, categories, tiers
