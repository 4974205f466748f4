"""The customer's side of a store's QR code ("人人都是你的导购"): a phone-sized order page that needs
no login, and its confirmation. The order is credited to the store (origin "qr_scan").

Abuse is kept small: Django's CSRF check, full validation, a light per-address limit on
submissions, and the confirmation shows an order only to the browser session that made it.
"""

from allauth.account.adapter import get_adapter
from django.core.cache import cache
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from config.errors import DomainError
from config.views import add_domain_error
from guides.public_views import CLAIMED_SESSION_KEY, claimable_coupon, remember_claim, store_scan_record
from marketing.choices import IssuedVia
from marketing.services import code_give
from members.services import member_upsert
from orders.choices import DeliveryMethod, Origin
from orders.forms import CouponClaimForm, LineFormSet, PublicOrderForm, client_reference
from orders.models import Order
from orders.policies import SYSTEM
from orders.services import LineRequest, order_create, request_fingerprint
from orders.views import no_channel_error, show_order_error
from stores.choices import StoreKind, StoreStatus
from stores.models import Store
from stores.selectors import channel_for_store

SESSION_KEY = "public_orders"
SESSION_KEEPS = 20  # the orders this browser made that it may see again
ATTEMPTS_PER_WINDOW = 30  # order submissions per client address ...
WINDOW_SECONDS = 10 * 60  # ... per ten minutes: plenty for a family, little for a script


def _open_store_or_404(code: str) -> Store:
    return get_object_or_404(
        Store.objects.filter(status=StoreStatus.OPEN).exclude(kind=StoreKind.WAREHOUSE), code=code
    )


def _too_many_attempts(request) -> bool:
    """Count this address's submissions in the shared cache (behind the load balancer the address
    comes from X-Forwarded-For, as allauth reads it for its login limits)."""
    key = f"orders:qr-order-attempts:{get_adapter(request).get_client_ip(request)}"
    cache.add(key, 0, timeout=WINDOW_SECONDS)
    try:
        attempts = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=WINDOW_SECONDS)
        attempts = 1
    return attempts > ATTEMPTS_PER_WINDOW


@require_http_methods(["GET", "POST"])
def store_order(request, code):
    store = _open_store_or_404(code)
    if request.method == "GET":
        store_scan_record(request, store)  # each opening of the store's QR page is a store scan
    if request.method == "POST" and request.POST.get("action") == "claim":
        return _claim(request, store)
    posted = request.POST if request.method == "POST" else None
    claimed = request.session.get(CLAIMED_SESSION_KEY, [])
    form = PublicOrderForm(
        posted,
        initial={"client_reference": client_reference(), "coupon": claimed[-1] if claimed else ""},
    )
    lines = LineFormSet(posted, prefix="lines")
    status = 200
    if posted is not None:
        if _too_many_attempts(request):
            form.add_error(
                None,
                _(
                    "Too many orders from this connection. Wait ten minutes and try again, "
                    "or order at the counter."
                ),
            )
            status = 429
        elif all([form.is_valid(), lines.is_valid()]):  # both validated: every error shows at once
            order = _place(store, form, lines)
            if order is not None:
                kept = [n for n in request.session.get(SESSION_KEY, []) if n != order.number]
                request.session[SESSION_KEY] = [*kept, order.number][-SESSION_KEEPS:]
                return redirect("orders_public:ordered", code=store.code, number=order.number)
    return _page(request, store, form, lines, status=status)


def _page(request, store, form, lines, *, claim_form=None, status=200):
    """The order page, with the coupon this QR code offers (?coupon=<coupon's code>) if any."""
    wanted = request.GET.get("coupon", "") if claim_form is None else claim_form.data.get("coupon", "")
    offer = claimable_coupon(wanted, channel=channel_for_store(store))
    if offer is not None and claim_form is None:
        claim_form = CouponClaimForm(initial={"coupon": offer.code})
    return render(
        request,
        "orders/public_order.html",
        {
            "store": store,
            "form": form,
            "lines": lines,
            "offer": offer,
            "claim_form": claim_form if offer is not None else None,
            "claimed": request.session.get(CLAIMED_SESSION_KEY, []),
        },
        status=status,
    )


def _claim(request, store: Store):
    """The customer claims the coupon the store's QR page offers: find or make the member by
    mobile, then a code of their own (marketing.services.code_give, the product acting: SYSTEM).
    A refusal writes nothing."""
    form = CouponClaimForm(request.POST)
    order_form = PublicOrderForm(initial={"client_reference": client_reference()})
    lines = LineFormSet(prefix="lines")
    if _too_many_attempts(request):
        form.add_error(None, _("Too many tries from this connection. Wait ten minutes and try again."))
        return _page(request, store, order_form, lines, claim_form=form, status=429)
    if form.is_valid():
        coupon = claimable_coupon(form.cleaned_data["coupon"], channel=channel_for_store(store))
        if coupon is None:
            form.add_error(None, _("This coupon is not on offer any more."))
        else:
            try:
                with transaction.atomic():
                    member = member_upsert(
                        phone=form.cleaned_data["phone"], home_store=store, actor=SYSTEM
                    ).member
                    given = code_give(
                        coupon=coupon, member=member, via=IssuedVia.STORE_QR, actor=SYSTEM, store=store
                    )
            except DomainError as error:
                add_domain_error(form, error, field_map={"coupon": "phone", "member": "phone"})
            else:
                # The page again (no redirect: opening the QR page anew would count a second scan),
                # with the code shown and already typed in the order form's coupon box.
                remember_claim(request, given.code)
                order_form = PublicOrderForm(
                    initial={"client_reference": client_reference(), "coupon": given.code}
                )
    return _page(request, store, order_form, lines, claim_form=form)


def _place(store: Store, form, lines) -> Order | None:
    """Find or create the member by mobile, then the order; a refusal of either writes nothing."""
    data = form.cleaned_data
    channel = channel_for_store(store)
    if channel is None:
        form.add_error(None, no_channel_error(store).message)
        return None
    located = data["latitude"] is not None
    latitude = data["latitude"] if located else store.latitude  # no position shared: near the store
    longitude = data["longitude"] if located else store.longitude
    requested = lines.lines()
    try:
        with transaction.atomic():
            member = member_upsert(
                phone=data["phone"],
                name=data["name"].strip(),
                city=data["city"].strip(),
                home_store=store,
                actor=SYSTEM,
            ).member
            return order_create(
                channel=channel,
                lines=[LineRequest(sku, quantity) for sku, quantity in requested],
                delivery_method=DeliveryMethod.SHIP,
                origin=Origin.QR_SCAN,
                origin_store=store,
                member=member,
                actor=SYSTEM,  # the customer orders for themselves; no staff member acts
                recipient_name=data["name"].strip() or member.name,
                recipient_phone=data["phone"],
                address=data["address"].strip(),
                city=data["city"].strip(),
                latitude=latitude,
                longitude=longitude,
                # A double tap or a resent form returns the order the first tap made.
                idempotency_key=f"qr-{data['client_reference']}",
                coupons=[data["coupon"]] if data.get("coupon") else [],
                fingerprint=request_fingerprint(
                    {
                        "store": store.code,
                        "phone": data["phone"],
                        "coupon": data.get("coupon") or "",
                        "lines": [(sku.code, quantity) for sku, quantity in requested],
                        "address": data["address"],
                        "latitude": latitude,
                        "longitude": longitude,
                    }
                ),
            )
    except DomainError as error:
        show_order_error(form, lines, error, field_map={"coupons": "coupon"})
        return None


@require_GET
def store_ordered(request, code, number):
    store = _open_store_or_404(code)
    if number not in request.session.get(SESSION_KEY, []):
        raise Http404(_("No such order from this phone."))
    order = get_object_or_404(Order.objects.select_related("member"), number=number, origin_store=store)
    return render(
        request,
        "orders/public_ordered.html",
        {"store": store, "order": order, "lines": list(order.lines.select_related("sku"))},
    )
