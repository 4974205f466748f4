"""/api/v1/api-keys/: HQ admins make, list and revoke API keys. The key itself is in the answer to
the POST that made it, once; afterwards only its prefix is shown. API keys cannot manage keys.

Besides their session, HQ admins may authenticate here - and only here - with HTTP Basic (their
e-mail and password), so that a key can be made with curl (docs/integrating.md). Failed attempts
are limited as the login form's are (ACCOUNT_RATE_LIMITS["login_failed"]), and an account with
two-factor authentication is refused: a password alone must not pass its second factor, so such an
admin makes keys signed in (HQ pages, /api/v1/docs/) or with `manage.py api_key_create`.

Keys name a channel (catalog) or a partner (stores), so managing them is the surface's; the keys
themselves, their authentication and scopes are the kernel's (integrations)."""

from allauth.mfa.utils import is_mfa_enabled
from django.contrib.auth import authenticate
from django.core.cache import cache
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import authentication, exceptions, mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.settings import api_settings

from catalog.api.serializers import IdOrCodeField
from catalog.models import Channel
from config.accounts import client_ip
from config.api.errors import error_responses
from config.api.serializers import StrictInput
from integrations.choices import Scope
from integrations.models import ApiKey
from integrations.policies import integrations_manageable_by
from integrations.services import api_key_create, api_key_revoke
from stores.models import Partner


class HQPeopleOnly(permissions.BasePermission):
    """HQ admins signed in as people; API keys never manage keys."""

    message = gettext_lazy("Only HQ admins may manage API keys.")

    def has_permission(self, request, view):
        return integrations_manageable_by(request.user)


# Failed Basic attempts, counted as the login form counts them (config.accounts; docs/security.md,
# "Sign-in limits"): at most 5 per account and address in 5 minutes, 10 per address in a minute and
# 30 per account from anywhere in an hour (allauth's own limits skip GET requests).
FAILED_LIMITS = (("account-ip", 5, 300), ("ip", 10, 60), ("account", 30, 3600))


def _failure_keys(request, userid: str) -> list[tuple[str, int, int]]:
    account, ip = userid.strip().lower(), client_ip(request)
    who = {"account-ip": f"{account}|{ip}", "ip": ip, "account": account}
    return [
        (f"api-keys:basic-failed:{kind}:{who[kind]}", limit, seconds)
        for kind, limit, seconds in FAILED_LIMITS
    ]


class HQBasicAuthentication(authentication.BasicAuthentication):
    """HTTP Basic with an e-mail and password (Django's authentication backends, allauth's among
    them); 401 for wrong credentials, 429 `throttled` past the failed-attempt limits (even for the
    right password), 401 `mfa_required` for an account with two-factor authentication. Whether the
    person may manage keys is HQPeopleOnly's call."""

    www_authenticate_realm = "api-keys"

    def authenticate_credentials(self, userid, password, request=None):
        django_request = getattr(request, "_request", request)
        keys = _failure_keys(django_request, userid)
        for key, limit, seconds in keys:
            if (cache.get(key) or 0) >= limit:
                raise exceptions.Throttled(
                    wait=seconds, detail=gettext("Too many failed sign-in attempts; try again later.")
                )
        user = authenticate(django_request, email=userid, password=password)
        if user is None or not user.is_active:
            for key, _limit, seconds in keys:
                cache.add(key, 0, seconds)
                cache.incr(key)
            raise exceptions.AuthenticationFailed(gettext_lazy("Invalid e-mail or password."))
        if is_mfa_enabled(user):
            raise exceptions.AuthenticationFailed(
                gettext_lazy(
                    "This account uses two-factor authentication: make keys signed in, not with a password."
                ),
                code="mfa_required",
            )
        return user, None

    def authenticate_header(self, request):
        # Challenge only a request that tried Basic: anonymous callers keep the API's 403.
        scheme = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")[0]
        return super().authenticate_header(request) if scheme.lower() == "basic" else None


class HQBasicScheme(OpenApiAuthenticationExtension):
    target_class = "portal.key_api.HQBasicAuthentication"
    name = "hqBasicAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "An HQ admin's e-mail and password, on /api/v1/api-keys/ only; refused for "
            "accounts with two-factor authentication.",
        }


class ApiKeySerializer(serializers.ModelSerializer):
    channel = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True, help_text="Channel code."
    )
    partner = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True, help_text="Partner code."
    )
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


class ApiKeyCreateSerializer(StrictInput, serializers.Serializer):
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
    authentication_classes = [*api_settings.DEFAULT_AUTHENTICATION_CLASSES, HQBasicAuthentication]
    permission_classes = [HQPeopleOnly]
    filterset_class = None

    def get_authenticate_header(self, request):
        """The challenge of whichever authentication the request tried (a key's Bearer, or Basic)."""
        for authenticator in self.get_authenticators():
            header = authenticator.authenticate_header(request)
            if header:
                return header
        return None

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
            actor=request.user,
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
        key = api_key_revoke(key=self.get_object(), actor=request.user)
        return Response(ApiKeySerializer(key).data)


router = SimpleRouter()
router.register("api-keys", ApiKeyViewSet, basename="api-key")
urlpatterns = router.urls
