"""One FilterSet per model, shared by the staff portal and the API."""

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from config.api.filters import IsoDateTimeFilter
from members.errors import InvalidPhone
from members.models import Member, PointsEntry, Segment
from members.phones import normalise_phone


class PhoneFormField(forms.CharField):
    """A mobile number in any accepted format, cleaned to the stored 11 digits."""

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return value
        try:
            return normalise_phone(value)
        except InvalidPhone as exc:
            # The message quotes the input, which may hold "%": django-filter's API backend formats
            # every message with its params (`message % params`), so the text goes in as a param.
            params = {"message": exc.message}
            raise forms.ValidationError("%(message)s", code=exc.code, params=params) from None


class PhoneFilter(django_filters.CharFilter):
    field_class = PhoneFormField


# Stores are filtered by id and tiers by code: a choice filter would render every row
# (10,000 stores) into the filter forms.


class MemberFilterSet(django_filters.FilterSet):
    phone = PhoneFilter(label=_("Mobile, any format (exact)"))
    city = django_filters.CharFilter(field_name="city")
    tier = django_filters.CharFilter(field_name="tier__code", label=_("Tier code"))
    home_store = django_filters.NumberFilter(field_name="home_store_id", label=_("Home store id"))
    consent = django_filters.BooleanFilter(field_name="marketing_consent", label=_("Marketing consent"))

    class Meta:
        model = Member
        fields = ["phone", "city", "tier", "home_store", "consent"]


class PointsEntryFilterSet(django_filters.FilterSet):
    channel = django_filters.CharFilter(field_name="channel__code", label=_("Channel code"))
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = PointsEntry
        fields = ["kind", "channel", "reference"]


class SegmentFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Segment
        fields = ["name"]
