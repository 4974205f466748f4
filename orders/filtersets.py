"""One FilterSet per model, shared by the staff portal and the API."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from catalog.api.serializers import MAX_PK
from config.api.filters import IsoDateTimeFilter
from orders.choices import OrderStatus
from orders.models import Order


def _as_pk(value: str) -> int | None:
    value = value.strip()
    if value.isascii() and value.isdigit() and int(value) <= MAX_PK:
        return int(value)
    return None


# Channels are few, but stores (10,000) and members (millions) are filtered by id: a choice filter
# would render every row into the browsable API's and the portal's filter forms.


class OrderFilterSet(django_filters.FilterSet):
    channel = django_filters.CharFilter(method="by_channel", label=_("Channel id or code"))
    store = django_filters.NumberFilter(
        method="by_store", label=_("Store id (where the order was placed or is fulfilled)")
    )
    status = django_filters.MultipleChoiceFilter(choices=OrderStatus.choices, label=_("Status"))
    created_after = IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label=_("Created at or after (ISO 8601)")
    )
    created_before = IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", label=_("Created before (ISO 8601)")
    )
    member = django_filters.NumberFilter(field_name="member_id", label=_("Member id"))

    class Meta:
        model = Order
        fields = ["channel", "store", "status", "created_after", "created_before", "member"]

    def by_channel(self, queryset, name, value):
        pk = _as_pk(value)
        if pk is None:
            return queryset.filter(channel__code=value.strip())
        return queryset.filter(Q(channel__code=value.strip()) | Q(channel_id=pk))

    def by_store(self, queryset, name, value):
        return queryset.filter(Q(origin_store_id=value) | Q(fulfilling_location_id=value))
