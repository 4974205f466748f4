"""The outbox and signed webhooks on Django's tasks framework: events commit with the change, the
worker relays them to the django-tasks-db queue, delivery tasks POST them signed and retry with
back-off, every attempt is logged, HQ can redeliver."""

import io
import json
import re
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import F
from django.tasks import TaskResultStatus
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from config.roles import SYSTEM
from integrations.choices import DeliveryStatus
from integrations.models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookSubscription
from integrations.outbox import event_emit
from integrations.signing import signature_header, verify
from integrations.tasks import (
    QUEUE,
    STRANDED_AFTER,
    deliveries_create,
    delivery_send,
    event_fan_out,
    outbox_relay,
)
from integrations.webhooks import BACKOFF, DUE, MAX_ATTEMPTS, subscriptions_for
from tests.factories import ChannelFactory, PartnerFactory
from tests.world import World

SECRET = "whsec_test"


@pytest.fixture(autouse=True)
def _worker_keeps_the_test_connection(monkeypatch):
    """django-tasks-db's Worker calls close_old_connections() between tasks, as a long-lived process
    should; inside a test's transaction that would close the connection the test runs in (on
    PostgreSQL). Django's test client disconnects the same call from its request signals."""
    from django_tasks_db.management.commands import db_worker

    from integrations.management.commands import webhooks_worker

    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)
    monkeypatch.setattr(webhooks_worker, "close_old_connections", lambda: None)


@pytest.fixture
def shop(db):
    """The orders tests' world: channels, stores near Beijing, a priced TV."""
    return World()


class Receiver:
    """A local HTTP receiver answering a scripted list of status codes (the last one repeats)."""

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.requests = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def run_worker() -> str:
    """The documented entry point, for real: relay the outbox, run the queue's due tasks, exit."""
    out = io.StringIO()
    call_command("webhooks_worker", "--once", stdout=out)
    return out.getvalue()


def time_passes(delta: timedelta) -> None:
    """Advance the clock of everything scheduled: waiting tasks and the deliveries they are for."""
    DBTaskResult.objects.filter(status=TaskResultStatus.READY).exclude(run_after=get_date_max()).update(
        run_after=F("run_after") - delta
    )
    WebhookDelivery.objects.filter(status__in=DUE).update(next_attempt_at=F("next_attempt_at") - delta)


def waiting_sends() -> list[dict]:
    """The delivery tasks still queued: their kwargs (delivery, attempt)."""
    return [
        t.args_kwargs["kwargs"]
        for t in DBTaskResult.objects.filter(
            task_path=delivery_send.module_path, status=TaskResultStatus.READY
        )
    ]


def readme_verify():
    """The verify() of docs/integrating.md's "Integrating" section, exactly as a receiver would copy it."""
    readme = (Path(__file__).resolve().parents[2] / "docs" / "integrating.md").read_text()
    integrating = readme[readme.index("## Integrating") :]
    snippet = next(b for b in re.findall(r"```python\n(.*?)```", integrating, re.S) if "def verify(" in b)
    namespace = {}
    exec(snippet, namespace)  # noqa: S102 (our own docs)
    return namespace["verify"]


# --- signing


def test_verify_accepts_the_signature_and_refuses_tampered_bodies_and_stale_timestamps():
    body = b'{"id":"e1","type":"order.paid"}'
    now = int(time.time())
    header = signature_header(SECRET, now, body)
    assert header.startswith("v1=")
    assert verify(SECRET, now, body, header)
    assert verify(SECRET, str(now), body, f"v1=deadbeef, {header}")  # any of several (rotation)
    assert not verify(SECRET, now, body + b" ", header)  # tampered body
    assert not verify("whsec_other", now, body, header)  # wrong secret
    assert not verify(SECRET, now + 1, body, header)  # timestamp is part of what is signed
    stale = now - 301
    assert not verify(SECRET, stale, body, signature_header(SECRET, stale, body))  # replay window
    assert verify(SECRET, stale, body, signature_header(SECRET, stale, body), tolerance=600)
    assert not verify(SECRET, "not-a-number", body, header)
    assert not verify(SECRET, now, body, "")


def test_the_verification_snippet_needs_nothing_but_the_standard_library():
    """Receivers copy integrations/signing.py (docs/integrating.md's snippet) as is."""
    import inspect

    from integrations import signing

    imports = [
        line for line in inspect.getsource(signing).splitlines() if line.startswith(("import", "from"))
    ]
    assert imports == ["import hashlib", "import hmac", "import time"]


# --- the outbox


@pytest.mark.django_db
def test_a_rolled_back_transaction_writes_no_event_enqueues_nothing_and_sends_nothing():
    with Receiver([200]) as receiver:
        WebhookSubscription.objects.create(url=receiver.url, secret=SECRET)
        with pytest.raises(RuntimeError), transaction.atomic():
            event_emit(type="order.created", payload={"order": "X1"})
            raise RuntimeError("the order failed")
        assert not OutboxEvent.objects.exists()
        assert not DBTaskResult.objects.exists()
        run_worker()
    assert not WebhookDelivery.objects.exists()
    assert not WebhookAttempt.objects.exists()
    assert not DBTaskResult.objects.exists()
    assert receiver.requests == []


@pytest.mark.django_db
def test_emitting_an_event_is_one_insert_and_enqueues_nothing(
    django_assert_num_queries, django_capture_on_commit_callbacks
):
    """The order hot path pays for the outbox row only: no task, no on_commit callback."""
    WebhookSubscription.objects.create(url="http://127.0.0.1:9/hq", secret=SECRET)
    with django_capture_on_commit_callbacks() as callbacks, django_assert_num_queries(1) as ctx:
        event = event_emit(type="order.created", payload={"order": "N1"})
    assert callbacks == []
    assert ctx.captured_queries[0]["sql"].startswith("INSERT INTO")
    assert event.dispatched_at is None
    assert not DBTaskResult.objects.exists()
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_the_relay_marks_events_dispatched_and_enqueues_one_fan_out_each_once():
    first = event_emit(type="order.created", payload={"order": "N1"})
    second = event_emit(type="order.paid", payload={"order": "N1"})
    assert outbox_relay(limit=1) == 1  # oldest first
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.dispatched_at is not None and second.dispatched_at is None
    assert outbox_relay() == 1
    assert outbox_relay() == 0  # never twice
    fan_outs = DBTaskResult.objects.filter(task_path=event_fan_out.module_path).order_by("enqueued_at")
    assert [(t.queue_name, t.status) for t in fan_outs] == [(QUEUE, TaskResultStatus.READY)] * 2
    assert [t.args_kwargs["kwargs"] for t in fan_outs] == [{"event_pk": first.pk}, {"event_pk": second.pk}]


@pytest.mark.django_db
def test_the_relay_rolls_back_with_its_enqueues(monkeypatch):
    """Marking dispatched and enqueueing are one transaction: a failed enqueue leaves the event due."""
    from integrations import tasks

    class BrokenQueue:
        @classmethod
        def using(cls, **options):
            return cls

        @staticmethod
        def enqueue(**kwargs):
            raise RuntimeError("queue down")

    first, second = event_emit(type="order.created", payload={}), event_emit(type="order.paid", payload={})
    monkeypatch.setattr(tasks, "event_fan_out", BrokenQueue)
    with pytest.raises(RuntimeError):
        outbox_relay()
    assert not OutboxEvent.objects.filter(pk__in=[first.pk, second.pk], dispatched_at__isnull=False).exists()
    assert not DBTaskResult.objects.exists()


@pytest.mark.django_db
def test_fan_out_makes_one_delivery_and_one_send_task_per_matching_subscription():
    mall, other = ChannelFactory(code="m1"), ChannelFactory(code="m2")
    partner = PartnerFactory()
    hq_all = WebhookSubscription.objects.create(url="http://127.0.0.1:9/hq", secret=SECRET)
    mall_paid = WebhookSubscription.objects.create(
        url="http://127.0.0.1:9/mall", secret=SECRET, channel=mall, event_types=["order.paid"]
    )
    WebhookSubscription.objects.create(url="http://127.0.0.1:9/other", secret=SECRET, channel=other)
    WebhookSubscription.objects.create(url="http://127.0.0.1:9/partner", secret=SECRET, partner=partner)
    WebhookSubscription.objects.create(
        url="http://127.0.0.1:9/mall-created", secret=SECRET, channel=mall, event_types=["order.created"]
    )
    WebhookSubscription.objects.create(url="http://127.0.0.1:9/off", secret=SECRET, is_active=False)

    event = event_emit(type="order.paid", payload={"order": "N1", "amount": "12.50"}, channel=mall)
    outbox_relay()
    assert not WebhookDelivery.objects.exists()  # the fan-out is a task, not the relay's job
    event_fan_out.call(event_pk=event.pk)
    deliveries = WebhookDelivery.objects.order_by("pk")
    assert [d.subscription_id for d in deliveries] == [hq_all.pk, mall_paid.pk]
    assert set(deliveries.values_list("status", flat=True)) == {DeliveryStatus.PENDING}
    assert sorted(w["delivery_pk"] for w in waiting_sends()) == [d.pk for d in deliveries]
    assert {w["attempt"] for w in waiting_sends()} == {0}
    assert deliveries_create(event_pk=event.pk) == []  # once only
    assert WebhookDelivery.objects.count() == 2 and len(waiting_sends()) == 2


@pytest.mark.django_db
def test_payload_amounts_are_strings_never_floats():
    from decimal import Decimal

    event = event_emit(type="price.changed", payload={"amount": Decimal("2999.00")})
    event.refresh_from_db()
    assert event.payload == {"amount": "2999.00"}


@pytest.mark.django_db
def test_partner_subscriptions_see_only_their_partners_events():
    partner, other = PartnerFactory(), PartnerFactory()
    mine = WebhookSubscription.objects.create(url="http://127.0.0.1:9/p", secret=SECRET, partner=partner)
    WebhookSubscription.objects.create(url="http://127.0.0.1:9/o", secret=SECRET, partner=other)
    event = event_emit(type="settlement.approved", payload={"statement": 1}, partner=partner)
    assert subscriptions_for(event) == [mine]
    assert subscriptions_for(event_emit(type="price.changed", payload={})) == []


# --- delivery, retries, log


@pytest.mark.django_db
def test_receiver_answering_500_500_200_gets_three_signed_attempts_and_one_success():
    with Receiver([500, 500, 200]) as receiver:
        sub = WebhookSubscription.objects.create(url=receiver.url, secret=SECRET)
        event = event_emit(type="order.paid", payload={"order": "N42", "amount": "2999.00"})
        before = timezone.now()
        assert run_worker() == "2 webhook tasks run\n"  # the fan-out and the first attempt
        delivery = WebhookDelivery.objects.get(event=event, subscription=sub)
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("retrying", 1, 500)
        assert delivery.next_attempt_at >= before + BACKOFF[0]
        retry = DBTaskResult.objects.get(task_path=delivery_send.module_path, status=TaskResultStatus.READY)
        assert retry.run_after == delivery.next_attempt_at
        assert retry.args_kwargs["kwargs"] == {"delivery_pk": delivery.pk, "attempt": 1}

        time_passes(BACKOFF[0] - timedelta(seconds=5))
        run_worker()  # not due yet: nothing sent
        assert len(receiver.requests) == 1

        time_passes(timedelta(seconds=5))
        run_worker()
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("retrying", 2)
        assert delivery.next_attempt_at >= timezone.now() + BACKOFF[1] - timedelta(seconds=5)

        time_passes(BACKOFF[1])
        run_worker()
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
        assert delivery.delivered_at is not None and delivery.next_attempt_at is None

        time_passes(timedelta(days=2))
        run_worker()
    assert len(receiver.requests) == 3  # a delivered one is never sent again
    assert list(delivery.log.values_list("status_code", flat=True)) == [500, 500, 200]
    assert waiting_sends() == []
    sends = DBTaskResult.objects.filter(task_path=delivery_send.module_path)
    assert list(sends.values_list("status", flat=True)) == [TaskResultStatus.SUCCESSFUL] * 3

    headers, body = receiver.requests[-1]
    assert headers["O2O-Event-Id"] == str(event.event_id)
    assert headers["Content-Type"] == "application/json"
    assert verify(SECRET, headers["O2O-Timestamp"], body, headers["O2O-Signature"])
    assert not verify(
        SECRET, headers["O2O-Timestamp"], body.replace(b"N42", b"N43"), headers["O2O-Signature"]
    )
    document = json.loads(body)
    assert document["id"] == str(event.event_id)
    assert document["type"] == "order.paid"
    assert document["data"] == {"order": "N42", "amount": "2999.00"}
    assert document["created"]
    assert {b for _, b in receiver.requests} == {body}  # the same bytes on every attempt


@pytest.mark.django_db
def test_the_readme_snippet_verifies_a_real_delivery_and_refuses_a_tampered_body():
    readme_verify_ = readme_verify()
    with Receiver([200]) as receiver:
        WebhookSubscription.objects.create(url=receiver.url, secret=SECRET)
        event_emit(type="order.shipped", payload={"order": "N7", "total": "10.00"})
        run_worker()
    [(headers, body)] = receiver.requests
    timestamp, signature = headers["O2O-Timestamp"], headers["O2O-Signature"]
    assert readme_verify_(SECRET, timestamp, body, signature)
    assert not readme_verify_(SECRET, timestamp, body.replace(b"10.00", b"1.00"), signature)
    assert not readme_verify_("whsec_other", timestamp, body, signature)
    stale = str(int(timestamp) - 301)
    assert not readme_verify_(SECRET, stale, body, signature_header(SECRET, stale, body))


@pytest.mark.django_db
def test_delivery_gives_up_after_eight_attempts_over_about_22_hours():
    with Receiver([503]) as receiver:
        WebhookSubscription.objects.create(url=receiver.url, secret=SECRET)
        event_emit(type="order.cancelled", payload={"order": "N1"})
        run_worker()
        waited = timedelta()
        for wait in BACKOFF:
            time_passes(wait)
            waited += wait
            run_worker()
        time_passes(timedelta(days=2))
        run_worker()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", MAX_ATTEMPTS, None)
    assert delivery.log.count() == MAX_ATTEMPTS == len(receiver.requests)
    assert timedelta(hours=22) < waited < timedelta(hours=23)
    assert waiting_sends() == []


@pytest.mark.django_db
def test_the_long_running_worker_sends_then_stops_on_sigterm(monkeypatch):
    """The loop without --once: relays, runs the tasks, sleeps when idle, stops on SIGTERM."""
    import signal

    from integrations.management.commands import webhooks_worker

    handlers = {}
    monkeypatch.setattr(
        webhooks_worker.signal, "signal", lambda signum, handler: handlers.update({signum: handler})
    )

    def sleep(seconds):  # the first idle wait: time to stop
        handlers[signal.SIGTERM](signal.SIGTERM, None)

    monkeypatch.setattr(webhooks_worker.time, "sleep", sleep)
    with Receiver([200]) as receiver:
        WebhookSubscription.objects.create(url=receiver.url, secret=SECRET)
        event_emit(type="order.created", payload={})
        out = io.StringIO()
        call_command("webhooks_worker", "--interval=0.5", stdout=out)
    assert out.getvalue() == "Webhook worker started; Ctrl-C to stop.\nWebhook worker stopped.\n"
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().status == "delivered"


@pytest.mark.django_db
def test_unreachable_receiver_is_logged_as_an_error_and_retried():
    WebhookSubscription.objects.create(url="http://127.0.0.1:9/closed", secret=SECRET)
    event_emit(type="order.created", payload={"order": "N1"})
    run_worker()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("retrying", 1, None)
    attempt = delivery.log.get()
    assert attempt.status_code is None and attempt.error
    assert waiting_sends() == [{"delivery_pk": delivery.pk, "attempt": 1}]


@pytest.mark.django_db
def test_redirect_is_not_followed_and_counts_as_a_failure():
    with Receiver([302]) as receiver:
        WebhookSubscription.objects.create(url=receiver.url, secret=SECRET)
        event_emit(type="order.created", payload={})
        run_worker()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == ("retrying", 302)
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_two_tasks_for_the_same_attempt_post_once():
    """At least once, but not twice for nothing: the attempt count is claimed with one UPDATE."""
    with Receiver([200]) as receiver:
        WebhookSubscription.objects.create(url=receiver.url, secret=SECRET)
        event_emit(type="order.created", payload={})
        outbox_relay()
        [event_pk] = OutboxEvent.objects.values_list("pk", flat=True)
        [delivery] = deliveries_create(event_pk=event_pk)
        delivery_send.enqueue(delivery_pk=delivery.pk, attempt=0)  # a duplicate
        run_worker()
    assert len(receiver.requests) == 1
    assert delivery.log.count() == 1


@pytest.mark.django_db
def test_a_subscription_switched_off_after_the_fan_out_is_given_up_without_a_post():
    with Receiver([200]) as receiver:
        sub = WebhookSubscription.objects.create(url=receiver.url, secret=SECRET)
        event_emit(type="order.created", payload={})
        outbox_relay()
        deliveries_create(event_pk=OutboxEvent.objects.get().pk)
        WebhookSubscription.objects.filter(pk=sub.pk).update(is_active=False)
        run_worker()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 0, "Subscription inactive")
    assert receiver.requests == []


@pytest.mark.django_db
def test_the_worker_sends_again_a_delivery_whose_task_was_lost():
    """A worker killed mid-POST leaves the attempt claimed and its task RUNNING for good: the sweep
    enqueues the delivery again once it is STRANDED_AFTER overdue (at least once)."""
    with Receiver([200]) as receiver:
        WebhookSubscription.objects.create(url=receiver.url, secret=SECRET)
        event_emit(type="order.created", payload={})
        outbox_relay()
        [delivery] = deliveries_create(event_pk=OutboxEvent.objects.get().pk)
        DBTaskResult.objects.filter(task_path=delivery_send.module_path).update(
            status=TaskResultStatus.RUNNING  # the worker that took it died
        )
        WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=1)  # after claiming attempt 1
        run_worker()
        assert receiver.requests == []  # maybe still in flight
        time_passes(STRANDED_AFTER + timedelta(seconds=1))
        run_worker()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert len(receiver.requests) == 1


# --- events from the services


@pytest.mark.django_db
def test_an_order_paid_through_the_services_emits_created_and_paid_with_its_number(shop):
    order = shop.ship_order()
    shop.pay(order)
    events = {e.type: e for e in OutboxEvent.objects.all()}
    assert events["order.created"].payload["order"] == order.number
    paid = events["order.paid"]
    assert paid.payload["order"] == order.number
    assert paid.payload["amount"] == str(order.total)
    assert paid.channel_id == shop.mall.pk
    assert not DBTaskResult.objects.exists()  # nothing queued by the request: the worker relays


@pytest.mark.django_db
def test_a_failed_order_leaves_no_event(shop):
    from orders.errors import NoFulfilmentLocation

    with pytest.raises(NoFulfilmentLocation):
        shop.ship_order(store=shop.a)  # no stock anywhere
    assert not OutboxEvent.objects.filter(type__startswith="order.").exists()


# --- admin redelivery


@pytest.mark.django_db
def test_hq_redelivers_a_failed_delivery_from_the_admin_and_the_log_is_kept(hq_client):
    with Receiver([500]) as receiver:
        WebhookSubscription.objects.create(url=receiver.url, secret=SECRET)
        event_emit(type="order.shipped", payload={"order": "N1"})
        run_worker()
        delivery = WebhookDelivery.objects.get()
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status="failed", attempts=8, next_attempt_at=None
        )
        DBTaskResult.objects.filter(status=TaskResultStatus.READY).delete()  # as after the last attempt

        response = hq_client.post(
            reverse("admin:integrations_webhookdelivery_changelist"),
            {"action": "redeliver", "_selected_action": [delivery.pk]},
        )
        assert response.status_code == 302
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("pending", 0)
        assert delivery.next_attempt_at <= timezone.now()
        assert delivery.log.count() == 1
        assert waiting_sends() == [{"delivery_pk": delivery.pk, "attempt": 0}]
        assert "1 delivery queued again." in hq_client.get(response.url).content.decode()

        receiver.statuses = [200]
        run_worker()
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert list(delivery.log.values_list("status_code", flat=True)) == [500, 200]


@pytest.mark.django_db
def test_redelivering_a_retrying_delivery_sends_now_and_the_old_schedule_sends_nothing(hq_client):
    with Receiver([500, 200]) as receiver:
        WebhookSubscription.objects.create(url=receiver.url, secret=SECRET)
        event_emit(type="order.paid", payload={"order": "N1"})
        run_worker()
        delivery = WebhookDelivery.objects.get()
        assert waiting_sends() == [{"delivery_pk": delivery.pk, "attempt": 1}]  # the retry in a minute

        hq_client.post(
            reverse("admin:integrations_webhookdelivery_changelist"),
            {"action": "redeliver", "_selected_action": [delivery.pk]},
        )
        run_worker()
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("delivered", 1)
        time_passes(timedelta(days=1))
        run_worker()  # the old retry runs and finds nothing to do
    assert len(receiver.requests) == 2
    assert waiting_sends() == []


@pytest.mark.django_db
def test_admin_pages_show_the_delivery_with_its_attempt_log(hq_client):
    WebhookSubscription.objects.create(url="http://127.0.0.1:9/closed", secret=SECRET)
    event = event_emit(type="order.created", payload={"order": "N1"})
    run_worker()
    delivery = WebhookDelivery.objects.get()
    for name, pk in (
        ("webhookdelivery_change", delivery.pk),
        ("outboxevent_change", event.pk),
        ("webhooksubscription_change", delivery.subscription_id),
    ):
        assert hq_client.get(reverse(f"admin:integrations_{name}", args=[pk])).status_code == 200
    for name in ("webhookdelivery_changelist", "outboxevent_changelist", "webhooksubscription_changelist"):
        assert hq_client.get(reverse(f"admin:integrations_{name}")).status_code == 200
    assert hq_client.get(reverse("admin:integrations_webhooksubscription_add")).status_code == 200


def _types(**filters):
    return list(OutboxEvent.objects.filter(**filters).order_by("pk").values_list("type", flat=True))


@pytest.mark.django_db
def test_an_order_walked_through_its_life_emits_each_event_once_in_order(shop):
    from aftersales.choices import OpenedVia, TicketKind
    from aftersales.services import (
        ticket_approve,
        ticket_close,
        ticket_inspect,
        ticket_open,
        ticket_receive,
        ticket_resolve,
    )

    order = shop.deliver(shop.pay(shop.ship_order()))
    assert _types(type__startswith="order.") == [
        "order.created",
        "order.paid",
        "order.routed",
        "order.accepted",
        "order.shipped",
        "order.completed",
    ]
    routed = OutboxEvent.objects.get(type="order.routed")
    assert routed.payload["store"] == shop.a.pk and routed.payload["order"] == order.number

    ticket = ticket_open(
        line=order.lines.get(),
        kind=TicketKind.RETURN,
        opened_via=OpenedVia.STORE,
        intake_store=shop.a,
        customer_phone="13800138000",
        actor=SYSTEM,
    )
    ticket_receive(ticket=ticket, store=shop.a, actor=SYSTEM)
    ticket_inspect(ticket=ticket, note="Dead pixels", actor=SYSTEM)
    ticket_approve(ticket=ticket, note="Confirmed", actor=SYSTEM)
    ticket_resolve(ticket=ticket, actor=SYSTEM)
    ticket_close(ticket=ticket, actor=SYSTEM)
    assert _types(type__in=["ticket.opened", "ticket.closed", "order.returned"]) == [
        "ticket.opened",
        "order.returned",
        "ticket.closed",
    ]
    returned = OutboxEvent.objects.get(type="order.returned")
    assert returned.payload == {**returned.payload, "order": order.number, "status": "returned"}
    assert returned.payload["refund"] == str(order.total)
    assert OutboxEvent.objects.get(type="ticket.closed").payload["ticket"] == ticket.number


@pytest.mark.django_db
def test_cancelling_and_repricing_emit_their_events(shop):
    from decimal import Decimal

    from catalog.services import price_set
    from orders.services import order_cancel

    order = shop.pay(shop.ship_order())
    order_cancel(order=order, reason="Customer changed their mind", actor=SYSTEM)
    cancelled = OutboxEvent.objects.get(type="order.cancelled")
    assert (cancelled.payload["order"], cancelled.payload["status"]) == (order.number, "cancelled")
    assert cancelled.payload["reason"] == "Customer changed their mind"

    price_set(sku=shop.tv, channel=shop.mall, amount=Decimal("2899.00"), actor=SYSTEM)
    price = OutboxEvent.objects.filter(type="price.changed").order_by("pk").last()
    assert price.channel_id == shop.mall.pk
    assert price.payload == {**price.payload, "sku": "TV-55", "channel": "mall", "amount": "2899.00"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_relay_and_send_each_event_once():
    """SKIP LOCKED: concurrent workers take disjoint events and tasks; every delivery is POSTed once."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    with Receiver([200]) as receiver:
        WebhookSubscription.objects.create(url=receiver.url, secret=SECRET)
        for n in range(20):
            event_emit(type="order.created", payload={"order": f"N{n}"})  # autocommit: committed now
        barrier = threading.Barrier(4)

        def work(n):
            barrier.wait()
            try:
                call_command("webhooks_worker", "--once", f"--worker-id=w{n}", stdout=io.StringIO())
            finally:
                connection.close()

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(work, range(4)))
    assert len(receiver.requests) == 20
    assert len({json.loads(body)["data"]["order"] for _, body in receiver.requests}) == 20
    assert WebhookAttempt.objects.count() == 20
    assert DBTaskResult.objects.filter(task_path=event_fan_out.module_path).count() == 20
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_running_tasks_for_the_same_attempt_at_once_post_it_once():
    """The claim is one UPDATE whose conditions PostgreSQL re-checks after the other's commit."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    with Receiver([200]) as receiver:
        WebhookSubscription.objects.create(url=receiver.url, secret=SECRET)
        event = event_emit(type="order.created", payload={})
        [delivery] = deliveries_create(event_pk=event.pk)
        barrier = threading.Barrier(4)

        def work(_):
            barrier.wait()
            try:
                return delivery_send.call(delivery_pk=delivery.pk, attempt=0)
            finally:
                connection.close()

        with ThreadPoolExecutor(4) as pool:
            codes = list(pool.map(work, range(4)))
    assert sorted(codes, key=str) == [200, None, None, None]
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.log.count()) == ("delivered", 1, 1)


@pytest.mark.django_db
def test_hq_approving_a_statement_emits_settlement_approved(hq):
    from guides.settlement import month_end, statement_approve
    from tests.guides.test_settlement import FEB, Ledger, sh, statement

    ledger = Ledger()
    ledger.accrual(ledger.clerk, held="50.00")
    month_end(period=FEB, now=sh(2026, 3, 1))
    draft = statement(ledger.clerk)
    statement_approve(statement=draft, user=hq)
    event = OutboxEvent.objects.get(type="settlement.approved")
    assert event.payload == {
        **event.payload,
        "statement": draft.pk,
        "period": "2026-02-01",
        "total": str(draft.total),
        "guide": draft.guide_id,
    }


@pytest.mark.django_db
def test_only_hq_redelivers_even_with_the_model_permissions(client):
    from django.contrib.auth.models import Permission

    from tests.factories import StoreFactory, manager_at

    user = manager_at(StoreFactory())
    user.is_staff = True
    user.save()
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_webhookdelivery", "change_webhookdelivery"])
    )
    client.force_login(user)
    WebhookSubscription.objects.create(url="http://127.0.0.1:9/closed", secret=SECRET)
    event_emit(type="order.created", payload={})
    run_worker()
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", next_attempt_at=None)
    url = reverse("admin:integrations_webhookdelivery_changelist")
    assert client.get(url).status_code == 403  # the delivery log is HQ's too (integrations.policies)
    client.post(url, {"action": "redeliver", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert delivery.status == "failed"


@pytest.mark.django_db
def test_order_events_at_a_partner_store_reach_that_partner_and_not_another(shop):
    partner, other = PartnerFactory(), PartnerFactory()
    shop.a.partner = partner
    shop.a.save(update_fields=["partner"])
    mine = WebhookSubscription.objects.create(url="http://127.0.0.1:9/p", secret=SECRET, partner=partner)
    WebhookSubscription.objects.create(url="http://127.0.0.1:9/o", secret=SECRET, partner=other)
    order = shop.deliver(shop.pay(shop.ship_order()))
    events = OutboxEvent.objects.filter(type__startswith="order.")
    assert {e.type for e in events if e.partner_id == partner.pk} >= {
        "order.paid",
        "order.shipped",
        "order.completed",
    }
    assert all(e.partner_id in (None, partner.pk) for e in events)
    paid = events.get(type="order.paid")
    assert paid.payload["order"] == order.number
    assert subscriptions_for(paid) == [mine]
