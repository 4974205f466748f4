"""Report periods for the guide pages: whole days in the business time zone, Asia/Shanghai.

A period from 1 March to 31 March covers [1 March 00:00 Shanghai, 1 April 00:00 Shanghai):
both named days are included, as a reader of "1–31 March" expects, whatever the server's zone.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from config.dates import shanghai_midnight, shanghai_today


def month_bounds(first: date) -> tuple[datetime, datetime]:
    """[Shanghai midnight starting the month of `first`, the one starting the next month)."""
    first = first.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return shanghai_midnight(first), shanghai_midnight(following)


@dataclass(frozen=True)
class Period:
    """Whole Shanghai days from `first` to `last`, both included."""

    first: date
    last: date

    @classmethod
    def month_of(cls, day: date) -> "Period":
        first = day.replace(day=1)
        return cls(first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1))

    @classmethod
    def this_month(cls) -> "Period":
        return cls.month_of(shanghai_today())

    @property
    def since(self) -> datetime:
        return shanghai_midnight(self.first)

    @property
    def until(self) -> datetime:
        """Exclusive: the Shanghai midnight that ends the last day."""
        return shanghai_midnight(self.last + timedelta(days=1))

    def as_query(self) -> dict[str, str]:
        return {"start": self.first.isoformat(), "end": self.last.isoformat()}
