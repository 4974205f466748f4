"""HQ's after-sales pages (/hq/service/): the ticket queue with filters, SLA ageing and the refused
reasons of the tickets filtered, the return rates per SKU and per store, and their CSV exports.
Every figure is one GROUP BY query (aftersales.reports); the pages' query counts are pinned."""

from django.forms import CheckboxSelectMultiple, DateInput, Select
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from aftersales import reports
from aftersales.choices import TicketStatus
from aftersales.filtersets import TicketFilterSet
from aftersales.forms import PeriodForm
from aftersales.selectors import tickets_visible_to
from aftersales.tables import TicketTable
from aftersales.templatetags.aftersales_tags import days_open
from catalog.models import Channel
from config.csv import csv_stream
from config.views import hq_required

RATES_SHOWN = 50


def _filtered(request) -> TicketFilterSet:
    tickets = tickets_visible_to(request.user).select_related(
        "order", "line__sku", "unit", "channel", "intake_store", "handling_store"
    )
    filterset = TicketFilterSet(request.GET, queryset=tickets.order_by("-opened_at", "-id"))
    form = filterset.form
    form.fields["status"].widget = CheckboxSelectMultiple(choices=TicketStatus.choices)
    channels = [("", _("Any"))] + [(c.code, c.name) for c in Channel.objects.order_by("name")]
    form.fields["channel"].widget = Select(choices=channels)
    form.fields["opened_from"].widget = DateInput(attrs={"type": "date"})
    form.fields["opened_to"].widget = DateInput(attrs={"type": "date"})
    return filterset


@require_GET
@hq_required
def queue(request):
    filterset = _filtered(request)
    valid = filterset.is_valid()  # every parameter parsed before any query
    tickets = filterset.qs if valid else filterset.queryset.none()
    now = timezone.now()
    table = TicketTable(tickets, now=now, request=request)
    return render(
        request,
        "aftersales/hq/queue.html",
        {
            "filterset": filterset,
            "table": table,
            "page_obj": table.page_obj,
            "ageing": reports.ageing(tickets),
            "buckets": [label for label, _low, _high in reports.AGEING_BUCKETS],
            "reasons": reports.refused_reasons(tickets),
            "now": now,
        },
        status=200 if valid else 400,
    )


@require_GET
@hq_required
def queue_csv(request):
    filterset = _filtered(request)
    if not filterset.is_valid():  # the page with the filters' errors, not a CSV of nothing
        return queue(request)
    tickets = filterset.qs
    now = timezone.now()
    header = [
        "number",
        "kind",
        "status",
        "fault",
        "quantity",
        "sku",
        "serial",
        "order",
        "channel",
        "opened_via",
        "intake_store",
        "handling_store",
        "opened_at",
        "closed_at",
        "days_open",
        "refused_reason",
    ]

    def rows():
        yield header
        for t in tickets.iterator(chunk_size=2000):
            yield [
                t.number,
                t.kind,
                t.status,
                int(t.fault),
                t.quantity,
                t.line.sku.code,
                t.unit.serial if t.unit else "",
                t.order.number,
                t.channel.code,
                t.opened_via,
                t.intake_store.code if t.intake_store else "",
                t.handling_store.code if t.handling_store else "",
                timezone.localtime(t.opened_at).isoformat(),
                timezone.localtime(t.closed_at).isoformat() if t.closed_at else "",
                days_open(t, now),
                t.refused_reason,
            ]

    return csv_stream(rows(), f"tickets-{timezone.localdate():%Y%m%d}.csv")


def _period(request) -> tuple[PeriodForm, dict]:
    form = PeriodForm(request.GET)  # always bound: no dates is the default period
    form.is_valid()  # every parameter parsed before any query: a bad one is the form's error
    data = form.cleaned_data
    channel = data.get("channel") or ""
    return form, {"date_from": data.get("date_from"), "date_to": data.get("date_to"), "channel": channel}


@require_GET
@hq_required
def returns(request):
    form, period = _period(request)
    context = {"form": form, "channels": list(Channel.objects.order_by("name")), **period}
    if not form.errors:
        context.update(
            by_sku=reports.return_rates(by="sku", limit=RATES_SHOWN, **period),
            by_store=reports.return_rates(by="store", limit=RATES_SHOWN, **period),
            totals=reports.return_totals(**period),
            shown=RATES_SHOWN,
        )
    return render(request, "aftersales/hq/returns.html", context, status=400 if form.errors else 200)


@require_GET
@hq_required
def returns_csv(request, by):
    if by not in reports.RATE_GROUPS:
        raise Http404(_("Return rates are by SKU or by store."))
    form, period = _period(request)
    if form.errors:  # the page with the errors, not a CSV of nothing
        return returns(request)
    rows_ = reports.return_rates(by=by, **period)

    def rows():
        yield [by, "name", "delivered_units", "returned_units", "return_rate_percent"]
        for row in rows_:
            yield [row.key, row.name, row.delivered, row.returned, row.rate]

    name = f"return-rates-by-{by}-{period['date_from']:%Y%m%d}-{period['date_to']:%Y%m%d}.csv"
    return csv_stream(rows(), name)
