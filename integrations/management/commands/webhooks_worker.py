"""Send the webhook outbox: fan out new events, POST due deliveries, retry with back-off.

Run one long-lived process (more are safe on PostgreSQL: rows are claimed with SKIP LOCKED):
    python manage.py webhooks_worker              # loop, polling every 2 s when idle
    python manage.py webhooks_worker --once       # send what is due now and exit (cron, tests)
"""

import logging
import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from integrations.webhooks import webhooks_run_once

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Deliver signed webhooks from the outbox (loop; --once to drain what is due and exit)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Send what is due, then exit.")
        parser.add_argument("--interval", type=float, default=2.0, help="Seconds to sleep when idle.")
        parser.add_argument("--batch", type=int, default=50, help="Deliveries claimed per round.")

    def handle(self, *args, once=False, interval=2.0, batch=50, **options):
        self._stopping = False
        if once:
            sent = 0
            while True:  # drain: a batch at a time until nothing is due
                posted = webhooks_run_once(limit=batch)
                sent += posted
                if posted < batch:
                    break
            self.stdout.write(f"{sent} webhook deliveries attempted")
            return
        signal.signal(signal.SIGTERM, self._stop)
        self.stdout.write("Webhook worker started; Ctrl-C to stop.")
        try:
            while not self._stopping:
                close_old_connections()  # a long-lived process: drop broken or expired connections
                try:
                    busy = webhooks_run_once(limit=batch) >= batch
                except Exception:  # a database blip must not stop deliveries for good
                    logger.exception("webhook worker round failed; retrying")
                    busy = False
                if not busy:
                    time.sleep(interval)
        except KeyboardInterrupt:
            pass
        self.stdout.write("Webhook worker stopped.")

    def _stop(self, signum, frame):
        self._stopping = True
