"""Serializers of the stores API. Reads only; stock changes go through stores.services."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from catalog.models import SKU
from config.api.serializers import DeclaredFieldsCopied, FieldsBuiltOnce
from stores.models import Stock, StockMovement, Store


class StoreSerializer(serializers.ModelSerializer):
    partner_code = serializers.CharField(source="partner.code", read_only=True, allow_null=True)
    partner_name = serializers.CharField(source="partner.name", read_only=True, allow_null=True)
    # Present only when the list is searched near a point (lat/lng): the filterset annotates it.
    distance_km = serializers.FloatField(
        read_only=True, required=False, help_text=_("Only when searching near lat/lng.")
    )

    class Meta:
        model = Store
        fields = [
            "id",
            "code",
            "name",
            "kind",
            "status",
            "partner",
            "partner_code",
            "partner_name",
            "province",
            "city",
            "address",
            "latitude",
            "longitude",
            "city_tier",
            "service_radius_km",
            "distance_km",
        ]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if data.get("distance_km") is not None:
            data["distance_km"] = round(data["distance_km"], 3)
        return data


# Fields built once per class: an order's answer embeds two or three of these.
class StoreRefSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    class Meta:
        model = Store
        fields = ["id", "code", "name", "kind", "city"]


class SKURefSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    class Meta:
        model = SKU
        fields = ["id", "code", "barcode", "name"]


class StockSerializer(serializers.ModelSerializer):
    location = StoreRefSerializer(read_only=True)
    sku = SKURefSerializer(read_only=True)
    available = serializers.IntegerField(read_only=True, help_text=_("On hand minus reserved."))

    class Meta:
        model = Stock
        fields = ["id", "location", "sku", "on_hand", "reserved", "available", "updated_at"]


class StockMovementSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(
        source="created_by.get_username", read_only=True, allow_null=True, help_text=_("Username.")
    )

    class Meta:
        model = StockMovement
        fields = [
            "id",
            "kind",
            "on_hand_delta",
            "reserved_delta",
            "reason",
            "reference",
            "reverses",
            "created_by",
            "created_at",
        ]


class AvailabilityQuerySerializer(DeclaredFieldsCopied, serializers.Serializer):
    # Query parameters, not a write: StrictInput would refuse the API's own (format, lang).
    sku = serializers.CharField(max_length=64, help_text=_("SKU code or barcode."))
    store = serializers.CharField(max_length=64, help_text=_("Store id or code (a store you may see)."))


class NearbyStockSerializer(serializers.Serializer):
    """Availability only: on hand, reserved and the ledger of other stores stay private."""

    store = StoreRefSerializer(source="location")
    here = serializers.BooleanField(help_text=_("True for the store asked about."))
    distance_km = serializers.FloatField()
    available = serializers.IntegerField()

    def to_representation(self, instance):
        return {
            "store": StoreRefSerializer.represent(instance.location),
            "here": instance.location_id == self.context["store"].pk,
            "distance_km": round(instance.distance_km, 3),
            "available": instance.available,
        }


class AvailabilitySerializer(DeclaredFieldsCopied, serializers.Serializer):
    sku = SKURefSerializer()
    store = StoreRefSerializer()
    radius_km = serializers.IntegerField(help_text=_("The store's service radius."))
    results = NearbyStockSerializer(many=True, help_text=_("Here and nearby, nearest first."))
