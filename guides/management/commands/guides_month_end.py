"""Month-end settlement of guide commission: release what is due, then draft the month's
statements per guide and per partner (guides.settlement.month_end).

Run it early on the first of each month (cron or the task worker): `manage.py guides_month_end`
settles last month (Asia/Shanghai); `--period 2026-02` settles a given month. Re-running it is
safe: only what is new is released or put on the drafts; approved statements never change.
"""

from datetime import date, datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from guides.settlement import month_end, previous_period


def parse_at(value: str | None) -> datetime:
    """--at as an aware datetime (default now)."""
    if not value:
        return timezone.now()
    when = parse_datetime(value)
    if when is None or timezone.is_naive(when):
        raise CommandError("--at needs an ISO datetime with a time zone, e.g. 2026-03-01T02:00+08:00")
    return when


class Command(BaseCommand):
    help = "Release commission whose return window has closed and draft the month's statements."

    def add_arguments(self, parser):
        parser.add_argument("--period", help="The month to settle, YYYY-MM (default: last month).")
        parser.add_argument("--at", help="Run as of this ISO datetime (default: now).")

    def handle(self, *args, period=None, at=None, **options):
        when = parse_at(at)
        if period:
            try:
                year, number = (int(part) for part in period.split("-"))
                month = date(year, number, 1)
            except ValueError as exc:
                raise CommandError("--period needs a month as YYYY-MM, e.g. 2026-02") from exc
        else:
            month = previous_period(when)
        result = month_end(period=month, now=when)
        drafts = result.drafts
        self.stdout.write(
            f"{month:%Y-%m}: released {result.released} lines' commission; "
            f"started {drafts.guide_statements} guide and {drafts.partner_statements} partner statements; "
            f"put {drafts.entries_claimed} entries on draft statements "
            f"(as of {timezone.localtime(when):%Y-%m-%d %H:%M %Z})"
        )
