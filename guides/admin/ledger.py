"""Guides admin: the ledger."""

from django.contrib import admin
from django.utils.translation import gettext_lazy

from config.admin import (
    ModelAdmin,
    ReadOnlyAdminMixin,
)
from guides.models import (
    CommissionEntry,
)


@admin.register(CommissionEntry)
class CommissionEntryAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """The append-only commission ledger: accruals, releases, clawbacks and rewards."""

    list_display = (
        "created_at",
        "kind",
        "guide",
        "partner",
        "store",
        "order",
        "base_amount",
        "held_change",
        "payable_change",
        "statement",
        "partner_statement",
        "note",
    )
    list_filter = ("kind",)
    search_fields = ("=guide__code", "=partner__code", "=order__number")
    search_help_text = gettext_lazy("Guide code, partner code or order number (exact).")
    list_select_related = ("guide", "partner", "store", "order", "statement", "partner_statement")
    show_full_result_count = False
