"""HQ's admin for warranty policies and service tickets.

A policy version is never edited: a new one is added through aftersales.warranty.policy_set
(which ends the version in force for the same category where the new one starts), and "End now"
calls policy_end; both are audited (WarrantyPolicyChange, shown read-only on the policy's page).
Tickets move only through aftersales.services (portal and API): here they are read, with their
history and photos.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from aftersales.models import Ticket, TicketPhoto, TicketStatusChange, WarrantyPolicy, WarrantyPolicyChange
from aftersales.warranty import policy_end, policy_set
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
from config.roles import SYSTEM
from config.views import add_domain_error

POLICY_FIELDS = (
    "code",
    "name",
    "category",
    "return_days",
    "exchange_days",
    "repair_days",
    "warranty_months",
    "no_fault_return_days",
    "valid_from",
)


def _policy_kwargs(data: dict) -> dict:
    return {name: data.get(name) for name in POLICY_FIELDS}


class WarrantyPolicyAddForm(forms.ModelForm):
    """A new policy version. clean() asks policy_set in a savepoint that is always rolled back,
    so a refusal (windows not nested, back-dated, overlapping) lands on the form; save_model writes."""

    class Meta:
        model = WarrantyPolicy
        fields = POLICY_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "valid_from" in self.fields:
            self.fields["valid_from"].required = False
            self.fields["valid_from"].help_text = _(
                "Empty: now. Orders delivered from then on get this version; earlier ones keep theirs."
            )

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        # a dry run as the product: save_model sets it as the admin
        dry_run(self, lambda: policy_set(**_policy_kwargs(data), actor=SYSTEM), show=add_domain_error)
        return data

    def _post_clean(self):
        # The model's own checks (nested windows) are policy_set's: it says them in words.
        pass


class WarrantyPolicyChangeInline(ReadOnlyAdminMixin, TabularInline):
    model = WarrantyPolicyChange
    fields = readonly_fields = ("changed_at", "action", "changed_by", "detail")
    extra = 0
    can_delete = False
    verbose_name_plural = gettext_lazy("Changes (who, when, before → after)")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("changed_by")


class InForceFilter(ValidNowFilter):
    title = gettext_lazy("in force now")
    parameter_name = "in_force"
    now_label = gettext_lazy("In force now")


@admin.register(WarrantyPolicy)
class WarrantyPolicyAdmin(ModelAdmin):
    """New versions go through policy_set; stored versions are read-only apart from "End now"."""

    form = WarrantyPolicyAddForm
    list_display = (
        "name",
        "code",
        "scope",
        "return_days",
        "exchange_days",
        "repair_days",
        "warranty_months",
        "no_fault_return_days",
        "valid_from",
        "valid_to",
        "in_force",
    )
    list_filter = (InForceFilter, "category")
    search_fields = ("code", "name", "category__name")
    list_select_related = ("category",)
    autocomplete_fields = ("category",)
    inlines = (WarrantyPolicyChangeInline,)
    actions = ("end_now",)

    @admin.display(description=gettext_lazy("category"), ordering="category__name")
    def scope(self, obj):
        return obj.category or _("Default (every category)")

    @admin.display(description=gettext_lazy("in force now"), boolean=True)
    def in_force(self, obj):
        now = timezone.now()
        return obj.valid_from <= now and (obj.valid_to is None or obj.valid_to > now)

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def has_change_permission(self, request, obj=None):
        return False  # a version is never edited: a change is a new version

    def has_delete_permission(self, request, obj=None):
        return False  # order lines and tickets point at every version

    def has_end_permission(self, request):
        return self.has_add_permission(request)

    def save_model(self, request, obj, form, change):
        if change:
            raise PermissionDenied
        # Validated by the form's dry run inside this same request transaction; a refusal here
        # (a concurrent change in between) raises and rolls the whole request back.
        policy = policy_set(**_policy_kwargs(form.cleaned_data), actor=request.user)
        adopt_saved(obj, policy)

    @admin.action(description=gettext_lazy("End now"), permissions=["end"], location=BOTH)
    def end_now(self, request, queryset):
        end_all(
            self,
            request,
            list(queryset.order_by("pk")),
            lambda policy: policy_end(policy=policy, actor=request.user),
            refusal=lambda policy, reason: f"{policy.name}: {reason}",
            none_ended=_("No policy was ended. %(reason)s"),
            ended=_("%(count)d policies ended."),
        )


@admin.register(WarrantyPolicyChange)
class WarrantyPolicyChangeAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """The audit trail of the warranty policies: read-only."""

    list_display = ("changed_at", "policy", "action", "changed_by")
    list_filter = ("action",)
    search_fields = ("policy__code", "policy__name")
    list_select_related = ("policy", "changed_by")


# --- Tickets: read here, worked in the portal and the API


class TicketStatusChangeInline(ReadOnlyAdminMixin, TabularInline):
    model = TicketStatusChange
    fields = readonly_fields = ("changed_at", "from_status", "to_status", "store", "note", "changed_by")
    extra = 0
    can_delete = False
    verbose_name_plural = gettext_lazy("History")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("store", "changed_by")


class TicketPhotoInline(ReadOnlyAdminMixin, TabularInline):
    model = TicketPhoto
    fields = readonly_fields = ("uploaded_at", "photo", "uploaded_by")
    extra = 0
    can_delete = False
    verbose_name_plural = gettext_lazy("Photos of the fault")

    class Media:
        css = {"all": ("css/admin.css",)}  # the thumbnail's size: no inline style (CSP)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("ticket", "uploaded_by")

    @admin.display(description=gettext_lazy("photo"))
    def photo(self, obj):
        # Served by the portal, which checks who may see the ticket (photos are not public media).
        url = reverse("aftersales:photo", args=[obj.ticket.number, obj.pk])
        return format_html('<a href="{}"><img src="{}" alt="" class="admin-thumbnail"></a>', url, url)


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Service tickets: read-only here; their steps are the portal's and the API's."""

    list_display = (
        "number",
        "kind",
        "status",
        "channel",
        "order",
        "intake_store",
        "handling_store",
        "opened_via",
        "opened_at",
        "days_open",
    )
    list_filter = ("status", "kind", "opened_via", "fault", "channel")
    # Exact matches only (indexed): a ticket or order number, the customer's mobile.
    search_fields = ("=number", "=order__number", "=customer_phone")
    search_help_text = gettext_lazy("Ticket number, order number or the customer's mobile (exact).")
    list_select_related = ("channel", "order", "intake_store", "handling_store")
    show_full_result_count = False
    date_hierarchy = "opened_at"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "number",
                    "kind",
                    "status",
                    "fault",
                    "quantity",
                    "description",
                    "order",
                    "line",
                    "unit",
                    "channel",
                )
            },
        ),
        (
            gettext_lazy("Customer and stores"),
            {
                "fields": (
                    "member",
                    "customer_phone",
                    "opened_via",
                    "intake_store",
                    "handling_store",
                    "opened_by",
                )
            },
        ),
        (
            gettext_lazy("Policy and outcome"),
            {
                "fields": (
                    "policy",
                    "eligibility",
                    "refused_reason",
                    "repair_note",
                    "refund",
                    "replacement_order",
                )
            },
        ),
        (gettext_lazy("Dates"), {"fields": ("opened_at", "updated_at", "closed_at")}),
    )
    inlines = (TicketStatusChangeInline, TicketPhotoInline)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related(
                "order",
                "line__sku",
                "unit",
                "channel",
                "member",
                "intake_store",
                "handling_store",
                "opened_by",
                "policy",
                "refund",
                "replacement_order",
            )
        )

    @admin.display(description=gettext_lazy("days open"))
    def days_open(self, obj):
        end = obj.closed_at or timezone.now()
        return (end - obj.opened_at).days
