from config.errors import DomainError


class ApiKeyRefused(DomainError):
    """A key could not be made: no or two bindings, unknown scopes, an expiry in the past."""

    code = "api_key_refused"


class KeyForbidden(DomainError):
    """An API key asked for something outside its binding (another channel's price, a partner
    setting prices or commission rules)."""

    code = "key_forbidden"
    status = 403
