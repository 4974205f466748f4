"""Webhook delivery: fan an outbox event out to its subscribers, POST it signed, retry with back-off.

The outbox tables are the queue (no broker): `webhooks_worker` calls `webhooks_run_once` in a loop.
A batch of due deliveries is claimed in a short transaction (SELECT ... FOR UPDATE SKIP LOCKED on
PostgreSQL, so several workers never take the same row) by pushing `next_attempt_at` one lease
ahead; the POSTs then run outside any transaction, and each result is written on its own. A worker
that dies mid-POST leaves the delivery due again when the lease ends: delivery is at least once,
and receivers de-duplicate on the event id.
"""

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q
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
# A claimed delivery is not due again before this, longer than a POST can take.
LEASE = timedelta(seconds=TIMEOUT_SECONDS * 12)
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


@transaction.atomic
def event_dispatch(*, event_pk: int) -> list[WebhookDelivery]:
    """Create one pending delivery per matching subscription and mark the event dispatched (once)."""
    event = OutboxEvent.objects.select_for_update().filter(pk=event_pk, dispatched_at__isnull=True).first()
    if event is None:  # rolled back, or another worker got there first
        return []
    now = timezone.now()
    deliveries = [
        WebhookDelivery(event=event, subscription=sub, status=DeliveryStatus.PENDING, next_attempt_at=now)
        for sub in subscriptions_for(event)
    ]
    WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    event.dispatched_at = now
    event.save(update_fields=["dispatched_at"])
    return deliveries


def events_dispatch_pending(*, limit: int = 500) -> int:
    """Fan out events committed without a fan-out (the process stopped right after COMMIT)."""
    pks = list(
        OutboxEvent.objects.filter(dispatched_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in pks:
        event_dispatch(event_pk=pk)
    return len(pks)


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


@transaction.atomic
def delivery_record(*, delivery: WebhookDelivery, result: PostResult, now=None) -> WebhookDelivery:
    """Log the attempt and move the delivery on: delivered on 2xx, else retrying or failed."""
    now = now or timezone.now()
    WebhookAttempt.objects.create(
        delivery=delivery, status_code=result.status_code, error=result.error, duration_ms=result.duration_ms
    )
    delivery.attempts += 1
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
        update_fields=[
            "attempts",
            "last_status_code",
            "last_error",
            "status",
            "delivered_at",
            "next_attempt_at",
        ]
    )
    return delivery


def _ok(result: PostResult) -> bool:
    return result.status_code is not None and 200 <= result.status_code < 300


def delivery_attempt(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send one delivery now and record the outcome."""
    event, sub = delivery.event, delivery.subscription
    result = post_signed(url=sub.url, secret=sub.secret, event_id=str(event.event_id), body=event_body(event))
    return delivery_record(delivery=delivery, result=result)


def deliveries_claim(*, now=None, limit: int = 50) -> list[WebhookDelivery]:
    """Take up to `limit` due deliveries for this worker by moving them one lease ahead."""
    now = now or timezone.now()
    with transaction.atomic():
        due = WebhookDelivery.objects.filter(status__in=DUE, next_attempt_at__lte=now).order_by(
            "next_attempt_at", "pk"
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        claimed = list(due.select_related("event", "subscription")[:limit])
        if claimed:
            WebhookDelivery.objects.filter(pk__in=[d.pk for d in claimed]).update(next_attempt_at=now + LEASE)
    return claimed


def webhooks_run_once(*, limit: int = 50) -> int:
    """Fan out undispatched events, then send what is due; returns how many POSTs were made."""
    events_dispatch_pending()
    claimed = deliveries_claim(limit=limit)
    for delivery in claimed:
        if not delivery.subscription.is_active:  # switched off since the fan-out
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=DeliveryStatus.FAILED, next_attempt_at=None, last_error="Subscription inactive"
            )
            continue
        delivery_attempt(delivery=delivery)
    return len(claimed)


@transaction.atomic
def delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Queue a delivery again now with a fresh retry schedule; its attempt log is kept."""
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = timezone.now()
    delivery.delivered_at = None
    delivery.save(update_fields=["status", "attempts", "next_attempt_at", "delivered_at"])
    return delivery
