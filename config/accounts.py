"""django-allauth adapter: staff accounts are created by HQ, so there is no open sign-up.

The one exception is the guide self-registration page (/g/join/, "everyone is your guide"): it is
allauth's own sign-up view (its rate limits and password rules apply) and makes a guide, never a
staff account. Every other sign-up path, /accounts/signup/ included, stays closed.
"""

from allauth.account.adapter import DefaultAccountAdapter

GUIDE_SIGNUP_VIEW = "guides_public:join"


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        match = getattr(request, "resolver_match", None)
        return match is not None and match.view_name == GUIDE_SIGNUP_VIEW
