"""One FilterSet per model, shared by the HQ queue, the staff portal and the API."""

from datetime import timedelta

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from aftersales.choices import OpenedVia, TicketKind, TicketStatus
from aftersales.models import Ticket
from catalog.api.serializers import MAX_PK
from config.dates import shanghai_midnight
from members.phones import normalise_phone_or_blank


def _as_pk(value: str) -> int | None:
    value = value.strip()
    if value.isascii() and value.isdigit() and int(value) <= MAX_PK:
        return int(value)
    return None


# Stores (10,000) are filtered by id or code, not by a choice filter: a choice filter would render
# every store into the HQ filter form and the browsable API.


class TicketFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="by_text", label=_("Ticket number, order number or customer mobile"), max_length=64
    )
    status = django_filters.MultipleChoiceFilter(choices=TicketStatus.choices, label=_("Status"))
    kind = django_filters.ChoiceFilter(choices=TicketKind.choices, label=_("Kind"), empty_label=_("Any"))
    store = django_filters.CharFilter(
        method="by_store", label=_("Store id or code (where it was taken in or is handled)"), max_length=40
    )
    channel = django_filters.CharFilter(
        method="by_channel", label=_("Channel id or code (where it was sold)"), max_length=40
    )
    opened_via = django_filters.ChoiceFilter(
        choices=OpenedVia.choices, label=_("Opened via"), empty_label=_("Any")
    )
    opened_from = django_filters.DateFilter(
        method="by_opened_from", label=_("Opened on or after (date, China time)")
    )
    opened_to = django_filters.DateFilter(
        method="by_opened_to", label=_("Opened on or before (date, China time)")
    )

    class Meta:
        model = Ticket
        fields = ["q", "status", "kind", "store", "channel", "opened_via", "opened_from", "opened_to"]

    def by_text(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        wanted = Q(number=value) | Q(order__number=value)
        phone = normalise_phone_or_blank(value)
        if phone:
            wanted |= Q(customer_phone=phone)
        return queryset.filter(wanted)

    def by_store(self, queryset, name, value):
        value = value.strip()
        wanted = Q(intake_store__code=value) | Q(handling_store__code=value)
        pk = _as_pk(value)
        if pk is not None:
            wanted |= Q(intake_store_id=pk) | Q(handling_store_id=pk)
        return queryset.filter(wanted)

    def by_channel(self, queryset, name, value):
        value = value.strip()
        pk = _as_pk(value)
        if pk is None:
            return queryset.filter(channel__code=value)
        return queryset.filter(Q(channel__code=value) | Q(channel_id=pk))

    def by_opened_from(self, queryset, name, value):
        return queryset.filter(opened_at__gte=shanghai_midnight(value))

    def by_opened_to(self, queryset, name, value):
        return queryset.filter(opened_at__lt=shanghai_midnight(value + timedelta(days=1)))
