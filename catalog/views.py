"""HQ catalog pages: set a price, a SKU's price versions and audit trail, the price consistency
report (page and CSV), and one product, one price per category. HQ only: anyone else gets 403."""

import csv

from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalog.filtersets import SKUFilterSet
from catalog.forms import AtForm, PriceForm, UnifiedForm
from catalog.models import SKU, Category, Channel
from catalog.selectors import live_prices, price_consistency_report
from catalog.services import category_set_unified, price_set
from catalog.tables import ConsistencyTable, PriceChangeTable, PriceVersionTable, SKUTable
from config.csv import csv_attachment
from config.errors import DomainError
from config.views import add_domain_error, hq_required


def _scope(channel) -> str:
    return channel.name if channel is not None else _("all channels")


def _local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "…"


@require_http_methods(["GET", "POST"])
@hq_required
def price_new(request):
    form = PriceForm(request.POST or None, initial={"sku": request.GET.get("sku", "")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            price = price_set(
                sku=data["sku"],
                channel=data["channel"],
                amount=data["amount"],
                valid_from=data["valid_from"],
                valid_to=data["valid_to"],
                actor=request.user,
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(
                request,
                _("Price of %(sku)s set to %(amount)s for %(scope)s from %(start)s until %(end)s.")
                % {
                    "sku": price.sku.code,
                    "amount": price.amount,
                    "scope": _scope(price.channel),
                    "start": _local(price.valid_from),
                    "end": _local(price.valid_to),
                },
            )
            return redirect("catalog:sku_prices", code=price.sku.code)
    return render(request, "catalog/price_form.html", {"form": form})


@require_GET
@hq_required
def sku_list(request):
    skus = SKU.objects.select_related("product").order_by("code")
    filterset = SKUFilterSet(request.GET, queryset=skus)
    table = SKUTable(filterset.qs, request=request)
    if table.export_requested:
        return table.export_response()
    return render(
        request,
        "catalog/sku_list.html",
        {"filterset": filterset, "table": table, "page_obj": table.page_obj},
    )


@require_GET
@hq_required
def sku_prices(request, code):
    sku = get_object_or_404(SKU.objects.select_related("product__category"), code=code)
    now = timezone.now()
    live_ids = set(live_prices(now).filter(sku=sku).values_list("pk", flat=True))
    versions = sku.prices.select_related("channel", "created_by").order_by("channel__code", "-valid_from")
    changes = sku.price_changes.select_related("channel", "changed_by").order_by("-changed_at", "-id")
    versions_table = PriceVersionTable(versions, live_ids=live_ids, request=request)
    changes_table = PriceChangeTable(changes, page_field="changes_page", request=request)
    return render(
        request,
        "catalog/sku_prices.html",
        {
            "sku": sku,
            "live_ids": live_ids,
            "table": versions_table,
            "page_obj": versions_table.page_obj,
            "changes_table": changes_table,
            "changes_page": changes_table.page_obj,
        },
    )


@require_GET
@hq_required
def consistency(request):
    now = timezone.now()
    form = AtForm(request.GET if "at" in request.GET else None, initial={"at": now})
    at = (form.cleaned_data["at"] if form.is_bound and form.is_valid() else None) or now
    channels = list(Channel.objects.filter(is_active=True).order_by("code"))
    rows = price_consistency_report(at=at)
    if request.GET.get("format") == "csv":
        return _consistency_csv(rows, channels, at)
    # Each row's prices in the column order of the channels (None: no price there).
    table = ConsistencyTable(
        [(row, [row.prices.get(c.code) for c in channels]) for row in rows],
        channels=channels,
        request=request,
    )
    return render(
        request,
        "catalog/consistency.html",
        {
            "form": form,
            "at": at,
            "channels": channels,
            "row_count": len(rows),
            "table": table,
            "page_obj": table.page_obj,
        },
    )


def _consistency_csv(rows, channels, at) -> HttpResponse:
    stamp = timezone.localtime(at).strftime("%Y%m%d-%H%M")
    response = csv_attachment(f"price-consistency-{stamp}.csv")
    writer = csv.writer(response)
    writer.writerow(
        ["sku", "name", *[channel.code for channel in channels], "lowest", "highest", "difference"]
    )
    for row in rows:
        writer.writerow(
            [
                row.sku.code,
                row.sku.name,
                *[row.prices.get(channel.code, "") for channel in channels],
                row.lowest,
                row.highest,
                row.difference,
            ]
        )
    return response


def _category_tree() -> list[dict]:
    """Categories depth first, each with its SKU counts including sub-categories (one query)."""
    nodes = {
        row["pk"]: {**row, "children": []}
        for row in Category.objects.annotate(
            direct_skus=Count("products__skus"),
            direct_unified=Count("products__skus", filter=Q(products__skus__unified=True)),
        )
        .values("pk", "code", "name", "parent_id", "direct_skus", "direct_unified")
        .order_by("name")
    }
    roots = []
    for node in nodes.values():
        parent = nodes.get(node["parent_id"])
        (parent["children"] if parent else roots).append(node)

    ordered: list[dict] = []

    def visit(node, depth):
        node["depth"] = depth
        ordered.append(node)
        node["skus"], node["unified"] = node["direct_skus"], node["direct_unified"]
        for child in node["children"]:
            visit(child, depth + 1)
            node["skus"] += child["skus"]
            node["unified"] += child["unified"]

    for root in roots:
        visit(root, 0)
    return ordered


@require_GET
@hq_required
def categories(request):
    return render(request, "catalog/categories.html", {"categories": _category_tree()})


@require_POST
@hq_required
def category_unified(request, code):
    category = get_object_or_404(Category, code=code)
    form = UnifiedForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose whether to turn one product, one price on or off."))
        return redirect("catalog:categories")
    unified = form.cleaned_data["unified"]
    try:
        result = category_set_unified(category=category, unified=unified, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        if unified:
            text = _(
                "%(category)s: %(changed)s SKUs now sold at one product, one price "
                "(%(unchanged)s already were)."
            )
        else:
            text = _(
                "%(category)s: one product, one price turned off for %(changed)s SKUs "
                "(%(unchanged)s already were off)."
            )
        messages.success(
            request,
            text % {"category": category.name, "changed": result.changed, "unchanged": result.unchanged},
        )
    return redirect("catalog:categories")
