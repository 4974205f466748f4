"""The HQ dashboard's lists behind its figures (config.tables). Their CSV stays the dashboard's own
(?format=csv, dashboard.views: the columns it always had, streamed)."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from config.tables import ListTable, MoneyColumn, StatusColumn, stacked, when


def _order_link(order):
    return format_html('<a href="{}">{}</a>', reverse("orders:detail", args=[order.number]), order.number)


class SalesOrderTable(ListTable):
    """Orders paid in the period (dashboard:orders), latest payment first, or by total."""

    number = tables.Column(_("Order"), empty_values=())
    paid_at = tables.Column(
        _("Paid"), orderable=True, order_by=("paid_at", "id"), attrs={"cell": {"class": "nowrap"}}
    )
    channel = tables.Column(_("Channel"), accessor="channel__name")
    origin_store = tables.Column(_("Sold by"), accessor="origin_store__name")
    fulfilling_location = tables.Column(_("Fulfilled by"), accessor="fulfilling_location__name")
    guide = tables.Column(_("Guide"), accessor="guide__name")
    status = StatusColumn()
    total = MoneyColumn(_("Total"), orderable=True, order_by=("total", "id"))

    class Meta:
        attrs = {"class": "compact", "id": "table-orders"}

    def render_number(self, record):
        return _order_link(record)

    def render_paid_at(self, value):
        return when(value)


class OfferTable(ListTable):
    """Orders offered to stores in the period (dashboard:offers), latest offer first."""

    order = tables.Column(_("Order"), empty_values=())
    store = tables.Column(_("Store"), accessor="store__name")
    offered_at = tables.Column(
        _("Offered"), orderable=True, order_by=("offered_at", "id"), attrs={"cell": {"class": "nowrap"}}
    )
    responded_at = tables.Column(_("Answered"), attrs={"cell": {"class": "nowrap"}})
    status = StatusColumn()
    reason = tables.Column(_("Reason"))

    class Meta:
        attrs = {"class": "compact", "id": "table-offers"}

    def render_order(self, record):
        return stacked(_order_link(record.order), record.order.channel.name, strong=False)

    def render_offered_at(self, value):
        return when(value)

    def render_responded_at(self, value):
        return when(value)
