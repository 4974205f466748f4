"""The catalog's HQ lists (config.tables): SKUs, a SKU's price versions and audit trail, and the
price consistency report (whose CSV stays its own: ?format=csv, catalog.views._consistency_csv)."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from config.tables import ActionsColumn, ListTable, MoneyColumn, NumberColumn, stacked, when

ALL_CHANNELS = _("All channels")


class SKUTable(ListTable):
    """/hq/catalog/skus/, by code."""

    export_name = "skus"

    code = tables.Column(_("SKU"), orderable=True, order_by=("code",), attrs={"td": {"class": "sku-cell"}})
    product = tables.Column(_("Product"), accessor="product__name")
    barcode = tables.Column(_("Barcode"), attrs={"cell": {"class": "nowrap"}})
    unified = tables.Column(_("One product, one price"), empty_values=())
    actions = ActionsColumn()
    name = tables.Column(visible=False)  # in the CSV only

    class Meta:
        sequence = ("code", "name", "product", "barcode", "unified", "actions")

    def render_code(self, record):
        return stacked(record.code, record.name, href=reverse("catalog:sku_prices", args=[record.code]))

    def render_unified(self, record):
        if record.unified:
            return format_html('<span class="badge info">{}</span>', _("Yes"))
        return format_html('<span class="muted">{}</span>', _("No"))

    def render_actions(self, record):
        href = f"{reverse('catalog:price_new')}?{urlencode({'sku': record.code})}"
        return format_html('<a class="btn btn-small" href="{}">{}</a>', href, _("Set a price"))

    def csv_product(self, record):
        return record.product.code


class ConsistencyTable(ListTable):
    """The price consistency report: a row is (the report's row, its prices in the channels' order);
    a channel column per active channel, the lowest price marked."""

    sku = tables.Column(_("SKU"), empty_values=(), attrs={"td": {"class": "sku-cell"}})
    difference = MoneyColumn(
        _("Difference"),
        accessor="0__difference",
        orderable=True,
        attrs={"th": {"class": "num"}, "td": {"class": "num strong neg money"}},
    )
    lowest = NumberColumn(_("Lowest"), accessor="0__lowest")
    highest = NumberColumn(_("Highest"), accessor="0__highest")

    class Meta:
        attrs = {"class": "compact"}

    def __init__(self, data, *, channels, **kwargs):
        extra = [(f"channel_{i}", _channel_column(i, channel)) for i, channel in enumerate(channels)]
        super().__init__(data, extra_columns=extra, **kwargs)

    def render_sku(self, record):
        sku = record[0].sku
        return stacked(sku.code, sku.name, href=reverse("catalog:sku_prices", args=[sku.code]))


def _channel_column(index: int, channel) -> tables.Column:
    def cell_class(record):
        row, cells = record
        return "num pos" if cells[index] == row.lowest else "num"

    return tables.Column(
        channel.name,
        accessor=f"1__{index}",
        attrs={"th": {"class": "num"}, "td": {"class": cell_class}},
    )


class PriceVersionTable(ListTable):
    """A SKU's price versions (catalog:sku_prices), by channel then newest first."""

    channel = tables.Column(_("Channel"), empty_values=())
    amount = MoneyColumn(_("Amount"), attrs={"th": {"class": "num"}, "td": {"class": "num strong money"}})
    valid_from = tables.Column(_("Valid from"))
    valid_to = tables.Column(_("Valid to"), empty_values=())
    live = tables.Column(_("Now"), empty_values=())
    created_by = tables.Column(_("Set by"))

    def __init__(self, data, *, live_ids, **kwargs):
        self.live_ids = live_ids
        super().__init__(data, **kwargs)

    def render_channel(self, record):
        return record.channel.name if record.channel else format_html("<strong>{}</strong>", ALL_CHANNELS)

    def render_valid_from(self, value):
        return when(value)

    def render_valid_to(self, value):
        return when(value) if value else format_html('<span class="muted">{}</span>', _("open"))

    def render_live(self, record):
        return (
            format_html('<span class="badge ok">{}</span>', _("Live")) if record.pk in self.live_ids else ""
        )

    def render_created_by(self, value):
        return value.email or value.get_username()


class PriceChangeTable(ListTable):
    """A SKU's price audit trail (catalog:sku_prices, under `changes_page`), newest first."""

    pages_label = _("Audit trail pages")

    changed_at = tables.Column(_("When"))
    changed_by = tables.Column(_("Who"))
    action = tables.Column(_("Action"))
    channel = tables.Column(_("Channel"), empty_values=())
    amounts = tables.Column(_("Old → new"), empty_values=(), attrs={"cell": {"class": "num"}})
    window = tables.Column(_("Window"), empty_values=())

    def render_changed_at(self, value):
        return when(value)

    def render_changed_by(self, value):
        return value.email or value.get_username()

    def render_channel(self, record):
        return record.channel.name if record.channel else ALL_CHANNELS

    def render_amounts(self, record):
        return f"{record.old_amount or '—'} → {record.new_amount or '—'}"

    def render_window(self, record):
        return f"{when(record.valid_from)} – {when(record.valid_to) if record.valid_to else '…'}"
