"""Asia/Shanghai days: the business time zone every day window, period and deadline is counted in.

Windows are half-open: a day ends at the Shanghai midnight that starts the next one, so "until
the 15th" is ``< shanghai_midnight(15th + 1 day)``, whatever the server's zone.
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai_date(at: datetime) -> date:
    """The Shanghai calendar day an instant falls on."""
    return at.astimezone(SHANGHAI).date()


def shanghai_today() -> date:
    return shanghai_date(timezone.now())


def shanghai_midnight(day: date) -> datetime:
    """The instant a Shanghai calendar day starts: "opened on the 3rd" means the 3rd in China."""
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


def last_day_before(end: datetime) -> date:
    """The last day inside a window whose exclusive end is ``end`` (a Shanghai midnight)."""
    return shanghai_date(end - timedelta(days=1))
