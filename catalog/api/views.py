"""Catalog API: reference data is read-only; price writes are one endpoint -> one service call."""

from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from catalog.api.serializers import (
    CategorySerializer,
    ChannelSerializer,
    LivePriceQuerySerializer,
    LivePriceSerializer,
    PriceEndSerializer,
    PriceSerializer,
    PriceSetSerializer,
    ProductSerializer,
    SKUSerializer,
)
from catalog.errors import NoPrice
from catalog.filtersets import (
    CategoryFilterSet,
    ChannelFilterSet,
    PriceFilterSet,
    ProductFilterSet,
    SKUFilterSet,
)
from catalog.models import SKU, Category, Product
from catalog.policies import channel_prices_visible_to, channels_visible_to, prices_visible_to
from catalog.selectors import live_prices_for
from catalog.services import price_end, price_set
from config.api.errors import error_responses
from config.errors import Forbidden
from integrations.choices import Scope
from integrations.permissions import HQOrKeyWrites, KeyScopes, key_channel_only, reads

READ_ERRORS = error_responses(400, 403)
DETAIL_ERRORS = error_responses(403, 404)


@extend_schema_view(
    list=extend_schema(summary="List sales channels", responses={200: ChannelSerializer, **READ_ERRORS}),
    retrieve=extend_schema(summary="One sales channel", responses={200: ChannelSerializer, **DETAIL_ERRORS}),
)
class ChannelViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ChannelSerializer
    key_scopes = reads(Scope.CATALOG_READ)
    filterset_class = ChannelFilterSet

    def get_queryset(self):
        return channels_visible_to(self.request.user)


@extend_schema_view(
    list=extend_schema(summary="List categories", responses={200: CategorySerializer, **READ_ERRORS}),
    retrieve=extend_schema(summary="One category", responses={200: CategorySerializer, **DETAIL_ERRORS}),
)
class CategoryViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Category.objects.all()
    serializer_class = CategorySerializer
    key_scopes = reads(Scope.CATALOG_READ)
    filterset_class = CategoryFilterSet


@extend_schema_view(
    list=extend_schema(
        summary="List products with their SKUs", responses={200: ProductSerializer, **READ_ERRORS}
    ),
    retrieve=extend_schema(
        summary="One product with its SKUs", responses={200: ProductSerializer, **DETAIL_ERRORS}
    ),
)
class ProductViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Product.objects.select_related("category").prefetch_related(
        Prefetch("skus", queryset=SKU.objects.order_by("code"))
    )
    serializer_class = ProductSerializer
    filterset_class = ProductFilterSet
    key_scopes = reads(Scope.CATALOG_READ)


@extend_schema_view(
    list=extend_schema(summary="List SKUs", responses={200: SKUSerializer, **READ_ERRORS}),
    retrieve=extend_schema(summary="One SKU", responses={200: SKUSerializer, **DETAIL_ERRORS}),
)
class SKUViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = SKU.objects.select_related("product")
    serializer_class = SKUSerializer
    filterset_class = SKUFilterSet
    key_scopes = reads(Scope.CATALOG_READ)


LIVE_PRICE_ANSWER = PolymorphicProxySerializer(
    component_name="LivePriceAnswer",
    serializers=[LivePriceSerializer, LivePriceSerializer(many=True)],
    resource_type_field_name=None,
    many=False,
)


@extend_schema_view(
    list=extend_schema(summary="List price versions", responses={200: PriceSerializer, **READ_ERRORS}),
    retrieve=extend_schema(summary="One price version", responses={200: PriceSerializer, **DETAIL_ERRORS}),
)
class PriceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Price versions. Reading is open to staff; writing is HQ's and goes through catalog.services.

    An API key reads with catalog:read; with prices:write a channel's key may set and end prices
    of its own channel only (a partner's key never: 403 `key_forbidden`)."""

    serializer_class = PriceSerializer
    filterset_class = PriceFilterSet
    permission_classes = [HQOrKeyWrites, KeyScopes]
    key_scopes = {
        **reads(Scope.CATALOG_READ, "live"),
        "create": Scope.PRICES_WRITE,
        "end": Scope.PRICES_WRITE,
    }

    def get_queryset(self):
        # Dealer channels' prices only to HQ and that dealer's key (catalog.policies).
        return prices_visible_to(self.request.user).select_related("sku", "channel")

    def get_serializer_class(self):
        # The browsable API's form for POST shows the write fields, not the read-only rows.
        if self.action == "create" or (self.action == "list" and self.request.method == "POST"):
            return PriceSetSerializer
        return PriceSerializer

    @extend_schema(
        summary="Set a price (a new price version)",
        description=(
            "Adds a price version through the pricing rules: one product, one price (unified SKUs "
            "only take all-channel prices), no overlapping windows (an open-ended earlier price of "
            "the same scope is closed where the new one starts), the dealer margin floor, amount "
            "above zero. Any refusal is a 400 and writes nothing. HQ admins only."
        ),
        request=PriceSetSerializer,
        responses={201: PriceSerializer, **error_responses(400, 403)},
    )
    def create(self, request):
        data = self._valid(PriceSetSerializer, request.data)
        key_channel_only(request.user, data["channel"], what=_("prices"))
        price = price_set(
            sku=data["sku"],
            channel=data["channel"],
            amount=data["amount"],
            valid_from=data.get("valid_from"),
            valid_to=data.get("valid_to"),
            actor=request.user,
        )
        output = PriceSerializer(price, context=self.get_serializer_context())
        return Response(output.data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="End a price",
        description="Closes the price's window at `at` (default now). HQ admins only.",
        request=PriceEndSerializer,
        responses={200: PriceSerializer, **error_responses(400, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        price = self.get_object()
        key_channel_only(request.user, price.channel, what=_("prices"))
        data = self._valid(PriceEndSerializer, request.data)
        price = price_end(price=price, at=data.get("at"), actor=request.user)
        return Response(PriceSerializer(price, context=self.get_serializer_context()).data)

    @extend_schema(
        summary="Live price of a SKU (or a batch of SKUs) on a channel at an instant",
        description=(
            "`sku=` answers for one SKU, or 404 `no_price` when it has no live price. `skus=a,b,c` "
            "answers a list in the order given, with `amount` null for a SKU without a live price."
        ),
        parameters=[LivePriceQuerySerializer],
        responses={
            200: OpenApiResponse(LIVE_PRICE_ANSWER, description="One answer, or a list for `skus=`."),
            **error_responses(400, 403, 404),
        },
        filters=False,
    )
    @action(detail=False, url_path="live", filterset_class=None, pagination_class=None)
    def live(self, request):
        query = self._valid(LivePriceQuerySerializer, request.query_params)
        channel, skus = query["channel"], query["resolved_skus"]
        if not channel_prices_visible_to(request.user, channel):
            message = _("Prices of %(channel)s are for HQ and that dealer channel's key.")
            raise Forbidden(
                message % {"channel": channel.code},
                fields={"channel": [_("A dealer channel's prices are not shown to you.")]},
            )
        at = query.get("at") or timezone.now()
        if query.get("sku"):
            sku = skus[0]
            # price_lookup's answer; the batch query is plain SQL, cheaper in Python than the ORM's.
            price = live_prices_for(skus=[sku], channel=channel, at=at).get(sku.pk)
            if price is None:
                raise NoPrice(
                    _("%(sku)s has no price on %(channel)s at %(at)s.")
                    % {"sku": sku.code, "channel": channel.code, "at": timezone.localtime(at).isoformat()},
                    fields={"sku": [_("No live price.")]},
                )
            return Response(
                LivePriceSerializer({"sku": sku, "channel": channel, "at": at, "price": price}).data
            )
        prices = live_prices_for(skus=skus, channel=channel, at=at)
        answers = [{"sku": s, "channel": channel, "at": at, "price": prices.get(s.pk)} for s in skus]
        return Response(LivePriceSerializer(answers, many=True).data)

    def _valid(self, serializer_class, data) -> dict:
        serializer = serializer_class(data=data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
