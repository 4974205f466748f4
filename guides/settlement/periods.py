"""Settlement: periods (a statement covers one calendar month, Asia/Shanghai)."""

from datetime import date, datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from config.dates import SHANGHAI
from guides.settlement.base import StatementRefused


def month_start(day: date) -> date:
    """The period a day belongs to: the first of its month."""
    return day.replace(day=1)


def previous_period(now: datetime | None = None) -> date:
    """Last month (Asia/Shanghai), the period a month-end run settles by default."""
    today = timezone.localtime(now or timezone.now(), SHANGHAI).date()
    return month_start(month_start(today) - timedelta(days=1))


def _checked_period(period: date) -> date:
    if isinstance(period, datetime) or not isinstance(period, date):
        raise StatementRefused(_("A statement period is a date (the first of a month)."))
    return month_start(period)
