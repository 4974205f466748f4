"""django-allauth adapter: staff accounts are created by HQ, so there is no open sign-up; the
client's address and the sign-in limits every login path shares.

The one exception to closed sign-up is the guide self-registration page (/g/join/, "everyone is
your guide"): it is allauth's own sign-up view (its rate limits and password rules apply) and makes
a guide, never a staff account. Every other sign-up path, /accounts/signup/ included, stays closed.

Sign-in limits (docs/security.md, "Sign-in limits"): failed sign-ins are counted per account AND
client address (`login_failed`: 5 in 5 minutes, plus 10 a minute per address whatever the account),
so someone guessing a password locks only themselves out of that account, not its owner signing in
from elsewhere; a higher account-wide ceiling (`login_failed_account`: 30 an hour, from any
address) stops a guesser who spreads over many addresses.
"""

import ipaddress

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.internal import ratelimit
from django.conf import settings
from django.contrib.sites.shortcuts import get_current_site

GUIDE_SIGNUP_VIEW = "guides_public:join"
ACCOUNT_WIDE_ACTION = "login_failed_account"


def _networks():
    return [ipaddress.ip_network(item, strict=False) for item in getattr(settings, "TRUSTED_PROXIES", [])]


def _address(value: str):
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, unless that is one of `settings.TRUSTED_PROXIES` (our
    own load balancers; none by default). Only then is X-Forwarded-For read, from the right, and the
    first address that is not a trusted proxy is the client: what a client writes into the header
    itself sits further left and is never reached. Reached directly, the header is ignored."""
    remote = request.META.get("REMOTE_ADDR", "")
    trusted = _networks()
    if not trusted:
        return remote

    def is_trusted(address) -> bool:
        return address is not None and any(address in network for network in trusted)

    if not is_trusted(_address(remote)):
        return remote
    client = remote
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _address(hop)
        if address is None:
            break  # garbage: stop at the last address our own proxies vouched for
        client = str(address)
        if not is_trusted(address):
            break
    return client


def _login_of(credentials) -> str:
    return credentials.get("email", credentials.get("username", "")).strip().lower()


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        match = getattr(request, "resolver_match", None)
        return match is not None and match.view_name == GUIDE_SIGNUP_VIEW

    def get_client_ip(self, request) -> str:
        return client_ip(request) or super().get_client_ip(request)

    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        # allauth's `login_failed` "key" rate counts per account; ours per account and address.
        return f"{get_current_site(request).domain}:{_login_of(credentials)}:{self.get_client_ip(request)}"

    def pre_authenticate(self, request, **credentials) -> None:
        super().pre_authenticate(request, **credentials)
        self._account_wide_usage = ratelimit.consume(
            request,
            app="allauth.account",
            action=ACCOUNT_WIDE_ACTION,
            key=f"{get_current_site(request).domain}:{_login_of(credentials)}",
        )
        if not self._account_wide_usage:
            self._rollback_login_failed_rl_usage()
            raise self.validation_error("too_many_login_attempts")

    def _rollback_login_failed_rl_usage(self) -> None:
        # A successful sign-in takes back its own attempt from every count (as allauth does).
        super()._rollback_login_failed_rl_usage()
        usage = getattr(self, "_account_wide_usage", None)
        if usage:
            usage.rollback()
