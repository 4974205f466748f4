"""What to show this member: a handful of SKUs in stock at the clerk's store, picked from the
member's whole cross-channel history, each with the reason why.

Nothing here scans orders per request. `suggestions_refresh` (daily, `manage.py suggestions_refresh`)
rebuilds three small tables set-based in SQL (insights.sql: INSERT ... SELECT, the same statements on
SQLite and PostgreSQL); `suggestions_for` reads them with four indexed queries:

- SkuAffinity: for each SKU, the SKUs most often bought by the same members (distinct members who
  bought both, over all their orders on every channel), top AFFINITY_KEEP per SKU;
- CategoryBestSeller / TierBestSeller: each category's and each tier's SKUs bought by the most
  distinct members, top BEST_SELLER_KEEP each.

A purchase counts when its order is paid and not cancelled and the line was not returned in full.
The three tables are members' models (members.models); this read model fills and reads them.
"""

import time
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, OuterRef, Subquery
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from catalog.choices import ChannelKind
from catalog.models import SKU
from insights.sql import suggestion_tables_rebuild
from members.models import CategoryBestSeller, SkuAffinity, TierBestSeller
from orders.choices import OrderStatus
from orders.models import OrderLine
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


@transaction.atomic
def suggestions_refresh() -> RefreshResult:
    """Rebuild the affinity and best-seller tables from every paid order (readers keep seeing the
    previous tables until this transaction commits)."""
    started = time.perf_counter()
    affinities, categories, tiers = suggestion_tables_rebuild(
        affinity_min_customers=AFFINITY_MIN_CUSTOMERS,
        affinity_keep=AFFINITY_KEEP,
        best_seller_keep=BEST_SELLER_KEEP,
    )
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
