"""HQ's admin for partners, stores, staff and stock.

Stock numbers and movements are read-only here: every stock change goes through the
ledger services in stores.services, so on hand always equals the sum of movements.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from config.admin import HQImportExportAdmin, ModelAdmin, ReadOnlyAdminMixin, TabularInline
from stores.models import Partner, StaffMembership, Stock, StockMovement, Store
from stores.resources import StoreResource


@admin.register(Partner)
class PartnerAdmin(ModelAdmin):
    list_display = ("code", "name", "contact_name", "phone", "is_active")
    list_filter = ("is_active",)
    search_fields = ("code", "name", "contact_name")
    autocomplete_fields = ("users",)


class StaffMembershipInline(TabularInline):
    model = StaffMembership
    fields = ("user", "role")
    autocomplete_fields = ("user",)
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


@admin.register(Store)
class StoreAdmin(HQImportExportAdmin):
    resource_classes = [StoreResource]
    list_display = ("code", "name", "kind", "partner", "city", "city_tier", "service_radius_km", "status")
    list_filter = ("kind", "city_tier", "status", "partner")
    search_fields = ("code", "name", "city", "address")
    list_select_related = ("partner",)
    autocomplete_fields = ("partner",)
    inlines = (StaffMembershipInline,)
    show_full_result_count = False


@admin.register(StaffMembership)
class StaffMembershipAdmin(ModelAdmin):
    list_display = ("user", "store", "role")
    list_filter = ("role",)
    search_fields = ("user__username", "user__email", "store__code", "store__name")
    list_select_related = ("user", "store")
    autocomplete_fields = ("user", "store")


class StockMovementInline(ReadOnlyAdminMixin, TabularInline):
    model = StockMovement
    fk_name = "stock"
    fields = readonly_fields = (
        "created_at",
        "kind",
        "on_hand_delta",
        "reserved_delta",
        "reason",
        "reference",
        "reverses",
        "created_by",
    )
    extra = 0
    can_delete = False
    verbose_name_plural = _("Movements (the ledger that explains the numbers)")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by", "reverses")


@admin.register(Stock)
class StockAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Numbers only: stock changes through the ledger services, never by editing a row."""

    list_display = ("sku", "location", "on_hand", "reserved", "available", "updated_at")
    list_filter = ("location__kind",)
    search_fields = ("sku__code", "sku__barcode", "location__code", "location__name")
    list_select_related = ("sku", "location")
    inlines = (StockMovementInline,)
    show_full_result_count = False

    @admin.display(description=_("available"))
    def available(self, obj):
        return obj.available


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """The append-only ledger: rows are added by stores.services, never changed or deleted."""

    list_display = (
        "created_at",
        "location",
        "sku",
        "kind",
        "on_hand_delta",
        "reserved_delta",
        "reason",
        "reference",
        "created_by",
    )
    list_filter = ("kind",)
    search_fields = ("reference", "stock__sku__code", "stock__location__code")
    list_select_related = ("stock__sku", "stock__location", "created_by")
    show_full_result_count = False

    @admin.display(description=_("location"), ordering="stock__location__code")
    def location(self, obj):
        return obj.stock.location

    @admin.display(description=_("SKU"), ordering="stock__sku__code")
    def sku(self, obj):
        return obj.stock.sku
