"""What to show this member: a handful of SKUs in stock at the clerk's store, picked from the
member's whole cross-channel history, each with the reason why.

Nothing here scans orders per request. `suggestions_refresh` (daily, `manage.py suggestions_refresh`)
rebuilds three small tables set-based in SQL (INSERT ... SELECT, the same statement on SQLite and
PostgreSQL); `suggestions_for` reads them with four indexed queries:

- SkuAffinity: for each SKU, the SKUs most often bought by the same members (distinct members who
  bought both, over all their orders on every channel), top AFFINITY_KEEP per SKU;
- CategoryBestSeller / TierBestSeller: each category's and each tier's SKUs bought by the most
  distinct members, top BEST_SELLER_KEEP each.

A purchase counts when its order is paid and not cancelled and the line was not returned in full.
"""

import time
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from catalog.choices import ChannelKind
from catalog.models import SKU, Product
from members.models import CategoryBestSeller, Member, SkuAffinity, TierBestSeller
from orders.choices import OrderStatus
from orders.models import Order, OrderLine
from stores.models import Stock

AFFINITY_KEEP = 50  # partners kept per SKU: a suggestion needs a handful, the rest is noise
AFFINITY_MIN_CUSTOMERS = 2  # a pair bought by one customer only says nothing about the others
BEST_SELLER_KEEP = 50
ONLINE_KINDS = {ChannelKind.OWN_MALL, ChannelKind.MARKETPLACE}


@dataclass
class Suggestion:
    """A SKU to show, why ("bought with the X55 TV by 312 customers"), and how many are here."""

    sku: SKU
    reason: str
    source: str  # "affinity", "category" or "tier"
    customers: int
    available: int


@dataclass
class RefreshResult:
    affinities: int
    category_best_sellers: int
    tier_best_sellers: int
    seconds: float


def _bought_sql() -> str:
    """Distinct (member, SKU) purchases, as a derived table."""
    order, line = Order._meta.db_table, OrderLine._meta.db_table
    return (
        f"SELECT DISTINCT o.member_id AS member_id, l.sku_id AS sku_id "  # noqa: S608 (table names only)
        f"FROM {line} l JOIN {order} o ON o.id = l.order_id "
        f"WHERE o.member_id IS NOT NULL AND o.paid_at IS NOT NULL AND o.status <> %s "
        f"AND l.returned_quantity < l.quantity"
    )


@transaction.atomic
def suggestions_refresh() -> RefreshResult:
    """Rebuild the affinity and best-seller tables from every paid order (readers keep seeing the
    previous tables until this transaction commits)."""
    started = time.perf_counter()
    bought = _bought_sql()
    cancelled = OrderStatus.CANCELLED.value
    affinity, by_category, by_tier = (
        SkuAffinity._meta.db_table,
        CategoryBestSeller._meta.db_table,
        TierBestSeller._meta.db_table,
    )
    sku, product, member = SKU._meta.db_table, Product._meta.db_table, Member._meta.db_table
    with connection.cursor() as cursor:
        for table in (affinity, by_category, by_tier):
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 (table name only)
        cursor.execute(
            f"INSERT INTO {affinity} (sku_id, other_sku_id, customers) "  # noqa: S608
            f"SELECT sku_id, other_sku_id, customers FROM ("
            f" SELECT a.sku_id AS sku_id, b.sku_id AS other_sku_id, COUNT(*) AS customers,"
            f"  ROW_NUMBER() OVER (PARTITION BY a.sku_id ORDER BY COUNT(*) DESC, b.sku_id) AS place"
            f" FROM ({bought}) a JOIN ({bought}) b ON b.member_id = a.member_id AND b.sku_id <> a.sku_id"
            f" GROUP BY a.sku_id, b.sku_id HAVING COUNT(*) >= %s"
            f") ranked WHERE place <= %s",
            [cancelled, cancelled, AFFINITY_MIN_CUSTOMERS, AFFINITY_KEEP],
        )
        affinities = cursor.rowcount
        cursor.execute(
            f"INSERT INTO {by_category} (category_id, sku_id, customers) "  # noqa: S608
            f"SELECT category_id, sku_id, customers FROM ("
            f" SELECT p.category_id AS category_id, b.sku_id AS sku_id, COUNT(*) AS customers,"
            f"  ROW_NUMBER() OVER (PARTITION BY p.category_id ORDER BY COUNT(*) DESC, b.sku_id) AS place"
            f" FROM ({bought}) b JOIN {sku} s ON s.id = b.sku_id JOIN {product} p ON p.id = s.product_id"
            f" GROUP BY p.category_id, b.sku_id"
            f") ranked WHERE place <= %s",
            [cancelled, BEST_SELLER_KEEP],
        )
        categories = cursor.rowcount
        cursor.execute(
            f"INSERT INTO {by_tier} (tier_id, sku_id, customers) "  # noqa: S608
            f"SELECT tier_id, sku_id, customers FROM ("
            f" SELECT m.tier_id AS tier_id, b.sku_id AS sku_id, COUNT(*) AS customers,"
            f"  ROW_NUMBER() OVER (PARTITION BY m.tier_id ORDER BY COUNT(*) DESC, b.sku_id) AS place"
            f" FROM ({bought}) b JOIN {member} m ON m.id = b.member_id WHERE m.tier_id IS NOT NULL"
            f" GROUP BY m.tier_id, b.sku_id"
            f") ranked WHERE place <= %s",
            [cancelled, BEST_SELLER_KEEP],
        )
        tiers = cursor.rowcount
    return RefreshResult(affinities, categories, tiers, time.perf_counter() - started)


def _available_at(store, field: str):
    """Units available at `store` of the SKU in `field` (None when the store has no stock row)."""
    return Subquery(
        Stock.objects.filter(location=store, sku=OuterRef(field))
        .annotate(left=F("on_hand") - F("reserved"))
        .values("left")[:1]
    )


def member_purchases(member) -> list[tuple[int, int, str]]:
    """(SKU, category, channel kind) of everything the member owns: one indexed query."""
    return list(
        OrderLine.objects.filter(
            order__member=member, order__paid_at__isnull=False, returned_quantity__lt=F("quantity")
        )
        .exclude(order__status=OrderStatus.CANCELLED)
        .values_list("sku_id", "sku__product__category_id", "order__channel__kind")
        .order_by()  # no default ordering: it would join the orders' sort columns into the DISTINCT
        .distinct()
    )


def bought_online_and_offline(purchases) -> bool:
    kinds = {kind for _sku, _category, kind in purchases}
    return bool(kinds & ONLINE_KINDS) and bool(kinds - ONLINE_KINDS)


def suggestions_for(member, store, limit: int = 6, *, cross_channel_only: bool = True) -> list[Suggestion]:
    """Up to `limit` SKUs the member does not own, available at `store`: first what members who
    own the same things bought too, then their categories' best sellers, then their tier's.
    Empty unless the member has bought both online and offline (unless `cross_channel_only` is off)."""
    purchases = member_purchases(member)
    if not purchases or (cross_channel_only and not bought_online_and_offline(purchases)):
        return []
    owned = {sku_id for sku_id, _category, _kind in purchases}
    categories = {category for _sku, category, _kind in purchases}
    picked: dict[int, Suggestion] = {}

    def take(rows, source: str, reason) -> None:
        for row in rows:
            if len(picked) >= limit:
                return
            candidate = row.other_sku if source == "affinity" else row.sku
            if candidate.pk in picked or candidate.pk in owned:
                continue
            picked[candidate.pk] = Suggestion(candidate, reason(row), source, row.customers, row.available)

    def candidates(queryset, field: str):
        return (
            queryset.annotate(available=_available_at(store, field))
            .filter(available__gt=0, **{f"{field}__is_active": True})
            .exclude(**{f"{field}__in": owned})
            .order_by("-customers", f"{field}_id")[: limit * 3]
        )

    take(
        candidates(
            SkuAffinity.objects.filter(sku_id__in=owned).select_related("sku", "other_sku"), "other_sku"
        ),
        "affinity",
        lambda row: (
            ngettext(
                "bought with the %(name)s by %(count)s customer",
                "bought with the %(name)s by %(count)s customers",
                row.customers,
            )
            % {"name": row.sku.name, "count": row.customers}
        ),
    )
    if len(picked) < limit:
        take(
            candidates(
                CategoryBestSeller.objects.filter(category_id__in=categories).select_related(
                    "sku", "category"
                ),
                "sku",
            ),
            "category",
            lambda row: _("best seller in %(category)s") % {"category": row.category.name},
        )
    if len(picked) < limit and member.tier_id:
        take(
            candidates(
                TierBestSeller.objects.filter(tier_id=member.tier_id).select_related("sku", "tier"), "sku"
            ),
            "tier",
            lambda row: _("popular with %(tier)s members") % {"tier": row.tier.name},
        )
    return list(picked.values())
