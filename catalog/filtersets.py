"""One FilterSet per model, shared by the HQ pages and the API."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from catalog.models import SKU, Category, Channel, Price, PriceChange, Product
from config.api.filters import IsoDateTimeFilter


class ChannelFilterSet(django_filters.FilterSet):
    class Meta:
        model = Channel
        fields = ["kind", "is_active"]


class CategoryFilterSet(django_filters.FilterSet):
    class Meta:
        model = Category
        fields = ["parent"]


class ProductFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Code or name contains"))

    class Meta:
        model = Product
        fields = ["category", "brand"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(code__icontains=value) | Q(name__icontains=value))


# Tables that grow to hundreds of thousands of rows are filtered by id: a choice filter would
# render every row into the browsable API's and the portal's filter forms.


class SKUFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Code, barcode or name"))
    product = django_filters.NumberFilter(field_name="product_id")
    category = django_filters.ModelChoiceFilter(
        field_name="product__category", queryset=Category.objects.all()
    )

    class Meta:
        model = SKU
        fields = ["product", "category", "unified", "serial_tracked", "is_active", "barcode"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(code__icontains=value) | Q(barcode=value) | Q(name__icontains=value))


class PriceFilterSet(django_filters.FilterSet):
    sku = django_filters.NumberFilter(field_name="sku_id")
    sku_code = django_filters.CharFilter(field_name="sku__code")
    all_channels = django_filters.BooleanFilter(field_name="channel", lookup_expr="isnull")

    class Meta:
        model = Price
        fields = ["sku", "sku_code", "channel", "all_channels"]


class PriceChangeFilterSet(django_filters.FilterSet):
    sku = django_filters.NumberFilter(field_name="sku_id")
    changed_by = django_filters.NumberFilter(field_name="changed_by_id")
    changed_after = IsoDateTimeFilter(field_name="changed_at", lookup_expr="gte")
    changed_before = IsoDateTimeFilter(field_name="changed_at", lookup_expr="lt")

    class Meta:
        model = PriceChange
        fields = ["sku", "channel", "action", "changed_by"]
