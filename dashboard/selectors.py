"""The HQ dashboard's figures for a period of whole Shanghai days, each one GROUP BY query.

What the figures count (the drill-down lists apply the very same filters, so a list shows exactly
the rows behind its figure):

- sales: orders PAID in the period (``paid_at`` inside it), cancelled ones left out, at their
  total — the rule guides.leaderboards uses for attributed sales, so the two pages agree;
- online vs offline: by the channel's kind (own mall and marketplaces are online; own stores,
  partner stores and dealers offline);
- city tier and region: those of the store that sold the order (its origin store), else of the
  location that fulfilled it; an order with neither counts under "no store" / "Other";
- online → store: an online channel's order fulfilled by a store (not a warehouse);
  store → online: an order placed in a store (clerk's tablet or the store's QR code) for home
  delivery;
- acceptance: the offers made to stores in the period (StoreAssignment.offered_at): accepted
  out of answered (accepted, rejected, or left to expire; offers still open or withdrawn because
  the order moved on are not answers), and the mean time from offer to acceptance.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, DurationField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils.translation import gettext as _

from catalog.choices import ChannelKind
from catalog.models import Channel
from config.dates import SHANGHAI
from config.money import quantize_money
from dashboard.regions import OTHER, REGIONS, region_label, region_of
from guides.periods import Period
from orders.choices import AssignmentStatus, DeliveryMethod, OrderStatus, Origin
from orders.models import Order, OrderLine, StoreAssignment
from stores.choices import StoreKind
from stores.models import Store

ZERO = Decimal("0.00")
TIERS = range(1, 7)
NO_TIER = "none"
ONLINE_KINDS = (ChannelKind.OWN_MALL, ChannelKind.MARKETPLACE)
STORE_ORIGINS = (Origin.IN_STORE, Origin.QR_SCAN)
SELLING_KINDS = (StoreKind.OWN_FLAGSHIP, StoreKind.PARTNER, StoreKind.DEALER)
SOLD_STATUSES = [status for status in OrderStatus.values if status != OrderStatus.CANCELLED]
ANSWERED = (AssignmentStatus.ACCEPTED, AssignmentStatus.REJECTED, AssignmentStatus.EXPIRED)
TOP_SKUS = 10
TOP_STORES = 15

FLOWS = {
    "online_to_store": Q(channel__kind__in=ONLINE_KINDS, fulfilling_location__kind__in=SELLING_KINDS),
    "store_to_online": Q(origin__in=STORE_ORIGINS, delivery_method=DeliveryMethod.SHIP),
}


def percent(part, whole) -> Decimal | None:
    """part per 100 of whole, to one decimal (half up); None when there is no whole."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass
class Figure:
    """Orders and sales of one slice (a channel, a tier, a day...) and the drill-down filter."""

    key: str
    label: str
    orders: int = 0
    sales: Decimal = ZERO
    query: dict = field(default_factory=dict)  # the order-list filter that lists exactly these
    share: Decimal | None = None
    online: bool = False  # channels: an online channel
    units: int = 0  # SKUs: units sold


# --- the rows every sales figure counts ----------------------------------------------------------


def sales_orders(period: Period) -> QuerySet[Order]:
    """Orders paid in the period, cancelled ones left out."""
    return Order.objects.filter(paid_at__gte=period.since, paid_at__lt=period.until, status__in=SOLD_STATUSES)


def _tier_q(tier: str) -> Q:
    if tier == NO_TIER:
        return Q(origin_store__isnull=True, fulfilling_location__isnull=True)
    return Q(origin_store__city_tier=tier) | Q(origin_store__isnull=True, fulfilling_location__city_tier=tier)


def _region_q(region: str) -> Q:
    """Orders whose selling store's province falls in the region: the provinces are classified in
    Python (dashboard.regions) from the distinct provinces stores have, so the list matches the
    figure whatever spelling a store used."""
    provinces = [
        p for p in Store.objects.values_list("province", flat=True).distinct() if region_of(p) == region
    ]
    in_region = Q(origin_store__province__in=provinces) | Q(
        origin_store__isnull=True, fulfilling_location__province__in=provinces
    )
    if region == OTHER:
        in_region |= Q(origin_store__isnull=True, fulfilling_location__isnull=True)
    return in_region


def filter_orders(orders: QuerySet[Order], params: dict) -> QuerySet[Order]:
    """Narrow the period's orders by the drill-down parameters a figure links with, as parsed by
    dashboard.forms.OrderFilterForm (empty ones are ignored): channel (code), online (1 / 0),
    tier (1-6 or "none"), region, sku (code), flow, guide (code), day (a Shanghai date)."""
    if channel := params.get("channel"):
        orders = orders.filter(channel__code=channel)
    if (online := params.get("online")) in ("1", "0"):
        lookup = Q(channel__kind__in=ONLINE_KINDS)
        orders = orders.filter(lookup if online == "1" else ~lookup)
    if (tier := params.get("tier")) in {*map(str, TIERS), NO_TIER}:
        orders = orders.filter(_tier_q(tier))
    if (region := params.get("region")) in {*REGIONS, OTHER}:
        orders = orders.filter(_region_q(region))
    if sku := params.get("sku"):
        orders = orders.filter(Exists(OrderLine.objects.filter(order=OuterRef("pk"), sku__code=sku)))
    if (flow := params.get("flow")) in FLOWS:
        orders = orders.filter(FLOWS[flow])
    if guide := params.get("guide"):
        orders = orders.filter(guide__code=guide)
    if day := params.get("day"):
        orders = orders.filter(paid_at__gte=Period(day, day).since, paid_at__lt=Period(day, day).until)
    return orders


# --- sales figures -------------------------------------------------------------------------------


def sales_by_channel(period: Period) -> list[Figure]:
    """Every active channel (and any inactive one that sold), biggest first: one query."""
    paid = Q(
        orders__paid_at__gte=period.since, orders__paid_at__lt=period.until, orders__status__in=SOLD_STATUSES
    )
    channels = (
        Channel.objects.annotate(n=Count("orders", filter=paid), total=Sum("orders__total", filter=paid))
        .filter(Q(is_active=True) | Q(n__gt=0))
        .order_by("-total", "code")
    )
    rows = [
        Figure(
            c.code,
            c.name,
            c.n,
            quantize_money(c.total or ZERO),
            {"channel": c.code},
            online=c.kind in ONLINE_KINDS,
        )
        for c in channels
    ]
    _shares(rows)
    return sorted(rows, key=lambda r: (-r.sales, r.key))


def online_offline(by_channel: list[Figure]) -> list[Figure]:
    """The channel figures summed into online and offline (no query)."""
    online = Figure("online", str(_("Online")), query={"online": "1"})
    offline = Figure("offline", str(_("Offline")), query={"online": "0"})
    for row in by_channel:
        side = online if row.online else offline
        side.orders += row.orders
        side.sales += row.sales
    _shares([online, offline])
    return [online, offline]


def sales_by_place(period: Period) -> tuple[list[Figure], list[Figure]]:
    """Sales by city tier and by region of the selling store: one query grouped by tier and
    province, rolled up here (a tier or region with no sales shows as 0)."""
    rows = (
        sales_orders(period)
        .annotate(
            tier=Coalesce("origin_store__city_tier", "fulfilling_location__city_tier"),
            province=Coalesce("origin_store__province", "fulfilling_location__province"),
        )
        .values("tier", "province")
        .order_by()
        .annotate(n=Count("id"), total=Sum("total"))
    )
    tiers = {str(t): Figure(str(t), _("Tier %(n)s") % {"n": t}, query={"tier": str(t)}) for t in TIERS}
    regions = {
        key: Figure(key, str(label), query={"region": key}) for key, (label, _names) in REGIONS.items()
    }
    for row in rows:
        tier_key = str(row["tier"]) if row["tier"] is not None else NO_TIER
        region_key = region_of(row["province"]) if row["tier"] is not None else OTHER
        if tier_key not in tiers:
            tiers[tier_key] = Figure(tier_key, str(_("No store")), query={"tier": tier_key})
        if region_key not in regions:
            regions[region_key] = Figure(
                region_key, str(region_label(region_key)), query={"region": region_key}
            )
        for figure in (tiers[tier_key], regions[region_key]):
            figure.orders += row["n"]
            figure.sales += quantize_money(row["total"] or ZERO)
    _shares(tiers.values())
    _shares(regions.values())
    return list(tiers.values()), list(regions.values())


def daily_sales(period: Period) -> list[Figure]:
    """Sales per Shanghai day of payment, every day of the period (0 on a day without sales)."""
    rows = (
        sales_orders(period)
        .annotate(day=TruncDate("paid_at", tzinfo=SHANGHAI))
        .values("day")
        .order_by()
        .annotate(n=Count("id"), total=Sum("total"))
    )
    by_day = {row["day"]: row for row in rows}
    days = []
    day = period.first
    while day <= period.last:
        row = by_day.get(day, {"n": 0, "total": ZERO})
        days.append(
            Figure(day.isoformat(), day.strftime("%m-%d"), row["n"], quantize_money(row["total"] or ZERO),
                   {"day": day.isoformat()})
        )  # fmt: skip
        day += timedelta(days=1)
    return days


def top_skus(period: Period, *, limit: int = TOP_SKUS) -> list[Figure]:
    """The best-selling SKUs by sales (line totals), with units and the orders they are on."""
    rows = (
        OrderLine.objects.filter(order__in=sales_orders(period))
        .values("sku__code", "sku__name")
        .annotate(units=Sum("quantity"), n=Count("order_id", distinct=True), total=Sum("line_total"))
        .order_by("-total", "sku__code")[:limit]
    )
    figures = []
    for row in rows:
        figures.append(
            Figure(row["sku__code"], row["sku__name"], row["n"], quantize_money(row["total"] or ZERO),
                   {"sku": row["sku__code"]}, units=row["units"])
        )  # fmt: skip
    return figures


def routed_flows(period: Period) -> list[Figure]:
    """Orders routed online → store and store → online: one query."""
    aggregates = {}
    for key, flow in FLOWS.items():
        aggregates[f"{key}_n"] = Count("id", filter=flow)
        aggregates[f"{key}_total"] = Sum("total", filter=flow)
    totals = sales_orders(period).aggregate(**aggregates)
    labels = {"online_to_store": _("Online → store"), "store_to_online": _("Store → online")}
    return [
        Figure(key, str(labels[key]), totals[f"{key}_n"], quantize_money(totals[f"{key}_total"] or ZERO),
               {"flow": key})
        for key in FLOWS
    ]  # fmt: skip


def _shares(rows) -> None:
    rows = list(rows)
    whole = sum((row.sales for row in rows), ZERO)
    for row in rows:
        row.share = percent(row.sales, whole)


# --- stores' acceptance of routed orders ---------------------------------------------------------


@dataclass
class Acceptance:
    code: str = ""
    name: str = ""
    offers: int = 0
    accepted: int = 0
    rejected: int = 0
    expired: int = 0
    accept_time: timedelta = timedelta(0)  # summed over the accepted offers

    @property
    def answered(self) -> int:
        return self.accepted + self.rejected + self.expired

    @property
    def rate(self) -> Decimal | None:
        return percent(self.accepted, self.answered)

    @property
    def mean_time_to_accept(self) -> timedelta | None:
        if not self.accepted:
            return None
        return timedelta(seconds=round(self.accept_time.total_seconds() / self.accepted))


def offers_in(period: Period) -> QuerySet[StoreAssignment]:
    return StoreAssignment.objects.filter(offered_at__gte=period.since, offered_at__lt=period.until)


def acceptance(period: Period, *, limit: int = TOP_STORES) -> tuple[Acceptance, list[Acceptance]]:
    """All stores together and the stores with the most offers: one query grouped by store."""
    waited = ExpressionWrapper(F("responded_at") - F("offered_at"), output_field=DurationField())
    rows = (
        offers_in(period)
        .values("store__code", "store__name")
        .annotate(
            offers=Count("id"),
            accepted=Count("id", filter=Q(status=AssignmentStatus.ACCEPTED)),
            rejected=Count("id", filter=Q(status=AssignmentStatus.REJECTED)),
            expired=Count("id", filter=Q(status=AssignmentStatus.EXPIRED)),
            waited=Sum(waited, filter=Q(status=AssignmentStatus.ACCEPTED)),
        )
        .order_by("-offers", "store__code")
    )
    total, stores = Acceptance(), []
    for row in rows:
        store = Acceptance(
            row["store__code"], row["store__name"], row["offers"], row["accepted"], row["rejected"],
            row["expired"], row["waited"] or timedelta(0),
        )  # fmt: skip
        for name in ("offers", "accepted", "rejected", "expired", "accept_time"):
            setattr(total, name, getattr(total, name) + getattr(store, name))
        stores.append(store)
    return total, stores[:limit]


def filter_offers(offers: QuerySet[StoreAssignment], params: dict) -> QuerySet[StoreAssignment]:
    """Narrow the period's offers (parsed by dashboard.forms.OfferFilterForm): store (code),
    status (one of AssignmentStatus or "answered")."""
    if store := params.get("store"):
        offers = offers.filter(store__code=store)
    status = params.get("status")
    if status == "answered":
        offers = offers.filter(status__in=ANSWERED)
    elif status in AssignmentStatus.values:
        offers = offers.filter(status=status)
    return offers
