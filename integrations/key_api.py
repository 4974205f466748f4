"""/api/v1/api-keys/: HQ admins make, list and revoke API keys. The key itself is in the answer to
the POST that made it, once; afterwards only its prefix is shown. API keys cannot manage keys."""

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from catalog.api.serializers import IdOrCodeField
from catalog.models import Channel
from config.api.errors import error_responses
from config.roles import is_hq
from integrations.choices import Scope
from integrations.models import ApiKey
from integrations.services import api_key_create, api_key_revoke
from stores.models import Partner


class HQPeopleOnly(permissions.BasePermission):
    """HQ admins signed in as people; API keys never manage keys."""

    message = gettext_lazy("Only HQ admins may manage API keys.")

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and is_hq(request.user))


class ApiKeySerializer(serializers.ModelSerializer):
    channel = serializers.SlugRelatedField(slug_field="code", read_only=True, help_text="Channel code.")
    partner = serializers.SlugRelatedField(slug_field="code", read_only=True, help_text="Partner code.")
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices))

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "channel",
            "partner",
            "scopes",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "created_at",
        ]
        read_only_fields = fields


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    channel = IdOrCodeField(
        queryset=Channel.objects.all(),
        required=False,
        allow_null=True,
        help_text=gettext_lazy("Channel id or code."),
    )
    partner = IdOrCodeField(
        queryset=Partner.objects.all(),
        required=False,
        allow_null=True,
        help_text=gettext_lazy("Partner id or code."),
    )
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices), allow_empty=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The whole key, `<prefix>.<secret>`: shown in this answer only.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(
        summary="List API keys (HQ)", responses={200: ApiKeySerializer, **error_responses(400, 403)}
    ),
    retrieve=extend_schema(
        summary="One API key (HQ)", responses={200: ApiKeySerializer, **error_responses(403, 404)}
    ),
)
class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = ApiKey.objects.select_related("channel", "partner")
    serializer_class = ApiKeySerializer
    permission_classes = [HQPeopleOnly]
    filterset_class = None

    @extend_schema(
        summary="Make an API key (HQ)",
        description=(
            "Bound to exactly one channel or one partner, with scopes. The answer carries `key`, the "
            "whole key, this once: only a hash of it is kept. A partner's key cannot hold "
            "orders:write, members:write or prices:write. 400 `api_key_refused` otherwise."
        ),
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyCreatedSerializer, **error_responses(400, 403)},
    )
    def create(self, request):
        serializer = ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        key, plaintext = api_key_create(
            name=data["name"],
            channel=data.get("channel"),
            partner=data.get("partner"),
            scopes=data["scopes"],
            expires_at=data.get("expires_at"),
            user=request.user,
        )
        key.key = plaintext
        return Response(ApiKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Revoke an API key (HQ)",
        description="From now on the key is a 401 `key_revoked`. Revoking twice keeps the first time.",
        request=None,
        responses={200: ApiKeySerializer, **error_responses(403, 404)},
    )
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def revoke(self, request, pk=None):
        key = api_key_revoke(key=self.get_object(), user=request.user)
        return Response(ApiKeySerializer(key).data)


router = SimpleRouter()
router.register("api-keys", ApiKeyViewSet, basename="api-key")
urlpatterns = router.urls
