"""API keys as a DRF authentication class, and the principal they authenticate as.

A request with `Authorization: Bearer <prefix>.<secret>` (or `X-Api-Key: <prefix>.<secret>`)
authenticates as a `KeyUser`: authenticated, no roles, not staff, `pk = None`, `.api_key` the row
with its channel or partner and scopes. Selectors scope a KeyUser by that channel or partner.
An unknown, revoked or expired key is a 401 in the error shape; no key header at all falls through
to the session authentication that people use."""

import time
from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from config.sql import from_db_value
from integrations.keys import key_matches, key_split
from integrations.models import ApiKey
from integrations.sql import key_state

LAST_USED_EVERY = timedelta(minutes=1)
_AUTHENTICATED = "_api_key_authenticated"


class KeyUser(AnonymousUser):
    """The principal of an API-key request: authenticated, without roles or model permissions."""

    id = None
    pk = None
    is_staff = False
    is_superuser = False
    _role_names = frozenset()

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key
        self.username = f"key:{api_key.prefix}"

    def __str__(self):
        return self.username

    def __eq__(self, other):
        return isinstance(other, KeyUser) and other.api_key.pk == self.api_key.pk

    def __hash__(self):
        return hash(("key", self.api_key.pk))

    @property
    def is_anonymous(self):
        return False

    @property
    def is_authenticated(self):
        return True


def api_key_of(user) -> ApiKey | None:
    """The API key a request authenticated with, or None for people and anonymous callers."""
    return getattr(user, "api_key", None) if isinstance(user, KeyUser) else None


def owner_of(request) -> str:
    """Who sent this request: "key:<id>" for an API key, "user:<id>" for a person."""
    key = api_key_of(getattr(request, "user", None))
    if key is not None:
        return f"key:{key.pk}"
    return f"user:{request.user.pk}"


def actor(user):
    """The user to record on rows a service writes: the person, or None for an API key."""
    return None if isinstance(user, KeyUser) or not getattr(user, "pk", None) else user


def presented_key(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.META.get("HTTP_X_API_KEY") or None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <key>` or `X-Api-Key: <key>`; 401 for a bad key, None without one."""

    keyword = "Bearer"

    def authenticate(self, request):
        presented = presented_key(request)
        if presented is None:
            return None
        # Once per HTTP request: the idempotency middleware authenticates the caller before the view
        # does, with the view's own authentication classes; the view gets the same answer without a
        # second lookup. Kept on the Django request, so nothing outlives the request.
        django_request = getattr(request, "_request", request)
        done = django_request.__dict__.get(_AUTHENTICATED)
        if done is not None and done[0] == presented:
            if isinstance(done[1], exceptions.AuthenticationFailed):
                raise done[1]
            return done[1]
        try:
            answer = self._authenticate(presented)
        except exceptions.AuthenticationFailed as refused:
            django_request.__dict__[_AUTHENTICATED] = (presented, refused)
            raise
        django_request.__dict__[_AUTHENTICATED] = (presented, answer)
        return answer

    def _authenticate(self, presented: str):
        parts = key_split(presented)
        key = _key_by_prefix(parts[0]) if parts is not None else None
        if key is None or not key_matches(parts[1], key.hashed_key):
            raise exceptions.AuthenticationFailed(_("Unknown API key."), code="key_invalid")
        now = timezone.now()
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed(_("This API key was revoked."), code="key_revoked")
        if key.expires_at is not None and key.expires_at <= now:
            raise exceptions.AuthenticationFailed(_("This API key has expired."), code="key_expired")
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_EVERY:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
        return KeyUser(key), key

    def authenticate_header(self, request):
        # Only a request that presented a key gets a 401 challenge; anonymous callers keep the
        # 403 `not_authenticated` that session authentication gives.
        if presented_key(request) is not None:
            return f'{self.keyword} realm="api"'
        return None


# Keys this process has loaded, by prefix: (the row's state, the key with its channel and partner,
# when loaded). Every request still reads the key's row, as plain SQL (integrations.sql.key_state): a
# key revoked, expired, re-scoped or re-bound is seen at once, as is its last use; only the channel's
# and partner's own columns (names) may be up to KEY_ROWS_FOR old. Loading the key with the ORM on
# every request cost a fifth of an order's Python time.
KEY_ROWS_FOR = 60.0
_loaded: dict[str, tuple[tuple, ApiKey, float]] = {}

_LAST_USED = ApiKey._meta.get_field("last_used_at")


def _key_by_prefix(prefix: str) -> ApiKey | None:
    row = key_state(prefix)
    if row is None:
        _loaded.pop(prefix, None)
        return None
    state = tuple(row[:7])
    cached = _loaded.get(prefix)
    if cached is not None and cached[0] == state and time.monotonic() - cached[2] < KEY_ROWS_FOR:
        key = cached[1]
        key.last_used_at = from_db_value(_LAST_USED, row[7])
        return key
    key = ApiKey.objects.select_related("channel", "partner").filter(prefix=prefix).first()
    if key is None:
        return None
    if len(_loaded) >= 1000:  # a bound on memory, whatever keys are presented
        _loaded.clear()
    _loaded[prefix] = (state, key, time.monotonic())
    return key


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """The key in the OpenAPI schema: an HTTP bearer token (`X-Api-Key` is accepted too)."""

    target_class = "integrations.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "<prefix>.<secret>",
            "description": "An API key bound to one channel or partner, with scopes. "
            "Also accepted as the `X-Api-Key` header.",
        }
