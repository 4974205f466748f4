"""Stores API: every queryset starts from stores.policies, where a clerk's store boundary lives
(the same policy the portal's store pages ask). Reads only: stock changes are the portal's."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404  # a malformed id is a 404, not a 500
from rest_framework.response import Response

from catalog.api.serializers import resolve_by_id_or_code
from config.api.errors import error_responses
from config.errors import NotFound
from integrations.choices import Scope
from integrations.permissions import reads
from stores.api.serializers import (
    AvailabilityQuerySerializer,
    AvailabilitySerializer,
    NearbyStockSerializer,
    SKURefSerializer,
    StockMovementSerializer,
    StockSerializer,
    StoreRefSerializer,
    StoreSerializer,
)
from stores.filtersets import StockFilterSet, StockMovementFilterSet, StoreFilterSet
from stores.models import StockMovement
from stores.policies import stock_visible_to, stores_visible_to
from stores.selectors import sku_find, stock_nearby

READ_ERRORS = error_responses(400, 403)
DETAIL_ERRORS = error_responses(403, 404)


@extend_schema_view(
    list=extend_schema(
        summary="List the stores you may see",
        description=(
            "Filter by kind, tier, partner, status, city or text (`q`). With `lat` and `lng` "
            "(and `radius_km`, default 10) only stores within the radius are listed, nearest first, "
            "each with `distance_km`."
        ),
        responses={200: StoreSerializer, **READ_ERRORS},
    ),
    retrieve=extend_schema(summary="One store", responses={200: StoreSerializer, **DETAIL_ERRORS}),
)
class StoreViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = StoreSerializer
    filterset_class = StoreFilterSet
    key_scopes = reads(Scope.STOCK_READ)

    def get_queryset(self):
        return stores_visible_to(self.request.user).select_related("partner")


@extend_schema_view(
    list=extend_schema(
        summary="List stock rows of the stores you may see", responses={200: StockSerializer, **READ_ERRORS}
    ),
    retrieve=extend_schema(summary="One stock row", responses={200: StockSerializer, **DETAIL_ERRORS}),
)
class StockViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = StockSerializer
    filterset_class = StockFilterSet
    # The ledger (movements) is for people who see the store: its references name orders of
    # every channel, so no key reads it (docs/security.md); stock levels and availability are theirs.
    key_scopes = reads(Scope.STOCK_READ, "availability")

    def get_queryset(self):
        if self.action == "movements":
            visible = stock_visible_to(self.request.user).values("pk")
            return StockMovement.objects.filter(stock__in=visible).select_related("created_by")
        return (
            stock_visible_to(self.request.user)
            .select_related("location", "sku")
            .order_by("location__code", "sku__code")
        )

    @extend_schema(
        summary="The movement ledger of a stock row",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="Stock row id.")],
        responses={200: StockMovementSerializer(many=True), **error_responses(400, 403, 404)},
    )
    @action(detail=True, filterset_class=StockMovementFilterSet, serializer_class=StockMovementSerializer)
    def movements(self, request, pk=None):
        # Not get_object(): in this action the queryset and filters are the movements'.
        stock = get_object_or_404(stock_visible_to(request.user), pk=pk)
        movements = self.filter_queryset(self.get_queryset().filter(stock=stock))
        page = self.paginate_queryset(movements)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="Availability of a SKU here and in nearby stores",
        description=(
            "Stock of a SKU (code or barcode) at a store you may see and at open stores within that "
            "store's service radius, nearest first. Only availability is shown for other stores."
        ),
        parameters=[AvailabilityQuerySerializer],
        responses={200: AvailabilitySerializer, **error_responses(400, 403, 404)},
        filters=False,
    )
    @action(detail=False, filterset_class=None, pagination_class=None)
    def availability(self, request):
        query = AvailabilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        wanted_store = query.validated_data["store"].strip()
        store = resolve_by_id_or_code(stores_visible_to(request.user), [wanted_store]).get(wanted_store)
        if store is None:
            raise NotFound(
                _("No store '%(store)s' that you may see.") % {"store": wanted_store},
                fields={"store": [_("Unknown store, or not one of yours.")]},
            )
        sku = sku_find(query.validated_data["sku"])
        if sku is None:
            raise serializers.ValidationError(
                {"sku": [_("No SKU with code or barcode '%(sku)s'.") % {"sku": query.validated_data["sku"]}]}
            )
        rows = stock_nearby(sku=sku, store=store)
        # AvailabilitySerializer's shape (the schema above), from the parts' serializers kept per
        # class: a new AvailabilitySerializer copied every nested field on every lookup.
        nearby = NearbyStockSerializer(context={"store": store})
        return Response(
            {
                "sku": SKURefSerializer.represent(sku),
                "store": StoreRefSerializer.represent(store),
                "radius_km": store.service_radius_km,
                "results": [nearby.to_representation(row) for row in rows],
            }
        )
