"""Tags every page may load (`{% load ui %}`; registered in settings.TEMPLATES, config is no app):
the one status badge."""

from django import template

from config import badges

register = template.Library()


@register.simple_tag
def status_badge(obj, field="status"):
    """`{% status_badge order %}`: the status's label in a badge coloured by the state."""
    return badges.status_badge(obj, field)
