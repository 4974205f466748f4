"""Forms of the guide/partner portal and the HQ guide pages (the public sign-up and scan forms
are in guides/forms.py)."""

from datetime import timedelta

from django import forms
from django.utils.translation import gettext_lazy as _

from guides.leaderboards import SORTS
from guides.periods import Period

# A report over more than a year and a day is almost certainly a typo in a year.
MAX_PERIOD_DAYS = 366

SORT_LABELS = {
    "sales": _("Attributed sales"),
    "orders": _("Attributed orders"),
    "fans": _("Fans brought"),
    "commission": _("Commission"),
}


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class PeriodForm(forms.Form):
    """From and to dates (Shanghai days, both included); empty means this month."""

    start = forms.DateField(label=_("From"), required=False, widget=DateInput)
    end = forms.DateField(label=_("To (included)"), required=False, widget=DateInput)

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", _("The end comes before the start."))
        elif start and end and (end - start) > timedelta(days=MAX_PERIOD_DAYS):
            self.add_error("end", _("Choose a period of at most a year."))
        return data

    def period(self) -> Period:
        """The chosen period; this month when nothing (valid) was chosen."""
        month = Period.this_month()
        if not self.is_valid():
            return month
        start, end = self.cleaned_data.get("start"), self.cleaned_data.get("end")
        if start and not end:
            return Period(start, max(start, month.last))
        if end and not start:
            return Period(min(end.replace(day=1), end), end)
        if start and end:
            return Period(start, end)
        return month


class BoardForm(PeriodForm):
    sort = forms.ChoiceField(
        label=_("Rank by"), required=False, choices=[(key, SORT_LABELS[key]) for key in SORTS]
    )

    def sort_key(self) -> str:
        return (self.is_valid() and self.cleaned_data.get("sort")) or "sales"


class SuspendForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is the guide suspended?"),
        max_length=255,
        help_text=_("The guide sees this. Their QR code binds nobody until they are reinstated."),
    )


class PayForm(forms.Form):
    payment_reference = forms.CharField(
        label=_("Payment reference"), max_length=64, help_text=_("The bank transfer's reference.")
    )


class FanCouponForm(forms.Form):
    """A guide hands a fan one of the coupons HQ offers through guides (guides.services.fan_coupons)."""

    coupon = forms.ModelChoiceField(queryset=None, label=_("Coupon"), empty_label=None)

    def __init__(self, *args, coupons, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["coupon"].queryset = coupons
