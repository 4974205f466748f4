"""A member's coupons and wallet in the staff portal: the coupon codes they hold and used, their
points and stored value, the stored-value ledger, and the counter's top-up.

Who sees it is who sees the member's personal data (marketing.policies.wallet_visible_to: their
stores' staff, HQ, and a clerk serving a walk-in found by exact mobile); anyone else gets a 404,
as on the member page. Topping up is marketing.policies.wallet_topup_require's (HQ and store staff
who take the money at the counter): a partner sees the page without the form, and their POST is a
403. The page lives in the portal because the member page (members/) sits below marketing.
"""

import uuid
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from config.errors import DomainError, Forbidden
from config.money import quantize_money
from config.views import add_domain_error, staff_required
from marketing.choices import CodeStatus
from marketing.models import WalletEntry
from marketing.policies import wallet_topup_require, wallet_visible_to
from marketing.services import EXTERNAL_TOPUP_METHODS, codes_of, wallet_balance, wallet_top_up
from members.views import _member_for, _member_url
from orders.choices import PaymentMethod
from orders.forms import MoneyFormField

CODES_SHOWN = 50
LEDGER_SHOWN = 20
MAX_TOP_UP = Decimal("50000.00")  # one counter top-up; more is a mistake or a matter for HQ


class WalletTopUpForm(forms.Form):
    """Money taken at the counter onto the member's stored value."""

    amount = MoneyFormField(
        label=gettext_lazy("Amount to top up"), min_value=Decimal("0.01"), max_value=MAX_TOP_UP
    )
    method = forms.ChoiceField(
        label=gettext_lazy("Paid by"),
        choices=[(m, PaymentMethod(m).label) for m in EXTERNAL_TOPUP_METHODS],
        widget=forms.RadioSelect,
    )
    reference = forms.CharField(
        label=gettext_lazy("Payment reference"),
        max_length=64,
        required=False,
        help_text=gettext_lazy("The terminal's receipt or transaction number, if there is one."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    client_reference = forms.RegexField(regex=r"^[a-z0-9-]{1,64}\Z", max_length=64, widget=forms.HiddenInput)


def _ledger(member) -> list[WalletEntry]:
    entries = list(
        WalletEntry.objects.filter(wallet__member=member)
        .select_related("created_by")
        .order_by("-created_at", "-id")[:LEDGER_SHOWN]
    )
    for entry in entries:
        entry.method_label = (
            PaymentMethod(entry.method).label if entry.method in PaymentMethod.values else entry.method
        )
    return entries


def _may_top_up(user, member) -> bool:
    try:
        wallet_topup_require(user, member)
    except Forbidden:
        return False
    return True


@require_http_methods(["GET", "POST"])
@staff_required
def member_wallet(request, pk):
    member, via_query = _member_for(request, pk)
    if not wallet_visible_to(request.user, member):
        raise Http404(_("No member you can see has this number."))
    may_top_up = _may_top_up(request.user, member)
    here = reverse("portal:member_wallet", args=[member.pk])
    if via_query:
        here = f"{here}?{request.GET.urlencode()}"
    form = None
    if may_top_up:
        form = WalletTopUpForm(
            request.POST if request.method == "POST" else None,
            initial={"client_reference": f"portal-topup-{uuid.uuid4().hex}", "method": "cash"},
        )
    if request.method == "POST":
        if not may_top_up:
            raise PermissionDenied(_("You may not top up this member's wallet."))
        if "client_reference" in form.errors:  # a hidden field: say it where it can be read
            form.add_error(None, _("This form is out of date: check the amount and send it again."))
        if form.is_valid():
            data = form.cleaned_data
            try:
                entry = wallet_top_up(
                    member=member,
                    amount=data["amount"],
                    method=data["method"],
                    reference=data["reference"].strip(),
                    client_reference=data["client_reference"],
                    actor=request.user,
                )
            except DomainError as error:
                add_domain_error(form, error, field_map={"client_reference": "amount"})
            else:
                if getattr(entry, "replayed", False):
                    messages.info(request, _("This top-up was already recorded."))
                else:
                    messages.success(
                        request,
                        _("%(amount)s topped up. Stored value now: %(balance)s.")
                        % {"amount": entry.amount, "balance": wallet_balance(member)},
                    )
                return redirect(here)
    codes = list(
        codes_of(member)
        .select_related("store", "guide")
        .order_by("status", "-issued_at", "-id")[:CODES_SHOWN]
    )
    now = timezone.now()
    for code in codes:
        code.usable = code.status == CodeStatus.HELD and code.coupon.is_live_at(now)
    return render(
        request,
        "portal/member_wallet.html",
        {
            "member": member,
            "member_url": _member_url(member.pk, via_query),
            "codes": codes,
            "held": sum(1 for c in codes if c.status == CodeStatus.HELD),
            "balance": quantize_money(wallet_balance(member)),
            "entries": _ledger(member),
            "form": form,
        },
    )
