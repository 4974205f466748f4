"""One FilterSet per model, shared by the guide/partner portal, the HQ pages and the API.

Months are Asia/Shanghai calendar months (the business time zone, like every day window of
the guides issue); guides, stores and partners are filtered by code, never by a choice list
(10,000 guides would be rendered into every filter form)."""

from datetime import date

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from config.dates import shanghai_midnight
from guides.choices import EntryKind, GuideStatus, StatementParty, StatementStatus
from guides.models import Binding, CommissionEntry, Guide, Statement
from guides.periods import month_bounds


class MonthInput(forms.DateInput):
    input_type = "month"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m")


class MonthField(forms.DateField):
    """A calendar month typed as YYYY-MM (the browser's month picker), cleaned to its first day."""

    widget = MonthInput
    input_formats = ["%Y-%m", "%Y-%m-%d"]

    def to_python(self, value):
        day = super().to_python(value)
        return day.replace(day=1) if day else day


class MonthFilter(django_filters.Filter):
    """Rows whose datetime falls in the Shanghai calendar month."""

    field_class = MonthField

    def filter(self, qs, value):
        if not value:
            return qs
        since, until = month_bounds(value)
        return qs.filter(**{f"{self.field_name}__gte": since, f"{self.field_name}__lt": until})


class MonthValueFilter(django_filters.Filter):
    """A month typed as YYYY-MM matched against a date field holding the month's first day."""

    field_class = MonthField


class ShanghaiDateFilter(django_filters.DateFilter):
    """A Shanghai calendar day as a bound on a datetime: from its midnight (`gte`) or up to the
    next midnight (`lt`, so the day itself is included)."""

    def filter(self, qs, value):
        if not value:
            return qs
        if self.lookup_expr == "lt":
            value = date.fromordinal(value.toordinal() + 1)
        return qs.filter(**{f"{self.field_name}__{self.lookup_expr}": shanghai_midnight(value)})


class GuideFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="by_text", label=_("Code or name"))
    status = django_filters.ChoiceFilter(choices=GuideStatus.choices, label=_("Status"))
    store = django_filters.CharFilter(field_name="store__code", label=_("Store code"))
    partner = django_filters.CharFilter(field_name="partner__code", label=_("Partner code"))
    level = django_filters.CharFilter(field_name="level__code", label=_("Level code"))

    class Meta:
        model = Guide
        fields = ["q", "status", "store", "partner", "level"]

    def by_text(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(code__iexact=value) | Q(name__icontains=value))


class BindingFilterSet(django_filters.FilterSet):
    ACTIVE = "active"
    EXPIRED = "expired"

    state = django_filters.ChoiceFilter(
        method="by_state",
        choices=[(ACTIVE, _("Active (inside the window)")), (EXPIRED, _("Expired or taken over"))],
        label=_("Fans"),
        empty_label=_("All"),
    )
    guide = django_filters.CharFilter(field_name="guide__code", label=_("Guide code"))
    started_from = ShanghaiDateFilter(field_name="started_at", lookup_expr="gte", label=_("Bound from"))
    started_to = ShanghaiDateFilter(field_name="started_at", lookup_expr="lt", label=_("Bound until"))

    class Meta:
        model = Binding
        fields = ["state", "guide", "started_from", "started_to"]

    def by_state(self, queryset, name, value):
        from guides.selectors import active_binding_q

        active = active_binding_q()
        if value == self.ACTIVE:
            return queryset.filter(active)
        if value == self.EXPIRED:
            return queryset.exclude(active)
        return queryset


class CommissionEntryFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=EntryKind.choices, label=_("Kind"), empty_label=_("All"))
    month = MonthFilter(field_name="created_at", label=_("Month"))
    guide = django_filters.CharFilter(field_name="guide__code", label=_("Guide code"))
    partner = django_filters.CharFilter(field_name="partner__code", label=_("Partner code"))
    order = django_filters.CharFilter(field_name="order__number", label=_("Order number"))

    class Meta:
        model = CommissionEntry
        fields = ["kind", "month", "guide", "partner", "order"]


class StatementFilterSet(django_filters.FilterSet):
    party = django_filters.ChoiceFilter(choices=StatementParty.choices, label=_("For"), empty_label=_("All"))
    status = django_filters.ChoiceFilter(
        choices=StatementStatus.choices, label=_("Status"), empty_label=_("All")
    )
    period = MonthValueFilter(field_name="period", label=_("Month"))
    guide = django_filters.CharFilter(field_name="guide__code", label=_("Guide code"))
    partner = django_filters.CharFilter(field_name="partner__code", label=_("Partner code"))

    class Meta:
        model = Statement
        fields = ["party", "status", "period", "guide", "partner"]
