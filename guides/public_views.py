"""The public side of a guide's QR code ("everyone is your guide"): self-registration, the QR images
and printable card, and the phone-sized landing page a customer reaches by scanning.

The landing page needs no login. GET records the scan; POST binds the customer's mobile to the
guide through guides.services (find-or-create the member, last scan wins). The scan row travels
to the POST in a signed hidden field, so nobody can bind a phone to a scan they did not open; a
double submit finds the scan already bound to that phone and only redirects again.
"""

import re
from datetime import datetime

from allauth.account.views import SignupView
from django.contrib import messages
from django.core import signing
from django.db import transaction
from django.db.models import F, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from config.dates import last_day_before
from config.errors import DomainError
from config.views import add_domain_error
from guides import qr
from guides.choices import ScanOutcome
from guides.forms import BecomeGuideForm, GuideSignupForm, ScanPhoneForm
from guides.models import Guide, ScanEvent
from guides.services import guide_register, scan_bind, scan_open
from marketing.choices import IssuedVia
from marketing.models import Coupon
from marketing.services import code_give
from members.models import Member
from stores.choices import StoreKind, StoreStatus
from stores.models import Store
from stores.policies import SYSTEM
from stores.selectors import channel_for_store

SCAN_SALT = "guides.scan"
# A landing page left open longer than this binds through a fresh scan row (the guide is in the
# URL anyway); the old row is not reused, so one scan row never stands for two visits.
SCAN_TOKEN_MAX_AGE = 2 * 60 * 60
BOUND_SESSION_KEY = "guides:bound"  # what the "you're connected" page may show this browser
VIA_GUIDE_SESSION_KEY = "guides:via_guide"  # the store page after a guide's scan is not a store scan
CLAIMED_SESSION_KEY = "marketing:claimed"  # coupon codes this browser claimed at a QR code
CLAIMS_KEPT = 5
COUPON_PARAM = re.compile(r"[A-Za-z0-9_-]{1,40}")  # marketing.models.Coupon.code, a slug
BINDING_OUTCOMES = (ScanOutcome.BOUND, ScanOutcome.REBOUND, ScanOutcome.EXTENDED)


def guide_home_url() -> str:
    """The guide's own page (QR code, fans, ledger) in the portal; the portal home until it exists."""
    try:
        return reverse("guides:home")
    except NoReverseMatch:
        return reverse("portal:home")


def _render(request, template: str, context: dict, status: int = 200):
    return render(request, template, {"brand": qr.brand_name(), **context}, status=status)


def _guide_or_404(code: str) -> Guide:
    guides = Guide.objects.select_related("store")
    guide = guides.filter(code=code).first() or guides.filter(code=code.upper()).first()
    if guide is None:
        raise Http404(_("No guide has this code."))
    return guide


def _user_agent(request) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:255]


def _shop_store(guide: Guide) -> Store | None:
    """The store whose online order page the customer goes on to (open, not a warehouse)."""
    store = guide.store
    if store is not None and store.status == StoreStatus.OPEN and store.kind != StoreKind.WAREHOUSE:
        return store
    return None


# --- the coupon a QR code offers --------------------------------------------------------------


def claimable_coupon(code: str, *, channel=None) -> Coupon | None:
    """The coupon a store's or guide's QR page offers (?coupon=<coupon's code> on the printed
    link): one HQ made claimable, live now, valid on the store's channel, with budget left. Anything
    else offers nothing."""
    code = (code or "").strip()
    if not COUPON_PARAM.fullmatch(code):
        return None
    now = timezone.now()
    coupons = Coupon.objects.filter(code=code, claimable=True, valid_from__lte=now).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=now),
        Q(budget_count__isnull=True) | Q(redeemed_count__lt=F("budget_count")),
        Q(budget_amount__isnull=True) | Q(redeemed_amount__lt=F("budget_amount")),
    )
    coupon = coupons.prefetch_related("channels").first()
    if coupon is None:
        return None
    channels = {c.pk for c in coupon.channels.all()}
    if channels and (channel is None or channel.pk not in channels):
        return None
    return coupon


def remember_claim(request, code: str) -> None:
    """This browser may see the codes it claimed (and finds the last one typed in the order form)."""
    kept = [c for c in request.session.get(CLAIMED_SESSION_KEY, []) if c != code]
    request.session[CLAIMED_SESSION_KEY] = [*kept, code][-CLAIMS_KEPT:]


# --- self-registration ---------------------------------------------------------------------------


class GuideSignupView(SignupView):
    """allauth's sign-up, opened for this page only (config.accounts.AccountAdapter): the account
    and the guide are made in one transaction, so a refused guide leaves no account behind."""

    template_name = "guides/public/join.html"

    def get_form_class(self):
        return GuideSignupForm

    def form_valid(self, form):
        try:
            with transaction.atomic():
                return super().form_valid(form)
        except DomainError as error:
            add_domain_error(form, error, field_map={"store": "store_code", "partner": "partner_code"})
            return self.form_invalid(form)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "brand": qr.brand_name()}

    def get_default_success_url(self):
        return guide_home_url()


_signup = GuideSignupView.as_view()


@require_http_methods(["GET", "POST"])
def join(request):
    """/g/join/: a newcomer signs up; a signed-in clerk or partner becomes a guide with their account."""
    if request.user.is_authenticated:
        return _become_guide(request)
    return _signup(request)


def _become_guide(request):
    user = request.user
    if Guide.objects.filter(user=user).exists():
        messages.info(request, _("You are a guide already; here is your QR code."))
        return redirect(guide_home_url())
    stores = (
        Store.objects.filter(memberships__user=user, status=StoreStatus.OPEN)
        .exclude(kind=StoreKind.WAREHOUSE)
        .order_by("code")
    )
    partners = list(user.partners.filter(is_active=True)[:2])
    form = BecomeGuideForm(
        request.POST if request.method == "POST" else None,
        stores=stores,
        initial={"name": user.get_full_name()},
    )
    if form.is_valid():
        try:
            with transaction.atomic():
                guide_register(
                    user=user,
                    name=form.cleaned_data["name"],
                    phone=form.cleaned_data["phone"],
                    store=form.cleaned_data.get("store"),
                    partner=partners[0] if len(partners) == 1 else None,
                )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, _("Welcome aboard: you are a guide now. Share your QR code."))
            return redirect(guide_home_url())
    return _render(request, "guides/public/become.html", {"form": form})


# --- the QR code and the printable card --------------------------------------------------------


@require_GET
def qr_png(request, code):
    return qr.png_response(request, _guide_or_404(code))


@require_GET
def qr_svg(request, code):
    return qr.svg_response(request, _guide_or_404(code))


@require_GET
def card(request, code):
    guide = _guide_or_404(code)
    return _render(request, "guides/public/card.html", {"card": qr.card_for(request, guide), "guide": guide})


# --- the landing page behind the code ------------------------------------------------------------


def _sign(scan: ScanEvent) -> str:
    return signing.dumps({"scan": scan.pk, "guide": scan.guide_id}, salt=SCAN_SALT, compress=True)


class ForgedScan(Exception):
    """The hidden scan field was not made by us (or was made for another guide)."""


def _scan_id(token: str, guide: Guide) -> int | None:
    """The scan the page was opened with; None when the page is too old to reuse it."""
    try:
        data = signing.loads(token, salt=SCAN_SALT, max_age=SCAN_TOKEN_MAX_AGE)
    except signing.SignatureExpired:
        return None
    except signing.BadSignature:
        raise ForgedScan from None
    if not isinstance(data, dict) or data.get("guide") != guide.pk or not isinstance(data.get("scan"), int):
        raise ForgedScan
    return data["scan"]


def _scan_to_bind(request, guide: Guide, scan_id: int | None, phone: str) -> ScanEvent | None:
    """The scan row this phone binds through, locked; None when it already bound this phone (a
    double tap or a resent form). Someone else's number on the same open page gets its own row."""
    scan = None
    if scan_id is not None:
        # Lock the row alone: a join read with the lock would show the member as it was before
        # the wait (PostgreSQL re-reads only the locked row), so the member is read afterwards.
        scan = ScanEvent.objects.select_for_update().filter(pk=scan_id, guide=guide).first()
    if scan is not None and scan.member_id is not None:
        bound_phone = Member.objects.filter(pk=scan.member_id).values_list("phone", flat=True).first()
        if bound_phone == phone and scan.outcome in BINDING_OUTCOMES:
            return None
        scan = None  # used by another number, or it bound nobody (guide suspended at the time)
    if scan is None:
        scan = scan_open(guide=guide, user_agent=_user_agent(request))
    return scan


def _landing(request, guide: Guide, form: ScanPhoneForm, status: int = 200):
    wanted = form.data.get("coupon", "") if form.is_bound else form.initial.get("coupon", "")
    offer = claimable_coupon(wanted, channel=_channel_of(guide))
    return _render(
        request, "guides/public/landing.html", {"guide": guide, "form": form, "offer": offer}, status=status
    )


def _channel_of(guide: Guide):
    store = _shop_store(guide)
    return channel_for_store(store) if store is not None else None


def _claim_at_guide(request, guide: Guide, member_id: int, wanted: str) -> None:
    """The coupon the guide's QR page offered, for the customer who just left their mobile
    (marketing.services.code_give, the product acting for the customer: SYSTEM). A refusal (they
    hold it already, its budget is spent) is said on the next page; the binding stands."""
    coupon = claimable_coupon(wanted, channel=_channel_of(guide))
    if coupon is None:
        if wanted:
            messages.warning(request, _("This coupon is not on offer any more."))
        return
    try:
        with transaction.atomic():
            given = code_give(
                coupon=coupon,
                member=Member.objects.get(pk=member_id),
                via=IssuedVia.GUIDE_QR,
                actor=SYSTEM,
                guide=guide,
                store=_shop_store(guide),
            )
    except DomainError as error:
        messages.warning(request, error.message)
        return
    remember_claim(request, given.code)
    messages.success(
        request,
        _("Your coupon %(coupon)s: code %(code)s. It is already typed in the order form.")
        % {"coupon": coupon.name, "code": given.code},
    )


def _suspended(request, guide: Guide):
    return _render(request, "guides/public/suspended.html", {"guide": guide})


@never_cache
@require_http_methods(["GET", "POST"])
def landing(request, code):
    guide = _guide_or_404(code)
    if request.method == "GET":
        scan = scan_open(guide=guide, user_agent=_user_agent(request))
        if not guide.is_active:
            return _suspended(request, guide)
        wanted = request.GET.get("coupon", "")
        initial = {"scan": _sign(scan), "coupon": wanted if COUPON_PARAM.fullmatch(wanted) else ""}
        return _landing(request, guide, ScanPhoneForm(initial=initial))

    try:
        scan_id = _scan_id(request.POST.get("scan", ""), guide)
    except ForgedScan:
        return _render(request, "guides/public/bad_request.html", {"guide": guide}, status=400)
    form = ScanPhoneForm(request.POST)
    if not form.is_valid():
        return _landing(request, guide, form)
    phone = form.cleaned_data["phone"]
    try:
        with transaction.atomic():
            scan = _scan_to_bind(request, guide, scan_id, phone)
            binding = scan_bind(scan=scan, phone=phone) if scan is not None else None
    except DomainError as error:
        add_domain_error(form, error)
        return _landing(request, guide, form)
    if scan is not None and binding is None:  # the guide was suspended in the meantime
        return _suspended(request, guide)
    if binding is not None:
        request.session[BOUND_SESSION_KEY] = {"guide": guide.code, "ends_at": binding.ends_at.isoformat()}
        if form.cleaned_data.get("coupon"):
            _claim_at_guide(request, guide, binding.member_id, form.cleaned_data["coupon"])
    store = _shop_store(guide)
    if store is not None:
        request.session[VIA_GUIDE_SESSION_KEY] = store.code
        return redirect("orders_public:store", code=store.code)
    return redirect("guides_public:bound", code=guide.code)


@require_GET
def bound(request, code):
    """ "You're connected": for a guide without an open store to send the customer to."""
    guide = _guide_or_404(code)
    last_day = None
    remembered = request.session.get(BOUND_SESSION_KEY) or {}
    if remembered.get("guide") == guide.code:
        try:
            ends_at = datetime.fromisoformat(remembered["ends_at"])
        except (KeyError, TypeError, ValueError):
            ends_at = None
        if ends_at is not None:
            # ends_at is exclusive (Shanghai midnight): the last day credited is the day before.
            last_day = last_day_before(ends_at)
    return _render(request, "guides/public/bound.html", {"guide": guide, "last_day": last_day})


def store_scan_record(request, store: Store) -> None:
    """A visit of a store's QR order page (/s/<code>/) is a store scan; the page the customer is
    sent on to after binding to a guide of that store is not a second scan."""
    if request.session.pop(VIA_GUIDE_SESSION_KEY, None) == store.code:
        return
    scan_open(store=store, user_agent=_user_agent(request))
