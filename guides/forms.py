"""Forms of the guides' pages: self-registration (a new account, or a signed-in clerk becoming a
guide) and the customer's phone number on the scan landing page."""

from allauth.account.forms import SignupForm
from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from guides.services import guide_register
from members.errors import InvalidPhone
from members.phones import normalise_phone
from stores.choices import StoreKind, StoreStatus
from stores.models import Partner, Store

_PHONE_WIDGET = {
    "type": "tel",
    "inputmode": "tel",
    "autocomplete": "tel",
    "autocapitalize": "off",
    "autocorrect": "off",
    "spellcheck": "false",
}
_CODE_WIDGET = {"autocapitalize": "characters", "autocorrect": "off", "spellcheck": "false"}


def _mobile_field(label):
    return forms.CharField(label=label, max_length=32, widget=forms.TextInput(attrs=_PHONE_WIDGET))


def _clean_mobile(raw: str) -> str:
    try:
        return normalise_phone(raw)
    except InvalidPhone as error:
        raise forms.ValidationError(error.message, code=error.code) from None


def _by_code(queryset, raw: str):
    """The one row whose code is `raw` (exactly, else ignoring case), or None."""
    code = (raw or "").strip()
    exact = queryset.filter(code=code).first()
    if exact is not None:
        return exact
    rows = list(queryset.filter(code__iexact=code)[:2])
    return rows[0] if len(rows) == 1 else None


class GuideDetailsMixin:
    """Name, mobile and where the guide sells; the store must be open, the partner active."""

    def clean_phone(self):
        return _clean_mobile(self.cleaned_data["phone"])

    def clean_name(self):
        return self.cleaned_data["name"].strip()

    def clean_store_code(self):
        raw = self.cleaned_data.get("store_code", "").strip()
        if not raw:
            return None
        store = _by_code(Store.objects.exclude(kind=StoreKind.WAREHOUSE).select_related("partner"), raw)
        if store is None:
            raise forms.ValidationError(
                gettext("No store has the code %(code)s. The code is on the store's QR card.")
                % {"code": raw},
                code="unknown_store",
            )
        if store.status != StoreStatus.OPEN:
            raise forms.ValidationError(
                gettext("%(store)s is not open (%(status)s); choose an open store or leave this empty.")
                % {"store": store.name, "status": store.get_status_display()},
                code="store_not_open",
            )
        return store

    def clean_partner_code(self):
        raw = self.cleaned_data.get("partner_code", "").strip()
        if not raw:
            return None
        partner = _by_code(Partner.objects.all(), raw)
        if partner is None:
            raise forms.ValidationError(
                gettext("No partner has the code %(code)s.") % {"code": raw}, code="unknown_partner"
            )
        if not partner.is_active:
            raise forms.ValidationError(
                gettext("%(partner)s is no longer an active partner.") % {"partner": partner.name},
                code="partner_inactive",
            )
        return partner

    def check_store_partner(self, data) -> None:
        store, partner = data.get("store_code"), data.get("partner_code")
        if store is not None and partner is not None and store.partner_id not in (None, partner.pk):
            self.add_error(
                "partner_code",
                gettext("%(store)s belongs to another partner (%(partner)s).")
                % {"store": store.name, "partner": store.partner.name},
            )


class GuideSignupForm(GuideDetailsMixin, SignupForm):
    """allauth's sign-up (e-mail + password) plus what makes a guide. `signup()` is allauth's hook,
    called after the user row is saved and inside the view's transaction."""

    name = forms.CharField(
        label=_("Your name"), max_length=100, widget=forms.TextInput({"autocomplete": "name"})
    )
    phone = _mobile_field(_("Mobile number"))
    store_code = forms.CharField(
        label=_("Store code (optional)"),
        max_length=40,
        required=False,
        help_text=_("If you work at or with one of our stores: its code, from the store's QR card."),
        widget=forms.TextInput(attrs=_CODE_WIDGET),
    )
    partner_code = forms.CharField(
        label=_("Partner code (optional)"),
        max_length=40,
        required=False,
        help_text=_("If a partner company signed you up: the code they gave you."),
        widget=forms.TextInput(attrs=_CODE_WIDGET),
    )

    field_order = ["name", "phone", "email", "password1", "password2", "store_code", "partner_code"]

    def clean(self):
        data = super().clean()
        self.check_store_partner(data)
        return data

    def signup(self, request, user):
        data = self.cleaned_data
        self.guide = guide_register(
            user=user,
            name=data["name"],
            phone=data["phone"],
            store=data["store_code"],
            partner=data["partner_code"],
        )


class BecomeGuideForm(GuideDetailsMixin, forms.Form):
    """A signed-in clerk (or partner) becomes a guide with the account they have: name and mobile;
    the store is one of theirs, the partner theirs when they log in for exactly one."""

    name = forms.CharField(
        label=_("Your name"), max_length=100, widget=forms.TextInput({"autocomplete": "name"})
    )
    phone = _mobile_field(_("Mobile number"))
    store = forms.ModelChoiceField(
        label=_("Your store"),
        queryset=Store.objects.none(),
        required=False,
        empty_label=_("No store"),
    )

    def __init__(self, *args, stores, **kwargs):
        super().__init__(*args, **kwargs)
        first = stores.first()
        if first is None:  # not store staff: a guide without a store
            del self.fields["store"]
            return
        self.fields["store"].queryset = stores
        self.initial.setdefault("store", first)


class ScanPhoneForm(forms.Form):
    """The customer's mobile on a guide's landing page; the scan travels signed in `scan`."""

    phone = _mobile_field(_("Your mobile number"))
    scan = forms.CharField(widget=forms.HiddenInput)
    # The coupon the printed link offers (?coupon=<coupon's code>), claimed with the mobile.
    coupon = forms.RegexField(
        regex=r"^[A-Za-z0-9_-]{1,40}\Z", max_length=40, required=False, widget=forms.HiddenInput
    )

    def clean_phone(self):
        return _clean_mobile(self.cleaned_data["phone"])
