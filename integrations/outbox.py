"""The transactional outbox: services write an event in the same transaction as the change.

The row commits or rolls back with the change, so a rolled-back order never reaches a subscriber
and a committed one always does. Writing it is the only thing a request does for webhooks (one
INSERT; nothing after COMMIT): the worker (`manage.py webhooks_worker`) relays committed events
to the task queue and delivers them (integrations/tasks.py). The rows stay as the audit of events.

Payloads stay small: ids, numbers, statuses, amounts as strings (Decimal never becomes a float).
"""

import json
import uuid

from django.core.serializers.json import DjangoJSONEncoder

from integrations.models import OutboxEvent

# The events subscribers can ask for (WebhookSubscription.event_types; empty = all of them).
EVENT_TYPES = (
    "order.created",
    "order.paid",
    "order.routed",
    "order.accepted",
    "order.shipped",
    "order.completed",
    "order.cancelled",
    "order.returned",
    "ticket.opened",
    "ticket.closed",
    "price.changed",
    "settlement.approved",
    "coupon.redeemed",
    "campaign.message",
)


def _pk(value):
    return getattr(value, "pk", value)


def event_emit(*, type: str, payload: dict, channel=None, partner=None, batch=None) -> OutboxEvent:  # noqa: A002
    """Write an outbox event in the caller's transaction; the worker sends it once committed.

    `channel` / `partner` (instances or ids) say whose subscribers may see it; HQ's own
    subscriptions (neither set) see every event. With `batch` (config.sql.Batch) the row is queued
    there and written when the caller runs it, in the same transaction."""
    data = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))  # Decimal -> "12.50", datetime -> ISO
    event = OutboxEvent(
        event_id=uuid.uuid4(),
        type=type,
        payload=data,
        channel_id=_pk(channel),
        partner_id=_pk(partner),
    )
    if batch is not None:
        batch.rows([event])
    else:
        event.save(force_insert=True)
    return event


def order_payload(order, **extra) -> dict:
    """What every order.* event carries; callers add what the event is about (amount, reason...)."""
    return {
        "order": order.number,
        "status": order.status,
        "channel": order.channel_id,
        "total": str(order.total),
        "fulfilling_location": order.fulfilling_location_id,
        **extra,
    }


def order_event(type: str, order, batch=None, **extra) -> OutboxEvent:  # noqa: A002
    """One-line emit for an order event, scoped to the order's channel and, when the fulfilling
    store is already loaded, to that store's partner (never an extra query on a hot path)."""
    partner = None
    if order.fulfilling_location_id and order.__class__.fulfilling_location.is_cached(order):
        partner = order.fulfilling_location.partner_id
    return event_emit(
        type=type,
        payload=order_payload(order, **extra),
        channel=order.channel_id,
        partner=partner,
        batch=batch,
    )


def ticket_event(type: str, ticket, **extra) -> OutboxEvent:  # noqa: A002
    """One-line emit for a service ticket event, scoped to the ticket's channel."""
    payload = {
        "ticket": ticket.number,
        "kind": ticket.kind,
        "status": ticket.status,
        "order_id": ticket.order_id,
    }
    return event_emit(type=type, payload={**payload, **extra}, channel=ticket.channel_id)


def price_event(price, *, old_amount=None) -> OutboxEvent:
    """price.changed for a new price version; a price for all channels goes to HQ's subscribers."""
    payload = {
        "sku": price.sku.code,
        "channel": price.channel.code if price.channel_id else None,
        "amount": price.amount,
        "old_amount": old_amount,
        "valid_from": price.valid_from,
        "valid_to": price.valid_to,
    }
    return event_emit(type="price.changed", payload=payload, channel=price.channel_id)


def statement_event(type: str, statement) -> OutboxEvent:  # noqa: A002
    """A settlement statement event; a partner's statement also goes to that partner's subscribers."""
    payload = {
        "statement": statement.pk,
        "party": statement.party,
        "guide": statement.guide_id,
        "partner": statement.partner_id,
        "period": statement.period,
        "total": statement.total,
        "entries": statement.entry_count,
    }
    return event_emit(type=type, payload=payload, partner=statement.partner_id)
