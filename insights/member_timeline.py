"""The member's 360° timeline: identities and merges, orders on every channel, the points ledger,
guide bindings and service tickets on one list, in time order (the same entries as the order's).

A member may have thousands of rows, so each source is capped at its newest `limit` rows (one
query each) and a capped source adds a "see all" link to where its full list lives.
"""

from urllib.parse import urlencode

from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext as _

from aftersales.models import Ticket
from aftersales.selectors import tickets_visible_to
from config.roles import is_hq
from guides.selectors import member_bindings
from insights.timeline import Timeline, TimelineEntry, in_time_order, who
from members.models import MemberMerge, PointsEntry
from orders.selectors import orders_of_member

TIMELINE_PER_SOURCE = 20


def member_timeline(
    member,
    *,
    user=None,
    limit: int = TIMELINE_PER_SOURCE,
    identities: list | None = None,
    bindings: list | None = None,
    orders: list | None = None,
) -> Timeline:
    """Newest `limit` rows of each source, oldest first. Rows the page has already loaded
    (identities, bindings from guides.selectors.member_bindings, orders from
    orders.selectors.orders_of_member) can be passed in so they are not read twice."""
    more: list[tuple[str, str]] = []
    entries = [
        TimelineEntry(
            member.created_at,
            "information",
            _("Became a member%(store)s")
            % {"store": f" · {member.home_store.name}" if member.home_store_id else ""},
            kind="joined",
        )
    ]
    if member.consent_changed_at:
        entries.append(
            TimelineEntry(
                member.consent_changed_at,
                "information",
                _("Marketing consent given")
                if member.marketing_consent
                else _("Marketing consent withdrawn"),
                detail=member.consent_channel.name if member.consent_channel_id else "",
                kind="consent",
            )
        )

    identities = (
        identities
        if identities is not None
        else list(member.identities.order_by("-created_at", "-id")[:limit])
    )
    entries += [
        TimelineEntry(
            identity.created_at,
            "information",
            _("Identity linked: %(source)s %(id)s")
            % {"source": identity.get_source_display(), "id": identity.external_id},
            kind="identity",
        )
        for identity in identities
    ]

    merges = list(
        MemberMerge.objects.filter(Q(survivor=member) | Q(merged=member))
        .select_related("merged_by")
        .order_by("-merged_at", "-id")[:limit]
    )
    for merge in merges:
        if merge.survivor_id == member.pk:
            what = _("Member %(id)s (%(phone)s) merged into this one") % {
                "id": merge.merged_id,
                "phone": merge.merged_phone or "—",
            }
        else:
            what = _("Merged into member %(id)s") % {"id": merge.survivor_id}
        moved = ", ".join(f"{key}: {value}" for key, value in (merge.moved or {}).items() if value)
        detail = " · ".join(part for part in (merge.reason, moved) if part)
        entries.append(
            TimelineEntry(merge.merged_at, "information", what, who(merge.merged_by), detail, kind="merge")
        )

    orders = orders if orders is not None else orders_of_member(member=member, user=user, limit=limit)
    for order in orders:
        store = order.origin_store or order.fulfilling_location
        entries.append(
            TimelineEntry(
                order.created_at,
                "order",
                _("Order %(number)s on %(channel)s%(store)s: %(total)s, %(status)s")
                % {
                    "number": order.number,
                    "channel": order.channel.name,
                    "store": f" · {store.name}" if store else "",
                    "total": order.total,
                    "status": order.get_status_display().lower(),
                },
                url=reverse("orders:detail", args=[order.number])
                if getattr(order, "openable", False)
                else "",
                kind="order",
            )
        )
    if len(orders) >= limit:
        more.append((_("All orders"), f"{reverse('orders:list')}?{urlencode({'member': member.pk})}"))

    points = list(
        PointsEntry.objects.filter(member=member)
        .select_related("channel", "created_by")
        .order_by("-created_at", "-id")[:limit]
    )
    entries += [
        TimelineEntry(
            entry.created_at,
            "capital",
            _("%(points)s points: %(kind)s%(channel)s")
            % {
                "points": f"{entry.points:+}",
                "kind": entry.get_kind_display().lower(),
                "channel": f" · {entry.channel.name}" if entry.channel_id else "",
            },
            who(entry.created_by),
            detail=" · ".join(part for part in (entry.reference, entry.reason) if part),
            kind="points",
        )
        for entry in points
    ]
    if len(points) >= limit:
        more.append((_("Whole points ledger"), "#ledger-h"))

    bindings = bindings if bindings is not None else member_bindings(member)
    for binding in bindings[:limit]:
        entries.append(
            TimelineEntry(
                binding.started_at,
                "information",
                _("Bound to guide %(name)s (%(code)s)%(store)s")
                % {
                    "name": binding.guide.name,
                    "code": binding.guide.code,
                    "store": f" · {binding.store.name}" if binding.store_id else "",
                },
                detail=_("%(n)s scans, last %(day)s")
                % {"n": binding.scan_count, "day": binding.last_scan_at.date().isoformat()},
                kind="binding",
            )
        )
        if binding.ended_at:
            entries.append(
                TimelineEntry(
                    binding.ended_at,
                    "information",
                    _("Binding to guide %(name)s ended: %(why)s")
                    % {"name": binding.guide.name, "why": binding.get_end_reason_display() or "—"},
                    kind="binding_end",
                )
            )

    tickets = list(
        Ticket.objects.filter(Q(member=member) | Q(order__member=member))
        .select_related("line__sku", "channel", "opened_by")
        .order_by("-opened_at", "-id")[:limit]
    )
    visible = (
        set(tickets_visible_to(user).filter(pk__in=[t.pk for t in tickets]).values_list("pk", flat=True))
        if tickets and user is not None
        else set()
    )
    for ticket in tickets:
        url = reverse("aftersales:detail", args=[ticket.number]) if ticket.pk in visible else ""
        entries.append(
            TimelineEntry(
                ticket.opened_at,
                "service",
                _("%(kind)s ticket %(number)s opened for %(sku)s (%(channel)s)")
                % {
                    "kind": ticket.get_kind_display(),
                    "number": ticket.number,
                    "sku": ticket.line.sku.name,
                    "channel": ticket.channel.name,
                },
                who(ticket.opened_by),
                url=url,
                kind="ticket",
            )
        )
        if ticket.closed_at:
            entries.append(
                TimelineEntry(
                    ticket.closed_at,
                    "service",
                    _("Ticket %(number)s closed: %(status)s")
                    % {"number": ticket.number, "status": ticket.get_status_display()},
                    url=url,
                    kind="ticket_closed",
                )
            )
    if len(tickets) >= limit:
        if user is not None and is_hq(user):
            more.append(
                (_("All tickets"), f"{reverse('aftersales_hq:queue')}?{urlencode({'q': member.phone or ''})}")
            )
        else:
            more.append((_("Latest tickets"), "#tickets-h"))
    return in_time_order(entries, more)
