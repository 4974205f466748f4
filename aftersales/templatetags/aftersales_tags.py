"""Template helpers of the after-sales pages: a ticket's age, and the member page's tickets (a ticket's
status badge is the one of every page: `{% status_badge ticket %}`, config.badges)."""

from django import template
from django.db.models import Q
from django.utils import timezone

register = template.Library()

MEMBER_TICKETS_SHOWN = 20


@register.filter
def days_open(ticket, now=None) -> int:
    """Whole days from opening to closing (or to now while it is open): the SLA's ageing."""
    end = ticket.closed_at or now or timezone.now()
    return max((end - ticket.opened_at).days, 0)


@register.simple_tag(takes_context=True)
def member_tickets(context, member) -> list:
    """The member's latest tickets on every channel (one service), each marked `openable` when
    the user may open its page. Two queries."""
    from aftersales.models import Ticket
    from aftersales.selectors import tickets_visible_to

    tickets = list(
        Ticket.objects.filter(Q(member=member) | Q(order__member=member))
        .select_related("line__sku", "channel", "intake_store", "handling_store")
        .order_by("-opened_at", "-id")[:MEMBER_TICKETS_SHOWN]
    )
    if not tickets:
        return []
    user = context.get("user") or context["request"].user
    visible = set(
        tickets_visible_to(user).filter(pk__in=[t.pk for t in tickets]).values_list("pk", flat=True)
    )
    for ticket in tickets:
        ticket.openable = ticket.pk in visible
    return tickets
