"""HQ's admin for the catalog and the price list.

Prices, the one-price flag and the audit trail are business rules, so every write here
goes through catalog.services; a refusal is shown as the service's message on the page.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog.models import SKU, Category, Channel, Price, PriceChange, Product
from catalog.resources import PriceResource, ProductResource, SKUResource
from catalog.services import UnifiedResult, category_set_unified, price_end, price_set, sku_set_unified
from config.admin import (
    BOTH,
    HQImportExportAdmin,
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


def _scope(price) -> str:
    return price.channel.name if price.channel_id else _("All channels")


# --- Audit trail: shown on the SKU and the Price pages, never edited.


class PriceChangeInline(ReadOnlyAdminMixin, TabularInline):
    model = PriceChange
    fk_name = "price"
    fields = readonly_fields = (
        "action",
        "channel",
        "old_amount",
        "new_amount",
        "valid_from",
        "valid_to",
        "changed_by",
        "changed_at",
    )
    extra = 0
    can_delete = False
    verbose_name_plural = gettext_lazy("Price changes (who, when, old → new)")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("channel", "changed_by")


class SKUPriceChangeInline(PriceChangeInline):
    fk_name = "sku"


class SKUPriceInline(TabularInline):
    """The SKU's price versions, read-only: prices are added on the Price page or by import."""

    model = Price
    fields = readonly_fields = ("channel", "amount", "valid_from", "valid_to", "created_by")
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = gettext_lazy("Prices")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("channel", "created_by")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PriceChange)
class PriceChangeAdmin(ModelAdmin):
    """The audit trail of the price list: read-only, nobody adds, edits or deletes rows."""

    list_display = (
        "changed_at",
        "sku",
        "scope",
        "action",
        "old_amount",
        "new_amount",
        "valid_from",
        "valid_to",
        "changed_by",
    )
    list_filter = ("action", "channel")
    search_fields = ("sku__code", "sku__name")
    list_select_related = ("sku", "channel", "changed_by")
    show_full_result_count = False

    @admin.display(description=gettext_lazy("channel"), ordering="channel__code")
    def scope(self, obj):
        return _scope(obj)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Catalog


def _set_unified(modeladmin, request, unified: bool, call) -> None:
    try:
        result = call()
    except DomainError as exc:
        modeladmin.message_user(request, exc.message, level=messages.ERROR)
        return
    if unified:
        text = _("%(changed)d SKUs marked one product, one price (%(unchanged)d already were).")
    else:
        text = _("%(changed)d SKUs no longer one product, one price (%(unchanged)d already were not).")
    modeladmin.message_user(request, text % {"changed": result.changed, "unchanged": result.unchanged})


@admin.register(Category)
class CategoryAdmin(ModelAdmin):
    list_display = ("name", "code", "parent")
    search_fields = ("code", "name")
    list_select_related = ("parent",)
    autocomplete_fields = ("parent",)
    actions = ("mark_unified", "unmark_unified")

    @admin.action(
        description=gettext_lazy("Mark all SKUs in category as one product, one price"),
        permissions=["change"],
        location=BOTH,
    )
    def mark_unified(self, request, queryset):
        self._set(request, queryset, unified=True)

    @admin.action(
        description=gettext_lazy("Unmark all SKUs in category as one product, one price"),
        permissions=["change"],
        location=BOTH,
    )
    def unmark_unified(self, request, queryset):
        self._set(request, queryset, unified=False)

    def _set(self, request, queryset, *, unified: bool) -> None:
        @transaction.atomic  # several categories: all or none, like the SKUs of one category
        def call():
            results = [
                category_set_unified(category=category, unified=unified, actor=request.user)
                for category in queryset
            ]
            return UnifiedResult(
                changed=sum(r.changed for r in results), unchanged=sum(r.unchanged for r in results)
            )

        _set_unified(self, request, unified, call)


class SKUInline(TabularInline):
    model = SKU
    fields = ("code", "name", "barcode", "serial_tracked", "dealer_cost", "is_active", "unified")
    readonly_fields = ("unified",)
    extra = 0
    show_change_link = True


@admin.register(Product)
class ProductAdmin(HQImportExportAdmin):
    resource_classes = [ProductResource]
    list_display = ("code", "name", "brand", "category", "created_at")
    list_filter = ("category", "brand")
    search_fields = ("code", "name", "brand")
    list_select_related = ("category",)
    autocomplete_fields = ("category",)
    inlines = (SKUInline,)


@admin.register(SKU)
class SKUAdmin(HQImportExportAdmin):
    resource_classes = [SKUResource]
    list_display = (
        "code",
        "name",
        "product",
        "category",
        "barcode",
        "unified",
        "serial_tracked",
        "is_active",
    )
    list_filter = ("unified", "serial_tracked", "is_active", "product__category")
    search_fields = ("code", "barcode", "name")
    list_select_related = ("product", "product__category")
    autocomplete_fields = ("product",)
    # The flag changes only through the actions below: marking is refused while channel prices exist.
    readonly_fields = ("unified",)
    inlines = (SKUPriceInline, SKUPriceChangeInline)
    actions = ("mark_unified", "unmark_unified")
    show_full_result_count = False

    @admin.display(description=gettext_lazy("category"), ordering="product__category__name")
    def category(self, obj):
        return obj.product.category

    @admin.action(
        description=gettext_lazy("Mark as one product, one price"), permissions=["change"], location=BOTH
    )
    def mark_unified(self, request, queryset):
        skus = list(queryset.values_list("pk", flat=True))
        _set_unified(
            self, request, True, lambda: sku_set_unified(skus=skus, unified=True, actor=request.user)
        )

    @admin.action(
        description=gettext_lazy("Unmark one product, one price"), permissions=["change"], location=BOTH
    )
    def unmark_unified(self, request, queryset):
        skus = list(queryset.values_list("pk", flat=True))
        _set_unified(
            self, request, False, lambda: sku_set_unified(skus=skus, unified=False, actor=request.user)
        )


@admin.register(Channel)
class ChannelAdmin(ModelAdmin):
    list_display = ("code", "name", "kind", "margin_floor_percent", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("code", "name")


# --- Prices


class PriceAddForm(forms.ModelForm):
    """A new price version. clean() asks price_set in a savepoint that is always rolled back,
    so a refusal (unified SKU, overlap, margin floor) lands on the form; save_model writes."""

    class Meta:
        model = Price
        fields = ("sku", "channel", "amount", "valid_from", "valid_to")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        dry_run(
            self,
            lambda: price_set(
                sku=data["sku"],
                channel=data.get("channel"),
                amount=data["amount"],
                valid_from=data["valid_from"],
                valid_to=data.get("valid_to"),
                actor=SYSTEM,  # a dry run: save_model sets it as the admin
            ),
        )
        return data


@admin.register(Price)
class PriceAdmin(HQImportExportAdmin):
    """New prices go through price_set; stored prices are read-only apart from "End now"."""

    resource_classes = [PriceResource]
    form = PriceAddForm
    list_display = ("sku", "scope", "amount", "valid_from", "valid_to", "live", "created_by")
    list_filter = (ValidNowFilter, "channel", "sku__unified")
    search_fields = ("sku__code", "sku__barcode", "sku__name")
    list_select_related = ("sku", "channel", "created_by")
    autocomplete_fields = ("sku",)
    inlines = (PriceChangeInline,)
    actions = ("end_now",)
    show_full_result_count = False

    @admin.display(description=gettext_lazy("channel"), ordering="channel__code")
    def scope(self, obj):
        return _scope(obj)

    @admin.display(description=gettext_lazy("live now"), boolean=True)
    def live(self, obj):
        return obj.is_live_at(timezone.now())

    def get_changeform_initial_data(self, request):
        return {"valid_from": timezone.now(), **super().get_changeform_initial_data(request)}

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def has_change_permission(self, request, obj=None):
        return False  # a price is never edited: a change is a new version

    def has_delete_permission(self, request, obj=None):
        return False  # the audit trail points at every price

    def has_end_permission(self, request):
        return self.has_add_permission(request)

    def has_import_permission(self, request):
        return self.has_add_permission(request)

    def save_model(self, request, obj, form, change):
        if change:
            raise PermissionDenied
        # Validated by the form's dry run inside this same request transaction; a refusal
        # here (a concurrent write in between) raises and rolls the whole request back.
        price = price_set(
            sku=obj.sku,
            channel=obj.channel,
            amount=obj.amount,
            valid_from=obj.valid_from,
            valid_to=obj.valid_to,
            actor=request.user,
        )
        adopt_saved(obj, price)

    @admin.action(description=gettext_lazy("End now"), permissions=["end"], location=BOTH)
    def end_now(self, request, queryset):
        end_all(
            self,
            request,
            list(queryset.select_related("sku", "channel")),
            lambda price: price_end(price=price, actor=request.user),
            refusal=lambda price, reason: f"{price.sku.code} ({_scope(price)}): {reason}",
            none_ended=_("No price was ended. %(reason)s"),
            ended=_("%(count)d prices ended."),
        )
