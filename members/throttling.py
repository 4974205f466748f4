"""How often one caller may look members up by an exact value: phones are easy to guess, so the
lookup must not be a way to walk the member base. Per caller (a person or an API key), shared by
every worker through the default cache; the portal's lookup and the API's count together."""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from integrations.authentication import owner_of

# A clerk serves a customer in minutes, not seconds; 30 a minute leaves room for a busy counter.
MEMBER_LOOKUP_RATE = "30/min"


class MemberLookupThrottle(SimpleRateThrottle):
    """Member lookups per caller; `DEFAULT_THROTTLE_RATES["member_lookup"]` overrides the rate."""

    scope = "member_lookup"

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope) or MEMBER_LOOKUP_RATE

    def get_cache_key(self, request, view):
        if not request.user.is_authenticated:
            return None  # refused before any lookup
        return self.cache_format % {"scope": self.scope, "ident": owner_of(request)}


def lookup_allowed_now(request) -> bool:
    """For the portal's pages: count this lookup, False once the caller is over the rate."""
    return MemberLookupThrottle().allow_request(request, None)
