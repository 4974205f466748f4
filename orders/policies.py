"""Who may see and do what with orders: pages, API and services all ask here; none decides on
its own. Built on stores.policies: the counter's work belongs to the store's own staff.

| action                  | who                                                                   |
|-------------------------|-----------------------------------------------------------------------|
| see                     | HQ: all. Managers and clerks: their stores' orders (placed or         |
|                         | fulfilled there) and the ones they placed. Partners: their stores'.   |
|                         | Channel keys: their channel's. Partner keys: their stores'.           |
| accept, reject          | who serves the store holding the open offer (HQ, its managers and    |
|                         | clerks). No open offer: the fulfilling store's, and the service says  |
|                         | the order is not waiting.                                             |
| ship, ready, collect,   | who serves the fulfilling location.                                   |
| complete                |                                                                       |
| pay, cancel             | HQ; who serves the order's origin or fulfilling store (the counter's  |
|                         | payment page and cancel button); the key of the order's channel with  |
|                         | `orders:write`.                                                       |
| place (order_create)    | HQ; managers and clerks for a store they work at (the sale credited   |
|                         | to it: origin store); a channel key with `orders:write` on its own    |
|                         | channel.                                                              |

Partner users and partner keys see their stores' orders but never act on them (403). Keys never
do the store's side. The product itself (stores.policies.SYSTEM: time-outs, seeding, the public
QR page) may do everything.
"""

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from config.errors import DomainError, Forbidden, NotFound
from config.roles import is_hq
from integrations.authentication import api_key_of
from integrations.choices import Scope
from orders.choices import AssignmentStatus
from orders.models import Order, StoreAssignment
from stores.models import Store
from stores.policies import SYSTEM, person_of, stores_served_by, stores_visible_to

__all__ = [
    "ACTIONS",
    "acting_store",
    "may_see_pickup_code",
    "SYSTEM",
    "order_actionable_by",
    "order_placeable_by",
    "order_require",
    "order_place_require",
    "orders_visible_to",
    "person_of",
]

COUNTER_ACTIONS = ("accept", "reject", "ship", "ready", "collect", "complete")
ACTIONS = ("see", *COUNTER_ACTIONS, "pay", "cancel")


def orders_visible_to(actor) -> QuerySet[Order]:
    """The orders the actor may see (the table above); every page and endpoint starts here."""
    if not actor.is_authenticated:
        return Order.objects.none()
    if is_hq(actor):
        return Order.objects.all()
    key = api_key_of(actor)
    if key is not None:  # a channel's key: its channel's orders; a partner's: its stores' orders
        if key.channel_id:
            return Order.objects.filter(channel_id=key.channel_id)
        return Order.objects.filter(
            Q(fulfilling_location__partner_id=key.partner_id) | Q(origin_store__partner_id=key.partner_id)
        )
    stores = stores_visible_to(actor).values("pk")
    return Order.objects.filter(
        Q(fulfilling_location__in=stores) | Q(origin_store__in=stores) | Q(placed_by=actor)
    )


def may_see_pickup_code(actor) -> bool:
    """The pickup code is HQ's to see: a clerk checks the code the customer shows, so the clerk's
    own screen must not give it away."""
    return is_hq(actor)


def acting_store(order: Order, action: str) -> Store | None:
    """The store whose staff do `action` on the order: the open offer's store for accept and
    reject (the fulfilling location when there is none), the fulfilling location otherwise."""
    if action in ("accept", "reject"):
        offer = (
            StoreAssignment.objects.filter(order=order, status=AssignmentStatus.OFFERED)
            .select_related("store")
            .first()
        )
        if offer is not None:
            return offer.store
    return order.fulfilling_location


def _channel_key_may_write(actor, channel_id) -> bool:
    key = api_key_of(actor)
    return (
        key is not None
        and key.channel_id is not None
        and key.channel_id == channel_id
        and str(Scope.ORDERS_WRITE) in (key.scopes or [])
    )


def order_actionable_by(actor, order: Order | None, action: str) -> bool:
    """May the actor do `action` (ACTIONS) with this order?"""
    if action not in ACTIONS:
        raise ValueError(f"unknown order action {action!r}")
    if order is None or not actor.is_authenticated:
        return False
    if is_hq(actor):
        return True
    if action == "see":
        return orders_visible_to(actor).filter(pk=order.pk).exists()
    if api_key_of(actor) is not None:
        return action in ("pay", "cancel") and _channel_key_may_write(actor, order.channel_id)
    if action in COUNTER_ACTIONS:
        store = acting_store(order, action)
        return store is not None and stores_served_by(actor).filter(pk=store.pk).exists()
    ids = [pk for pk in (order.origin_store_id, order.fulfilling_location_id) if pk is not None]
    return bool(ids) and stores_served_by(actor).filter(pk__in=ids).exists()


def order_require(actor, order: Order, action: str) -> Order:
    """The order, if the actor may do `action` with it; else a 404 (cannot see it) or a 403
    `permission_denied` (sees it, may not act). Services call this before they write."""
    if order_actionable_by(actor, order, action):
        return order
    if action != "see" and order_actionable_by(actor, order, "see"):
        message = _refusal(action) % {"number": order.number}
        raise Forbidden(message, fields={"order": [message]})
    raise NotFound(
        _("Order %(number)s not found.") % {"number": order.number},
        fields={"order": [_("Not one of your orders.")]},
    )


def _refusal(action: str) -> str:
    if action in COUNTER_ACTIONS:
        return _("Only HQ and the staff of the store that has order %(number)s act on it at the counter.")
    return _(
        "Only HQ, the staff of the order's stores and its channel's key may pay or cancel order %(number)s."
    )


def order_placeable_by(actor, *, channel, origin_store: Store | None) -> bool:
    """May the actor place an order on `channel`, credited to `origin_store` (or none)?"""
    if not actor.is_authenticated:
        return False
    if is_hq(actor):
        return True
    if api_key_of(actor) is not None:
        return _channel_key_may_write(actor, getattr(channel, "pk", None))
    # People other than HQ place a store's order at its counter: a sale credited to a store they
    # work at (docs/security.md: "place a store order"). Online orders come from HQ and the channels'
    # keys; partners see their stores' orders but place none.
    return origin_store is not None and stores_served_by(actor).filter(pk=origin_store.pk).exists()


def order_place_require(actor, *, channel, origin_store: Store | None) -> None:
    """Refuse an order the actor may not place: 403 `permission_denied`, naming the field."""
    if order_placeable_by(actor, channel=channel, origin_store=origin_store):
        return
    if api_key_of(actor) is not None:  # a 400 as before: the body named the wrong channel
        raise DomainError(
            _("This API key places orders on its own channel only."),
            code="wrong_channel",
            fields={"channel": [_("Not this key's channel.")]},
        )
    message = _("Only HQ and the staff of a store place orders for it.")
    raise Forbidden(message, fields={"origin_store": [message]})
