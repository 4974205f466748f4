"""Staff portal pages of the store network: my stores, a store's stock and its ledger, stock lookup,
receipts and adjustments.

Every page starts from stores.policies (stores_visible_to / stock_visible_to), so another store's
page is a 404: a clerk does not even learn that the store exists. The stock services take
`actor=request.user` and refuse anyone who does not manage the store.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from config.errors import DomainError
from config.views import add_domain_error, staff_required
from stores.choices import MovementKind
from stores.filtersets import StockFilterSet, StockMovementFilterSet, StoreFilterSet
from stores.forms import LookupStartForm, StockChangeForm, StockLookupForm
from stores.models import Store
from stores.policies import stock_visible_to, store_actionable_by, stores_visible_to
from stores.selectors import sku_find, stock_nearby
from stores.services import stock_adjust, stock_receive
from stores.tables import MovementTable, StockTable, StoreTable

# Up to this many stores the lookup offers a list to pick from; past it (HQ), a store code field.
LOOKUP_STORE_CHOICES = 200
LOOKUP_SESSION_KEY = "stock_lookup_store"


def _store_or_404(request, code: str) -> Store:
    return get_object_or_404(stores_visible_to(request.user).select_related("partner"), code=code)


def _label_empty_choice(form, labels: dict[str, str]) -> None:
    """Say "any kind" instead of django-filter's dashes in the filter selects."""
    for name, label in labels.items():
        field = form.fields.get(name)
        if field is not None and field.choices and field.choices[0][0] == "":
            field.choices = [("", label), *list(field.choices)[1:]]


@require_GET
@staff_required
def store_list(request):
    stores = stores_visible_to(request.user).select_related("partner").order_by("code")
    filterset = StoreFilterSet(request.GET, queryset=stores)
    _label_empty_choice(filterset.form, {"kind": _("Any kind"), "status": _("Any status")})
    table = StoreTable(filterset.qs, request=request)
    if table.export_requested:
        return table.export_response()
    return render(
        request,
        "stores/store_list.html",
        {"filterset": filterset, "table": table, "page_obj": table.page_obj},
    )


@require_GET
@staff_required
def store_detail(request, code):
    store = _store_or_404(request, code)
    stock = stock_visible_to(request.user).filter(location=store).select_related("sku").order_by("sku__code")
    filterset = StockFilterSet(request.GET, queryset=stock)
    table = StockTable(filterset.qs, store=store, export_name=f"stock-{store.code}", request=request)
    if table.export_requested:
        return table.export_response()
    return render(
        request,
        "stores/store_detail.html",
        {
            "store": store,
            "filterset": filterset,
            "table": table,
            "page_obj": table.page_obj,
            "may_change_stock": store_actionable_by(request.user, store, "manage"),
        },
    )


@require_GET
@staff_required
def stock_ledger(request, code, sku_code):
    store = _store_or_404(request, code)
    stock = get_object_or_404(
        stock_visible_to(request.user).select_related("sku__product"), location=store, sku__code=sku_code
    )
    filterset = StockMovementFilterSet(
        request.GET, queryset=stock.movements.select_related("created_by").order_by("-created_at", "-id")
    )
    _label_empty_choice(filterset.form, {"kind": _("Any movement")})
    table = MovementTable(filterset.qs, request=request)
    return render(
        request,
        "stores/stock_ledger.html",
        {
            "store": store,
            "stock": stock,
            "filterset": filterset,
            "table": table,
            "page_obj": table.page_obj,
            "may_change_stock": store_actionable_by(request.user, store, "manage"),
        },
    )


@require_GET
@staff_required
def stock_lookup(request, code):
    """Here and in the open stores within this store's service radius: who has the SKU, how far."""
    store = _store_or_404(request, code)
    if request.session.get(LOOKUP_SESSION_KEY) != store.code:  # remembered for the nav's lookup
        request.session[LOOKUP_SESSION_KEY] = store.code
    form = StockLookupForm(request.GET or None)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    sku = sku_find(query) if query else None
    here, nearby = None, []
    if sku is not None:
        for row in stock_nearby(sku=sku, store=store):
            if row.location_id == store.pk:
                here = row
            else:
                nearby.append(row)
    return render(
        request,
        "stores/stock_lookup.html",
        {
            "store": store,
            "form": form,
            "query": query,
            "sku": sku,
            "here": here,
            "nearby": nearby,
            "unknown": bool(query) and sku is None,
        },
    )


@require_GET
@staff_required
def lookup_start(request):
    """The nav's "Stock lookup": straight to the store the user looks from, or let them pick one."""
    visible = stores_visible_to(request.user)
    query = request.GET.get("q", "")
    last = request.session.get(LOOKUP_SESSION_KEY)
    if "store" not in request.GET and "choose" not in request.GET:
        target = last if last and visible.filter(code=last).exists() else None
        if target is None:
            only = list(visible.order_by("code").values_list("code", flat=True)[:2])
            target = only[0] if len(only) == 1 else None
        if target is not None:
            return _redirect_to_lookup(target, query)

    choices = list(visible.order_by("code").values_list("code", "name")[: LOOKUP_STORE_CHOICES + 1])
    if len(choices) > LOOKUP_STORE_CHOICES:
        store_choices = None  # too many to list: type the store code
    else:
        store_choices = [(c, f"{c} · {name}") for c, name in choices]
    form = LookupStartForm(
        request.GET if "store" in request.GET else None,
        store_choices=store_choices,
        initial={"store": last, "q": query},
    )
    if form.is_valid():
        store_code = form.cleaned_data["store"].strip()
        if store_choices is not None or visible.filter(code=store_code).exists():
            return _redirect_to_lookup(store_code, form.cleaned_data["q"])
        form.add_error("store", _("None of your stores has this code."))
    return render(request, "stores/lookup_start.html", {"form": form, "has_stores": bool(choices)})


def _redirect_to_lookup(code: str, query: str):
    url = reverse("stores:lookup", kwargs={"code": code})
    return redirect(f"{url}?{urlencode({'q': query})}" if query else url)


@require_http_methods(["GET", "POST"])
@staff_required
def stock_change(request, code):
    """Record a receipt or a count adjustment through the stock ledger services."""
    store = _store_or_404(request, code)
    if not store_actionable_by(request.user, store, "manage"):  # the services refuse the same
        raise PermissionDenied(_("Only the store's managers and HQ can receive or adjust stock."))
    form = StockChangeForm(request.POST or None, initial={"sku": request.GET.get("sku", "")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["kind"] == MovementKind.RECEIPT:
                movement = stock_receive(
                    location=store,
                    sku=data["sku"],
                    quantity=data["quantity"],
                    reason=data["reason"],
                    reference=data["reference"],
                    actor=request.user,
                )
            else:
                movement = stock_adjust(
                    location=store,
                    sku=data["sku"],
                    delta=data["quantity"],
                    reason=data["reason"],
                    actor=request.user,
                )
        except DomainError as error:
            add_domain_error(form, error, field_map={"delta": "quantity"})
        else:
            messages.success(
                request,
                _("%(kind)s recorded: %(delta)+d × %(sku)s at %(store)s.")
                % {
                    "kind": movement.get_kind_display(),
                    "delta": movement.on_hand_delta,
                    "sku": data["sku"].code,
                    "store": store.code,
                },
            )
            return redirect("stores:ledger", code=store.code, sku_code=data["sku"].code)
    return render(request, "stores/stock_change.html", {"store": store, "form": form})
