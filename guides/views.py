"""Guide and partner portal (phone-first): my QR code and this month's figures, fans, attributed
orders, the commission ledger and statements; partners also see their stores and their guides.

Scoping: every page starts from a guides.selectors `*_visible_to(user)` query, so a guide only
ever reaches their own rows and a partner only their partner's: another guide's fan, entry,
order or statement is a 404, never a 403 that would confirm it exists. A signed-in user who is
neither a guide nor a partner (a clerk, say) gets a page that explains how to become a guide.
"""

import csv
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncMonth
from django.forms import CheckboxSelectMultiple
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from config.charts import bar_chart
from config.csv import csv_attachment, csv_cell
from config.dates import SHANGHAI, shanghai_date, shanghai_today
from config.errors import DomainError
from config.money import quantize_money
from config.views import add_domain_error
from guides import settlement
from guides.choices import EntryKind, StatementParty
from guides.commission import commission_balances
from guides.filtersets import BindingFilterSet, CommissionEntryFilterSet, StatementFilterSet
from guides.leaderboards import NET_KINDS, ZERO, Figures, guide_figures, store_figures
from guides.models import Binding, Guide, Statement
from guides.periods import Period, month_bounds
from guides.policies import guides_managed_by
from guides.portal_forms import FanCouponForm, PeriodForm
from guides.selectors import (
    active_binding_q,
    attributed_orders_visible_to,
    bindings_mark,
    bindings_visible_to,
    entries_visible_to,
    guide_for_user,
    guides_visible_to,
    partners_of_user,
    scans_visible_to,
    statements_visible_to,
)
from guides.services import fan_coupon_give, fan_coupons
from guides.tables import (
    AttributedOrderTable,
    EntryTable,
    FanTable,
    PartnerGuideTable,
    PartnerStoreTable,
    StatementTable,
)
from marketing.choices import IssuedVia
from marketing.models import CouponCode
from orders.choices import OrderStatus
from orders.filtersets import OrderFilterSet
from stores.selectors import stores_visible_to

PARTNER_PAGE_SIZE = 25
# The columns of a statement's CSV when it has no rows to take them from (statement_rows' keys).


@dataclass
class Viewer:
    """Who is looking: their own guide (if any), the partners they log in for, whether HQ."""

    guide: Guide | None
    partners: list = field(default_factory=list)
    hq: bool = False

    @property
    def anyone(self) -> bool:
        return self.hq or self.guide is not None or bool(self.partners)

    @property
    def many_guides(self) -> bool:
        """Lists show a guide column when the viewer may see more than their own rows."""
        return self.hq or bool(self.partners)


def _own_rows(viewer: Viewer) -> tuple[str, ...]:
    """The lists' columns a viewer who sees only their own rows does without (`exclude`)."""
    return () if viewer.many_guides else ("guide",)


def portal_page(view):
    """Signed-in guides, partners and HQ; anyone else gets the "become a guide" page."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        user = request.user
        viewer = Viewer(guide_for_user(user), list(partners_of_user(user)), guides_managed_by(user))
        if not viewer.anyone:
            return render(request, "guides/portal/join.html", {"viewer": viewer})
        return view(request, viewer, *args, **kwargs)

    return wrapper


def active_fan_counts(guide_ids) -> dict[int, int]:
    """Open bindings still inside their window, per guide (one grouped query)."""
    rows = (
        Binding.objects.filter(active_binding_q(), guide_id__in=list(guide_ids))
        .values("guide_id")
        .order_by()
        .annotate(n=Count("id"))
    )
    return {row["guide_id"]: row["n"] for row in rows}


# --- home ------------------------------------------------------------------------------------------


CHART_MONTHS = 12


def last_months(count: int = CHART_MONTHS) -> list[date]:
    """The first days of the last `count` Shanghai months, oldest first, this month last."""
    months = [shanghai_today().replace(day=1)]
    while len(months) < count:
        months.append((months[-1] - timedelta(days=1)).replace(day=1))
    return months[::-1]


def commission_by_month(entries, months: list[date], *, kinds=NET_KINDS) -> list[tuple[date, Decimal]]:
    """Net commission per Shanghai month, oldest first, for each of `months` (0 where nothing was
    booked): the ledger's `kinds` (by default accruals less clawbacks, the leaderboards' figure)
    grouped by month in the database, one query."""
    since, until = month_bounds(months[0])[0], month_bounds(months[-1])[1]
    rows = (
        entries.filter(kind__in=list(kinds), created_at__gte=since, created_at__lt=until)
        .annotate(month=TruncMonth("created_at", tzinfo=SHANGHAI))
        .values("month")
        .order_by()
        .annotate(total=Sum(F("held_change") + F("payable_change")))
    )
    totals = {shanghai_date(row["month"]).replace(day=1): row["total"] or ZERO for row in rows}
    return [(month, quantize_money(totals.get(month, ZERO))) for month in months]


def fan_counts(bindings) -> dict[str, int]:
    """Fans still bound (open binding inside its window) and no longer (ended or expired)."""
    active = active_binding_q()
    counts = bindings.aggregate(total=Count("id"), active=Count("id", filter=active))
    return {"active": counts["active"], "expired": counts["total"] - counts["active"]}


def month_chart(by_month: list[tuple[date, Decimal]], *, label: str):
    """The months as bars, each linking to the ledger of its month (server-side SVG, phone-sized)."""
    ledger = reverse("guides:ledger")
    rows = [(f"{month:%Y-%m}", total, f"{ledger}?month={month:%Y-%m}") for month, total in by_month]
    return bar_chart(rows, width=360, label=label)


@require_GET
@portal_page
def home(request, viewer):
    """My QR code and this month's figures (guides): commission, payable and held, fans, the last
    12 months and the latest statement; the same money figures for each partner account."""
    period = Period.this_month()
    months = last_months()
    context = {"viewer": viewer, "period": period}
    guide = viewer.guide
    entries = entries_visible_to(request.user)
    statements = statements_visible_to(request.user).order_by("-period", "-pk")
    if guide is not None:
        fans = fan_counts(bindings_visible_to(request.user).filter(guide=guide))
        by_month = commission_by_month(entries.filter(guide=guide), months)
        context.update(
            figures=guide_figures(period=period, guide_ids=[guide.pk]).get(guide.pk, Figures()),
            active_fans=fans["active"],
            fans=fans,
            balances=commission_balances(guide=guide),
            landing_url=request.build_absolute_uri(reverse("guides_public:landing", args=[guide.code])),
            by_month=by_month,
            chart=month_chart(by_month, label=_("My commission per month, last 12 months")),
            latest_statement=statements.filter(guide=guide).first(),
        )
    # A partner user logs in for one partner, rarely two: three queries each.
    context["partner_homes"] = []
    for partner in viewer.partners:
        # A partner's money is every row stamped with it: its guides' commission and its rewards.
        by_month = commission_by_month(entries.filter(partner=partner), months, kinds=EntryKind.values)
        label = _("%(partner)s: commission per month, last 12 months") % {"partner": partner.name}
        context["partner_homes"].append(
            {
                "partner": partner,
                "balances": commission_balances(partner=partner),
                "by_month": by_month,
                "chart": month_chart(by_month, label=label),
                "latest_statement": statements.filter(party=StatementParty.PARTNER, partner=partner).first(),
            }
        )
    return render(request, "guides/portal/home.html", context)


# --- fans ------------------------------------------------------------------------------------------


@require_GET
@portal_page
def fans(request, viewer):
    rows = (
        bindings_visible_to(request.user)
        .select_related("member", "guide", "store")
        .order_by("-last_scan_at", "-id")
    )
    filterset = BindingFilterSet(request.GET, queryset=rows)
    table = FanTable(filterset.qs, request=request, exclude=_own_rows(viewer))
    bindings_mark(table.page_obj.object_list)
    return render(
        request,
        "guides/portal/fans.html",
        {"viewer": viewer, "filterset": filterset, "table": table, "page_obj": table.page_obj},
    )


def _fan_page(request, viewer, binding, form=None, status=200):
    bindings_mark([binding])
    orders = list(
        attributed_orders_visible_to(request.user)
        .filter(binding=binding)
        .select_related("channel")
        .order_by("-created_at", "-id")[:50]
    )
    scans = list(
        scans_visible_to(request.user)
        .filter(member_id=binding.member_id, guide_id=binding.guide_id)
        .order_by("-scanned_at", "-id")[:20]
    )
    # The guide themselves may hand an active fan a coupon; others see what the guide gave.
    mine = viewer.guide is not None and binding.guide_id == viewer.guide.pk
    if form is None and mine and binding.active:
        form = FanCouponForm(coupons=fan_coupons())
    given = list(
        CouponCode.objects.filter(
            guide_id=binding.guide_id, member_id=binding.member_id, issued_via=IssuedVia.GUIDE
        )
        .select_related("coupon")
        .order_by("-issued_at", "-id")[:20]
    )
    return render(
        request,
        "guides/portal/fan_detail.html",
        {
            "viewer": viewer,
            "binding": binding,
            "orders": orders,
            "scans": scans,
            "coupon_form": form,
            "given": given,
        },
        status=status,
    )


def _visible_binding(request, pk) -> Binding:
    return get_object_or_404(
        bindings_visible_to(request.user).select_related("member", "guide", "store", "ended_by__guide"), pk=pk
    )


@require_GET
@portal_page
def fan_detail(request, viewer, pk):
    return _fan_page(request, viewer, _visible_binding(request, pk))


@require_POST
@portal_page
def fan_coupon(request, viewer, pk):
    """The guide hands this fan a coupon (guides.services.fan_coupon_give): their own fans only."""
    binding = _visible_binding(request, pk)
    if viewer.guide is None or binding.guide_id != viewer.guide.pk:
        raise PermissionDenied(_("Only the guide gives their fans coupons."))
    form = FanCouponForm(request.POST, coupons=fan_coupons())
    if form.is_valid():
        coupon = form.cleaned_data["coupon"]
        try:
            code = fan_coupon_give(binding=binding, coupon=coupon, actor=request.user)
        except DomainError as error:
            add_domain_error(form, error, field_map={"binding": "coupon", "member": "coupon"})
        else:
            messages.success(
                request,
                _("Your fan now holds coupon %(code)s (%(coupon)s).")
                % {"code": code.code, "coupon": coupon.name},
            )
            return redirect("guides:fan", pk=binding.pk)
    return _fan_page(request, viewer, binding, form=form, status=400)


# --- attributed orders -----------------------------------------------------------------------------


@require_GET
@portal_page
def orders(request, viewer):
    rows = (
        attributed_orders_visible_to(request.user)
        .select_related("channel", "guide", "member")
        .order_by("-created_at", "-id")
    )
    filterset = OrderFilterSet(request.GET, queryset=rows)
    filterset.form.fields["status"].widget = CheckboxSelectMultiple(choices=OrderStatus.choices)
    table = AttributedOrderTable(filterset.qs, request=request, exclude=_own_rows(viewer))
    return render(
        request,
        "guides/portal/orders.html",
        {"viewer": viewer, "filterset": filterset, "table": table, "page_obj": table.page_obj},
    )


@require_GET
@portal_page
def order_detail(request, viewer, number):
    order = get_object_or_404(
        attributed_orders_visible_to(request.user).select_related("channel", "guide", "member", "binding"),
        number=number,
    )
    entries = list(
        entries_visible_to(request.user)
        .filter(order=order)
        .select_related("line__sku", "guide")
        .order_by("created_at", "id")
    )
    return render(
        request,
        "guides/portal/order_detail.html",
        {
            "viewer": viewer,
            "order": order,
            "lines": list(order.lines.select_related("sku")),
            "entries": entries,
            "entry_table": EntryTable(
                entries, link="guides:entry", per_page=None, request=request, exclude=_own_rows(viewer)
            ),
        },
    )


# --- the ledger ------------------------------------------------------------------------------------


def kind_totals(entries) -> list[dict]:
    """Count, held and payable change per kind of the (filtered) entries: one grouped query."""
    rows = list(
        entries.values("kind")
        .order_by("kind")
        .annotate(n=Count("id"), held=Sum("held_change"), payable=Sum("payable_change"))
    )
    for row in rows:
        row["label"] = EntryKind(row["kind"]).label if row["kind"] in EntryKind.values else row["kind"]
        row["held"], row["payable"] = quantize_money(row["held"]), quantize_money(row["payable"])
    return rows


@require_GET
@portal_page
def ledger(request, viewer):
    rows = (
        entries_visible_to(request.user)
        .select_related("guide", "partner", "order", "line__sku")
        .order_by("-created_at", "-id")
    )
    filterset = CommissionEntryFilterSet(request.GET, queryset=rows)
    totals = kind_totals(filterset.qs)
    table = EntryTable(filterset.qs, link="guides:entry", request=request, exclude=_own_rows(viewer))
    return render(
        request,
        "guides/portal/ledger.html",
        {
            "viewer": viewer,
            "filterset": filterset,
            "table": table,
            "page_obj": table.page_obj,
            "totals": totals,
            "held_total": sum((row["held"] for row in totals), start=ZERO),
            "payable_total": sum((row["payable"] for row in totals), start=ZERO),
        },
    )


@require_GET
@portal_page
def entry_detail(request, viewer, pk):
    visible = entries_visible_to(request.user).select_related(
        "guide", "partner", "store", "order", "line__sku", "rule", "statement", "partner_statement"
    )
    entry = get_object_or_404(visible, pk=pk)
    accrual_id = entry.accrual_id or entry.pk
    related = list(
        visible.filter(Q(pk=accrual_id) | Q(accrual_id=accrual_id))
        .exclude(pk=entry.pk)
        .order_by("created_at", "id")
    )
    related_table = EntryTable(
        related, link="guides:entry", per_page=None, request=request, exclude=("guide",)
    )
    return render(
        request,
        "guides/portal/entry_detail.html",
        {"viewer": viewer, "entry": entry, "related": related, "related_table": related_table},
    )


# --- statements ------------------------------------------------------------------------------------


@require_GET
@portal_page
def statements(request, viewer):
    rows = statements_visible_to(request.user).select_related("guide", "partner")
    filterset = StatementFilterSet(request.GET, queryset=rows)
    table = StatementTable(filterset.qs, link="guides:statement", request=request)
    return render(
        request,
        "guides/portal/statements.html",
        {"viewer": viewer, "filterset": filterset, "table": table, "page_obj": table.page_obj},
    )


def statement_entries(statement: Statement):
    """The ledger rows a statement claimed, oldest first, with what the table shows."""
    return (
        settlement.statement_entries(statement)
        .select_related("guide", "order", "line__sku")
        .order_by("created_at", "id")
    )


@require_GET
@portal_page
def statement_detail(request, viewer, pk):
    statement = get_object_or_404(
        statements_visible_to(request.user).select_related("guide", "partner"), pk=pk
    )
    table = EntryTable(
        statement_entries(statement), link="guides:entry", request=request, exclude=_own_rows(viewer)
    )
    return render(
        request,
        "guides/portal/statement_detail.html",
        {"viewer": viewer, "statement": statement, "table": table, "page_obj": table.page_obj},
    )


def statement_csv_response(statement: Statement, *, bom: bool = True) -> HttpResponse:
    """The statement's rows as CSV (guides.settlement.statement_rows decides the columns): the
    portal's, HQ's and the API's download (the API's without the byte-order mark)."""
    rows = settlement.statement_rows(statement)
    party = statement.guide.code if statement.guide_id else statement.partner.code
    response = csv_attachment(f"statement-{party}-{statement.period:%Y-%m}-{statement.pk}.csv", bom=bom)
    columns = list(settlement.STATEMENT_ROW_KEYS)
    writer = csv.DictWriter(response, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in rows)
    return response


@require_GET
@portal_page
def statement_csv(request, viewer, pk):
    statement = get_object_or_404(
        statements_visible_to(request.user).select_related("guide", "partner"), pk=pk
    )
    return statement_csv_response(statement)


# --- a guide's page and the partner's overview -------------------------------------------------------


@require_GET
@portal_page
def guide_detail(request, viewer, code):
    """One guide's figures for a period: the guide themself, their partner, or HQ."""
    guide = get_object_or_404(
        guides_visible_to(request.user).select_related("store", "partner", "level"), code=code
    )
    return render(
        request, "guides/portal/guide_detail.html", {"viewer": viewer, **guide_page_context(request, guide)}
    )


def guide_page_context(request, guide, *, statement_link: str = "guides:statement") -> dict:
    """What a guide's page shows, on the portal and in HQ: the period asked for (this month by
    default), the guide's figures and active fans in it, their balances and latest statements
    (each linking to `statement_link`'s page)."""
    form = PeriodForm(request.GET or None)
    period = form.period()
    statements = list(statements_visible_to(request.user).filter(guide=guide)[:12])
    return {
        "guide": guide,
        "form": form,
        "period": period,
        "figures": guide_figures(period=period, guide_ids=[guide.pk]).get(guide.pk, Figures()),
        "active_fans": active_fan_counts([guide.pk]).get(guide.pk, 0),
        "balances": commission_balances(guide=guide),
        "statements": statements,
        "statement_table": StatementTable(statements, link=statement_link, per_page=None, request=request),
    }


@require_GET
@portal_page
def partner(request, viewer):
    """The partner's stores and guides with their figures for a period, and partner statements."""
    if not viewer.partners:
        raise PermissionDenied(_("This page is for partners: it shows a partner's stores and guides."))
    form = PeriodForm(request.GET or None)
    period = form.period()
    partner_ids = [p.pk for p in viewer.partners]
    stores = (
        stores_visible_to(request.user)
        .filter(partner_id__in=partner_ids)
        .select_related("partner")
        .order_by("code")
    )
    store_table = PartnerStoreTable(
        stores, per_page=PARTNER_PAGE_SIZE, page_field="stores_page", request=request
    )
    store_page = store_table.page_obj
    by_store = store_figures(period=period, store_ids=[s.pk for s in store_page.object_list])
    for store in store_page.object_list:
        store.figures = by_store.get(store.pk, Figures())
    guides = guides_visible_to(request.user).select_related("store", "level").order_by("code")
    guide_table = PartnerGuideTable(guides, per_page=PARTNER_PAGE_SIZE, request=request)
    guide_page = guide_table.page_obj
    ids = [g.pk for g in guide_page.object_list]
    by_guide = guide_figures(period=period, guide_ids=ids)
    active = active_fan_counts(ids)
    for guide in guide_page.object_list:
        guide.figures = by_guide.get(guide.pk, Figures())
        guide.active_fans = active.get(guide.pk, 0)
    # A partner user logs in for one partner, rarely two: one balance query each.
    balances = [(p, commission_balances(partner=p)) for p in viewer.partners]
    partner_statements = list(
        statements_visible_to(request.user)
        .filter(party=StatementParty.PARTNER, partner_id__in=partner_ids)
        .select_related("partner")[:12]
    )
    return render(
        request,
        "guides/portal/partner.html",
        {
            "viewer": viewer,
            "form": form,
            "period": period,
            "store_page": store_page,
            "store_table": store_table,
            "page_obj": guide_page,
            "guide_table": guide_table,
            "balances": balances,
            "partner_statements": partner_statements,
            "statement_table": StatementTable(
                partner_statements, link="guides:statement", per_page=None, request=request
            ),
        },
    )
