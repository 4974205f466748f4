"""HQ's admin for marketing and the wallet.

Promotions, coupons and campaigns are business rules, so every write here goes through
marketing.services (the unified-SKU rule, budgets, the audit trail); a refusal is the service's
message on the form. Codes, redemptions, recipients and the wallet ledger are written by the
services only: read-only here. Every page is HQ's (marketing.policies), on top of the model
permissions, so a staff account given these permissions by mistake still sees nothing.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.admin import (
    BOTH,
    ModelAdmin,
    ReadOnlyAdminMixin,
    TabularInline,
    ValidNowFilter,
    adopt_saved,
    dry_run,
    end_all,
)
from config.errors import DomainError
from config.roles import SYSTEM
from marketing.models import (
    Campaign,
    Coupon,
    CouponCode,
    CouponRedemption,
    PointsTenderRule,
    Promotion,
    PromotionChange,
    Wallet,
    WalletEntry,
)
from marketing.policies import marketing_managed_by
from marketing.services import campaign_create, campaign_send, coupon_define, promotion_end, promotion_set


class HQOnly:
    """Mix in first: nobody but HQ sees or touches these pages, whatever their model permissions."""

    def has_module_permission(self, request):
        return marketing_managed_by(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return marketing_managed_by(request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args):
        return marketing_managed_by(request.user) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return marketing_managed_by(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return marketing_managed_by(request.user) and super().has_delete_permission(request, obj)


class ReadOnly(HQOnly, ReadOnlyAdminMixin):
    """HQ may look; the services alone write these rows."""


class ServiceForm(forms.ModelForm):
    """A ModelForm for adding a row through a service: clean() asks the service in a savepoint
    that is always rolled back (config.admin.dry_run), so a refusal lands on the form;
    save_model then makes the same call for real."""

    service = None  # (cleaned data, actor) -> the row the service saved

    def clean(self):
        data = super().clean()
        if self.instance.pk is None and not self.errors:
            # A dry run: save_model makes the call again as the admin.
            dry_run(self, lambda: type(self).service(data, SYSTEM))
        return data


# --- promotions -------------------------------------------------------------------------------------


PROMOTION_FIELDS = (
    "code",
    "name",
    "kind",
    "percent",
    "amount",
    "threshold",
    "nth",
    "skus",
    "categories",
    "channels",
    "valid_from",
    "valid_to",
)


def _promotion_set(data, actor):
    return promotion_set(
        code=data.get("code") or "",
        name=data.get("name") or "",
        kind=data.get("kind") or "",
        percent=data.get("percent"),
        amount=data.get("amount"),
        threshold=data.get("threshold"),
        nth=data.get("nth"),
        skus=data.get("skus") or (),
        categories=data.get("categories") or (),
        channels=data.get("channels") or (),
        valid_from=data.get("valid_from") or timezone.now(),
        valid_to=data.get("valid_to"),
        actor=actor,
    )


class PromotionChangeInline(ReadOnlyAdminMixin, TabularInline):
    model = PromotionChange
    fields = readonly_fields = ("action", "changed_by", "changed_at")
    extra = 0
    can_delete = False
    verbose_name_plural = gettext_lazy("Audit trail (who created or ended this version, when)")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("changed_by")


class PromotionForm(ServiceForm):
    service = staticmethod(_promotion_set)

    class Meta:
        model = Promotion
        fields = PROMOTION_FIELDS


@admin.register(Promotion)
class PromotionAdmin(HQOnly, ModelAdmin):
    """New versions go through promotion_set; stored versions are read-only apart from "End now"."""

    form = PromotionForm
    list_display = ("code", "name", "kind", "scope", "valid_from", "valid_to", "live", "created_by")
    list_filter = (ValidNowFilter, "kind", "channels")
    search_fields = ("code", "name")
    list_select_related = ("created_by",)
    autocomplete_fields = ("skus", "categories")
    filter_horizontal = ("channels",)
    inlines = (PromotionChangeInline,)
    actions = ("end_now",)
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("channels")

    @admin.display(description=gettext_lazy("channels"))
    def scope(self, obj):
        return ", ".join(c.name for c in obj.channels.all()) or _("All channels")

    @admin.display(description=gettext_lazy("live now"), boolean=True)
    def live(self, obj):
        return obj.is_live_at(timezone.now())

    def get_changeform_initial_data(self, request):
        return {"valid_from": timezone.now(), **super().get_changeform_initial_data(request)}

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def has_change_permission(self, request, obj=None):
        return False  # a promotion is never edited: a change is a new version

    def has_delete_permission(self, request, obj=None):
        return False  # orders priced by it and the audit trail point at it

    def has_end_permission(self, request):
        return self.has_add_permission(request)

    def save_model(self, request, obj, form, change):
        if change:
            raise PermissionDenied
        # Validated by the form's dry run; a refusal now (a concurrent write in between) raises.
        adopt_saved(obj, _promotion_set(form.cleaned_data, request.user))

    def save_related(self, request, form, formsets, change):
        pass  # promotion_set has set the SKUs, categories and channels

    @admin.action(description=gettext_lazy("End now"), permissions=["end"], location=BOTH)
    def end_now(self, request, queryset):
        end_all(
            self,
            request,
            list(queryset),
            lambda promotion: promotion_end(promotion=promotion, actor=request.user),
            refusal=lambda promotion, reason: f"{promotion.code}: {reason}",
            none_ended=_("No promotion was ended. %(reason)s"),
            ended=_("%(count)d promotions ended."),
        )


@admin.register(PromotionChange)
class PromotionChangeAdmin(ReadOnly, ModelAdmin):
    list_display = ("changed_at", "promotion", "action", "changed_by")
    list_filter = ("action",)
    search_fields = ("promotion__code", "promotion__name")
    list_select_related = ("promotion", "changed_by")


# --- coupons ----------------------------------------------------------------------------------------


COUPON_FIELDS = (
    "code",
    "name",
    "kind",
    "value",
    "min_spend",
    "per_member_limit",
    "claimable",
    "budget_count",
    "budget_amount",
    "skus",
    "categories",
    "channels",
    "valid_from",
    "valid_to",
)


def _coupon_define(data, actor):
    return coupon_define(
        code=data.get("code") or "",
        name=data.get("name") or "",
        kind=data.get("kind") or "",
        value=data.get("value"),
        min_spend=data.get("min_spend") or 0,
        per_member_limit=data.get("per_member_limit"),
        claimable=bool(data.get("claimable")),
        budget_count=data.get("budget_count"),
        budget_amount=data.get("budget_amount"),
        skus=data.get("skus") or (),
        categories=data.get("categories") or (),
        channels=data.get("channels") or (),
        valid_from=data.get("valid_from") or timezone.now(),
        valid_to=data.get("valid_to"),
        actor=actor,
    )


class CouponForm(ServiceForm):
    service = staticmethod(_coupon_define)

    class Meta:
        model = Coupon
        fields = COUPON_FIELDS


@admin.register(Coupon)
class CouponAdmin(HQOnly, ModelAdmin):
    """Defined through coupon_define; its counters move only by redemptions: read-only after."""

    form = CouponForm
    list_display = (
        "code",
        "name",
        "kind",
        "value",
        "valid_from",
        "valid_to",
        "issued_count",
        "redeemed_count",
        "redeemed_amount",
        "budget_left",
    )
    list_filter = (ValidNowFilter, "kind")
    search_fields = ("code", "name")
    autocomplete_fields = ("skus", "categories")
    filter_horizontal = ("channels",)
    show_full_result_count = False

    @admin.display(description=gettext_lazy("budget left"))
    def budget_left(self, obj):
        parts = []
        if obj.budget_count is not None:
            parts.append(str(obj.budget_count - obj.redeemed_count))
        if obj.budget_amount is not None:
            parts.append(f"¥{obj.budget_amount - obj.redeemed_amount}")
        return " / ".join(parts) or "—"

    def get_changeform_initial_data(self, request):
        return {"valid_from": timezone.now(), **super().get_changeform_initial_data(request)}

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            raise PermissionDenied
        adopt_saved(obj, _coupon_define(form.cleaned_data, request.user))

    def save_related(self, request, form, formsets, change):
        pass  # coupon_define has set the SKUs, categories and channels


@admin.register(CouponCode)
class CouponCodeAdmin(ReadOnly, ModelAdmin):
    list_display = (
        "code",
        "coupon",
        "member",
        "status",
        "issued_via",
        "store",
        "guide",
        "campaign",
        "issued_at",
    )
    list_filter = ("status", "issued_via")
    search_fields = ("=code",)
    list_select_related = ("coupon", "member", "store", "guide", "campaign")
    show_full_result_count = False


@admin.register(CouponRedemption)
class CouponRedemptionAdmin(ReadOnly, ModelAdmin):
    list_display = (
        "created_at",
        "order_number",
        "code",
        "coupon",
        "channel",
        "store",
        "guide",
        "discount",
        "net_sales",
    )
    list_filter = ("channel",)
    search_fields = ("=order_number", "=code__code", "coupon__code")
    list_select_related = ("code", "coupon", "channel", "store", "guide")
    show_full_result_count = False


# --- campaigns --------------------------------------------------------------------------------------


CAMPAIGN_FIELDS = ("name", "segment", "near_store", "radius_km", "city", "coupon", "message")


def _campaign_create(data, actor):
    return campaign_create(
        name=data.get("name") or "",
        segment=data.get("segment"),
        near_store=data.get("near_store"),
        radius_km=data.get("radius_km"),
        city=data.get("city") or "",
        coupon=data.get("coupon"),
        message=data.get("message") or "",
        actor=actor,
    )


class CampaignForm(ServiceForm):
    service = staticmethod(_campaign_create)

    class Meta:
        model = Campaign
        fields = CAMPAIGN_FIELDS


@admin.register(Campaign)
class CampaignAdmin(HQOnly, ModelAdmin):
    """Created through campaign_create and sent by the "Send" action (campaign_send: each member
    once); the HQ page /hq/marketing/campaigns/ shows the preview and the report."""

    form = CampaignForm
    list_display = (
        "name",
        "status",
        "segment",
        "city",
        "near_store",
        "radius_km",
        "coupon",
        "recipients",
        "sent_at",
    )
    list_filter = ("status",)
    search_fields = ("name",)
    list_select_related = ("segment", "near_store", "coupon")
    autocomplete_fields = ("near_store", "coupon")
    readonly_fields = ("status", "recipients", "sent_at", "created_by")
    actions = ("send",)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_send_permission(self, request):
        return self.has_add_permission(request)

    def save_model(self, request, obj, form, change):
        if change:
            raise PermissionDenied
        adopt_saved(obj, _campaign_create(form.cleaned_data, request.user))

    @admin.action(
        description=gettext_lazy("Send (members not reached yet)"), permissions=["send"], location=BOTH
    )
    def send(self, request, queryset):
        reached = 0
        for campaign in queryset.order_by("pk"):
            try:
                reached += campaign_send(campaign=campaign, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{campaign.name}: {exc.message}", level="error")
                return
        self.message_user(request, _("Sent to %(n)s members.") % {"n": reached})


# --- the points rate and the wallet --------------------------------------------------------------


class PointsTenderRuleForm(forms.ModelForm):
    class Meta:
        model = PointsTenderRule
        fields = ("channel", "points_per_yuan", "cap_percent")

    def clean_points_per_yuan(self):
        value = self.cleaned_data["points_per_yuan"]
        if value is not None and value % 100:
            raise forms.ValidationError(
                _("A multiple of 100, so that a cent is always a whole number of points.")
            )
        return value


@admin.register(PointsTenderRule)
class PointsTenderRuleAdmin(HQOnly, ModelAdmin):
    form = PointsTenderRuleForm
    list_display = ("__str__", "channel", "points_per_yuan", "cap_percent")
    list_select_related = ("channel",)


class WalletEntryInline(ReadOnlyAdminMixin, TabularInline):
    model = WalletEntry
    fields = readonly_fields = (
        "created_at",
        "kind",
        "amount",
        "method",
        "order_number",
        "reference",
        "reason",
        "created_by",
    )
    extra = 0
    can_delete = False
    ordering = ("-created_at", "-id")
    verbose_name_plural = gettext_lazy("Ledger (append-only)")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")


@admin.register(Wallet)
class WalletAdmin(ReadOnly, ModelAdmin):
    list_display = ("member", "balance", "updated_at")
    search_fields = ("=member__phone", "member__name")
    list_select_related = ("member",)
    inlines = (WalletEntryInline,)
    show_full_result_count = False


@admin.register(WalletEntry)
class WalletEntryAdmin(ReadOnly, ModelAdmin):
    list_display = (
        "created_at",
        "wallet",
        "kind",
        "amount",
        "method",
        "order_number",
        "reference",
        "created_by",
    )
    list_filter = ("kind", "method")
    search_fields = ("=order_number", "=reference", "=wallet__member__phone")
    list_select_related = ("wallet", "created_by")
    show_full_result_count = False
