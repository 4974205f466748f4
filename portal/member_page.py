"""The member page (`members:detail`): identities, the points ledger and a redeem form, orders,
guide bindings, the 360° timeline (insights.member_timeline) and what to show the member
(insights.suggestions). It reads later apps than members, so it is served from the surface; its
URL keeps the members namespace (portal/member_urls.py).

Who may open it is the members pages' rule (members.views._member_for): visible members, or the
one an exact lookup found (?via=lookup&q=...)."""

import re
import uuid

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from config.errors import DomainError
from config.roles import is_hq
from config.views import add_domain_error, paginate, staff_required
from guides.selectors import member_bindings
from insights.member_timeline import member_timeline
from insights.suggestions import suggestions_for
from insights.timeline import flow_from, flow_links
from members.forms import PointsRedeemForm
from members.models import Member
from members.services import points_redeem
from members.views import LAST_STORE_SESSION_KEY, _member_for, _member_url
from orders.selectors import orders_of_member
from stores.choices import StaffRole
from stores.models import StaffMembership, Store
from stores.selectors import channel_for_store

LEDGER_PAGE_SIZE = 20


@require_http_methods(["GET", "POST"])
@staff_required
def member_detail(request, pk):
    member, via_query = _member_for(request, pk)
    here = _member_url(member.pk, via_query)
    if request.method == "POST":
        form = PointsRedeemForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                entry = points_redeem(
                    member=member,
                    points=data["points"],
                    channel=channel_for_store(None),
                    reference=data["reference"].strip(),
                    client_reference=data["client_reference"],
                    actor=request.user,
                )
            except DomainError as error:
                add_domain_error(form, error)
            else:
                messages.success(
                    request,
                    _("%(points)s points redeemed. The member has %(balance)s points left.")
                    % {
                        "points": -entry.points,
                        "balance": Member.objects.values_list("points_balance", flat=True).get(pk=member.pk),
                    },
                )
                return redirect(here)
    else:
        form = PointsRedeemForm(initial={"client_reference": _client_reference()})

    ledger = member.points_entries.select_related("channel", "created_by").order_by("-created_at", "-id")
    identities = list(member.identities.order_by("source", "external_id"))
    orders = orders_of_member(member=member, user=request.user)
    bindings = member_bindings(member)
    timeline = member_timeline(
        member, user=request.user, identities=identities, bindings=bindings, orders=orders
    )
    flow = flow_from(request)
    store, store_choice = _suggestion_store(request)
    return render(
        request,
        "members/detail.html",
        {
            "member": member,
            "via_query": via_query,
            "identities": identities,
            "page_obj": paginate(request, ledger, per_page=LEDGER_PAGE_SIZE),
            "redeem_form": form,
            "orders": orders,
            "bindings": bindings,
            "timeline": timeline.of_flow(flow),
            "timeline_count": len(timeline),
            "flow_links": flow_links(request, flow),
            "timeline_title": _("Timeline: identities, orders, points, guides and service"),
            "suggestion_store": store,
            "suggestion_store_choice": store_choice,
            "suggestions": suggestions_for(member, store) if store is not None else [],
        },
    )


STORE_CODE = re.compile(r"[-\w]{1,40}")  # stores.models.Store.code: a slug of at most 40


def _suggestion_store(request) -> tuple[Store | None, bool]:
    """The store whose stock the member page suggests from, and whether the user may pick one.

    Store staff: the store they work at (?store=CODE, or the one they last served from, picks
    among theirs). HQ: the store named by ?store=CODE (any store), else none until chosen.
    Others (partners): none."""
    wanted = (request.GET.get("store") or request.session.get(LAST_STORE_SESSION_KEY) or "").strip()
    if not STORE_CODE.fullmatch(wanted):  # a NUL byte or an overlong value names no store
        wanted = ""
    works_at = [
        m.store
        for m in StaffMembership.objects.filter(
            user=request.user, role__in=[StaffRole.MANAGER, StaffRole.CLERK]
        ).select_related("store")
    ]
    if works_at:
        chosen = next((store for store in works_at if store.code == wanted), works_at[0])
        return chosen, len(works_at) > 1
    if is_hq(request.user):
        return (Store.objects.filter(code=wanted).first() if wanted else None), True
    return None, False


def _client_reference() -> str:
    return f"portal-{uuid.uuid4().hex}"
