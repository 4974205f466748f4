"""The project's URLs plus one minimal DRF endpoint, for bench/read_api.py (not part of the product).

`GET /bench/one/<pk>/` reads one price row by primary key through a four-field ModelSerializer: the
floor a read endpoint of this project can reach. A viewset like the API's own, so it goes through
the same middleware, API key authentication, permission classes (staff, or a key with
catalog:read), throttle and JSON renderer as /api/v1/; the difference to the live-price and
availability endpoints is their own work.
"""

from django.urls import include, path
from rest_framework import mixins, serializers, viewsets

from catalog.models import Price
from integrations.choices import Scope
from integrations.permissions import reads


class OnePriceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Price
        fields = ["id", "sku", "channel", "amount"]


class OnePriceViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Price.objects.all()
    serializer_class = OnePriceSerializer
    key_scopes = reads(Scope.CATALOG_READ)


urlpatterns = [
    path("bench/one/<int:pk>/", OnePriceViewSet.as_view({"get": "retrieve"})),
    path("", include("portal.urls")),
]
