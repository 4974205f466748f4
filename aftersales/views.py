"""The service desk in the staff portal ("一个服务": bought on any channel, serviced in any store).

A clerk finds the purchase by the customer's mobile, the order number or the serial number, sees
for each line what the policy allows today and why, opens a ticket at their store, and works the
store's open tickets step by step. Every page starts from aftersales.selectors (a clerk sees the
tickets taken in or handled at their stores: another store's ticket is a 404); every write is one
call into aftersales.services, whose refusal is shown on the page.
"""

from dataclasses import dataclass, field
from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied
from django.db.models import Q
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from aftersales.choices import OpenedVia, TicketKind, TicketStatus
from aftersales.forms import (
    HQ_DESK,
    NoteForm,
    PurchaseSearchForm,
    RefuseForm,
    ResolveForm,
    StepStoreForm,
    TicketOpenForm,
)
from aftersales.models import Ticket, TicketPhoto
from aftersales.policies import desk_stores_of, is_desk_user, opens_at_hq_desk, tickets_visible_to
from aftersales.selectors import purchases_find, return_refunds
from aftersales.services import (
    ticket_approve,
    ticket_close,
    ticket_inspect,
    ticket_open,
    ticket_receive,
    ticket_refuse,
    ticket_resolve,
)
from aftersales.states import IN_PROGRESS, TRANSITIONS, can_move
from aftersales.tables import TicketTable
from aftersales.warranty import eligibility
from config.errors import DomainError
from config.views import add_domain_error
from members.phones import normalise_phone_or_blank
from members.policies import member_fields_for
from orders.models import OrderLine, SoldUnit
from stores.models import Store
from stores.policies import store_actionable_by

OPEN_LIMIT = 50  # the desk shows the oldest open tickets first; the store's page pages through all

# The buttons a ticket page offers in each status, from the state machine's table (the service
# decides: a move it refuses because someone else was quicker is shown as its message).
STEP_OF_STATUS = {
    TicketStatus.RECEIVED: "receive",
    TicketStatus.INSPECTED: "inspect",
    TicketStatus.APPROVED: "approve",
    TicketStatus.REFUSED: "refuse",
    TicketStatus.REFUNDED: "resolve",
    TicketStatus.EXCHANGED: "resolve",
    TicketStatus.REPAIRED: "resolve",
    TicketStatus.CLOSED: "close",
}


def next_steps(ticket: Ticket) -> list[str]:
    steps = []
    for status in TRANSITIONS.get(ticket.status, ()):
        if can_move(ticket, status) and STEP_OF_STATUS[status] not in steps:
            steps.append(STEP_OF_STATUS[status])
    order = list(dict.fromkeys(STEP_OF_STATUS.values()))
    return sorted(steps, key=order.index)


def desk_required(view):
    """HQ and the staff of a store's counter: the people who take products back (the policy's
    `is_desk_user`)."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        request.desk_stores = list(desk_stores_of(request.user))  # read once per request
        if not is_desk_user(request.user, request.desk_stores):
            raise PermissionDenied(_("The service desk is for store staff and HQ."))
        return view(request, *args, **kwargs)

    return wrapper


def desk_stores(request) -> list[Store]:
    """The stores whose counter the user works (aftersales.policies.desk_stores_of), as read by
    desk_required."""
    return request.desk_stores


def _tickets(user):
    return tickets_visible_to(user).select_related(
        "order", "line__sku", "unit", "channel", "intake_store", "handling_store"
    )


# --- finding the purchase ------------------------------------------------------------------------


@dataclass
class FoundLine:
    """A line of the search result with what the policy allows for it today, per kind."""

    line: OrderLine
    unit: SoldUnit | None  # the unit whose serial was searched for
    units: list = field(default_factory=list)  # the serial numbers sold on the line
    answers: list = field(default_factory=list)  # (TicketKind, Eligibility), for a faulty product
    no_fault_return: object = None
    tickets: list = field(default_factory=list)
    member_shown: bool = False  # members.policies: the customer's name and mobile on the page

    @property
    def any_allowed(self) -> bool:
        return any(answer.allowed for _kind, answer in self.answers)


def found_lines(query: str, *, actor, at=None, line_id: int | None = None) -> list[FoundLine]:
    """The lines purchases_find gives for the query (with their order, SKU, policy and sold
    units; it caps them), each with its eligibility answers; one more query for the lines'
    tickets. With `line_id`, only that line is judged (the ticket form).

    Any store serves any channel's purchase, but what the page shows of it follows the policies:
    the customer's name and mobile when members.policies allows it (their store's member, or
    found by the mobile the customer gave); of the line's tickets, those the actor may see and
    those opened online or by HQ and waiting to be taken in at a counter."""
    at = at or timezone.now()
    lines = purchases_find(query)
    if line_id is not None:
        lines = [line for line in lines if line.pk == line_id]
    if not lines:
        return []
    tickets: dict[int, list] = {}
    shown = Q(pk__in=tickets_visible_to(actor).values("pk")) | Q(
        intake_store__isnull=True, handling_store__isnull=True, status=TicketStatus.OPENED
    )
    for ticket in Ticket.objects.filter(shown, line__in=lines).order_by("-opened_at", "-id"):
        tickets.setdefault(ticket.line_id, []).append(ticket)
    wanted = query.strip().upper()
    phone = normalise_phone_or_blank(query)
    rows = []
    for line in lines:
        line_units = list(line.units.all())
        unit = next((u for u in line_units if u.serial.upper() == wanted), None)
        row = FoundLine(line=line, unit=unit, units=line_units, tickets=tickets.get(line.pk, []))
        member = line.order.member
        if member is not None:
            by_mobile = bool(phone) and phone == member.phone
            row.member_shown = member_fields_for(actor, member, found_by_lookup=by_mobile).shows("name")
        else:  # a guest's order: its recipient's mobile, when that is what the customer gave
            row.member_shown = bool(phone) and phone == normalise_phone_or_blank(line.order.recipient_phone)
        # The windows are the same for every unit of a line (one delivery): a serial-tracked line
        # found by mobile or order number is judged on a unit still with the customer, and the
        # ticket form asks which one.
        judged = unit or next((u for u in line_units if u.returned_at is None), None)
        for kind in TicketKind:
            row.answers.append((kind, eligibility(line=line, kind=kind, fault=True, at=at, unit=judged)))
        row.no_fault_return = eligibility(line=line, kind=TicketKind.RETURN, fault=False, at=at, unit=judged)
        rows.append(row)
    return rows


def _serial_guess(row: FoundLine) -> str:
    """The serial searched for, or the line's only unit still with the customer."""
    if row.unit is not None:
        return row.unit.serial
    kept = [unit for unit in row.units if unit.returned_at is None]
    return kept[0].serial if len(kept) == 1 else ""


def _searched(params) -> str:
    """The search a form or link carries (`q`), parsed like the desk's search box: a NUL byte or
    an overlong value is a 400, never a query."""
    if not params.get("q"):
        return ""
    form = PurchaseSearchForm(params)
    if not form.is_valid():
        raise BadRequest("; ".join(form.errors.get("q", [])))
    return form.cleaned_data["q"].strip()


def _line_found(query: str, line_id: int) -> bool:
    """The line is among those the customer's mobile, order number or serial finds."""
    return bool(query) and any(line.pk == line_id for line in purchases_find(query))


@require_GET
@desk_required
def desk(request):
    """Search box, the search's lines with their eligibility, and the open tickets of my stores."""
    form = PurchaseSearchForm(request.GET or None)
    query, rows = "", []
    if form.is_valid():
        query = form.cleaned_data["q"].strip()
        rows = found_lines(query, actor=request.user)
    stores = desk_stores(request)
    waiting = (
        _tickets(request.user)
        .filter(Q(intake_store__in=stores) | Q(handling_store__in=stores), status__in=IN_PROGRESS)
        .order_by("opened_at", "id")
    )
    open_tickets = list(waiting[:OPEN_LIMIT]) if stores else []
    now = timezone.now()
    return render(
        request,
        "aftersales/desk.html",
        {
            "form": form,
            "query": query,
            "rows": rows,
            "searched": form.is_bound and form.is_valid(),
            "stores": stores,
            "open_tickets": open_tickets,
            "open_table": TicketTable(open_tickets, now=now, per_page=None, request=request),
            "open_limit": OPEN_LIMIT,
            "now": now,
        },
    )


# --- opening a ticket ----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@desk_required
def ticket_new(request, line_id):
    query = _searched(request.GET)
    # Opened for a line the clerk found with the customer's own details: a line id alone opens
    # nothing (it is not the customer's proof of purchase).
    row = next(iter(found_lines(query, actor=request.user, line_id=line_id)), None) if query else None
    if row is None:
        raise Http404(_("Find the purchase first, by the customer's mobile, order number or serial."))
    line = row.line
    stores = desk_stores(request)
    hq = opens_at_hq_desk(request.user)
    if not stores and not hq:
        raise PermissionDenied(_("You do not work at a store yet. Ask HQ to add you to your store."))
    initial = {
        "store": stores[0].code if stores else HQ_DESK,
        "kind": next((kind for kind, answer in row.answers if answer.allowed), None),
        "quantity": 1,
        "serial": _serial_guess(row),
        # The customer's mobile only where the policy shows it (else the clerk asks for it).
        "customer_phone": (
            ((line.order.member.phone if line.order.member else "") or line.order.recipient_phone)
            if row.member_shown
            else ""
        ),
    }
    remaining = max(line.quantity - line.returned_quantity, 1)
    form = TicketOpenForm(
        request.POST or None,
        request.FILES or None,
        stores=stores,
        hq=hq,
        quantity=remaining,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        store = next((s for s in stores if s.code == data["store"]), None)
        try:
            ticket = ticket_open(
                line=line,
                kind=data["kind"],
                fault=data["fault"],
                quantity=data["quantity"],
                serial=data["serial"].strip(),
                description=data["description"].strip(),
                customer_phone=data["customer_phone"],
                opened_via=OpenedVia.STORE if store else OpenedVia.HQ,
                intake_store=store,
                actor=request.user,
                photos=data["photos"],
            )
        except DomainError as error:
            add_domain_error(form, error, field_map={"unit": "serial", "line": "quantity"})
        else:
            messages.success(
                request,
                _("Ticket %(number)s opened. The customer follows it by its number and their mobile.")
                % {"number": ticket.number},
            )
            return redirect("aftersales:detail", number=ticket.number)
    return render(
        request,
        "aftersales/new.html",
        {"row": row, "line": line, "form": form, "query": query, "hq": hq, "stores": stores},
    )


# --- the store's open tickets --------------------------------------------------------------------


def _desk_store_or_404(request, code: str) -> Store:
    """A store whose counter the user works (HQ: any); another store is a 404, as if unknown."""
    store = next((store for store in desk_stores(request) if store.code == code), None)
    if store is None:
        store = Store.objects.filter(code=code).first()
        if not store_actionable_by(request.user, store, "serve"):  # HQ: any store
            raise Http404(_("Not one of your stores."))
    return store


@require_GET
@desk_required
def store_tickets(request, code):
    """A store's tickets: taken in or handled there; open ones by default, oldest first."""
    store = _desk_store_or_404(request, code)
    show_all = request.GET.get("all") == "1"
    tickets = _tickets(request.user).filter(Q(intake_store=store) | Q(handling_store=store))
    if not show_all:
        tickets = tickets.exclude(status=TicketStatus.CLOSED)
    tickets = tickets.order_by("opened_at", "id") if not show_all else tickets.order_by("-opened_at", "-id")
    table = TicketTable(tickets, request=request)
    return render(
        request,
        "aftersales/store_tickets.html",
        {"store": store, "table": table, "page_obj": table.page_obj, "show_all": show_all, "now": table.now},
    )


# --- the ticket page -----------------------------------------------------------------------------


def _ticket_or_404(request, number: str) -> Ticket:
    return get_object_or_404(
        _tickets(request.user).select_related("member", "policy", "refund", "replacement_order", "opened_by"),
        number=number,
    )


def acting_store(user, ticket: Ticket, stores: list[Store], chosen: str = "") -> Store | None:
    """Where the step happens: the store the user picked, else their store that holds the ticket,
    else (HQ) the ticket's own store."""
    by_code = {store.code: store for store in stores}
    if chosen in by_code:
        return by_code[chosen]
    for store in (ticket.handling_store, ticket.intake_store):
        if store is not None and store.code in by_code:
            return store
    if stores:
        return stores[0]
    return ticket.handling_store or ticket.intake_store


@require_http_methods(["GET", "POST"])
@desk_required
def ticket_detail(request, number):
    ticket = _ticket_or_404(request, number)
    stores = desk_stores(request)
    forms_ = {
        "note_form": NoteForm(prefix="step"),
        "refuse_form": RefuseForm(prefix="refuse"),
        "resolve_form": ResolveForm(prefix="resolve"),
        "store_form": StepStoreForm(prefix="at", stores=stores),
    }
    failed = None
    if request.method == "POST":
        failed = _ticket_step(request, ticket, request.POST.get("action", ""), stores, forms_)
        if failed is None:
            return redirect("aftersales:detail", number=ticket.number)
        ticket = _ticket_or_404(request, number)  # someone may have moved it meanwhile
    return render(
        request,
        "aftersales/detail.html",
        {
            "ticket": ticket,
            "history": list(ticket.status_changes.select_related("store", "changed_by")),
            "photos": list(ticket.photos.all()),
            "steps": next_steps(ticket),
            "refunds": return_refunds(ticket),
            "failed": failed,
            "stores": stores,
            "now": timezone.now(),
            **forms_,
        },
    )


STEP_DONE = {
    "receive": gettext_lazy("Ticket %(number)s: the unit is received."),
    "inspect": gettext_lazy("Ticket %(number)s: inspected."),
    "approve": gettext_lazy("Ticket %(number)s: approved."),
    "refuse": gettext_lazy("Ticket %(number)s: refused. Tell the customer why."),
    "resolve": gettext_lazy("Ticket %(number)s: resolved."),
    "close": gettext_lazy("Ticket %(number)s: closed."),
}


def _ticket_step(request, ticket: Ticket, action: str, stores: list[Store], forms_: dict):
    """Run one button through its service; None when it went through, else the form that says
    why not (its errors are shown above the next steps, and under the fields they name)."""
    user = request.user
    store_form = forms_["store_form"] = StepStoreForm(request.POST, prefix="at", stores=stores)
    store_form.is_valid()
    store = acting_store(user, ticket, stores, store_form.cleaned_data.get("store", ""))
    try:
        if action == "receive":
            if store is None:
                raise DomainError(
                    _("Pick the store where the unit is received."), fields={"store": [_("Required.")]}
                )
            ticket_receive(ticket=ticket, store=store, actor=user)
        elif action in ("inspect", "approve"):
            form = forms_["note_form"] = NoteForm(request.POST, prefix="step")
            if not form.is_valid():
                return form
            call = ticket_inspect if action == "inspect" else ticket_approve
            call(ticket=ticket, actor=user, note=form.cleaned_data["note"].strip())
        elif action == "refuse":
            form = forms_["refuse_form"] = RefuseForm(request.POST, prefix="refuse")
            if not form.is_valid():
                return form
            ticket_refuse(ticket=ticket, reason=form.cleaned_data["reason"].strip(), actor=user)
        elif action == "resolve":
            form = forms_["resolve_form"] = ResolveForm(request.POST, prefix="resolve")
            if not form.is_valid():
                return form
            replacement = form.cleaned_data["replacement_serial"].strip()
            ticket_resolve(
                ticket=ticket,
                actor=user,
                store=store,
                note=form.cleaned_data["note"].strip(),
                **({"replacement_serial": replacement} if replacement else {}),
            )
        elif action == "close":
            ticket_close(ticket=ticket, actor=user)
        else:
            raise DomainError(_("Unknown step. Use the buttons on the ticket page."))
    except DomainError as error:
        target = {
            "refuse": forms_["refuse_form"],
            "resolve": forms_["resolve_form"],
            "receive": forms_["store_form"],
        }.get(action, forms_["note_form"])
        if not target.is_bound:
            target = forms_["note_form"] = NoteForm(request.POST, prefix="step")
            target.is_valid()
        add_domain_error(target, error, field_map={"repair_note": "note"})
        return target
    messages.success(request, str(STEP_DONE[action]) % {"number": ticket.number})
    return None


@require_GET
@desk_required
def ticket_photo(request, number, pk):
    """A photo of the fault, to whoever may see its ticket (photos are not public media)."""
    ticket = get_object_or_404(tickets_visible_to(request.user), number=number)
    photo = get_object_or_404(TicketPhoto, ticket=ticket, pk=pk)
    try:
        handle = photo.image.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404(_("The photo file is missing.")) from None
    response = FileResponse(handle)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- receiving a ticket opened elsewhere ---------------------------------------------------------


@require_POST
@desk_required
def ticket_take_in(request, number):
    """The customer brings in a product whose ticket was opened online or by HQ: a clerk who found
    the purchase receives it at their store, which then handles the ticket."""
    query = _searched(request.POST)
    ticket = get_object_or_404(Ticket, number=number)
    if not _line_found(query, ticket.line_id):
        raise Http404(_("Find the purchase first, by the customer's mobile, order number or serial."))
    stores = desk_stores(request)
    store = next((s for s in stores if s.code == request.POST.get("store")), stores[0] if stores else None)
    back = f"{reverse('aftersales:desk')}?{urlencode({'q': query})}"
    if store is None:
        messages.error(request, _("You do not work at a store yet. Ask HQ to add you to your store."))
        return redirect(back)
    try:
        ticket_receive(ticket=ticket, store=store, actor=request.user)
    except DomainError as error:
        messages.error(
            request, _("Ticket %(number)s: %(reason)s") % {"number": ticket.number, "reason": error.message}
        )
        return redirect(back)
    messages.success(request, str(STEP_DONE["receive"]) % {"number": ticket.number})
    if tickets_visible_to(request.user).filter(pk=ticket.pk).exists():
        return redirect("aftersales:detail", number=ticket.number)
    return redirect(back)
