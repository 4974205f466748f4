"""Who may see and do what with the catalog and its prices: pages, API and services ask here.

The catalog and the public prices are open to every signed-in person and to keys with
catalog:read. Commercial data is not (docs/security.md):

| question                                 | who                                                    |
|------------------------------------------|--------------------------------------------------------|
| dealer cost (may_see_dealer_cost)        | HQ, and the keys of dealer channels                    |
| prices of a dealer channel               | HQ, and that dealer channel's own key                  |
| (prices_visible_to, channel_prices_      | (dealers are separate companies: one does not read     |
| visible_to)                              | another's prices); all-channel prices are public       |
| set or end a price (price_settable_by)   | HQ on every channel; a channel's key (prices:write) on |
|                                          | its own channel only; nobody else                      |
"""

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from catalog.choices import ChannelKind
from catalog.models import Channel, Price
from config.errors import Forbidden
from config.roles import is_hq
from integrations.authentication import api_key_of


def _key_channel(actor) -> Channel | None:
    key = api_key_of(actor)
    return key.channel if key is not None and key.channel_id else None


def may_see_dealer_cost(actor) -> bool:
    """HQ and dealer-channel keys; nobody else (a guide signs themselves up)."""
    if actor is None or not actor.is_authenticated:
        return False
    if is_hq(actor):
        return True
    channel = _key_channel(actor)
    return channel is not None and channel.kind == ChannelKind.DEALER


def channel_prices_visible_to(actor, channel: Channel | None) -> bool:
    """May the actor read the prices of this channel (None: the all-channels prices)?"""
    if channel is None or channel.kind != ChannelKind.DEALER:
        return True
    if actor is None or not actor.is_authenticated:
        return False
    if is_hq(actor):
        return True
    own = _key_channel(actor)
    return own is not None and own.pk == channel.pk


def prices_visible_to(actor) -> QuerySet[Price]:
    """Price versions the actor may read: all but other dealer channels' (HQ: all)."""
    if not actor.is_authenticated:
        return Price.objects.none()
    if is_hq(actor):
        return Price.objects.all()
    hidden = Q(channel__kind=ChannelKind.DEALER)
    own = _key_channel(actor)
    if own is not None and own.kind == ChannelKind.DEALER:
        hidden &= ~Q(channel_id=own.pk)
    return Price.objects.exclude(hidden)


def channels_visible_to(actor) -> QuerySet[Channel]:
    """Every channel is reference data (orders and points name them); what is commercial about a
    dealer channel (its margin floor, its prices) is shown by the fields above."""
    if not actor.is_authenticated:
        return Channel.objects.none()
    return Channel.objects.all()


def price_settable_by(actor, channel: Channel | None) -> bool:
    """HQ sets any price; a channel's key only its own channel's (scope checked by KeyScopes)."""
    if actor is None or not actor.is_authenticated:
        return False
    if is_hq(actor):
        return True
    own = _key_channel(actor)
    return own is not None and channel is not None and own.pk == channel.pk


def price_set_require(actor, channel: Channel | None) -> None:
    """Refuse (403) an actor who may not set or end prices on this channel."""
    if not price_settable_by(actor, channel):
        message = _("Only HQ sets prices; a channel's key sets its own channel's prices only.")
        raise Forbidden(message, fields={"channel": [message]})
