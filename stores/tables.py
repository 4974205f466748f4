"""The store network's lists (config.tables): my stores, a store's stock, a stock row's ledger."""

import django_tables2 as tables
from django.db.models import F
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from config.tables import ActionsColumn, ListTable, NumberColumn, StatusColumn, stacked, when


class StoreTable(ListTable):
    """/portal/stores/: by code, or by city."""

    export_name = "stores"

    name = tables.Column(_("Store"), orderable=True, order_by=("name", "code"))
    city = tables.Column(_("City"), orderable=True, order_by=("city", "code"))
    kind = tables.Column(_("Kind"))
    partner = tables.Column(_("Partner"), accessor="partner__name")
    status = StatusColumn()
    actions = ActionsColumn()
    # In the CSV only.
    code = tables.Column(visible=False)
    city_tier = tables.Column(visible=False)

    class Meta:
        sequence = ("name", "code", "city", "city_tier", "kind", "partner", "status", "actions")

    def render_name(self, record):
        return stacked(record.name, record.code, href=reverse("stores:detail", args=[record.code]))

    def render_city(self, record):
        tier = _("tier %(tier)s") % {"tier": record.city_tier}
        return format_html('{} <span class="muted">· {}</span>', record.city, tier)

    def render_actions(self, record):
        return format_html(
            '<a class="btn btn-small" href="{}">{}</a>',
            reverse("stores:lookup", args=[record.code]),
            _("Stock lookup"),
        )

    def csv_kind(self, record):
        return record.kind

    def csv_partner(self, record):
        return record.partner.code if record.partner else ""


class StockTable(ListTable):
    """A store's stock (stores:detail): by SKU code, or by what is available."""

    export_name = "stock"

    sku = tables.Column(
        _("SKU"),
        accessor="sku__code",
        orderable=True,
        order_by=("sku__code", "id"),
        attrs={"td": {"class": "sku-cell"}},
    )
    barcode = tables.Column(_("Barcode"), accessor="sku__barcode", attrs={"cell": {"class": "nowrap"}})
    on_hand = NumberColumn(_("On hand"), orderable=True, order_by=("on_hand", "id"))
    reserved = NumberColumn(_("Reserved"))
    available = NumberColumn(
        _("Available"), orderable=True, attrs={"td": {"class": "num strong"}, "th": {"class": "num"}}
    )

    def __init__(self, data, *, store, **kwargs):
        self.store = store
        super().__init__(data, **kwargs)

    def render_sku(self, record):
        href = reverse("stores:ledger", args=[self.store.code, record.sku.code])
        return stacked(record.sku.code, record.sku.name, href=href)

    def order_available(self, queryset, is_descending):
        available = F("on_hand") - F("reserved")
        return queryset.order_by(available.desc() if is_descending else available.asc(), "id"), True


class MovementTable(ListTable):
    """A stock row's ledger (stores:ledger), newest first."""

    created_at = tables.Column(_("When"))
    kind = tables.Column(_("Movement"))
    on_hand_delta = NumberColumn(_("On hand"), empty_values=())
    reserved_delta = NumberColumn(_("Reserved"), empty_values=())
    reason = tables.Column(_("Reason"), empty_values=())
    created_by = tables.Column(_("By"))

    def render_created_at(self, value):
        return when(value)

    def render_on_hand_delta(self, record):
        return _signed(record.on_hand_delta, tone=True)

    def render_reserved_delta(self, record):
        return _signed(record.reserved_delta)

    def render_reason(self, record):
        if record.reference:
            return format_html('{} <span class="muted">({})</span>', record.reason, record.reference)
        return record.reason

    def render_created_by(self, value):
        return value.email or value.get_username()


def _signed(delta: int, *, tone: bool = False):
    if not delta:
        return "—"
    text = f"+{delta}" if delta > 0 else str(delta)
    if tone:
        return format_html('<span class="{}">{}</span>', "pos" if delta > 0 else "neg", text)
    return text
