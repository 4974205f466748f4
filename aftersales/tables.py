"""After-sales lists (config.tables): service tickets, at the desk, a store's and HQ's queue.

HQ's queue keeps its own CSV (/hq/service/tickets.csv, aftersales.hq_views.queue_csv), streamed with
the columns it always had."""

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from aftersales.templatetags.aftersales_tags import days_open
from config.tables import ListTable, NumberColumn, StatusColumn, stacked, when


class TicketTable(ListTable):
    """Tickets in the view's order (oldest first where the work waits, newest first otherwise), or
    by how long they have been open."""

    number = tables.Column(_("Ticket"), orderable=True, order_by=("opened_at", "id"))
    kind = tables.Column(_("Kind"), empty_values=())
    status = StatusColumn()
    product = tables.Column(_("Product"), empty_values=())
    sold_on = tables.Column(_("Sold on"), empty_values=())
    stores = tables.Column(_("Taken in / handled at"), empty_values=())
    days_open = NumberColumn(_("Days open"), empty_values=())

    def __init__(self, data, *, now=None, **kwargs):
        self.now = now or timezone.now()
        super().__init__(data, **kwargs)

    def render_number(self, record):
        href = reverse("aftersales:detail", args=[record.number])
        return stacked(record.number, when(record.opened_at), href=href)

    def render_kind(self, record):
        if record.fault:
            return record.get_kind_display()
        return stacked(record.get_kind_display(), _("no fault"), strong=False)

    def render_product(self, record):
        sku = record.line.sku
        serial = f" · {record.unit.serial}" if record.unit else ""
        return stacked(sku.name, f"{sku.code}{serial} × {record.quantity}", strong=False)

    def render_sold_on(self, record):
        return stacked(record.channel.name, record.order.number, strong=False)

    def render_stores(self, record):
        intake = record.intake_store.code if record.intake_store else "—"
        handling = record.handling_store.code if record.handling_store else "—"
        return format_html("{} / {}", intake, handling)

    def render_days_open(self, record):
        return days_open(record, self.now)
