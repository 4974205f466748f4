"""The guide and partner portal's lists and HQ's (config.tables): fans, attributed orders, the
commission ledger, statements, a partner's stores and guides, HQ's guides.

A column about which guide a row is for is left out (`exclude=("guide",)`) for a guide looking at
their own rows (guides.views.Viewer.many_guides). The statements' CSV stays its own
(guides.views.statement_csv_response: guides.settlement decides its columns)."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from config.badges import status_badge
from config.tables import ListTable, MoneyColumn, NumberColumn, StatusColumn, stacked, when
from guides.templatetags.guides_portal import masked_name, masked_phone


def _guide_cell(guide):
    return stacked(guide.code, guide.name, strong=False) if guide else "—"


class FanTable(ListTable):
    """A guide's (or a partner's, or HQ's) fans, latest scan first; a fan's contact is masked."""

    fan = tables.Column(_("Fan"), empty_values=())
    guide = tables.Column(_("Guide"), empty_values=())
    started_at = tables.Column(_("Bound at"), attrs={"cell": {"class": "nowrap"}})
    window = tables.Column(_("Window"), empty_values=())
    scan_count = NumberColumn(_("Scans"))

    def render_fan(self, record):
        name = masked_name(record.member.name) if record.member.name else None
        return stacked(masked_phone(record.member.phone), name, href=reverse("guides:fan", args=[record.pk]))

    def render_guide(self, record):
        return _guide_cell(record.guide)

    def render_started_at(self, value):
        return when(value)

    def render_window(self, record):
        # A binding's window is no status field: its state comes from guides.selectors.bindings_mark.
        if record.active:
            badge = format_html('<span class="badge ok">{}</span>', _("Active"))
        elif record.ended_at:
            badge = format_html('<span class="badge">{}</span>', _("Taken over"))
        else:
            badge = format_html('<span class="badge warn">{}</span>', _("Expired"))
        last_day = _("last day %(day)s") % {"day": when(record.last_day, "Y-m-d")}
        return format_html('{}<br><span class="muted nowrap">{}</span>', badge, last_day)


class AttributedOrderTable(ListTable):
    """Orders attributed to the viewer's guides (guides:orders), newest first or by total."""

    number = tables.Column(_("Order"), orderable=True, order_by=("created_at", "id"))
    guide = tables.Column(_("Guide"), empty_values=())
    channel = tables.Column(_("Channel"), accessor="channel__name")
    status = StatusColumn()
    total = MoneyColumn(_("Total"), orderable=True, order_by=("total", "id"))

    def render_number(self, record):
        href = reverse("guides:order", args=[record.number])
        return stacked(record.number, when(record.created_at), href=href)

    def render_guide(self, record):
        return _guide_cell(record.guide)


def _signed_money(value):
    if not value:
        return "—"
    return format_html('<span class="neg">{}</span>', value) if value < 0 else value


class EntryTable(ListTable):
    """Commission ledger rows: the portal's ledger and a statement's rows (portal and HQ). `link`
    is the URL name of an entry's page, or empty where there is none (HQ)."""

    created_at = tables.Column(_("Booked"), attrs={"cell": {"class": "nowrap"}})
    kind = tables.Column(_("Kind"), empty_values=())
    guide = tables.Column(_("Guide"), accessor="guide__code")
    order = tables.Column(_("Order"), empty_values=())
    base_amount = NumberColumn(_("Paid amount"))
    held_change = MoneyColumn(_("Held"), empty_values=())
    payable_change = MoneyColumn(_("Payable"), empty_values=())

    class Meta:
        attrs = {"class": "compact"}

    def __init__(self, data, *, link: str = "", **kwargs):
        self.link = link
        super().__init__(data, **kwargs)

    def render_created_at(self, record):
        booked = when(record.created_at)
        if self.link:
            return format_html('<a href="{}">{}</a>', reverse(self.link, args=[record.pk]), booked)
        return booked

    def render_kind(self, record):
        return stacked(record.get_kind_display(), record.note, strong=False)

    def render_order(self, record):
        if not record.order:
            return "—"
        line = f"{record.line.sku.code} × {record.line.quantity}" if record.line else None
        return stacked(record.order.number, line, strong=False)

    def render_held_change(self, record):
        return _signed_money(record.held_change)

    def render_payable_change(self, record):
        return _signed_money(record.payable_change)


class StatementTable(ListTable):
    """Monthly statements, newest month first; `link` is the URL name of a statement's page."""

    period = tables.Column(_("Month"))
    party = tables.Column(_("For"), empty_values=())
    status = StatusColumn()
    entry_count = NumberColumn(_("Entries"))
    total = MoneyColumn(_("Total"), orderable=True, order_by=("total", "id"))
    # In the CSV only (HQ's list has one): whose statement, by code.
    code = tables.Column(accessor="pk", visible=False)

    class Meta:
        sequence = ("period", "party", "code", "status", "entry_count", "total")

    def __init__(self, data, *, link: str, **kwargs):
        self.link = link
        super().__init__(data, **kwargs)

    def render_period(self, record):
        return stacked(when(record.period, "Y-m"), href=reverse(self.link, args=[record.pk]))

    def render_party(self, record):
        if record.guide:
            return stacked(record.guide.code, record.guide.name, strong=False)
        return stacked(record.partner.name, _("Partner"), strong=False)

    def csv_code(self, record):
        return record.guide.code if record.guide else record.partner.code


class PartnerStoreTable(ListTable):
    """A partner's stores with their figures for the period (guides:partner, under `stores_page`)."""

    pages_label = _("Store pages")

    name = tables.Column(_("Store"), empty_values=())
    fans = NumberColumn(_("Fans brought"), accessor="figures__fans")
    orders = NumberColumn(_("Orders"), accessor="figures__orders")
    sales = MoneyColumn(_("Sales"), accessor="figures__sales")
    commission = MoneyColumn(_("Commission"), accessor="figures__commission")

    class Meta:
        attrs = {"class": "compact", "aria-labelledby": "stores-h"}
        row_attrs = {"data-store": lambda record: record.code}

    def render_name(self, record):
        return stacked(record.name, f"{record.code} · {record.city}")


class PartnerGuideTable(ListTable):
    """A partner's guides with their figures for the period (guides:partner)."""

    code = tables.Column(_("Guide"), empty_values=())
    active_fans = NumberColumn(_("Active fans"))
    fans = NumberColumn(_("Fans brought"), accessor="figures__fans")
    orders = NumberColumn(_("Orders"), accessor="figures__orders")
    sales = MoneyColumn(_("Sales"), accessor="figures__sales")
    commission = MoneyColumn(_("Commission"), accessor="figures__commission")

    class Meta:
        attrs = {"class": "compact", "aria-labelledby": "guides-h"}
        row_attrs = {"data-guide": lambda record: record.code}

    def render_code(self, record):
        link = format_html(
            '<a href="{}"><strong>{}</strong></a>', reverse("guides:guide", args=[record.code]), record.code
        )
        badge = "" if record.is_active else format_html(" {}", status_badge(record))
        place = f"{record.name} · {record.store.code}" if record.store else record.name
        return format_html('{}{}<br><span class="muted">{}</span>', link, badge, place)


class GuideTable(ListTable):
    """HQ's guides (guides_hq:guides), by code or by the day they signed up."""

    export_name = "guides"

    code = tables.Column(_("Guide"), orderable=True, order_by=("code",))
    status = StatusColumn()
    level = tables.Column(_("Level"), accessor="level__name")
    store = tables.Column(_("Store"), accessor="store__code")
    partner = tables.Column(_("Partner"), accessor="partner__name")
    created_at = tables.Column(
        _("Since"), orderable=True, order_by=("created_at", "id"), attrs={"cell": {"class": "nowrap"}}
    )
    name = tables.Column(visible=False)  # in the CSV only

    class Meta:
        attrs = {"class": "compact"}
        row_attrs = {"data-code": lambda record: record.code}
        sequence = ("code", "name", "status", "level", "store", "partner", "created_at")

    def render_code(self, record):
        return stacked(record.code, record.name, href=reverse("guides_hq:guide", args=[record.code]))

    def render_created_at(self, value):
        return when(value, "Y-m-d")

    def csv_level(self, record):
        return record.level.code if record.level else ""

    def csv_partner(self, record):
        return record.partner.code if record.partner else ""
