"""The members' nightly job: expire points past their life, then set tiers from 12-month spend.

Run it once a day from cron or the task worker: `manage.py members_daily`.
"""

from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from members.services import points_expire, tiers_refresh


class Command(BaseCommand):
    help = "Expire points past their life (oldest first) and refresh every member's tier."

    def add_arguments(self, parser):
        parser.add_argument("--at", help="Run as of this ISO datetime (default: now).")

    def handle(self, *args, at=None, **options):
        when = parse_datetime(at) if at else timezone.now()
        if when is None or timezone.is_naive(when):
            self.stderr.write("--at needs an ISO datetime with a time zone, e.g. 2026-12-01T00:00+08:00")
            raise SystemExit(2)
        expired = points_expire(at=when)
        tiers = tiers_refresh(at=when)
        self.stdout.write(
            f"points expired for {expired} members; tiers set for {tiers} members "
            f"(as of {when:%Y-%m-%d %H:%M %Z})"
        )
