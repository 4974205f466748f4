"""Send webhooks: relay the outbox to the task queue and run the "webhooks" queue's tasks.

    python manage.py webhooks_worker          # long-running; one or more processes
    python manage.py webhooks_worker --once   # relay and run everything due now, then exit (cron, tests)

The tasks run in django-tasks-db's own Worker (the one `manage.py db_worker` runs), limited to the
"webhooks" queue, a batch at a time; between batches, about every second, the outbox relay hands
new events to the queue, and every few minutes deliveries whose task was lost are enqueued again.
Several processes are safe on PostgreSQL: events and tasks are taken with SKIP LOCKED.
"""

import logging
import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker

from integrations.tasks import QUEUE, deliveries_recover, delivery_send, outbox_relay

logger = logging.getLogger(__name__)
RECOVER_EVERY_SECONDS = 300


class BatchWorker(Worker):
    """django-tasks-db's worker for one batch of the webhooks queue, counting the tasks it ran."""

    def __init__(self, *, worker_id: str, max_tasks: int | None):
        super().__init__(
            queue_names=[QUEUE],
            interval=0,
            batch=True,  # return once no task is ready (or after max_tasks) instead of sleeping
            backend_name=delivery_send.backend,
            startup_delay=False,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=[],
        )
        self.ran = 0

    def run_task(self, db_task_result):
        self.ran += 1
        super().run_task(db_task_result)


class Command(BaseCommand):
    help = "Deliver signed webhooks: relay the outbox and run the webhooks task queue (--once: drain, exit)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run what is due now, then exit.")
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds to sleep when idle.")
        parser.add_argument("--batch", type=int, default=50, help="Tasks run between two outbox relays.")
        parser.add_argument("--worker-id", default="", help="Unique per process (default: random).")

    def handle(self, *args, once=False, interval=1.0, batch=50, worker_id="", verbosity=1, **options):
        self.worker_id = worker_id or f"webhooks-{get_random_string(16)}"
        self.worker = None
        if verbosity < 2:  # django-tasks-db logs a start and an end line per batch, every second
            logging.getLogger("django_tasks_db").setLevel(logging.WARNING)
        if once:
            deliveries_recover()
            ran = 0
            while True:  # a fan-out enqueues deliveries: go round until nothing is left to do
                relayed, ran_now = self.round(max_tasks=None)
                ran += ran_now
                if not (relayed or ran_now):
                    break
            self.stdout.write(f"{ran} webhook tasks run")
            return
        self.stopping = False
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.stdout.write("Webhook worker started; Ctrl-C to stop.")
        recovered_at = 0.0
        while not self.stopping:
            close_old_connections()  # a long-lived process: drop broken or expired connections
            try:
                if time.monotonic() - recovered_at >= RECOVER_EVERY_SECONDS:
                    deliveries_recover()
                    recovered_at = time.monotonic()
                _, ran = self.round(max_tasks=batch)
            except Exception:  # a database blip must not stop deliveries for good
                logger.exception("webhook worker round failed; retrying")
                ran = 0
            if ran < batch:  # the queue is drained: wait a little, waking up for a stop
                deadline = time.monotonic() + interval
                while not self.stopping and time.monotonic() < deadline:
                    time.sleep(min(0.1, interval))
        self.stdout.write("Webhook worker stopped.")

    def round(self, *, max_tasks: int | None) -> tuple[int, int]:
        """Relay new events to the queue, then run up to `max_tasks` ready tasks (all when None)."""
        relayed = outbox_relay()
        self.worker = BatchWorker(worker_id=self.worker_id, max_tasks=max_tasks)
        try:
            self.worker.run()
        finally:
            ran, self.worker = self.worker.ran, None
        return relayed, ran

    def stop(self, signum, frame):
        """First signal: finish the task in hand, then exit. Second: stop now."""
        if self.stopping:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            raise KeyboardInterrupt
        self.stopping = True
        if self.worker is not None:
            self.worker.running = False
