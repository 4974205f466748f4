"""Delete stored Idempotency-Key answers older than 24 hours. Run it hourly (cron or a scheduler):
the replay window is 24 hours, so a row is kept between 24 and 25 hours."""

from django.core.management.base import BaseCommand

from integrations.idempotency import idempotency_purge


class Command(BaseCommand):
    help = "Delete stored Idempotency-Key answers older than 24 hours (run hourly)."

    def handle(self, *args, **options):
        deleted = idempotency_purge()
        self.stdout.write(f"Deleted {deleted} stored idempotent request(s) older than 24 hours.")
