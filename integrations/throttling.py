"""Throttling per API key: one bucket per key prefix in the default cache (Redis in production,
so every worker shares it). People are not throttled here. 429 carries Retry-After."""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from integrations.authentication import api_key_of


class ApiKeyRateThrottle(SimpleRateThrottle):
    """`REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["api_key"]`, e.g. "600/min"."""

    scope = "api_key"

    def get_rate(self):
        # Read the rate per request, so override_settings (and a settings change) apply at once.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        key = api_key_of(request.user)
        if key is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": key.prefix}
