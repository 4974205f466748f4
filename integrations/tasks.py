"""Webhooks on Django's tasks framework, with django-tasks-db as the backend (the queue is a table
in our own database, so enqueueing is an INSERT that commits or rolls back with the rows it goes
with: a task exists exactly when its rows do).

    event_emit, in the caller's transaction  -> an OutboxEvent row and nothing else
    outbox_relay, run by the worker ~every s  -> marks events dispatched + enqueues event_fan_out
    event_fan_out                             -> one WebhookDelivery per subscriber + delivery_send
    delivery_send                             -> POST signed, log the attempt; on failure enqueue
                                                 itself again with run_after = the back-off

`manage.py webhooks_worker` runs the relay and the tasks of the "webhooks" queue.
"""

from datetime import timedelta

from django.db import connections, router, transaction
from django.tasks import task
from django.utils import timezone

from integrations.choices import DeliveryStatus
from integrations.models import OutboxEvent, WebhookDelivery
from integrations.webhooks import (
    DUE,
    delivery_claim,
    delivery_record,
    event_body,
    post_signed,
    subscriptions_for,
)

QUEUE = "webhooks"
# A due delivery this overdue has lost its task (its worker was killed mid-POST, or the queue row
# was deleted): the sweep enqueues it again. Far longer than a POST or a normal wait in the queue.
STRANDED_AFTER = timedelta(minutes=10)


def _for_update(queryset):
    """Lock the rows taken, skipping rows another worker holds (PostgreSQL; SQLite has one writer).
    A locking read runs where the router sends the model's writes."""
    if connections[router.db_for_write(queryset.model)].features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True)
    return queryset


def _enqueue_send(delivery: WebhookDelivery) -> None:
    """Queue the delivery's next attempt for its `next_attempt_at`."""
    delivery_send.using(run_after=delivery.next_attempt_at).enqueue(
        delivery_pk=delivery.pk, attempt=delivery.attempts
    )


def outbox_relay(*, limit: int = 500) -> int:
    """Take up to `limit` events not yet dispatched, oldest first, mark them dispatched and enqueue
    their fan-out, all in one transaction; returns how many. Runs in the worker, never in a request,
    so the order path pays one INSERT per event and nothing after COMMIT."""
    with transaction.atomic():
        pks = list(
            _for_update(OutboxEvent.objects.filter(dispatched_at__isnull=True).order_by("pk")).values_list(
                "pk", flat=True
            )[:limit]
        )
        if pks:
            now = timezone.now()
            OutboxEvent.objects.filter(pk__in=pks).update(dispatched_at=now)
            # run_after=now: the queue runs tasks by run_after, so fan-outs take their turn among
            # due retries (a task without one sorts after every dated task).
            fan_out = event_fan_out.using(run_after=now)
            for pk in pks:
                fan_out.enqueue(event_pk=pk)
    return len(pks)


@transaction.atomic
def deliveries_create(*, event_pk: int) -> list[WebhookDelivery]:
    """One pending delivery per matching subscription that has none yet, each with its task."""
    event = OutboxEvent.objects.select_for_update().filter(pk=event_pk).first()
    if event is None:
        return []
    have = set(event.deliveries.values_list("subscription_id", flat=True))
    subscriptions = [sub for sub in subscriptions_for(event) if sub.pk not in have]
    if not subscriptions:
        return []
    now = timezone.now()
    # bulk_create sets the ids (PostgreSQL, SQLite >= 3.35): no read-back under the event's lock.
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(event=event, subscription=sub, status=DeliveryStatus.PENDING, next_attempt_at=now)
            for sub in subscriptions
        ]
    )
    for delivery in deliveries:
        _enqueue_send(delivery)
    return deliveries


@task(queue_name=QUEUE)
def event_fan_out(event_pk: int) -> int:
    """Fan an outbox event out to its subscribers; returns how many deliveries were made."""
    return len(deliveries_create(event_pk=event_pk))


@task(queue_name=QUEUE)
def delivery_send(delivery_pk: int, attempt: int) -> int | None:
    """Make attempt `attempt + 1` of a delivery: POST it signed (outside any transaction), log the
    outcome and, when it failed with attempts left, enqueue the next attempt in the same
    transaction. Returns the receiver's status code (None when nothing was sent)."""
    delivery = delivery_claim(delivery_pk=delivery_pk, attempt=attempt)
    if delivery is None:  # delivered, given up, redelivered since, or another task's attempt
        return None
    event, subscription = delivery.event, delivery.subscription
    result = post_signed(
        url=subscription.url, secret=subscription.secret, event_id=str(event.event_id), body=event_body(event)
    )
    with transaction.atomic():
        delivery_record(delivery=delivery, result=result)
        if delivery.status == DeliveryStatus.RETRYING:
            _enqueue_send(delivery)
    return result.status_code


@transaction.atomic
def delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now with a fresh retry schedule; its attempt log is kept. A task
    still waiting for the old schedule finds the attempt count moved on and does nothing."""
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = timezone.now()
    delivery.delivered_at = None
    delivery.save(update_fields=["status", "attempts", "next_attempt_at", "delivered_at"])
    _enqueue_send(delivery)
    return delivery


def deliveries_recover(*, limit: int = 100) -> int:
    """Enqueue again the due deliveries whose task was lost (overdue by STRANDED_AFTER); returns how
    many. Should the old task still run, the attempt count makes only one of the two POST."""
    now = timezone.now()
    with transaction.atomic():
        stranded = list(
            _for_update(
                WebhookDelivery.objects.filter(status__in=DUE, next_attempt_at__lt=now - STRANDED_AFTER)
            ).order_by("next_attempt_at", "pk")[:limit]
        )
        for delivery in stranded:
            delivery.next_attempt_at = now
            delivery.save(update_fields=["next_attempt_at"])
            _enqueue_send(delivery)
    return len(stranded)
