"""Guides admin: scans and fans (records)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy

from config.admin import (
    ModelAdmin,
    ReadOnlyAdminMixin,
)
from guides.models import (
    Binding,
    ScanEvent,
)


@admin.register(ScanEvent)
class ScanEventAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Every opening of a guide's or store's QR code; written by scan_open / scan_bind."""

    list_display = ("scanned_at", "guide", "store", "member", "outcome", "user_agent")
    list_filter = ("outcome",)
    search_fields = ("=guide__code", "=store__code", "=member__phone")
    search_help_text = gettext_lazy("Guide code, store code or the member's mobile (exact).")
    list_select_related = ("guide", "store", "member")
    show_full_result_count = False


@admin.register(Binding)
class BindingAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Fans bound to guides; last scan wins, the same guide extends (guides.services.member_bind)."""

    list_display = (
        "member",
        "guide",
        "store",
        "started_at",
        "last_scan_at",
        "ends_at",
        "scan_count",
        "ended_at",
        "end_reason",
    )
    list_filter = ("end_reason",)
    search_fields = ("=guide__code", "=member__phone")
    search_help_text = gettext_lazy("Guide code or the member's mobile (exact).")
    list_select_related = ("member", "guide", "store", "ended_by")
    show_full_result_count = False
