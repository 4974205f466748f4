"""HQ's marketing pages (/hq/marketing/): promotions, coupons and campaigns, listed and created;
a campaign's preview (who it reaches, what it may cost) before it is sent, the send button, and
its report with CSV. Every write goes through marketing.services; a refusal is shown on the form
and writes nothing. Marketing sits below orders, so these pages read only marketing, members and
stores."""

from django.contrib import messages
from django.db import transaction
from django.db.models import Prefetch, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.csv import csv_stream
from config.errors import DomainError
from config.money import quantize_money
from config.views import add_domain_error, hq_required
from marketing.choices import CampaignStatus
from marketing.hq_forms import (
    CampaignFilterForm,
    CampaignForm,
    CouponFilterForm,
    CouponForm,
    PromotionFilterForm,
    PromotionForm,
)
from marketing.models import Campaign, CampaignRecipient, Coupon, Promotion
from marketing.services import (
    campaign_audience,
    campaign_create,
    campaign_preview,
    campaign_report,
    campaign_send,
    coupon_define,
    promotion_set,
)
from marketing.tables import CampaignTable, CouponTable, PromotionTable

AUDIENCE_SAMPLE = 20


def _window_filter(rows, status: str, now):
    live = Q(valid_from__lte=now) & (Q(valid_to__isnull=True) | Q(valid_to__gt=now))
    if status == "live":
        return rows.filter(live)
    if status == "upcoming":
        return rows.filter(valid_from__gt=now)
    if status == "ended":
        return rows.filter(valid_to__lte=now)
    return rows


def _filtered(request, form_class, rows, *, search):
    """The list as its filter form says; an invalid filter shows its errors over an empty list."""
    form = form_class(request.GET)
    if not form.is_valid():
        return form, rows.none(), 400
    data = form.cleaned_data
    if data.get("q"):
        rows = rows.filter(search(data["q"].strip()))
    return form, rows, 200


# --- promotions -------------------------------------------------------------------------------------


@require_GET
@hq_required
def promotion_list(request):
    rows = Promotion.objects.select_related("created_by").prefetch_related(
        Prefetch("skus", to_attr="sku_list"),
        Prefetch("categories", to_attr="category_list"),
        Prefetch("channels", to_attr="channel_list"),
    )
    form, rows, status = _filtered(
        request,
        PromotionFilterForm,
        rows.order_by("-valid_from", "-id"),
        search=lambda q: Q(code__icontains=q) | Q(name__icontains=q),
    )
    now = timezone.now()
    if status == 200:
        rows = _window_filter(rows, form.cleaned_data.get("status"), now)
        if form.cleaned_data.get("kind"):
            rows = rows.filter(kind=form.cleaned_data["kind"])
    table = PromotionTable(rows, now=now, request=request)
    if table.export_requested and status == 200:
        return table.export_response()
    return render(
        request,
        "marketing/hq/promotions.html",
        {"form": form, "table": table, "page_obj": table.page_obj},
        status=status,
    )


@require_http_methods(["GET", "POST"])
@hq_required
def promotion_new(request):
    form = PromotionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            promotion = promotion_set(**form.service_kwargs(), actor=request.user)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, _("Promotion %(code)s saved and audited.") % {"code": promotion.code})
            return redirect("marketing_hq:promotions")
    return render(request, "marketing/hq/promotion_form.html", {"form": form})


# --- coupons ----------------------------------------------------------------------------------------


@require_GET
@hq_required
def coupon_list(request):
    form, rows, status = _filtered(
        request,
        CouponFilterForm,
        Coupon.objects.order_by("-valid_from", "-id"),
        search=lambda q: Q(code__icontains=q) | Q(name__icontains=q),
    )
    now = timezone.now()
    if status == 200:
        rows = _window_filter(rows, form.cleaned_data.get("status"), now)
    table = CouponTable(rows, now=now, request=request)
    if table.export_requested and status == 200:
        return table.export_response()
    return render(
        request,
        "marketing/hq/coupons.html",
        {"form": form, "table": table, "page_obj": table.page_obj},
        status=status,
    )


@require_http_methods(["GET", "POST"])
@hq_required
def coupon_new(request):
    form = CouponForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            coupon = coupon_define(**form.service_kwargs(), actor=request.user)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, _("Coupon %(code)s defined.") % {"code": coupon.code})
            return redirect("marketing_hq:coupons")
    return render(request, "marketing/hq/coupon_form.html", {"form": form})


# --- campaigns --------------------------------------------------------------------------------------


@require_GET
@hq_required
def campaign_list(request):
    form, rows, status = _filtered(
        request,
        CampaignFilterForm,
        Campaign.objects.select_related("segment", "coupon", "near_store").order_by("-created_at", "-id"),
        search=lambda q: Q(name__icontains=q),
    )
    if status == 200 and form.cleaned_data.get("status"):
        rows = rows.filter(status=form.cleaned_data["status"])
    table = CampaignTable(rows, request=request)
    if table.export_requested and status == 200:
        return table.export_response()
    return render(
        request,
        "marketing/hq/campaigns.html",
        {"form": form, "table": table, "page_obj": table.page_obj},
        status=status,
    )


def _preview_of(campaign: Campaign) -> dict:
    """Who the campaign reaches now and what its coupons may cost, with the first few members."""
    preview = campaign_preview(campaign)
    sample = list(campaign_audience(campaign).select_related("home_store").order_by("pk")[:AUDIENCE_SAMPLE])
    return {"preview": preview, "sample": sample}


@require_http_methods(["GET", "POST"])
@hq_required
def campaign_new(request):
    """Fill in the campaign, preview it (nothing is saved), then save it as a draft."""
    form = CampaignForm(request.POST or None)
    context = {"form": form}
    action = request.POST.get("action")
    if request.method == "POST" and form.is_valid():
        try:
            if action == "create":
                campaign = campaign_create(**form.service_kwargs(), actor=request.user)
                messages.success(
                    request,
                    _("Campaign “%(name)s” saved as a draft. Check who it reaches, then send it.")
                    % {"name": campaign.name},
                )
                return redirect("marketing_hq:campaign", pk=campaign.pk)
            # The preview asks the service to create the campaign in a savepoint rolled back, so
            # the preview is refused exactly where saving would be, and nothing is kept.
            with transaction.atomic():
                campaign = campaign_create(**form.service_kwargs(), actor=request.user)
                context.update(_preview_of(campaign))
                transaction.set_rollback(True)
        except DomainError as error:
            add_domain_error(form, error)
            context.pop("preview", None)
    return render(request, "marketing/hq/campaign_form.html", context)


def _campaign_or_404(pk) -> Campaign:
    return get_object_or_404(
        Campaign.objects.select_related("segment", "coupon", "near_store", "created_by"), pk=pk
    )


@require_GET
@hq_required
def campaign_detail(request, pk):
    campaign = _campaign_or_404(pk)
    context = {"campaign": campaign}
    try:
        context.update(_preview_of(campaign))
        if campaign.status == CampaignStatus.SENT:  # whom sending again would reach
            reached = CampaignRecipient.objects.filter(campaign=campaign).values("member_id")
            context["not_reached"] = campaign_audience(campaign).exclude(pk__in=reached).count()
    except DomainError as error:  # the segment's saved filters no longer hold
        context["invalid"] = error.message
    return render(request, "marketing/hq/campaign_detail.html", context)


@require_POST
@hq_required
def campaign_send_view(request, pk):
    campaign = _campaign_or_404(pk)
    try:
        reached = campaign_send(campaign=campaign, actor=request.user)
    except DomainError as error:
        messages.error(request, _("%(message)s Nothing was sent.") % {"message": error.message})
    else:
        if reached:
            messages.success(request, _("Sent to %(n)s members.") % {"n": reached})
        else:
            messages.info(request, _("Nobody new to reach: every member of the audience has it already."))
    return redirect("marketing_hq:campaign", pk=campaign.pk)


def _report(campaign: Campaign) -> dict:
    """campaign_report with its sums to the cent (SQLite's SUM drops trailing zeros) and its
    groups as rows of name, discount and net sales."""
    report = campaign_report(campaign)
    report["discount"], report["net_sales"] = map(quantize_money, (report["discount"], report["net_sales"]))
    for group, key in (("stores", "store__name"), ("guides", "guide__code"), ("channels", "channel__name")):
        report[group] = [
            {
                "name": row[key],
                "discount": quantize_money(row["discount"] or 0),
                "net_sales": quantize_money(row["net_sales"] or 0),
            }
            for row in report["by_" + group[:-1]]
        ]
    report["cost_share"] = (
        round(report["discount"] / report["net_sales"] * 100, 1) if report["net_sales"] else None
    )
    return report


@require_GET
@hq_required
def campaign_report_view(request, pk):
    campaign = _campaign_or_404(pk)
    return render(
        request,
        "marketing/hq/campaign_report.html",
        {"campaign": campaign, "report": _report(campaign)},
    )


CSV_COLUMNS = ("group", "key", "issued", "redeemed", "discount", "net_sales")


@require_GET
@hq_required
def campaign_report_csv(request, pk):
    campaign = _campaign_or_404(pk)
    report = _report(campaign)

    def rows():
        yield CSV_COLUMNS
        yield ["all", "", report["issued"], report["redeemed"], report["discount"], report["net_sales"]]
        for group in ("store", "guide", "channel"):
            for line in report[group + "s"]:
                yield [group, line["name"] or "", "", "", line["discount"], line["net_sales"]]

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return csv_stream(rows(), f"campaign-{campaign.pk}-report-{stamp}.csv")
