"""Staff portal member pages (lookup, quick-register, store lists) and HQ segment pages. The
member page itself reads orders, guides and after-sales (its timeline and suggestions), so it is
the surface's: portal/member_page.py, opened through `_member_for` below.

Scoping: lists start from members_visible_to(user), so a clerk browses their stores' customers
only. A customer from elsewhere is reached by an exact phone or card (member_lookup): the lookup
redirects with ?via=lookup&q=…, and the member page re-resolves q to let that one member through.
"""

import csv
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.csv import csv_attachment, csv_cell
from config.errors import DomainError
from config.roles import is_hq
from config.views import PAGE_SIZE, add_domain_error, hq_required, paginate, staff_required
from members.choices import IdentitySource
from members.errors import GroupRefused
from members.forms import (
    GroupMemberAddForm,
    MemberLookupForm,
    QuickRegisterForm,
    SegmentForm,
    StaticGroupForm,
)
from members.models import Member, Segment, StaticGroup
from members.phones import normalise_phone_or_blank
from members.policies import member_fields_for, member_lookup_for, members_visible_to
from members.selectors import SEGMENT_FIELDS, SegmentInvalid, segment_members
from members.services import (
    SEGMENT_EXPORT_COLUMNS,
    member_set_consent,
    member_upsert,
    segment_create,
    segment_export,
    static_group_add,
    static_group_create,
    static_group_remove,
)
from members.throttling import lookup_allowed_now
from stores.models import Store
from stores.policies import store_actionable_by, stores_managed_by, stores_visible_to
from stores.selectors import channel_for_store

# HQ's lookup page lists the most recent members only: counting 30 million rows for a pager
# would take seconds, and HQ finds a member by lookup or through a segment anyway.
HQ_RECENT_MEMBERS = 500
# The longest value a lookup takes (an external id's column).
MAX_QUERY = 128
# The sales channel a consent given at a store's counter is recorded under.
# The same session key as the stock lookup: the store the clerk last served from.
LAST_STORE_SESSION_KEY = "stock_lookup_store"


def _member_url(member_id: int, lookup_query: str | None = None) -> str:
    url = reverse("members:detail", args=[member_id])
    return f"{url}?{urlencode({'via': 'lookup', 'q': lookup_query})}" if lookup_query else url


# --- lookup, and who may open a member's page ---------------------------------------------------


@require_GET
@staff_required
def lookup(request):
    form = MemberLookupForm(request.GET or None)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    throttled = bool(query) and not lookup_allowed_now(request)
    if throttled:
        form.add_error("q", _("Too many lookups in a short time; wait a minute and try again."))
        query = ""
    if query:
        member = member_lookup_for(request.user, query)
        if member is not None:
            return redirect(_member_url(member.pk, query))
    hq = is_hq(request.user)
    members = (
        members_visible_to(request.user).select_related("home_store", "tier").order_by("-created_at", "-id")
    )
    if hq:
        members = members[:HQ_RECENT_MEMBERS]
    return render(
        request,
        "members/lookup.html",
        {
            "form": form,
            "query": query,
            "not_found": bool(query),
            "register_phone": normalise_phone_or_blank(query) if query else "",
            "page_obj": paginate(request, members),
            "recent_only": hq,
        },
        status=429 if throttled else 200,
    )


def _member_for(request, pk: int) -> tuple[Member, str | None]:
    """The member if the user may see their personal data, with the lookup query that let them in.

    Visible members (HQ: all; staff: their stores' customers) open directly. Anyone else only
    when the request carries the exact phone or id that resolves to this member and the policy
    lets a lookup show them (a clerk serving a walk-in); else 404.
    """
    member = (
        members_visible_to(request.user)
        .select_related("home_store", "tier", "consent_channel", "wallet")
        .filter(pk=pk)
        .first()
    )
    query = (request.GET.get("q") or "").strip() if request.GET.get("via") == "lookup" else ""
    if member is not None:  # a member one may browse is one whose personal data one sees
        return member, query or None
    if query and "\x00" not in query and len(query) <= MAX_QUERY:
        found = member_lookup_for(request.user, query)
        if (
            found is not None
            and found.pk == pk
            and member_fields_for(request.user, found, found_by_lookup=True).personal
        ):
            return (
                Member.objects.select_related("home_store", "tier", "consent_channel", "wallet").get(pk=pk),
                query,
            )
    raise Http404(_("No member you can see has this number."))


# --- quick register -----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@staff_required
def register(request):
    """A walk-in customer registered at the counter; an existing mobile opens that member instead."""
    hq = is_hq(request.user)
    form = QuickRegisterForm(
        request.POST or None,
        initial={"phone": request.GET.get("phone", "")},
        stores=stores_visible_to(request.user),
        store_required=not hq,
        initial_store_code=request.session.get(LAST_STORE_SESSION_KEY),
    )
    if not hq and form.store_count == 0:
        return render(request, "members/register.html", {"form": form, "no_store": True})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                result = member_upsert(
                    phone=data["phone"],
                    name=data["name"].strip(),
                    city=data["city"].strip(),
                    home_store=data["home_store"],
                    actor=request.user,
                )
                if not result.created:
                    # Already a member: registering changes nothing (the upsert would fill blanks).
                    transaction.set_rollback(True)
                elif data["consent"]:
                    member_set_consent(
                        member=result.member, consent=True, channel=channel_for_store(data["home_store"])
                    )
        except DomainError as error:
            add_domain_error(form, error, field_map={"home_store_id": "home_store"})
        else:
            if not result.created:
                return _already_a_member(request, result.member, data["phone"])
            messages.success(
                request,
                _("%(phone)s is now a member. Points are earned with their next paid order.")
                % {"phone": data["phone"]},
            )
            return redirect(_member_url(result.member.pk, data["phone"]))
    return render(request, "members/register.html", {"form": form})


def _already_a_member(request, member: Member, phone: str):
    messages.info(
        request,
        _("%(phone)s is already a member, so nobody new was registered. Here is their page.")
        % {"phone": phone},
    )
    return redirect(_member_url(member.pk, phone))


# --- HQ segments --------------------------------------------------------------------------------


@require_GET
@hq_required
def segment_list(request):
    segments = Segment.objects.select_related("created_by").order_by("name", "pk")
    page_obj = paginate(request, segments)
    for segment in page_obj:
        segment.summary = "; ".join(f"{label}: {value}" for label, value in _describe(segment.filters, {}))
    return render(request, "members/segment_list.html", {"page_obj": page_obj})


@require_http_methods(["GET", "POST"])
@hq_required
def segment_new(request):
    form = SegmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        filters = form.filters()
        try:
            segment = segment_create(name=form.cleaned_data["name"], filters=filters, actor=request.user)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(
                request,
                _("Segment “%(name)s” saved. Check the count, then export it.") % {"name": segment.name},
            )
            return redirect("members:segment_detail", pk=segment.pk)
    return render(request, "members/segment_form.html", {"form": form})


@require_GET
@hq_required
def segment_detail(request, pk):
    segment = get_object_or_404(Segment.objects.select_related("created_by"), pk=pk)
    store_codes = dict(
        Store.objects.filter(pk__in=segment.filters.get("home_store") or []).values_list("pk", "code")
    )
    context = {"segment": segment, "filters": _describe(segment.filters, store_codes)}
    try:
        matching = segment_members(segment.filters)
        if request.GET.get("format") == "csv":
            return _segment_csv(segment)
        counts = matching.aggregate(
            total=Count("pk"), consenting=Count("pk", filter=Q(marketing_consent=True))
        )
    except SegmentInvalid as error:
        context["invalid"] = error.message
        return render(request, "members/segment_detail.html", context)
    paginator = Paginator(
        matching.select_related("tier", "home_store").order_by("-created_at", "-id"), PAGE_SIZE
    )
    paginator.count = counts["total"]  # already counted with the consenting members: no 2nd COUNT
    context.update(
        total=counts["total"],
        consenting=counts["consenting"],
        left_out=counts["total"] - counts["consenting"],
        page_obj=paginator.get_page(request.GET.get("page")),
    )
    return render(request, "members/segment_detail.html", context)


def _segment_csv(segment: Segment) -> HttpResponse:
    export = segment_export(filters=segment.filters)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = csv_attachment(f"segment-{segment.pk}-{stamp}.csv")
    response["X-Included"] = str(export.included)
    response["X-Left-Out"] = str(export.left_out)
    writer = csv.writer(response)
    writer.writerow(SEGMENT_EXPORT_COLUMNS)
    writer.writerows([csv_cell(value) for value in row] for row in export.rows)
    return response


SEGMENT_LABELS = {
    "city": gettext_lazy("Cities"),
    "tier": gettext_lazy("Tiers"),
    "home_store": gettext_lazy("Home stores"),
    "channel_used": gettext_lazy("Bought on channels"),
    "identity_source": gettext_lazy("Known by"),
    "spend_min": gettext_lazy("Total spend at least"),
    "spend_max": gettext_lazy("Total spend at most"),
    "last_purchase_after": gettext_lazy("Last purchase on or after"),
    "last_purchase_before": gettext_lazy("Last purchase before"),
    "points_min": gettext_lazy("Points balance at least"),
    "points_max": gettext_lazy("Points balance at most"),
    "consent": gettext_lazy("Marketing consent"),
    "bound_guide": gettext_lazy("Bound to guides"),
}


def _describe(filters: dict, store_codes: dict) -> list[tuple[str, str]]:
    """A saved filter as (label, value) lines people can read."""
    sources = dict(IdentitySource.choices)
    lines = []
    for key in SEGMENT_FIELDS:
        if key not in filters or filters[key] in (None, "", []):
            continue
        value = filters[key]
        values = value if isinstance(value, list) else [value]
        if key == "home_store":
            text = ", ".join(store_codes.get(v, str(v)) for v in values)
        elif key == "identity_source":
            text = ", ".join(str(sources.get(v, v)) for v in values)
        elif key.startswith("last_purchase"):
            parsed = parse_datetime(str(value))
            text = timezone.localtime(parsed).strftime("%Y-%m-%d") if parsed and parsed.tzinfo else str(value)
        elif key == "consent":
            text = _("yes") if value in (True, "true", "1", 1) else _("no")
        else:
            text = ", ".join(str(v) for v in values)
        lines.append((str(SEGMENT_LABELS[key]), text))
    return lines


# --- store lists (static groups) ---------------------------------------------------------------


def _groups_visible_to(user):
    return StaticGroup.objects.filter(store__in=stores_visible_to(user).values("pk"))


@require_http_methods(["GET", "POST"])
@staff_required
def group_list(request):
    managed = stores_managed_by(request.user)
    may_create = is_hq(request.user) or managed.exists()  # HQ: no query for "any store at all"
    form = StaticGroupForm(request.POST or None, stores=managed) if may_create else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied(_("Only a store's managers can make its lists."))
        if form.is_valid():
            try:
                data = form.cleaned_data
                group = static_group_create(name=data["name"], store=data["store"], user=request.user)
            except DomainError as error:
                add_domain_error(form, error)
            else:
                messages.success(
                    request,
                    _("List “%(name)s” made for %(store)s. Add members by their mobile number.")
                    % {"name": group.name, "store": group.store.name},
                )
                return redirect("members:group_detail", pk=group.pk)
    groups = (
        _groups_visible_to(request.user)
        .select_related("store")
        .annotate(member_count=Count("members"))
        .order_by("store__code", "name")
    )
    return render(
        request,
        "members/group_list.html",
        {"form": form, "page_obj": paginate(request, groups)},
    )


def _group_or_404(request, pk) -> StaticGroup:
    return get_object_or_404(_groups_visible_to(request.user).select_related("store"), pk=pk)


def _group_editable_or_403(request, pk) -> StaticGroup:
    """A list the user may see (else 404) and edit: its store's managers and HQ (else 403)."""
    group = _group_or_404(request, pk)
    if not store_actionable_by(request.user, group.store, "manage"):
        raise PermissionDenied(
            _("Only a manager of %(store)s can edit its list %(group)s.")
            % {"store": group.store.name, "group": group.name}
        )
    return group


@require_GET
@staff_required
def group_detail(request, pk):
    group = _group_or_404(request, pk)
    may_edit = store_actionable_by(request.user, group.store, "manage")
    members = group.members.select_related("tier").order_by("name", "pk")
    return render(
        request,
        "members/group_detail.html",
        {
            "group": group,
            "may_edit": may_edit,
            "add_form": GroupMemberAddForm() if may_edit else None,
            "page_obj": paginate(request, members),
        },
    )


@require_POST
@staff_required
def group_add(request, pk):
    group = _group_editable_or_403(request, pk)
    form = GroupMemberAddForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Type the customer's mobile number or loyalty card number."))
        return redirect("members:group_detail", pk=group.pk)
    query = form.cleaned_data["q"].strip()
    member = member_lookup_for(request.user, query)
    if member is None:
        messages.error(
            request,
            _("No member with the number “%(q)s”. Check it, or register the customer first.") % {"q": query},
        )
        return redirect("members:group_detail", pk=group.pk)
    try:
        static_group_add(group=group, member=member, user=request.user)
    except GroupRefused as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, _("%(member)s is on the list “%(group)s”.") % {"member": member, "group": group.name}
        )
    return redirect("members:group_detail", pk=group.pk)


@require_POST
@staff_required
def group_remove(request, pk):
    group = _group_editable_or_403(request, pk)
    member = get_object_or_404(group.members.all(), pk=request.POST.get("member") or 0)
    try:
        static_group_remove(group=group, member=member, user=request.user)
    except GroupRefused as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("%(member)s was taken off the list “%(group)s”.") % {"member": member, "group": group.name},
        )
    return redirect("members:group_detail", pk=group.pk)
