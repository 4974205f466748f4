"""HQ's after-sales figures, each one GROUP BY query over the tickets or order lines asked for.

- SLA ageing: tickets still in the workshop (opened, received, inspected, approved) by whole
  days since opening (24-hour days): 0-2, 3-7 and 8 or more.
- Refused reasons: how often each reason was given.
- Return rate: of the units delivered in a period (Shanghai days, both ends included), how many
  came back (OrderLine.returned_quantity, kept by the return tickets), per SKU and per store that
  delivered them (the order's fulfilling location).
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from aftersales.states import IN_PROGRESS
from config.dates import shanghai_midnight
from orders.models import OrderLine

AGEING_BUCKETS = (("0-2", 0, 3), ("3-7", 3, 8), ("8+", 8, None))  # label, from day, to day (excl.)
REASONS_SHOWN = 20


def ageing(tickets: QuerySet, *, now: datetime | None = None) -> dict[str, int]:
    """Open tickets per ageing bucket, in one query."""
    now = now or timezone.now()
    counts = {}
    for label, low, high in AGEING_BUCKETS:
        window = Q(opened_at__lte=now - timedelta(days=low))
        if high is not None:
            window &= Q(opened_at__gt=now - timedelta(days=high))
        counts[label] = Count("pk", filter=window)
    return tickets.filter(status__in=IN_PROGRESS).aggregate(**counts)


def refused_reasons(tickets: QuerySet, *, limit: int = REASONS_SHOWN) -> list[dict]:
    """[{"reason", "count"}], most frequent first, in one query."""
    rows = (
        tickets.exclude(refused_reason="")
        .values("refused_reason")
        .annotate(count=Count("pk"))
        .order_by("-count", "refused_reason")[:limit]
    )
    return [{"reason": row["refused_reason"], "count": row["count"]} for row in rows]


@dataclass(frozen=True)
class RateRow:
    key: str  # SKU code or store code
    name: str
    delivered: int
    returned: int

    @property
    def rate(self) -> Decimal:
        """Returned units per 100 delivered, to one decimal (half up)."""
        if not self.delivered:
            return Decimal("0.0")
        return (Decimal(self.returned) * 100 / Decimal(self.delivered)).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP
        )


RATE_GROUPS = {
    "sku": ("sku__code", "sku__name"),
    "store": ("order__fulfilling_location__code", "order__fulfilling_location__name"),
}


def delivered_lines(date_from: date, date_to: date, *, channel: str = "") -> QuerySet[OrderLine]:
    lines = OrderLine.objects.filter(
        order__delivered_at__gte=shanghai_midnight(date_from),
        order__delivered_at__lt=shanghai_midnight(date_to + timedelta(days=1)),
    )
    if channel:
        lines = lines.filter(order__channel__code=channel)
    return lines


def return_rates(
    *, by: str, date_from: date, date_to: date, channel: str = "", limit: int | None = None
) -> list[RateRow]:
    """Delivered and returned units per SKU or per delivering store, most returned first, in one
    query (`limit` rows, or all of them for the CSV)."""
    key, name = RATE_GROUPS[by]
    rows = (
        delivered_lines(date_from, date_to, channel=channel)
        .values(key, name)
        .annotate(delivered=Sum("quantity"), returned=Sum("returned_quantity"))
        .order_by("-returned", "-delivered", key)
    )
    if limit is not None:
        rows = rows[:limit]
    return [RateRow(row[key] or "—", row[name] or "", row["delivered"], row["returned"]) for row in rows]


def return_totals(*, date_from: date, date_to: date, channel: str = "") -> RateRow:
    totals = delivered_lines(date_from, date_to, channel=channel).aggregate(
        delivered=Sum("quantity"), returned=Sum("returned_quantity")
    )
    return RateRow("", "", totals["delivered"] or 0, totals["returned"] or 0)
