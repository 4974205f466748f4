"""HQ guide pages: leaderboards of guides and stores for a period (with CSV), scan → fan → order
conversion, the guide list and a guide's page (suspend / reinstate), and statements (approve,
mark paid, CSV). Every write goes through guides.services / guides.settlement; a refusal is shown
on the page and changes nothing."""

import csv

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from config.csv import csv_attachment, csv_cell
from config.errors import DomainError
from config.views import add_domain_error, hq_required
from guides.filtersets import GuideFilterSet, StatementFilterSet
from guides.leaderboards import (
    conversion,
    conversion_by_guide,
    guide_board,
    store_board,
)
from guides.models import Statement
from guides.portal_forms import BoardForm, PayForm, PeriodForm, SuspendForm
from guides.selectors import bindings_visible_to, guides_visible_to, statements_visible_to
from guides.services import guide_reinstate, guide_suspend
from guides.settlement import statement_approve, statement_pay
from guides.tables import EntryTable, GuideTable, StatementTable
from guides.views import guide_page_context, statement_csv_response, statement_entries

BOARD_CSV_COLUMNS = ("rank", "code", "name", "store", "partner", "fans", "orders", "sales", "commission")


def _show_refusal(request, error: DomainError, *, form, field: str) -> None:
    """A refusal about the form's input goes under the field; any other (the guide or statement
    moved on meanwhile) is a message above the page, whichever form it shows now."""
    if field in (error.fields or {}):
        add_domain_error(form, error)
    else:
        messages.error(request, _("%(message)s Nothing was changed.") % {"message": error.message})


# --- leaderboards and conversion -----------------------------------------------------------------


@require_GET
@hq_required
def leaderboards(request):
    form = BoardForm(request.GET or None)
    period, sort = form.period(), form.sort_key()
    return render(
        request,
        "guides/hq/leaderboards.html",
        {
            "form": form,
            "period": period,
            "sort": sort,
            "guide_rows": guide_board(period=period, sort=sort),
            "store_rows": store_board(period=period, sort=sort),
            "conversion": conversion(period=period),
        },
    )


def _board_line(row, board: str) -> list:
    subject, figures = row.subject, row.figures
    if board == "guides":
        store = subject.store.code if subject.store_id else ""
        partner = subject.partner.code if subject.partner_id else ""
    else:
        store = subject.code
        partner = subject.partner.code if subject.partner_id else ""
    return [
        row.rank,
        subject.code,
        subject.name,
        store,
        partner,
        figures.fans,
        figures.orders,
        figures.sales,
        figures.commission,
    ]


@require_GET
@hq_required
def board_csv(request, board):
    if board not in ("guides", "stores"):
        raise Http404
    form = BoardForm(request.GET or None)
    period, sort = form.period(), form.sort_key()
    rows = (guide_board if board == "guides" else store_board)(period=period, sort=sort)
    response = csv_attachment(f"{board}-{period.first:%Y%m%d}-{period.last:%Y%m%d}-by-{sort}.csv")
    writer = csv.writer(response)
    writer.writerow(BOARD_CSV_COLUMNS)
    writer.writerows([csv_cell(cell) for cell in _board_line(row, board)] for row in rows)
    return response


@require_GET
@hq_required
def conversion_view(request):
    form = PeriodForm(request.GET or None)
    period = form.period()
    return render(
        request,
        "guides/hq/conversion.html",
        {
            "form": form,
            "period": period,
            "overall": conversion(period=period),
            "rows": conversion_by_guide(period=period),
        },
    )


# --- guides ----------------------------------------------------------------------------------------


@require_GET
@hq_required
def guide_list(request):
    guides = guides_visible_to(request.user).select_related("store", "partner", "level").order_by("code")
    filterset = GuideFilterSet(request.GET, queryset=guides)
    table = GuideTable(filterset.qs, request=request)
    if table.export_requested:
        return table.export_response()
    return render(
        request,
        "guides/hq/guide_list.html",
        {"filterset": filterset, "table": table, "page_obj": table.page_obj},
    )


@require_http_methods(["GET", "POST"])
@hq_required
def guide_detail(request, code):
    """A guide's facts and month figures; suspend (reason required) or reinstate."""
    guide = get_object_or_404(
        guides_visible_to(request.user).select_related("store", "partner", "level", "user"), code=code
    )
    suspend_form = SuspendForm(request.POST if request.POST.get("action") == "suspend" else None)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "suspend" and suspend_form.is_valid():
                guide_suspend(guide=guide, reason=suspend_form.cleaned_data["reason"], actor=request.user)
                messages.success(
                    request,
                    _("%(code)s is suspended: their QR code binds nobody now.") % {"code": guide.code},
                )
                return redirect("guides_hq:guide", code=guide.code)
            if action == "reinstate":
                guide_reinstate(guide=guide, actor=request.user)
                messages.success(
                    request,
                    _("%(code)s is reinstated: their QR code binds fans again.") % {"code": guide.code},
                )
                return redirect("guides_hq:guide", code=guide.code)
            if action not in ("suspend", "reinstate"):
                messages.error(request, _("Unknown action. Nothing was changed."))
        except DomainError as error:
            _show_refusal(request, error, form=suspend_form, field="reason")
            guide.refresh_from_db()
    return render(
        request,
        "guides/hq/guide_detail.html",
        {
            **guide_page_context(request, guide, statement_link="guides_hq:statement"),
            "suspend_form": suspend_form,
            "fans_total": bindings_visible_to(request.user).filter(guide=guide).count(),
        },
    )


# --- statements ------------------------------------------------------------------------------------


@require_GET
@hq_required
def statement_list(request):
    rows = statements_visible_to(request.user).select_related("guide", "partner")
    filterset = StatementFilterSet(request.GET, queryset=rows)
    table = StatementTable(
        filterset.qs, link="guides_hq:statement", export_name="statements", request=request
    )
    if table.export_requested:
        return table.export_response()
    return render(
        request,
        "guides/hq/statements.html",
        {"filterset": filterset, "table": table, "page_obj": table.page_obj},
    )


def _statement_or_404(request, pk) -> Statement:
    return get_object_or_404(
        statements_visible_to(request.user).select_related("guide", "partner", "approved_by", "paid_by"),
        pk=pk,
    )


@require_http_methods(["GET", "POST"])
@hq_required
def statement_detail(request, pk):
    """A statement's entries; approve a draft, mark an approved one paid (with its reference)."""
    statement = _statement_or_404(request, pk)
    pay_form = PayForm(request.POST if request.POST.get("action") == "pay" else None)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "approve":
                statement_approve(statement=statement, user=request.user)
                messages.success(request, _("Statement approved: its total and entries are final now."))
                return redirect("guides_hq:statement", pk=statement.pk)
            if action == "pay" and pay_form.is_valid():
                statement_pay(
                    statement=statement,
                    user=request.user,
                    payment_reference=pay_form.cleaned_data["payment_reference"].strip(),
                )
                messages.success(request, _("Statement marked paid."))
                return redirect("guides_hq:statement", pk=statement.pk)
            if action not in ("approve", "pay"):
                messages.error(request, _("Unknown action. Nothing was changed."))
        except DomainError as error:
            _show_refusal(request, error, form=pay_form, field="payment_reference")
        statement.refresh_from_db()
    table = EntryTable(statement_entries(statement), request=request)
    return render(
        request,
        "guides/hq/statement_detail.html",
        {"statement": statement, "pay_form": pay_form, "table": table, "page_obj": table.page_obj},
    )


@require_GET
@hq_required
def statement_csv(request, pk):
    return statement_csv_response(_statement_or_404(request, pk))
