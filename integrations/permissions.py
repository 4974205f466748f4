"""Scopes: each API viewset says which scope each action needs from an API key.

`key_scopes = {"list": Scope.ORDERS_READ, "create": Scope.ORDERS_WRITE, ...}` on the viewset.
Deny by default: an action a viewset does not list is closed to keys (403 `scope_missing`), so a
new endpoint never opens itself to machine clients by accident. People (sessions) are unaffected."""

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, permissions

from config.api.permissions import HQWritesOnly
from integrations.authentication import api_key_of
from integrations.choices import Scope
from integrations.errors import KeyForbidden


class ScopeMissing(exceptions.PermissionDenied):
    default_code = "scope_missing"
    default_detail = _("This API key does not have the scope this request needs.")


def required_scope(view) -> str | None:
    action = getattr(view, "action", None)
    return (getattr(view, "key_scopes", None) or {}).get(action)


def reads(scope: Scope, *actions: str) -> dict:
    """`key_scopes` entries giving `scope` to list, retrieve and the named read actions."""
    return {action: scope for action in ("list", "retrieve", *actions)}


class KeyScopes(permissions.BasePermission):
    """An API key needs the scope the view's action declares; people pass through."""

    def has_permission(self, request, view):
        key = api_key_of(request.user)
        if key is None:
            return True
        needed = required_scope(view)
        if needed is None or str(needed) not in key.scopes:
            raise ScopeMissing(
                _("This API key does not have the scope “%(scope)s”.") % {"scope": needed}
                if needed
                else ScopeMissing.default_detail
            )
        return True


class HQOrKeyWrites(HQWritesOnly):
    """HQWritesOnly for people; an API key passes here and KeyScopes decides by its scopes (the
    view then keeps the key to its own channel)."""

    def has_permission(self, request, view):
        if api_key_of(request.user) is not None:
            return True
        return super().has_permission(request, view)


def key_channel_only(user, channel, *, what: str) -> None:
    """A key may write `what` only on its own channel: a partner's key never, a channel's key not
    for another channel nor for all channels at once (403 `key_forbidden`). People pass."""
    key = api_key_of(user)
    if key is None:
        return
    if key.channel_id is None or channel is None or channel.pk != key.channel_id:
        raise KeyForbidden(
            _("This API key may set %(what)s only on its own channel.") % {"what": what},
            fields={"channel": [_("Not this key's channel.")]},
        )
