"""HQ dashboard (/hq/dashboard/): a period's sales, routing, stores' acceptance, guides, returns and
price consistency on one page, with server-side SVG charts; every figure links to the list of the
rows behind it (the dashboard's own order and offer lists, or the guide / after-sales / catalog
pages), and every list downloads as CSV (?format=csv)."""

from urllib.parse import urlencode

from django.db.models import Count, Sum
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from aftersales import reports
from catalog.selectors import price_consistency_report
from config.charts import bar_chart, line_chart
from config.csv import csv_stream
from config.money import quantize_money
from config.views import hq_required
from dashboard import selectors
from dashboard.forms import PRESETS, DashboardPeriodForm, OfferFilterForm, OrderFilterForm
from dashboard.regions import OTHER, REGIONS, region_label
from dashboard.tables import OfferTable, SalesOrderTable
from guides.leaderboards import guide_board
from orders.choices import AssignmentStatus

TOP_GUIDES = 10
TOP_RETURNS = 10
TOP_PRICE_GAPS = 5


def _period(request):
    form = DashboardPeriodForm(request.GET or None)
    return form, form.period()


def _url(name: str, query: dict, *args) -> str:
    return f"{reverse(name, args=args)}?{urlencode(query)}"


def _linked(figures, period_query: dict):
    for figure in figures:
        figure.href = _url("dashboard:orders", {**period_query, **figure.query})
    return figures


@require_GET
@hq_required
def home(request):
    form, period = _period(request)
    q = period.as_query()
    by_channel = _linked(selectors.sales_by_channel(period), q)
    tiers, regions = selectors.sales_by_place(period)
    sections = {
        "channels": by_channel,
        "online_offline": _linked(selectors.online_offline(by_channel), q),
        "tiers": _linked(tiers, q),
        "regions": _linked(regions, q),
        "daily": _linked(selectors.daily_sales(period), q),
        "skus": _linked(selectors.top_skus(period), q),
        "flows": _linked(selectors.routed_flows(period), q),
    }
    whole = sum((f.sales for f in by_channel), selectors.ZERO)
    for flow in sections["flows"]:
        flow.share = selectors.percent(flow.sales, whole)  # of all sales in the period
    total, stores = selectors.acceptance(period)
    for row in [total, *stores]:
        store = {"store": row.code} if row.code else {}
        row.href = _url("dashboard:offers", {**q, **store, "status": "answered"})
    if request.GET.get("format") == "csv":
        return _figures_csv(period, sections, total, stores)
    guides = guide_board(period=period, limit=TOP_GUIDES)
    for row in guides:
        row.orders_href = _url("dashboard:orders", {**q, "guide": row.subject.code})
    returns_q = {"date_from": q["start"], "date_to": q["end"]}
    gaps = price_consistency_report(at=timezone.now())
    context = {
        "form": form,
        "presets": PRESETS,
        "period": period,
        "period_query": urlencode(q),
        **sections,
        "total_sales": whole,
        "total_orders": sum(f.orders for f in by_channel),
        "acceptance": total,
        "acceptance_stores": stores,
        "guides": guides,
        "returns": reports.return_rates(
            by="sku", limit=TOP_RETURNS, date_from=period.first, date_to=period.last
        ),
        "returns_total": reports.return_totals(date_from=period.first, date_to=period.last),
        "returns_href": _url("aftersales_hq:returns", returns_q),
        "returns_csv_href": _url("aftersales_hq:returns_csv", returns_q, "sku"),
        "gap_count": len(gaps),
        "gaps": gaps[:TOP_PRICE_GAPS],
        "charts": _charts(sections),
    }
    return render(request, "dashboard/home.html", context)


def _charts(sections: dict) -> dict:
    """The page's SVG charts; a period without sales shows each chart's empty state, not bars of 0."""

    def points(name):
        figures = sections[name]
        return [(f.label, f.sales, f.href) for f in figures] if any(f.sales for f in figures) else []

    return {
        "daily": line_chart(points("daily"), label=_("Daily sales"), height=220),
        "channels": bar_chart(points("channels"), label=_("Sales by channel")),
        "tiers": bar_chart(points("tiers"), label=_("Sales by city tier")),
        "regions": bar_chart(points("regions"), label=_("Sales by region")),
    }


def _figures_csv(period, sections: dict, total, stores):
    def rows():
        yield ["section", "key", "label", "orders", "sales", "share_percent", "units"]
        for name, figures in sections.items():
            for f in figures:
                yield [
                    name,
                    f.key,
                    f.label,
                    f.orders,
                    f.sales,
                    f.share if f.share is not None else "",
                    f.units,
                ]
        yield []
        yield ["acceptance", "store", "name", "offers", "accepted", "rejected", "expired", "rate_percent",
               "mean_seconds_to_accept"]  # fmt: skip
        for row in [total, *stores]:
            mean = row.mean_time_to_accept
            rate = row.rate if row.rate is not None else ""
            seconds = int(mean.total_seconds()) if mean is not None else ""
            code = row.code or "all"
            yield [
                "acceptance",
                code,
                row.name,
                row.offers,
                row.accepted,
                row.rejected,
                row.expired,
                rate,
                seconds,
            ]

    return csv_stream(rows(), f"dashboard-{period.first:%Y%m%d}-{period.last:%Y%m%d}.csv")


# --- drill-down lists ----------------------------------------------------------------------------

ORDER_CSV_COLUMNS = [
    "number", "paid_at", "channel", "channel_kind", "origin", "delivery", "origin_store", "fulfilled_by",
    "city_tier", "province", "guide", "status", "total",
]  # fmt: skip


def _filter_labels(params: dict) -> list[str]:
    """The drill-down filters in words, for the list's heading."""
    names = {
        "channel": _("Channel"), "online": _("Online / offline"), "tier": _("City tier"),
        "region": _("Region"), "sku": _("SKU"), "flow": _("Flow"), "guide": _("Guide"), "day": _("Day"),
        "store": _("Store"), "status": _("Status"),
    }  # fmt: skip
    flows = {"online_to_store": _("Online → store"), "store_to_online": _("Store → online")}
    labels = []
    for key, name in names.items():
        value = params.get(key)
        if not value:
            continue
        if key == "region" and (value in REGIONS or value == OTHER):
            value = region_label(value)
        elif key == "online":
            value = _("online") if value == "1" else _("offline")
        elif key == "tier" and value == selectors.NO_TIER:
            value = _("no store")
        elif key == "flow":
            value = flows.get(value, value)
        labels.append(f"{name}: {value}")
    return labels


@require_GET
@hq_required
def orders(request):
    form, period = _period(request)
    filter_form = OrderFilterForm(
        request.GET,
        tiers=[*map(str, selectors.TIERS), selectors.NO_TIER],
        regions=[*REGIONS, OTHER],
        flows=list(selectors.FLOWS),
    )
    valid = filter_form.is_valid()  # before any query or stream: a bad value is a 400 on the page
    filters = filter_form.filters() if valid else {}
    rows = selectors.filter_orders(selectors.sales_orders(period), filters).select_related(
        "channel", "origin_store", "fulfilling_location", "guide"
    )
    rows = rows.order_by("-paid_at", "-id") if valid else rows.none()
    if valid and filters.get("format") == "csv":
        return _orders_csv(period, rows)
    summary = rows.aggregate(n=Count("id"), total=Sum("total"))
    table = SalesOrderTable(rows, request=request)
    return render(
        request,
        "dashboard/orders.html",
        {
            "form": form,
            "filter_form": filter_form,
            "period": period,
            "filters": _filter_labels(filters),
            "count": summary["n"],
            "total": quantize_money(summary["total"] or selectors.ZERO),
            "table": table,
            "page_obj": table.page_obj,
            "back": _url("dashboard:home", period.as_query()),
        },
        status=200 if valid else 400,
    )


def _orders_csv(period, rows):
    def lines():
        yield ORDER_CSV_COLUMNS
        for o in rows.iterator(chunk_size=2000):
            store = o.origin_store or o.fulfilling_location
            yield [
                o.number, timezone.localtime(o.paid_at).isoformat(), o.channel.code, o.channel.kind, o.origin,
                o.delivery_method, o.origin_store.code if o.origin_store else "",
                o.fulfilling_location.code if o.fulfilling_location else "",
                store.city_tier if store else "", store.province if store else "",
                o.guide.code if o.guide else "", o.status, o.total,
            ]  # fmt: skip

    return csv_stream(lines(), f"dashboard-orders-{period.first:%Y%m%d}-{period.last:%Y%m%d}.csv")


@require_GET
@hq_required
def offers(request):
    form, period = _period(request)
    filter_form = OfferFilterForm(request.GET, statuses=[*AssignmentStatus.values, "answered"])
    valid = filter_form.is_valid()  # before any query or stream: a bad value is a 400 on the page
    filters = filter_form.filters() if valid else {}
    rows = selectors.filter_offers(selectors.offers_in(period), filters).select_related(
        "order__channel", "store"
    )
    rows = rows.order_by("-offered_at", "-id") if valid else rows.none()
    if valid and filters.get("format") == "csv":
        return _offers_csv(period, rows)
    table = OfferTable(rows, request=request)
    return render(
        request,
        "dashboard/offers.html",
        {
            "form": form,
            "filter_form": filter_form,
            "period": period,
            "filters": _filter_labels(filters),
            "statuses": AssignmentStatus.choices,
            "count": rows.count(),
            "table": table,
            "page_obj": table.page_obj,
            "back": _url("dashboard:home", period.as_query()),
        },
        status=200 if valid else 400,
    )


def _offers_csv(period, rows):
    def lines():
        yield [
            "order",
            "channel",
            "store",
            "status",
            "offered_at",
            "responded_at",
            "seconds_to_answer",
            "reason",
        ]
        for a in rows.iterator(chunk_size=2000):
            waited = int((a.responded_at - a.offered_at).total_seconds()) if a.responded_at else ""
            yield [
                a.order.number, a.order.channel.code, a.store.code, a.status,
                timezone.localtime(a.offered_at).isoformat(),
                timezone.localtime(a.responded_at).isoformat() if a.responded_at else "", waited, a.reason,
            ]  # fmt: skip

    return csv_stream(lines(), f"dashboard-offers-{period.first:%Y%m%d}-{period.last:%Y%m%d}.csv")
