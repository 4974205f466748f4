"""Delete stored Idempotency-Key answers older than 24 hours, and claims whose lease (the request
timeout) has run out because their worker died. Run it hourly (cron or a scheduler): the replay
window is 24 hours, so an answer is kept between 24 and 25 hours."""

from django.core.management.base import BaseCommand

from integrations.idempotency import idempotency_purge


class Command(BaseCommand):
    help = "Delete Idempotency-Key answers older than 24 hours and expired in-progress claims (run hourly)."

    def handle(self, *args, **options):
        deleted = idempotency_purge()
        self.stdout.write(
            f"Deleted {deleted} stored idempotent request(s) older than 24 hours or left unfinished."
        )
