"""The dashboard's period: from and to (Shanghai days, both included) or a preset."""

from datetime import timedelta

from django import forms
from django.utils.translation import gettext_lazy as _

from config.dates import shanghai_today
from guides.periods import Period

DEFAULT_DAYS = 30
MAX_PERIOD_DAYS = 366
PRESETS = [
    ("today", _("Today")),
    ("7d", _("Last 7 days")),
    ("30d", _("Last 30 days")),
    ("month", _("This month")),
]
DateInput = forms.DateInput(attrs={"type": "date"})


def preset_period(preset: str) -> Period:
    today = shanghai_today()
    if preset == "today":
        return Period(today, today)
    if preset == "7d":
        return Period(today - timedelta(days=6), today)
    if preset == "month":
        return Period(today.replace(day=1), today)
    return Period(today - timedelta(days=DEFAULT_DAYS - 1), today)


class DashboardPeriodForm(forms.Form):
    """A preset wins over the dates; with neither, the last 30 days up to today."""

    preset = forms.ChoiceField(label=_("Period"), choices=[("", "—"), *PRESETS], required=False)
    start = forms.DateField(label=_("From"), required=False, widget=DateInput)
    end = forms.DateField(label=_("To (included)"), required=False, widget=DateInput)

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if data.get("preset"):
            return data
        if start and end and end < start:
            self.add_error("end", _("The end comes before the start."))
        elif start and end and (end - start).days >= MAX_PERIOD_DAYS:
            self.add_error("end", _("Choose a period of at most a year."))
        return data

    def period(self) -> Period:
        """The chosen period; the last 30 days when nothing (valid) was chosen."""
        if not self.is_valid():
            return preset_period("30d")
        preset, start, end = (self.cleaned_data.get(k) for k in ("preset", "start", "end"))
        if preset:
            return preset_period(preset)
        if start and end:
            return Period(start, end)
        if start:
            return Period(
                start, min(max(start, shanghai_today()), start + timedelta(days=MAX_PERIOD_DAYS - 1))
            )
        if end:
            return Period(end - timedelta(days=DEFAULT_DAYS - 1), end)
        return preset_period("30d")


# --- the lists' drill-down parameters ---------------------------------------------------------
# Every parameter a list takes is parsed here before any query or CSV stream starts: a NUL byte,
# a value past a column's length or an unknown choice is a field error on the page (400), never a
# 500 from the database nor a CSV cut mid-stream.

CODE_LENGTH = 40  # the codes' column length (channels, SKUs, stores, guides)
FORMATS = [("", _("Page")), ("csv", "CSV")]


def _code_field(label):
    return forms.CharField(label=label, required=False, max_length=CODE_LENGTH)


def _choices(values) -> list[tuple[str, str]]:
    return [("", "—"), *((value, value) for value in values)]


class DrillDownForm(forms.Form):
    """Common to both lists: the download format."""

    format = forms.ChoiceField(label=_("Format"), choices=FORMATS, required=False)

    def filters(self) -> dict:
        """The valid, non-empty filters (call after is_valid())."""
        return {key: value for key, value in self.cleaned_data.items() if value not in ("", None)}


class OrderFilterForm(DrillDownForm):
    """The order list's filters: the figure's drill-down (dashboard.selectors.filter_orders)."""

    channel = _code_field(_("Channel"))
    online = forms.ChoiceField(label=_("Online / offline"), choices=_choices(["1", "0"]), required=False)
    tier = forms.ChoiceField(label=_("City tier"), required=False)
    region = forms.ChoiceField(label=_("Region"), required=False)
    sku = _code_field(_("SKU"))
    flow = forms.ChoiceField(label=_("Flow"), required=False)
    guide = _code_field(_("Guide"))
    day = forms.DateField(label=_("Day"), required=False)

    def __init__(self, *args, tiers=(), regions=(), flows=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = _choices(tiers)
        self.fields["region"].choices = _choices(regions)
        self.fields["flow"].choices = _choices(flows)


class OfferFilterForm(DrillDownForm):
    """The offer list's filters (dashboard.selectors.filter_offers)."""

    store = _code_field(_("Store"))
    status = forms.ChoiceField(label=_("Status"), required=False)

    def __init__(self, *args, statuses=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = _choices(statuses)
