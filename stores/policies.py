"""Who may see and do what with stores and their stock: the base every other app's policy
builds on. Pages, API and services all ask here; none decides on its own.

The actor is `request.user`: a person (with roles and store memberships) or an API key's
principal (`integrations.authentication.KeyUser`). What each may do with a store:

| action  | who                                                                       |
|---------|---------------------------------------------------------------------------|
| see     | HQ: all. Managers and clerks: their stores. Partners: the stores they run. |
|         | Channel keys: every store (public data, stock:read). Partner keys: theirs. |
| serve   | the counter's work - accept, reject, ship, hand over orders, place a store |
|         | order, take a product back: HQ and the store's own managers and clerks.    |
|         | Partners see their stores' work but do not act at the counter; keys never. |
| manage  | stock receipts and adjustments, the store's own member lists: HQ and the   |
|         | store's managers.                                                          |
"""

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from config.errors import Forbidden, NotFound
from config.roles import SYSTEM, is_hq
from integrations.authentication import api_key_of
from stores.choices import StaffRole
from stores.models import Stock, Store

ACTIONS = ("see", "serve", "manage")

__all__ = ["SYSTEM"]  # the product acting on its own (config.roles), re-exported for the apps above


def person_of(actor):
    """The user to record on the rows a service writes: the person, or None for the product
    itself (SYSTEM) and for an API key."""
    return actor if getattr(actor, "pk", None) is not None and api_key_of(actor) is None else None


def stores_visible_to(actor) -> QuerySet[Store]:
    """HQ: every store. Partners: the stores they run. Staff: the stores they work at."""
    if not actor.is_authenticated:
        return Store.objects.none()
    if is_hq(actor):
        return Store.objects.all()
    key = api_key_of(actor)
    if key is not None:  # a channel's key reads every store (stock:read); a partner's, its own
        return Store.objects.filter(partner_id=key.partner_id) if key.partner_id else Store.objects.all()
    return Store.objects.filter(Q(memberships__user=actor) | Q(partner__users=actor)).distinct()


def stores_served_by(actor) -> QuerySet[Store]:
    """Stores whose counter the actor works: HQ all, managers and clerks their own; nobody else."""
    if not actor.is_authenticated or api_key_of(actor) is not None:
        return Store.objects.none()
    if is_hq(actor):
        return Store.objects.all()
    return Store.objects.filter(memberships__user=actor)


def stores_managed_by(actor) -> QuerySet[Store]:
    """Stores whose stock and member lists the actor may change: HQ all, managers their own."""
    if not actor.is_authenticated or api_key_of(actor) is not None:  # keys change no stock
        return Store.objects.none()
    if is_hq(actor):
        return Store.objects.all()
    return Store.objects.filter(memberships__user=actor, memberships__role=StaffRole.MANAGER)


def stock_visible_to(actor) -> QuerySet[Stock]:
    """Full stock rows (on hand, reserved, ledger) of the stores the actor may see."""
    if not actor.is_authenticated:
        return Stock.objects.none()
    if is_hq(actor):
        return Stock.objects.all()
    return Stock.objects.filter(location__in=stores_visible_to(actor).values("pk"))


_STORES_FOR = {"see": stores_visible_to, "serve": stores_served_by, "manage": stores_managed_by}


def store_actionable_by(actor, store: Store | None, action: str) -> bool:
    """May the actor do `action` ("see", "serve", "manage") at this store?"""
    if store is None:
        return False
    if action not in _STORES_FOR:
        raise ValueError(f"unknown store action {action!r}")
    if is_hq(actor) and actor.is_authenticated:
        return True
    return _STORES_FOR[action](actor).filter(pk=store.pk).exists()


def store_require(actor, store: Store | None, action: str) -> Store:
    """The store, if the actor may do `action` there; else a 404 (cannot see it) or 403 (can see,
    may not act). Services call this with their actor before they write."""
    if store_actionable_by(actor, store, action):
        return store
    if store is not None and action != "see" and store_actionable_by(actor, store, "see"):
        message = _refusal(action) % {"store": store.code}
        raise Forbidden(message, fields={"store": [message]})
    raise NotFound(_("Store not found."), fields={"store": [_("Not one of your stores.")]})


def _refusal(action: str) -> str:
    if action == "manage":
        return _("Only HQ and the managers of %(store)s may change its stock and lists.")
    return _("Only HQ and the staff of %(store)s act at its counter.")
