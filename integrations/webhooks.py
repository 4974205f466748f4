"""Webhook delivery: who receives an event, the signed POST, and what an attempt's outcome does.

The queueing lives in `integrations.tasks` (Django's tasks framework on the django-tasks-db
backend): the outbox relay enqueues a fan-out per event, the fan-out one delivery task per
subscriber, and a failed delivery enqueues itself again after the back-off below. Delivery is at
least once (a worker that dies mid-POST leaves the delivery to be sent again): receivers
de-duplicate on the event id.
"""

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from integrations.choices import DeliveryStatus
from integrations.models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookSubscription
from integrations.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_header

TIMEOUT_SECONDS = 5
MAX_ATTEMPTS = 8
# Wait after the n-th failed attempt (n = 1..7): 1m, 5m, 15m, 1h, 3h, 6h, 12h -> ~22.4 h in all.
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=12),
)
DUE = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
USER_AGENT = "o2o-webhooks/1"


def subscriptions_for(event: OutboxEvent) -> list[WebhookSubscription]:
    """Active subscriptions that asked for this type and may see it: HQ's own (no channel, no
    partner) see everything; a channel's see that channel's events; a partner's that partner's."""
    audience = Q(channel__isnull=True, partner__isnull=True)
    if event.channel_id:
        audience |= Q(channel_id=event.channel_id)
    if event.partner_id:
        audience |= Q(partner_id=event.partner_id)
    # event_types is a JSON list; filtered here because SQLite has no JSON "contains".
    return [
        sub
        for sub in WebhookSubscription.objects.filter(audience, is_active=True).order_by("pk")
        if not sub.event_types or event.type in sub.event_types
    ]


def event_body(event: OutboxEvent) -> bytes:
    """The raw JSON body, the same bytes on every attempt of every delivery of the event."""
    document = {
        "id": str(event.event_id),
        "type": event.type,
        "created": event.created_at.isoformat(),
        "data": event.payload,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a delivery: never follow it to another host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


@dataclass
class PostResult:
    status_code: int | None
    error: str
    duration_ms: int


def post_signed(*, url: str, secret: str, event_id: str, body: bytes) -> PostResult:
    """POST the body with the signature headers; never raises for network or HTTP errors."""
    timestamp = int(time.time())
    request = urllib.request.Request(  # noqa: S310 (the URL is an http(s) URLField set by HQ)
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_ID_HEADER: event_id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature_header(secret, timestamp, body),
        },
    )
    started = time.monotonic()
    status, error = None, ""
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
            response.read(1024)
    except urllib.error.HTTPError as exc:
        status = exc.code
        exc.close()
    except Exception as exc:  # noqa: BLE001 (timeouts, refused connections, TLS, bad URLs: all just "failed")
        error = f"{type(exc).__name__}: {exc}"[:255]
    return PostResult(status, error, int((time.monotonic() - started) * 1000))


def backoff_after(attempts: int) -> timedelta | None:
    """How long to wait after `attempts` failed attempts; None once there is no attempt left."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return BACKOFF[min(attempts, len(BACKOFF)) - 1]


def delivery_claim(*, delivery_pk: int, attempt: int, now=None) -> WebhookDelivery | None:
    """Take attempt number `attempt + 1` of a delivery for this task, or None when it is not due
    for that attempt (already delivered or given up, redelivered since, or claimed by another
    worker). One conditional UPDATE on the row alone (no join, so PostgreSQL re-checks every
    condition after a concurrent claim): of two tasks for the same attempt only one POSTs."""
    now = now or timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_pk, status__in=DUE, attempts=attempt, next_attempt_at__lte=now
    ).update(attempts=F("attempts") + 1)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("event", "subscription").get(pk=delivery_pk)
    if not delivery.subscription.is_active:  # switched off since the fan-out: give up, unsent
        delivery.attempts = attempt
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
        delivery.last_error = "Subscription inactive"
        delivery.save(update_fields=["attempts", "status", "next_attempt_at", "last_error"])
        return None
    return delivery


@transaction.atomic
def delivery_record(*, delivery: WebhookDelivery, result: PostResult, now=None) -> WebhookDelivery:
    """Log the claimed attempt and move the delivery on: delivered on 2xx, else retrying (with
    `next_attempt_at` after the back-off) or failed after the last attempt."""
    now = now or timezone.now()
    WebhookAttempt.objects.create(
        delivery=delivery, status_code=result.status_code, error=result.error, duration_ms=result.duration_ms
    )
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error or (f"HTTP {result.status_code}" if not _ok(result) else "")
    if _ok(result):
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
    else:
        wait = backoff_after(delivery.attempts)
        delivery.status = DeliveryStatus.FAILED if wait is None else DeliveryStatus.RETRYING
        delivery.next_attempt_at = None if wait is None else now + wait
    delivery.save(
        update_fields=["last_status_code", "last_error", "status", "delivered_at", "next_attempt_at"]
    )
    return delivery


def _ok(result: PostResult) -> bool:
    return result.status_code is not None and 200 <= result.status_code < 300
