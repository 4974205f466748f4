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
