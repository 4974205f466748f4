"""Template filters of the guide pages: a fan's contact details are shown masked (a guide may be
anyone who signed up; they need to recognise a fan, not to call them)."""

from django import template

from members import phones

register = template.Library()


@register.filter
def masked_phone(phone: str | None) -> str:
    """13812345678 -> 138****5678 (members.phones.masked_phone); no mobile is a dash."""
    return phones.masked_phone(phone) or "—"


@register.filter
def masked_name(name: str | None) -> str:
    """The first character and a star per other character (张三丰 -> 张**); empty stays empty."""
    name = (name or "").strip()
    if len(name) <= 1:
        return name
    return name[0] + "*" * min(len(name) - 1, 3)


@register.filter
def percent(value) -> str:
    """A rate in percent with one decimal, or a dash when there was nothing to divide by."""
    return "—" if value is None else f"{value}%"
