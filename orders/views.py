"""Staff portal order pages: a store's queue on the tablet (accept, reject, ship, ready, collect),
the orders list, the clerk's order for home delivery ("endless aisle") with its payment step, and
the store's printable QR code. The order page with all five flows reads after-sales and guides, so
it is the surface's (portal/order_page.py, with `_order_or_404` from here).

Every page starts from stores_visible_to / orders_visible_to, so another store's queue or order
is a 404. Which actions a page shows comes from orders.policies / stores.policies, and every write
goes through orders.services / orders.fulfilment with `actor=request.user`, which ask the same
policy and refuse (a partner sees its stores' queues and orders but does not act at the counter).
A refusal is shown on the page with what to do next; nothing is half-written.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, Prefetch, Window
from django.forms import CheckboxSelectMultiple
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from catalog.models import Channel
from catalog.selectors import live_prices_for
from config.errors import DomainError
from config.money import quantize_money
from config.views import add_domain_error, staff_required
from marketing.choices import IssuedVia
from marketing.errors import CouponRefused
from marketing.models import Coupon
from marketing.pricing import Quote, price_basket
from marketing.services import code_give, codes_of, wallet_balance
from marketing.tenders import points_cap, points_for, points_rule_for, tender_plan
from members.phones import normalise_phone_or_blank
from members.policies import member_fields_for, member_lookup_for
from orders.choices import MEMBER_TENDERS, DeliveryMethod, OrderStatus, Origin, PaymentMethod
from orders.filtersets import OrderFilterSet
from orders.forms import (
    ClerkOrderForm,
    CollectForm,
    LineFormSet,
    PaymentForm,
    RejectForm,
    SerialsForm,
    ShipForm,
    client_reference,
)
from orders.fulfilment import (
    REJECT_REASON_MAX_LENGTH,
    assignment_accept,
    assignment_reject,
    order_collect,
    order_ready_for_pickup,
    order_ship,
)
from orders.models import Order, OrderLine
from orders.policies import order_actionable_by, orders_visible_to
from orders.qr import qr_png, qr_svg
from orders.selectors import store_queue
from orders.services import (
    LineRequest,
    order_create,
    order_pay,
    request_fingerprint,
)
from orders.tables import OrderTable, QueueStoreTable
from stores.choices import StoreKind, StoreStatus
from stores.models import Stock, Store
from stores.policies import store_actionable_by, stores_served_by, stores_visible_to
from stores.selectors import channel_for_store, stock_nearby

# A queue longer than this shows its oldest rows and the full count: the tablet stays fast.
QUEUE_LIMIT = 100
# The sales channel of an order placed in a store, by the store's kind (own store if none matches).
NEARBY_SHOWN = 5


def _store_or_404(request, code: str) -> Store:
    return get_object_or_404(stores_visible_to(request.user), code=code)


def _store_served_or_404(request, code: str) -> tuple[Store, bool]:
    """A store the user may see, and whether they work its counter (stores.policies "serve"),
    in one query."""
    served = stores_served_by(request.user).filter(pk=OuterRef("pk"))
    store = get_object_or_404(stores_visible_to(request.user).annotate(may_serve=Exists(served)), code=code)
    return store, store.may_serve


def no_channel_error(store: Store) -> DomainError:
    return DomainError(
        _("%(store)s has no active sales channel for store orders. Ask HQ to set up the store channel.")
        % {"store": store.name}
    )


def show_order_error(form, lines, error: DomainError, *, field_map: dict | None = None) -> None:
    """A refusal of order_create on the page: "lines[i].x" under the i-th filled-in line, the rest
    on the main form (its message always above the form)."""
    line_forms = lines.line_forms()
    other = {}
    for key, messages_ in (error.fields or {}).items():
        if key.startswith("lines[") and "]." in key:
            index, name = key[len("lines[") :].split("].", 1)
            if index.isdigit() and int(index) < len(line_forms) and name in ("sku", "quantity"):
                for message in messages_:
                    line_forms[int(index)].add_error(name, str(message))
                continue
        if key != "lines":  # "Out of stock" for all lines: the message above the form says which
            other[key] = messages_
    add_domain_error(form, DomainError(error.message, fields=other), field_map=field_map)


# --- the store's queue ------------------------------------------------------------------------


@require_GET
@staff_required
def queue_start(request):
    """The nav's "Order queue": straight to the user's one store, else a list to pick from."""
    stores = stores_visible_to(request.user).order_by("code")
    only = list(stores.values_list("code", flat=True)[:2])
    if len(only) == 1:
        return redirect("orders:queue", code=only[0])
    table = QueueStoreTable(stores, request=request)
    return render(request, "orders/queue_start.html", {"table": table, "page_obj": table.page_obj})


@dataclass
class QueueFailure:
    number: str
    action: str
    message: str
    hint: str
    fields: dict = field(default_factory=dict)
    serial_form: SerialsForm | None = None  # the serials typed, shown again with their errors


HINTS = {
    "pickup_code_wrong": gettext_lazy(
        "Ask the customer for the code in their pickup message and type it again."
    ),
    "assignment_refused": gettext_lazy(
        "The offer may have timed out or gone to another store. The queue below is up to date."
    ),
    "illegal_transition": gettext_lazy(
        "Someone may have changed this order a moment ago. The queue below is up to date."
    ),
}


QUEUE_INPUTS = {"reason", "tracking_number"}


def _hint(error: DomainError) -> str:
    """What to do next. A missing input is the clerk's to fix; otherwise the order moved on."""
    hint = None if QUEUE_INPUTS & set(error.fields or {}) else HINTS.get(error.code)
    return str(hint) if hint else _("Nothing was changed. Correct it and try again.")


@require_http_methods(["GET", "POST"])
@staff_required
def queue(request, code):
    store, may_serve = _store_served_or_404(request, code)
    if request.method == "POST" and not may_serve:  # the API answers the same (orders.policies)
        raise PermissionDenied(
            _("Only HQ and the staff of %(store)s act at its counter.") % {"store": store.code}
        )
    failure = _queue_action(request, store) if request.method == "POST" else None
    if request.method == "POST" and failure is None:
        return redirect("orders:queue", code=store.code)
    context = {
        "store": store,
        "failure": failure,
        "now": timezone.now(),
        "may_serve": may_serve,
        "reason_max_length": REJECT_REASON_MAX_LENGTH,
        **_queue_lists(store),
    }
    if failure is not None and failure.serial_form is not None:
        for order in context["to_ship"] + context["pickups"]:
            if order.number == failure.number:
                order.serial_form = failure.serial_form
    return render(request, "orders/queue.html", context)


def _capped(rows) -> tuple[list, int]:
    """At most QUEUE_LIMIT rows and the full count, in one query however long the queue."""
    shown = list(rows.annotate(full_count=Window(Count("pk")))[:QUEUE_LIMIT])
    return shown, shown[0].full_count if shown else 0


def _queue_lists(store: Store) -> dict:
    lists = store_queue(store=store)
    lines = OrderLine.objects.select_related("sku")
    offers, offer_count = _capped(lists["offers"].prefetch_related(Prefetch("order__lines", queryset=lines)))
    to_fulfil, fulfil_count = _capped(lists["to_fulfil"].prefetch_related(Prefetch("lines", queryset=lines)))
    pickups, pickup_count = _capped(lists["pickups"].prefetch_related(Prefetch("lines", queryset=lines)))
    for order in [*to_fulfil, *pickups]:  # lines are prefetched with their SKU: no query
        order.serial_form = SerialsForm(lines=order.lines.all())
    now = timezone.now()
    for offer in offers:
        left = (offer.respond_by - now).total_seconds()
        offer.overdue = left <= 0
        offer.hurry = 0 < left < 5 * 60
    return {
        "offers": offers,
        "offer_count": offer_count,
        "to_ship": [o for o in to_fulfil if o.delivery_method == DeliveryMethod.SHIP],
        "to_prepare": [o for o in to_fulfil if o.delivery_method != DeliveryMethod.SHIP],
        "fulfil_count": fulfil_count,
        "pickups": pickups,
        "pickup_count": pickup_count,
        "limit": QUEUE_LIMIT,
    }


def _queue_action(request, store: Store) -> QueueFailure | None:
    """Run one button of the queue through its service; None when it went through."""
    action = request.POST.get("action", "")
    number = (request.POST.get("order") or "").strip()
    order = orders_visible_to(request.user).filter(number=number).first() if number else None
    if order is None:
        return QueueFailure(
            number,
            action,
            _("There is no order %(number)s in this store's queue.") % {"number": number or "—"},
            _("Reload the queue and pick the order again."),
        )
    actor = request.user
    serial_form = None
    if action in ("ship", "collect"):
        serial_form = SerialsForm(request.POST, lines=list(order.lines.select_related("sku")))
    try:
        if action == "accept":
            assignment_accept(order=order, store=store, actor=actor)
            done = _("Order %(number)s accepted. Ship it or put it aside for pickup below.")
        elif action == "reject":
            form = RejectForm(request.POST)
            if not form.is_valid():  # too long, control characters: the service never sees it
                raise DomainError(_("Check the reason."), fields=form.errors)
            assignment_reject(order=order, store=store, reason=form.cleaned_data["reason"], actor=actor)
            done = _("Order %(number)s rejected. It goes on to the next store that has the goods.")
        elif action == "ship":
            form = ShipForm(request.POST)
            form.is_valid()
            order_ship(
                order=order,
                store=store,
                tracking_number=form.cleaned_data.get("tracking_number", ""),
                actor=actor,
                serials=serial_form.serials(),
            )
            done = _("Order %(number)s shipped. The stock has left the store.")
        elif action == "ready":
            order_ready_for_pickup(order=order, store=store, actor=actor)
            done = _("Order %(number)s is ready for pickup. The customer collects it with their pickup code.")
        elif action == "collect":
            form = CollectForm(request.POST)
            form.is_valid()
            order_collect(
                order=order,
                store=store,
                pickup_code=form.cleaned_data.get("pickup_code", ""),
                actor=actor,
                serials=serial_form.serials(),
            )
            done = _("Order %(number)s handed over to the customer. It is complete.")
        else:
            return QueueFailure(number, action, _("Unknown action."), _("Use the buttons on the queue."))
    except DomainError as error:
        if serial_form is not None:
            serial_form.show_error(error)
        return QueueFailure(number, action, error.message, _hint(error), error.fields, serial_form)
    messages.success(request, done % {"number": order.number})
    return None


# --- the orders list ----------------------------------------------------------------------------


@require_GET
@staff_required
def order_list(request):
    orders = (
        orders_visible_to(request.user)
        .select_related("channel", "member", "origin_store", "fulfilling_location")
        .order_by("-created_at", "-id")
    )
    filterset = OrderFilterSet(request.GET, queryset=orders)
    filterset.form.fields["status"].widget = CheckboxSelectMultiple(choices=OrderStatus.choices)
    table = OrderTable(filterset.qs, request=request)
    if table.export_requested:
        return table.export_response()
    return render(
        request, "orders/list.html", {"filterset": filterset, "table": table, "page_obj": table.page_obj}
    )


def _order_or_404(request, number: str) -> Order:
    return get_object_or_404(
        orders_visible_to(request.user).select_related(
            "channel", "member", "origin_store", "fulfilling_location", "placed_by"
        ),
        number=number,
    )


# --- the clerk's order (endless aisle) and its payment ------------------------------------------


@dataclass
class LineStock:
    sku: object
    quantity: int
    price: object = None
    here: object = None
    nearby: list = field(default_factory=list)
    warehouses: list = field(default_factory=list)

    @property
    def available_here(self) -> int:
        return self.here.available if self.here else 0

    @property
    def enough_here(self) -> bool:
        return self.available_here >= self.quantity

    @property
    def total(self):
        return self.price.amount * self.quantity if self.price else None


def _line_stock(store: Store, channel: Channel | None, lines: list[tuple]) -> list[LineStock]:
    """For each SKU: its price on the store's channel, stock here, in nearby stores, in warehouses."""
    skus = [sku for sku, _q in lines]
    if not skus:
        return []
    prices = live_prices_for(skus=skus, channel=channel, at=timezone.now()) if channel else {}
    warehouses: dict[int, list] = {}
    for row in (
        Stock.objects.filter(
            sku__in=skus, location__kind=StoreKind.WAREHOUSE, location__status=StoreStatus.OPEN
        )
        .select_related("location")
        .order_by("location__code")
    ):
        warehouses.setdefault(row.sku_id, []).append(row)
    result = []
    for sku, quantity in lines:
        info = LineStock(sku, quantity, prices.get(sku.pk), warehouses=warehouses.get(sku.pk, []))
        for row in stock_nearby(sku=sku, store=store):
            if row.location_id == store.pk:
                info.here = row
            elif row.location.kind != StoreKind.WAREHOUSE and len(info.nearby) < NEARBY_SHOWN:
                info.nearby.append(row)
        result.append(info)
    return result


@require_http_methods(["GET", "POST"])
@staff_required
def order_new(request, code):
    """Step 1: member, SKUs with their stock here / nearby / in warehouses, delivery -> order_create."""
    store = _store_or_404(request, code)
    if not store_actionable_by(request.user, store, "serve"):
        raise PermissionDenied(_("Only this store's staff and HQ place orders for it."))
    posted = request.POST if request.method == "POST" else None
    channel = channel_for_store(store)
    lines = LineFormSet(posted, prefix="lines")
    lines.is_valid()  # the stock of every valid line shows, even when another line has an error
    checked = _line_stock(store, channel, lines.lines()) if posted is not None else []
    carry_out = not checked or all(info.enough_here for info in checked)
    form = ClerkOrderForm(
        posted,
        store=store,
        carry_out=carry_out,
        initial={"client_reference": client_reference(), "delivery_method": DeliveryMethod.SHIP},
    )
    member, register_phone = None, ""
    step = request.POST.get("step") if posted is not None else None
    if posted is not None and form.is_valid():
        query = form.cleaned_data["member"].strip()
        if query:
            member = member_lookup_for(request.user, query)
            if member is None:
                form.add_error(
                    "member", _("No member has this mobile or card number. Check it, or register them first.")
                )
                register_phone = normalise_phone_or_blank(query)
        if member is not None and step == "give":
            _give_coupon(request, store, form, member)
        elif member is None and (form.cleaned_data.get("coupon") or step == "give") and not form.errors:
            form.add_error("member", _("Coupons belong to a member: find the member first."))
    codes = (
        list(codes_of(member, usable_at=timezone.now()).order_by("coupon__name", "code")) if member else []
    )
    if member is not None:
        form.offer_codes(codes)
    quote = None
    if step == "check" and form.is_valid() and checked:
        quote = _check_price(form, channel, checked, member)
    if posted is not None and step == "place" and form.is_valid() and lines.is_valid():
        order = _place_clerk_order(request, store, channel, form, lines, member)
        if order is not None:
            return redirect("orders:pay", number=order.number)
    return render(
        request,
        "orders/new.html",
        {
            "store": store,
            "form": form,
            "lines": lines,
            "checked": checked,
            "estimate": sum(info.total for info in checked) if all(i.total for i in checked) else None,
            "carry_out": carry_out,
            "member": member,
            "register_phone": register_phone,
            "channel": channel,
            "codes": codes,
            "quote": quote,
            "balances": _balances(request.user, member, channel),
        },
    )


@dataclass
class Balances:
    """What a member may pay with besides money, for the tablet (only for those who serve them)."""

    points: int
    wallet: object
    points_per_yuan: int | None = None
    cap_percent: object = None


def _balances(user, member, channel) -> Balances | None:
    """Both callers serve the customer at the counter: the tablet found the member by exact mobile
    or card on this request, and the pay page is open only to those who take this order's payment.
    That is members.policies' "serving a walk-in" (found_by_lookup), as the member's name shows."""
    if member is None or not member_fields_for(user, member, found_by_lookup=True).personal:
        return None
    rule = points_rule_for(channel) if channel is not None else None
    return Balances(
        points=member.points_balance,
        wallet=quantize_money(wallet_balance(member)),
        points_per_yuan=rule.points_per_yuan if rule else None,
        cap_percent=rule.cap_percent if rule else None,
    )


def _check_price(form, channel, checked: list, member) -> Quote | None:
    """The clerk's "check price": marketing.pricing prices the basket as the order would be priced
    (promotions, the member's coupon), and writes nothing."""
    if channel is None or not all(info.price for info in checked):
        return None
    coupon = form.cleaned_data.get("coupon")
    try:
        return price_basket(
            channel=channel,
            lines=[(info.sku, info.quantity, info.price.amount) for info in checked],
            member=member,
            codes=[coupon] if coupon else [],
            at=timezone.now(),
        )
    except CouponRefused as error:
        add_domain_error(form, error, field_map={"coupons": "coupon"})
        return None


def _give_coupon(request, store, form, member) -> None:
    """The clerk's tablet gives the member a coupon HQ set up (marketing.services.code_give)."""
    wanted = form.cleaned_data.get("give_coupon")
    coupon = Coupon.objects.filter(code=wanted).first() if wanted else None
    if coupon is None:
        form.add_error(
            "give_coupon", _("No coupon has this code.") if wanted else _("Type the coupon's code.")
        )
        return
    try:
        code = code_give(coupon=coupon, member=member, via=IssuedVia.CLERK, actor=request.user, store=store)
    except DomainError as error:
        add_domain_error(
            form, error, field_map={"coupon": "give_coupon", "member": "member", "via": "give_coupon"}
        )
        return
    messages.success(
        request,
        _("%(member)s now holds coupon %(code)s (%(coupon)s).")
        % {"member": member.name or member.phone or member.pk, "code": code.code, "coupon": coupon.name},
    )


def _place_clerk_order(request, store, channel, form, lines, member) -> Order | None:
    data = form.cleaned_data
    if channel is None:
        add_domain_error(form, no_channel_error(store))
        return None
    method = data["delivery_method"]
    requested = lines.lines()
    try:
        return order_create(
            channel=channel,
            lines=[LineRequest(sku, quantity) for sku, quantity in requested],
            delivery_method=method,
            origin=Origin.IN_STORE,
            member=member,
            origin_store=store,
            pickup_store=store if method == DeliveryMethod.PICKUP else None,
            placed_by=request.user,
            actor=request.user,
            recipient_name=data["recipient_name"].strip() or (member.name if member else ""),
            recipient_phone=data["recipient_phone"].strip() or (member.phone or "" if member else ""),
            address=data["address"].strip() if method == DeliveryMethod.SHIP else "",
            city=data["city"].strip() if method == DeliveryMethod.SHIP else "",
            latitude=data["latitude"] if method == DeliveryMethod.SHIP else None,
            longitude=data["longitude"] if method == DeliveryMethod.SHIP else None,
            # A double tap or a resent form returns the order the first tap made.
            idempotency_key=f"portal-{data['client_reference']}",
            coupons=[data["coupon"]] if data.get("coupon") else [],
            fingerprint=request_fingerprint(
                {
                    "store": store.code,
                    "member": member.pk if member else None,
                    "lines": [(sku.code, quantity) for sku, quantity in requested],
                    "coupon": data.get("coupon") or "",
                    "delivery": method,
                    "address": data["address"],
                    "latitude": data["latitude"],
                    "longitude": data["longitude"],
                }
            ),
        )
    except DomainError as error:
        show_order_error(
            form, lines, error, field_map={"pickup_store": "delivery_method", "coupons": "coupon"}
        )
        return None


@require_http_methods(["GET", "POST"])
@staff_required
def order_pay_view(request, number):
    """Step 2 of the clerk's order: the customer pays the total at the counter -> order_pay, by
    tenders: the points and stored value the customer chooses, the rest by an external method.
    "Check tenders" shows the split (marketing.tenders.tender_plan) without paying."""
    order = _order_or_404(request, number)
    if not order_actionable_by(request.user, order, "pay"):
        raise PermissionDenied(_("Only HQ and the staff of the order's stores take its payment."))
    if order.status != OrderStatus.CREATED:
        messages.info(request, _("Order %(number)s is already paid or closed.") % {"number": order.number})
        return redirect("orders:detail", number=order.number)
    data = request.POST.copy() if request.method == "POST" else None
    form = PaymentForm(data, initial={"amount": order.total, "method": PaymentMethod.WECHAT})
    lines = list(order.lines.select_related("sku"))
    # A carried-out order leaves at the counter: the serials of its units are taken with the payment.
    carry_out = order.delivery_method == DeliveryMethod.CARRY_OUT
    serial_form = SerialsForm(request.POST or None, lines=lines if carry_out else [])
    member = order.member if order.member_id else None
    balances = _balances(request.user, member, order.channel)
    plan = None
    if request.method == "POST" and form.is_valid():
        cleaned = form.cleaned_data
        points, stored_value = cleaned["points"] or 0, cleaned["stored_value"] or Decimal(0)
        if request.POST.get("step") == "plan":
            plan = _tender_preview(form, order, member, points, stored_value)
            if plan is not None:  # the external amount becomes what is left
                rest = next((t.amount for t in plan if t.method not in MEMBER_TENDERS), Decimal(0))
                data["amount"] = str(rest) if rest else ""
                form = PaymentForm(data)
                form.is_valid()
        else:
            try:
                payment = order_pay(
                    order=order,
                    amount=cleaned["amount"],
                    method=cleaned["method"],
                    external_reference=cleaned["reference"].strip() or None,
                    actor=request.user,
                    serials=serial_form.serials() if carry_out else None,
                    points=points,
                    stored_value=stored_value,
                )
            except DomainError as error:
                add_domain_error(form, error, field_map={"external_reference": "reference"})
                serial_form.show_error(error)
            else:
                return _paid(request, order, payment)
    return render(
        request,
        "orders/pay.html",
        {
            "order": order,
            "form": form,
            "lines": lines,
            "serial_form": serial_form,
            "balances": balances,
            "points_cap": _points_cap(order, balances),
            "plan": [
                {"label": PaymentMethod(t.method).label, "amount": t.amount, "points": t.points} for t in plan
            ]
            if plan
            else None,
        },
    )


def _points_cap(order: Order, balances: Balances | None) -> dict | None:
    """The most points may pay of this order (money and points), for the pay page."""
    if balances is None or not balances.points_per_yuan:
        return None
    rule = points_rule_for(order.channel)
    cap = points_cap(order.total, rule)
    return {"amount": cap, "points": min(points_for(cap, rule), balances.points)}


def _tender_preview(form, order: Order, member, points: int, stored_value) -> list | None:
    try:
        if (points or stored_value) and member is None:
            raise DomainError(
                _("Points and stored value pay only a member's order."),
                fields={"points" if points else "stored_value": [_("No member on this order.")]},
            )
        return tender_plan(
            total=order.total,
            channel=order.channel,
            points=points,
            stored_value=stored_value,
            points_balance=member.points_balance if member else 0,
            wallet_balance=wallet_balance(member) if member and stored_value else Decimal(0),
            external_method=form.cleaned_data["method"],
        )
    except DomainError as error:
        add_domain_error(form, error)
        return None


def _paid(request, order: Order, payment):
    order.refresh_from_db(fields=["status", "fulfilling_location"])
    if order.status == OrderStatus.COMPLETED:
        done = _("Paid. Hand the goods to the customer: order %(number)s is complete.")
    else:
        done = _("Paid. Order %(number)s went to %(store)s, which prepares it.")
    tenders = getattr(payment, "tenders", None) or ([payment] if payment else [])
    paid_by = ", ".join(tender_text(t) for t in tenders)
    messages.success(
        request,
        (done + " " + _("Paid by: %(tenders)s."))
        % {
            "number": order.number,
            "store": order.fulfilling_location.name if order.fulfilling_location else "—",
            "tenders": paid_by or "—",
        },
    )
    return redirect("orders:detail", number=order.number)


def tender_text(payment) -> str:
    """ "Points 12.00 (1200 points)", "Bank card 87.00": one tender for people."""
    label = PaymentMethod(payment.method).label if payment.method in PaymentMethod.values else payment.method
    if payment.points:
        return _("%(method)s %(amount)s (%(points)s points)") % {
            "method": label,
            "amount": payment.amount,
            "points": payment.points,
        }
    return f"{label} {payment.amount}"


# --- the store's QR code ----------------------------------------------------------------------


def public_url(request, store: Store) -> str:
    return request.build_absolute_uri(reverse("orders_public:store", kwargs={"code": store.code}))


@require_GET
@staff_required
def qr_card(request, code):
    store = _store_or_404(request, code)
    return render(
        request,
        "orders/qr_card.html",
        {"store": store, "url": public_url(request, store), "is_open": store.status == StoreStatus.OPEN},
    )


def _qr_response(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_GET
@staff_required
def qr_png_view(request, code):
    store = _store_or_404(request, code)
    return _qr_response(qr_png(public_url(request, store)), "image/png", f"order-qr-{store.code}.png")


@require_GET
@staff_required
def qr_svg_view(request, code):
    store = _store_or_404(request, code)
    return _qr_response(qr_svg(public_url(request, store)), "image/svg+xml", f"order-qr-{store.code}.svg")
