"""Report queries for the guide pages: fans, attributed orders, sales and commission per guide or
per store for a period, and the scan → fan → order conversion.

Each figure is ONE grouped query over the period's rows (bindings, orders, ledger entries), never
a query per guide; the boards merge the groups in Python, rank them, and load the top rows'
guides or stores in one more query. What each figure counts:

- fans: bindings started in the period (a re-scan that extends a binding is not a new fan);
- orders / sales: attributed orders PAID in the period, and their totals (cancelled ones left out);
- commission: accruals booked in the period net of clawbacks booked in it (releases move money
  from held to payable and do not change it; partner rewards and adjustments are not a guide's);
- conversion: guide scans in the period → fans bound in it → those fans with a paid order
  attributed through their binding (attribution only happens inside the window).

A store's figures are those of its guides: the store recorded on the binding or ledger row when
it was made (the guide's store at the time), else the guide's store now.
"""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.db.models.functions import Coalesce

from config.money import quantize_money
from guides.choices import EntryKind
from guides.models import Binding, CommissionEntry, Guide, ScanEvent
from guides.periods import Period
from orders.choices import OrderStatus
from orders.models import Order
from stores.models import Store

BOARD_SIZE = 50
ZERO = Decimal("0.00")
# The ledger kinds that make up a guide's commission earned: accrued, less clawed back.
NET_KINDS = (EntryKind.ACCRUAL, EntryKind.CLAWBACK)
SORTS = ("sales", "orders", "fans", "commission")


@dataclass
class Figures:
    fans: int = 0
    orders: int = 0
    sales: Decimal = ZERO
    commission: Decimal = ZERO


@dataclass
class BoardRow:
    rank: int
    subject: Guide | Store
    figures: Figures


def _percent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


@dataclass
class Conversion:
    scans: int = 0
    fans: int = 0
    ordered: int = 0

    @property
    def scan_to_fan(self) -> Decimal | None:
        return _percent(self.fans, self.scans)

    @property
    def fan_to_order(self) -> Decimal | None:
        return _percent(self.ordered, self.fans)


@dataclass
class ConversionRow:
    guide: Guide
    conversion: Conversion


# --- the period's rows ---------------------------------------------------------------------------


def _bindings(period: Period):
    return Binding.objects.filter(started_at__gte=period.since, started_at__lt=period.until)


def _orders(period: Period):
    return Order.objects.filter(
        guide__isnull=False, paid_at__gte=period.since, paid_at__lt=period.until
    ).exclude(status=OrderStatus.CANCELLED)


def _entries(period: Period):
    return CommissionEntry.objects.filter(
        guide__isnull=False, kind__in=NET_KINDS, created_at__gte=period.since, created_at__lt=period.until
    )


def _grouped(rows, key, only):
    """Rows annotated with their group `key` (restricted to `only` when given), ready to group."""
    rows = rows.annotate(key=key)
    if only is not None:
        rows = rows.filter(key__in=list(only))
    return rows.values("key").order_by()


def _figures(period: Period, *, fans_key, orders_key, entries_key, only) -> dict[int, Figures]:
    figures: dict[int, Figures] = defaultdict(Figures)
    for row in _grouped(_bindings(period), fans_key, only).annotate(n=Count("id")):
        if row["key"] is not None:
            figures[row["key"]].fans = row["n"]
    for row in _grouped(_orders(period), orders_key, only).annotate(n=Count("id"), total=Sum("total")):
        if row["key"] is not None:
            figures[row["key"]].orders = row["n"]
            figures[row["key"]].sales = quantize_money(row["total"] or ZERO)
    net = Sum(F("held_change") + F("payable_change"))
    for row in _grouped(_entries(period), entries_key, only).annotate(total=net):
        if row["key"] is not None:
            figures[row["key"]].commission = quantize_money(row["total"] or ZERO)
    return dict(figures)


def guide_figures(*, period: Period, guide_ids=None) -> dict[int, Figures]:
    """Figures per guide id (3 queries); only guides with something in the period are keys."""
    return _figures(
        period, fans_key=F("guide_id"), orders_key=F("guide_id"), entries_key=F("guide_id"), only=guide_ids
    )


def store_figures(*, period: Period, store_ids=None) -> dict[int, Figures]:
    """Figures per store id (3 queries): the store of the binding / entry, else the guide's."""
    return _figures(
        period,
        fans_key=Coalesce("store_id", "guide__store_id"),
        orders_key=Coalesce("binding__store_id", "guide__store_id"),
        entries_key=Coalesce("store_id", "guide__store_id"),
        only=store_ids,
    )


def _ranked(figures: dict[int, Figures], sort: str, limit: int) -> list[tuple[int, Figures]]:
    """Best first by `sort`, then by sales, then by id (a stable order for ties)."""
    sort = sort if sort in SORTS else "sales"
    rows = sorted(figures.items(), key=lambda item: (-getattr(item[1], sort), -item[1].sales, item[0]))
    return rows[:limit]


def guide_board(*, period: Period, sort: str = "sales", limit: int = BOARD_SIZE) -> list[BoardRow]:
    """The top guides of the period (4 queries)."""
    ranked = _ranked(guide_figures(period=period), sort, limit)
    guides = Guide.objects.select_related("store", "partner", "level").in_bulk([pk for pk, _f in ranked])
    return [BoardRow(rank, guides[pk], figures) for rank, (pk, figures) in enumerate(ranked, start=1)]


def store_board(*, period: Period, sort: str = "sales", limit: int = BOARD_SIZE) -> list[BoardRow]:
    """The top stores of the period by their guides' figures (4 queries)."""
    ranked = _ranked(store_figures(period=period), sort, limit)
    stores = Store.objects.select_related("partner").in_bulk([pk for pk, _f in ranked])
    return [BoardRow(rank, stores[pk], figures) for rank, (pk, figures) in enumerate(ranked, start=1)]


# --- conversion ----------------------------------------------------------------------------------


def _ordered_through(binding_ref) -> Exists:
    return Exists(Order.objects.filter(binding=binding_ref, paid_at__isnull=False))


def conversion(*, period: Period) -> Conversion:
    """Scans → fans → fans who ordered, over every guide (2 queries)."""
    scans = ScanEvent.objects.filter(
        guide__isnull=False, scanned_at__gte=period.since, scanned_at__lt=period.until
    ).count()
    fans = _bindings(period).aggregate(
        fans=Count("id"), ordered=Count("id", filter=Q(_ordered_through(OuterRef("pk"))))
    )
    return Conversion(scans=scans, fans=fans["fans"], ordered=fans["ordered"])


def conversion_by_guide(*, period: Period, limit: int = BOARD_SIZE) -> list[ConversionRow]:
    """Per guide, most fans first (then most scans): 3 queries."""
    rows: dict[int, Conversion] = defaultdict(Conversion)
    scans = (
        ScanEvent.objects.filter(
            guide__isnull=False, scanned_at__gte=period.since, scanned_at__lt=period.until
        )
        .values("guide_id")
        .order_by()
        .annotate(n=Count("id"))
    )
    for row in scans:
        rows[row["guide_id"]].scans = row["n"]
    fans = (
        _bindings(period)
        .values("guide_id")
        .order_by()
        .annotate(n=Count("id"), ordered=Count("id", filter=Q(_ordered_through(OuterRef("pk")))))
    )
    for row in fans:
        rows[row["guide_id"]].fans = row["n"]
        rows[row["guide_id"]].ordered = row["ordered"]
    ranked = sorted(rows.items(), key=lambda item: (-item[1].fans, -item[1].scans, item[0]))[:limit]
    guides = Guide.objects.select_related("store").in_bulk([pk for pk, _c in ranked])
    return [ConversionRow(guides[pk], conv) for pk, conv in ranked]
