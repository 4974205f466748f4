"""Who may see and do what with service tickets. Pages, API and services all ask here.

| action | who                                                                              |
|--------|----------------------------------------------------------------------------------|
| see    | HQ: every ticket. Managers, clerks and partners: tickets taken in or handled at   |
|        | their stores. Channel keys: tickets of their channel's orders. Partner keys:      |
|        | their stores' tickets. Guides and accounts without a role: none.                  |
| work   | receive, inspect, approve, refuse, resolve, close: HQ, and the staff (managers,   |
|        | clerks) of the ticket's intake or handling store. Partners and keys read only.     |
| open   | at a store's counter: its staff (and HQ); HQ's own desk: HQ; through the API: a    |
|        | channel key for its own channel's orders (the customer asked the mall or the     |
|        | marketplace), HQ sessions for any order.                                          |

Receiving a unit makes the receiving store handle the ticket: a clerk may receive a ticket
opened online or by HQ at their own store once they found the customer's purchase (the desk's
take-in), so `receive` asks for the store, not for the ticket.
"""

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from aftersales.models import Ticket
from config.errors import Forbidden, NotFound
from config.roles import is_hq
from integrations.authentication import api_key_of
from orders.models import Order
from stores.models import Store
from stores.policies import store_require, stores_served_by, stores_visible_to

ACTIONS = ("see", "work")


def tickets_visible_to(actor) -> QuerySet[Ticket]:
    """HQ: every ticket. Store staff and the partner running the store: tickets opened or handled
    at their stores. A channel's key: tickets of its channel's orders; a partner's key: its stores'."""
    if actor is None or not actor.is_authenticated:
        return Ticket.objects.none()
    if is_hq(actor):
        return Ticket.objects.all()
    key = api_key_of(actor)
    if key is not None and key.channel_id:
        return Ticket.objects.filter(order__channel_id=key.channel_id)
    stores = stores_visible_to(actor).values("pk")
    return Ticket.objects.filter(Q(intake_store__in=stores) | Q(handling_store__in=stores))


def desk_stores_of(actor) -> QuerySet[Store]:
    """The stores whose counter the actor works (staff membership), by code. HQ may act at any
    store, but its own desk is HQ's unless it also works at a store; partners and keys: none."""
    if actor is None:
        return Store.objects.none()
    return stores_served_by(actor).filter(memberships__user=actor).distinct().order_by("code")


def is_desk_user(actor, desk_stores=None) -> bool:
    """May use the service desk pages: HQ, or someone working at a store's counter
    (`desk_stores`: desk_stores_of(actor), when the caller has read it already)."""
    if actor is None or not actor.is_authenticated:
        return False
    if is_hq(actor):
        return True
    if desk_stores is not None:
        return bool(desk_stores)
    cached = getattr(actor, "_works_a_desk", None)  # asked more than once per request (search)
    if cached is None:
        cached = actor._works_a_desk = desk_stores_of(actor).exists()
    return cached


def opens_at_hq_desk(actor) -> bool:
    """May open tickets at HQ's own desk (no intake store): HQ only."""
    return actor is not None and is_hq(actor)


def ticket_actionable_by(actor, ticket: Ticket | None, action: str) -> bool:
    """May the actor do `action` ("see", "work") with this ticket?"""
    if action not in ACTIONS:
        raise ValueError(f"unknown ticket action {action!r}")
    if ticket is None or actor is None or not actor.is_authenticated:
        return False
    if is_hq(actor):
        return True
    if action == "see":
        return tickets_visible_to(actor).filter(pk=ticket.pk).exists()
    stores = {pk for pk in (ticket.intake_store_id, ticket.handling_store_id) if pk is not None}
    return bool(stores) and stores_served_by(actor).filter(pk__in=stores).exists()


def ticket_require(actor, ticket: Ticket | None, action: str) -> Ticket:
    """The ticket, if the actor may do `action` with it; else a 404 (cannot see it) or a 403 (can
    see it, may not act: partners and keys read their stores' tickets)."""
    if ticket_actionable_by(actor, ticket, action):
        return ticket
    if ticket is not None and action != "see" and ticket_actionable_by(actor, ticket, "see"):
        raise Forbidden(_("Only HQ and the staff of the ticket's stores work service tickets."))
    raise NotFound(_("Ticket not found."), fields={"ticket": [_("Not one of your tickets.")]})


def ticket_receive_require(actor, store: Store | None) -> Store:
    """The store receiving a unit: one whose counter the actor works (HQ: any)."""
    if store is None:
        message = _("Say which store received the unit.")
        raise NotFound(message, fields={"store": [message]})
    return store_require(actor, store, "serve")


def intake_require(actor, *, order: Order, intake_store: Store | None, via_api: bool) -> None:
    """May the actor open a ticket against this order, at `intake_store` (None: HQ's desk or the
    API)? A refusal is a 404 for an order or store the actor does not see, else a 403."""
    if intake_store is not None:
        store_require(actor, intake_store, "serve")
        return
    if is_hq(actor):
        return
    key = api_key_of(actor)
    if via_api and key is not None and key.channel_id:
        if order.channel_id != key.channel_id:
            message = _("No such order for this API key.")
            raise NotFound(message, fields={"order": [_("Not this key's order.")]})
        return
    raise Forbidden(
        _("Tickets are opened at a store's counter by its staff, or by HQ."),
        fields={"intake_store": [_("Choose one of your stores.")]},
    )
