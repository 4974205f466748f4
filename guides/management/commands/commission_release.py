"""Release held guide commission once the line's return window has closed.

Run it daily (cron or the task worker): `manage.py commission_release`. It is one set-based
INSERT ... SELECT (one release row per guide, partner and store) and is idempotent (an accrual
is released once), so a missed or repeated day is harmless; the monthly `guides_month_end`
releases too before drafting the statements.
"""

from django.core.management.base import BaseCommand
from django.utils import timezone

from guides.management.commands.guides_month_end import parse_at
from guides.settlement import commission_release


class Command(BaseCommand):
    help = "Move held commission to payable for lines whose return window has closed."

    def add_arguments(self, parser):
        parser.add_argument("--at", help="Run as of this ISO datetime (default: now).")

    def handle(self, *args, at=None, **options):
        when = parse_at(at)
        released = commission_release(now=when)
        self.stdout.write(
            f"released the commission of {released} lines "
            f"(return windows closed by {timezone.localtime(when):%Y-%m-%d %H:%M %Z})"
        )
