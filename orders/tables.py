"""The orders app's lists (config.tables): the portal's orders, and the stores to open a queue at."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from config.tables import ActionsColumn, ListTable, MoneyColumn, StatusColumn, stacked, when


class OrderTable(ListTable):
    """/portal/orders/: newest first, or by total. Its CSV leaves the member out: a list export is
    no way around members.policies."""

    export_name = "orders"

    number = tables.Column(_("Order"), orderable=True, order_by=("created_at", "id"))
    status = StatusColumn()
    channel = tables.Column(_("Channel"), accessor="channel__code")
    member = tables.Column(_("Member"), empty_values=(), exclude_from_export=True)
    origin_store = tables.Column(_("Origin store"), accessor="origin_store__code")
    fulfilled_by = tables.Column(_("Fulfilled by"), accessor="fulfilling_location__code", empty_values=())
    total = MoneyColumn(_("Total"), orderable=True, order_by=("total", "id"))
    # In the CSV only: what the page shows under another cell.
    created_at = tables.Column(visible=False)
    origin = tables.Column(visible=False)
    delivery_method = tables.Column(visible=False)

    class Meta:
        sequence = (
            "number",
            "created_at",
            "status",
            "channel",
            "origin",
            "member",
            "origin_store",
            "fulfilled_by",
            "delivery_method",
            "total",
        )

    def render_number(self, record):
        href = reverse("orders:detail", args=[record.number])
        return stacked(record.number, when(record.created_at), href=href)

    def render_channel(self, record):
        return stacked(record.channel.name, record.get_origin_display(), strong=False)

    def render_member(self, record):
        member = record.member
        return (member.name or member.phone) if member else "—"

    def render_fulfilled_by(self, record):
        code = record.fulfilling_location.code if record.fulfilling_location else "—"
        return stacked(code, record.get_delivery_method_display(), strong=False)


class QueueStoreTable(ListTable):
    """/portal/orders/queue/ for someone with several stores: pick the store whose queue to open."""

    name = tables.Column(_("Store"))
    city = tables.Column(_("City"))
    actions = ActionsColumn()

    def render_name(self, record):
        return stacked(record.name, record.code, href=reverse("orders:queue", args=[record.code]))

    def render_actions(self, record):
        return format_html(
            '<a class="btn btn-primary btn-small" href="{}">{}</a> '
            '<a class="btn btn-small" href="{}">{}</a> '
            '<a class="btn btn-small" href="{}">{}</a>',
            reverse("orders:queue", args=[record.code]),
            _("Queue"),
            reverse("orders:new", args=[record.code]),
            _("New order"),
            reverse("orders:qr_card", args=[record.code]),
            _("QR code"),
        )
