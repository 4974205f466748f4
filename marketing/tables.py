"""HQ's marketing lists (config.tables): promotions, coupons and campaigns.

Whether a promotion or a coupon is live is its window's business, not a status field: the tables
ask `is_live_at(now)` with the instant the page was asked for, so the page and its CSV agree."""

import django_tables2 as tables
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config.badges import status_badge
from config.tables import ListTable, MoneyColumn, NumberColumn, StatusColumn, stacked, when
from marketing.choices import CouponKind


class _WindowTable(ListTable):
    """A list of rows with a validity window (valid_from, valid_to) judged at one instant."""

    def __init__(self, data, *, now=None, **kwargs):
        self.now = now or timezone.now()
        super().__init__(data, **kwargs)

    def window_state(self, record) -> str:
        if record.is_live_at(self.now):
            return "live"
        return "upcoming" if record.valid_from > self.now else "ended"


class PromotionTable(_WindowTable):
    """Every version of every promotion, latest start first."""

    export_name = "promotions"

    code = tables.Column(_("Promotion"))
    state = tables.Column(_("Status"), empty_values=())
    kind = tables.Column(_("Kind"), empty_values=())
    scope = tables.Column(_("Scope"), empty_values=())
    valid_from = tables.Column(_("Window"), orderable=True, order_by=("valid_from", "id"))
    # In the CSV only.
    name = tables.Column(visible=False)
    valid_to = tables.Column(visible=False)

    class Meta:
        attrs = {"class": "compact"}
        row_attrs = {"data-code": lambda record: record.code}
        sequence = ("code", "name", "state", "kind", "scope", "valid_from", "valid_to")

    def render_code(self, record):
        return stacked(record.code, record.name)

    def render_state(self, record):
        state = self.window_state(record)
        if state == "live":
            return format_html('<span class="badge ok">{}</span>', _("Live"))
        if state == "upcoming":
            return format_html('<span class="badge info">{}</span>', _("Not started"))
        return format_html('<span class="badge">{}</span>', _("Ended"))

    def render_kind(self, record):
        terms = []
        if record.percent:
            terms.append(f"{record.percent} %")
        if record.amount:
            terms.append(f"−¥{record.amount}")
        if record.threshold:
            terms.append(f"≥ ¥{record.threshold}")
        detail = " ".join(terms)
        if record.nth:
            detail += " · " + _("every %(n)sth") % {"n": record.nth}
        return format_html(
            '{}<br><span class="muted nowrap">{}</span>', record.get_kind_display(), detail.strip(" ·")
        )

    def render_scope(self, record):
        lines = []
        if record.sku_list:
            shown = ", ".join(sku.code for sku in record.sku_list[:3])
            if len(record.sku_list) > 3:
                count = len(record.sku_list)
                shown += " " + ngettext("(%(n)s SKU)", "(%(n)s SKUs)", count) % {"n": count}
            lines.append(shown)
        if record.category_list:
            lines.append(", ".join(category.name for category in record.category_list))
        if not record.sku_list and not record.category_list:
            lines.append(str(_("Whole basket")))
        channels = (
            ", ".join(c.name for c in record.channel_list) if record.channel_list else _("All channels")
        )
        return format_html(
            '{}<span class="muted">{}</span>',
            format_html_join("", "{}<br>", ((line,) for line in lines)),
            channels,
        )

    def render_valid_from(self, record):
        return _window(record, "Y-m-d H:i")

    def csv_state(self, record):
        return self.window_state(record)

    def csv_kind(self, record):
        return record.kind

    def csv_scope(self, record):
        return ";".join(
            [sku.code for sku in record.sku_list]
            + [f"category:{c.code}" for c in record.category_list]
            + [f"channel:{c.code}" for c in record.channel_list]
        )


class CouponTable(_WindowTable):
    """Coupon definitions: issued, redeemed, and what is left of each budget."""

    export_name = "coupons"

    code = tables.Column(_("Coupon"))
    value = tables.Column(_("Value"), attrs={"cell": {"class": "nowrap"}})
    issued_count = NumberColumn(_("Issued"))
    redeemed_count = MoneyColumn(_("Redeemed"))
    budget_left = NumberColumn(_("Budget left"), empty_values=())
    valid_from = tables.Column(_("Window"), orderable=True, order_by=("valid_from", "id"))
    # In the CSV only.
    name = tables.Column(visible=False)
    kind = tables.Column(visible=False)
    min_spend = tables.Column(visible=False)
    redeemed_amount = tables.Column(visible=False)
    valid_to = tables.Column(visible=False)

    class Meta:
        attrs = {"class": "compact"}
        row_attrs = {"data-code": lambda record: record.code}
        sequence = (
            "code",
            "name",
            "kind",
            "value",
            "min_spend",
            "issued_count",
            "redeemed_count",
            "redeemed_amount",
            "budget_left",
            "valid_from",
            "valid_to",
        )

    def render_code(self, record):
        if record.is_live_at(self.now):
            badge = format_html('<span class="badge ok">{}</span>', _("Live"))
        else:
            badge = format_html('<span class="badge">{}</span>', _("Not live"))
        return format_html(
            '<strong>{}</strong> {}<br><span class="muted">{}</span>', record.code, badge, record.name
        )

    def render_value(self, record):
        value = f"{record.value} %" if record.kind == CouponKind.PERCENT else f"¥{record.value}"
        if record.min_spend:
            minimum = _("from ¥%(m)s") % {"m": record.min_spend}
            return format_html('{}<br><span class="muted">{}</span>', value, minimum)
        return value

    def render_redeemed_count(self, record):
        return format_html(
            '{}<br><span class="muted">¥{}</span>', record.redeemed_count, record.redeemed_amount
        )

    def render_budget_left(self, record):
        count_left, amount_left = _budget_left(record)
        if count_left is None and amount_left is None:
            return format_html('<span class="muted">{}</span>', _("no budget"))
        parts = []
        if count_left is not None:
            parts.append(ngettext("%(n)s use", "%(n)s uses", count_left) % {"n": count_left})
        if amount_left is not None:
            parts.append(f"¥{amount_left}")
        return format_html_join(mark_safe("<br>"), "{}", ((part,) for part in parts))  # noqa: S308

    def render_valid_from(self, record):
        return _window(record, "Y-m-d")

    def csv_budget_left(self, record):
        count_left, amount_left = _budget_left(record)
        return ";".join(str(left) for left in (count_left, amount_left) if left is not None)


class CampaignTable(ListTable):
    """Campaigns, newest first."""

    export_name = "campaigns"

    name = tables.Column(_("Campaign"))
    status = StatusColumn()
    recipients = NumberColumn(_("Recipients"))
    audience = tables.Column(_("Audience"), empty_values=())
    coupon = tables.Column(_("Coupon"), accessor="coupon__code")
    sent_at = tables.Column(visible=False)  # in the CSV only

    class Meta:
        attrs = {"class": "compact"}
        row_attrs = {"data-pk": lambda record: record.pk}

    def render_name(self, record):
        return stacked(record.name, href=reverse("marketing_hq:campaign", args=[record.pk]))

    def render_status(self, record):
        badge = status_badge(record)
        if record.is_sent and record.sent_at:
            return format_html('{}<br><span class="muted nowrap">{}</span>', badge, when(record.sent_at))
        return badge

    def render_audience(self, record):
        return render_to_string("marketing/hq/_audience.html", {"campaign": record})

    def csv_audience(self, record):
        return render_to_string("marketing/hq/_audience.html", {"campaign": record}).strip()


def _window(record, fmt: str):
    end = f"→ {when(record.valid_to, fmt)}" if record.valid_to else _("open-ended")
    return format_html('{}<br><span class="muted">{}</span>', when(record.valid_from, fmt), end)


def _budget_left(coupon) -> tuple:
    count_left = None if coupon.budget_count is None else coupon.budget_count - coupon.redeemed_count
    amount_left = None if coupon.budget_amount is None else coupon.budget_amount - coupon.redeemed_amount
    return count_left, amount_left
