"""One FilterSet per model, shared by the staff portal and the API."""

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from config.api.filters import IsoDateTimeFilter
from stores.models import Partner, Stock, StockMovement, Store
from stores.selectors import MAX_SEARCH_RADIUS_KM, stores_near


class PartnerFilterSet(django_filters.FilterSet):
    class Meta:
        model = Partner
        fields = ["is_active"]


class NearForm(forms.Form):
    """`lat`, `lng` and `radius_km` come together: a partial or out-of-range point is a field error."""

    def clean(self):
        data = super().clean()
        given = [data.get(k) is not None for k in ("lat", "lng")]
        if any(given) and not all(given):
            raise forms.ValidationError({"lat": _("Give both lat and lng to search near a point.")})
        if data.get("radius_km") is not None and data.get("lat") is None:
            raise forms.ValidationError({"radius_km": _("radius_km needs lat and lng.")})
        return data


class StoreFilterSet(django_filters.FilterSet):
    partner = django_filters.NumberFilter(field_name="partner_id")
    q = django_filters.CharFilter(method="search", label=_("Code, name or city"))
    tier = django_filters.NumberFilter(field_name="city_tier")
    lat = django_filters.NumberFilter(method="noop", min_value=-90, max_value=90, label=_("Latitude"))
    lng = django_filters.NumberFilter(method="noop", min_value=-180, max_value=180, label=_("Longitude"))
    radius_km = django_filters.NumberFilter(
        method="noop", min_value=0.1, max_value=MAX_SEARCH_RADIUS_KM, label=_("Radius (km), default 10")
    )

    class Meta:
        model = Store
        fields = ["kind", "status", "partner", "city", "tier"]
        form = NearForm

    def search(self, queryset, name, value):
        return queryset.filter(Q(code__icontains=value) | Q(name__icontains=value) | Q(city__icontains=value))

    def noop(self, queryset, name, value):
        return queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        if data.get("lat") is not None and data.get("lng") is not None:
            queryset = stores_near(
                latitude=data["lat"],
                longitude=data["lng"],
                radius_km=data.get("radius_km") or 10,
                queryset=queryset,
            )
        return queryset


# Stores, SKUs and partners are filtered by id: a choice filter would render every row
# (10,000 stores, 160,000 SKUs) into the filter forms.


class StockFilterSet(django_filters.FilterSet):
    location = django_filters.NumberFilter(field_name="location_id")
    sku = django_filters.NumberFilter(field_name="sku_id")
    sku_code = django_filters.CharFilter(field_name="sku__code")
    barcode = django_filters.CharFilter(field_name="sku__barcode")
    available_min = django_filters.NumberFilter(method="available_at_least")

    class Meta:
        model = Stock
        fields = ["location", "sku", "sku_code", "barcode"]

    def available_at_least(self, queryset, name, value):
        from django.db.models import F

        return queryset.alias(avail=F("on_hand") - F("reserved")).filter(avail__gte=value)


class StockMovementFilterSet(django_filters.FilterSet):
    location = django_filters.NumberFilter(field_name="stock__location_id")
    sku = django_filters.NumberFilter(field_name="stock__sku_id")
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = StockMovement
        fields = ["location", "sku", "kind", "reference"]
