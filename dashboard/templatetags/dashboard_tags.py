from datetime import timedelta

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """A wait as people say it: "45 s", "12 min", "3 h 05 min", "2 d 4 h"; "—" when there is none."""
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    if seconds < 60:
        return _("%(s)s s") % {"s": seconds}
    minutes, hours = seconds // 60, seconds // 3600
    if hours < 1:
        return _("%(m)s min") % {"m": minutes}
    if hours < 24:
        return _("%(h)s h %(m)02d min") % {"h": hours, "m": minutes % 60}
    return _("%(d)s d %(h)s h") % {"d": hours // 24, "h": hours % 24}


@register.filter
def percent(value) -> str:
    return "—" if value is None else f"{value} %"
