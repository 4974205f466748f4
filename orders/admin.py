"""HQ's admin for orders and revenue rules.

An order changes only through orders.services and orders.fulfilment: its page is read-only
(lines, payments, history, routing, assignments and revenue shares shown, nothing editable) and
HQ's one move is the "Cancel" action, which calls order_cancel and shows its refusals. Payments,
revenue shares, routing decisions, assignments and the status history are ledgers: view only.
Revenue rules are HQ's to edit: the split per channel.
"""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy

from config.admin import BOTH, ModelAdmin, ReadOnlyAdminMixin, TabularInline
from config.errors import DomainError
from config.roles import is_hq
from orders.models import (
    Order,
    OrderLine,
    OrderStatusChange,
    Payment,
    RevenueRule,
    RevenueShare,
    RoutingDecision,
    StoreAssignment,
)
from orders.services import order_cancel

HQ_CANCEL_REASON = "Cancelled by HQ in the admin"


# --- The order page: read-only inlines, one query each


class _ReadOnlyInline(ReadOnlyAdminMixin, TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False
    related = ()

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(*self.related)


class OrderLineInline(_ReadOnlyInline):
    model = OrderLine
    fields = readonly_fields = ("sku", "quantity", "unit_price", "discount", "line_total")
    related = ("sku",)


class PaymentInline(_ReadOnlyInline):
    model = Payment
    fields = readonly_fields = (
        "created_at",
        "kind",
        "method",
        "amount",
        "external_reference",
        "reverses",
        "created_by",
    )
    related = ("reverses", "created_by")
    verbose_name_plural = gettext_lazy("Payments and refunds (capital flow)")


class OrderStatusChangeInline(_ReadOnlyInline):
    model = OrderStatusChange
    fields = readonly_fields = ("changed_at", "from_status", "to_status", "reason", "changed_by")
    related = ("changed_by",)
    verbose_name_plural = gettext_lazy("Status history")


class RoutingDecisionInline(_ReadOnlyInline):
    model = RoutingDecision
    fields = readonly_fields = ("attempt", "decided_at", "location", "reason", "candidates")
    related = ("location",)
    verbose_name_plural = gettext_lazy("Routing decisions (why it went where it went)")


class StoreAssignmentInline(_ReadOnlyInline):
    model = StoreAssignment
    fields = readonly_fields = (
        "offered_at",
        "store",
        "status",
        "respond_by",
        "responded_at",
        "responded_by",
        "reason",
    )
    related = ("store", "responded_by")
    verbose_name_plural = gettext_lazy("Store assignments")


@admin.register(Order)
class OrderAdmin(ModelAdmin):
    """Orders are read here and changed by the services; HQ can cancel (order_cancel)."""

    list_display = (
        "number",
        "channel",
        "status",
        "member",
        "origin_store",
        "fulfilling_location",
        "total",
        "created_at",
    )
    list_filter = ("status", "channel", "delivery_method", "origin")
    # Exact matches only (indexed): an order number, a marketplace's reference, a member's mobile.
    search_fields = ("=number", "=external_reference", "=member__phone")
    search_help_text = gettext_lazy("Order number, external reference or the member's mobile (exact).")
    list_select_related = ("channel", "member", "origin_store", "fulfilling_location")
    show_full_result_count = False
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "number",
                    "status",
                    "channel",
                    "origin",
                    "member",
                    "origin_store",
                    "placed_by",
                    "fulfilling_location",
                    "external_reference",
                )
            },
        ),
        (
            gettext_lazy("Delivery"),
            {
                "fields": (
                    "delivery_method",
                    "recipient_name",
                    "recipient_phone",
                    "address",
                    "city",
                    "latitude",
                    "longitude",
                    "tracking_number",
                    "pickup_code",
                )
            },
        ),
        (
            gettext_lazy("Money"),
            {"fields": ("subtotal", "discount_total", "total", "paid_at", "revenue_split")},
        ),
        (pgettext_lazy("admin fieldset", "Record"), {"fields": ("created_at", "updated_at")}),
    )
    readonly_fields = ("revenue_split", "created_at", "updated_at")
    inlines = (
        OrderLineInline,
        PaymentInline,
        OrderStatusChangeInline,
        RoutingDecisionInline,
        StoreAssignmentInline,
    )
    actions = ("cancel_orders",)

    def get_queryset(self, request):
        # The order page shows every party of the order: load them with the order.
        return (
            super()
            .get_queryset(request)
            .select_related("channel", "member", "origin_store", "placed_by", "fulfilling_location")
        )

    def has_add_permission(self, request):
        return False  # orders are made by order_create (portal, API, QR page)

    def has_change_permission(self, request, obj=None):
        return False  # money, status and routing move only through the order services

    def has_delete_permission(self, request, obj=None):
        return False

    def has_cancel_permission(self, request):
        return is_hq(request.user) and request.user.has_perm("orders.change_order")

    @admin.display(description=gettext_lazy("revenue split"))
    def revenue_split(self, obj):
        """Every share of every line, reversals included (one query)."""
        if obj.pk is None:
            return "-"
        shares = (
            RevenueShare.objects.filter(line__order=obj)
            .select_related("line__sku", "store")
            .order_by("line_id", "id")
        )
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (share.line.sku.code, share.get_party_display(), share.store or "-", share.amount)
                for share in shares
            ),
        )
        if not rows:
            return _("Not split yet: the order is not paid.")
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            _("SKU"),
            _("party"),
            _("store"),
            _("amount"),
            rows,
        )

    @admin.action(description=gettext_lazy("Cancel"), permissions=["cancel"], location=BOTH)
    def cancel_orders(self, request, queryset):
        """Each order through order_cancel on its own: what can be cancelled is, refusals are shown."""
        cancelled = 0
        for order in queryset.order_by("pk"):
            try:
                order_cancel(order=order, reason=HQ_CANCEL_REASON, actor=request.user)
            except DomainError as exc:
                self.message_user(
                    request,
                    _("Order %(number)s was not cancelled: %(reason)s")
                    % {"number": order.number, "reason": exc.message},
                    messages.ERROR,
                )
                continue
            cancelled += 1
        if cancelled:
            self.message_user(
                request,
                ngettext(
                    "Cancelled %(count)d order: stock released, payment refunded.",
                    "Cancelled %(count)d orders: stock released, payments refunded.",
                    cancelled,
                )
                % {"count": cancelled},
                messages.SUCCESS,
            )


# --- Revenue rules: HQ sets the split per channel


class RevenueRuleForm(forms.ModelForm):
    class Meta:
        model = RevenueRule
        fields = ("channel", "fulfilling_fee_percent", "fulfilling_fee_fixed", "origin_share_percent")

    def clean(self):
        data = super().clean()
        for name in ("fulfilling_fee_percent", "fulfilling_fee_fixed", "origin_share_percent"):
            value = data.get(name)
            if value is not None and value < 0:
                self.add_error(name, _("Cannot be negative."))
        fee, share = data.get("fulfilling_fee_percent"), data.get("origin_share_percent")
        if fee is not None and share is not None and fee >= 0 and share >= 0 and fee + share > 100:
            # The database refuses it too (revenue_rule_shares_within_whole); say it in words.
            self.add_error(
                "origin_share_percent",
                _(
                    "The fulfilling store's fee (%(fee)s%%) and the origin store's share (%(share)s%%) "
                    "add up to %(total)s%%: together they can take at most 100%% of a line."
                )
                % {"fee": fee, "share": share, "total": fee + share},
            )
        return data


@admin.register(RevenueRule)
class RevenueRuleAdmin(ModelAdmin):
    """The split per channel, used when an order is paid (orders.services.revenue_split)."""

    form = RevenueRuleForm
    list_display = (
        "channel",
        "fulfilling_fee_percent",
        "fulfilling_fee_fixed",
        "origin_share_percent",
        "brand_keeps",
    )
    list_select_related = ("channel",)
    search_fields = ("channel__code", "channel__name")

    @admin.display(description=gettext_lazy("brand keeps (%, before fixed fees)"))
    def brand_keeps(self, obj):
        return Decimal(100) - obj.fulfilling_fee_percent - obj.origin_share_percent


# --- The ledgers: view only


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Capital flow: payments and refunds are written by the order services, never by hand."""

    list_display = ("created_at", "order", "kind", "method", "amount", "external_reference", "created_by")
    list_filter = ("kind", "method")
    search_fields = ("=order__number", "=external_reference")
    list_select_related = ("order", "created_by")
    show_full_result_count = False


@admin.register(RevenueShare)
class RevenueShareAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Each party's share of each paid line; a cancellation adds reversing rows."""

    list_display = ("created_at", "order_number", "sku", "party", "store", "amount", "reverses")
    list_filter = ("party",)
    search_fields = ("=line__order__number", "=store__code")
    list_select_related = ("line__order", "line__sku", "store", "reverses")
    show_full_result_count = False

    @admin.display(description=gettext_lazy("order"), ordering="line__order__number")
    def order_number(self, obj):
        return obj.line.order.number

    @admin.display(description=gettext_lazy("SKU"))
    def sku(self, obj):
        return obj.line.sku.code


@admin.register(RoutingDecision)
class RoutingDecisionAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Why each order went where it went, attempt by attempt."""

    list_display = ("decided_at", "order", "attempt", "location", "reason")
    search_fields = ("=order__number", "=location__code")
    list_select_related = ("order", "location")
    show_full_result_count = False


@admin.register(StoreAssignment)
class StoreAssignmentAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Offers to stores and their answers; stores answer in the portal, not here."""

    list_display = ("offered_at", "order", "store", "status", "respond_by", "responded_at", "responded_by")
    list_filter = ("status",)
    search_fields = ("=order__number", "=store__code")
    list_select_related = ("order", "store", "responded_by")
    show_full_result_count = False


@admin.register(OrderStatusChange)
class OrderStatusChangeAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Every move of every order's state machine, who made it and why."""

    list_display = ("changed_at", "order", "from_status", "to_status", "reason", "changed_by")
    list_filter = ("to_status",)
    search_fields = ("=order__number",)
    list_select_related = ("order", "changed_by")
    show_full_result_count = False
