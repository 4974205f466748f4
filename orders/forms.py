"""Forms of the order pages: the store queue's actions, the clerk's order and payment, cancel, and
the public QR order form. They parse input; every rule about orders lives in orders.services and
orders.fulfilment (a refusal comes back as a DomainError and is shown on the form)."""

import re
import uuid
from decimal import Decimal, InvalidOperation

from django import forms
from django.utils.translation import gettext_lazy as _

from members.errors import InvalidPhone
from members.phones import normalise_phone
from orders.choices import EXTERNAL_METHODS, DeliveryMethod, PaymentMethod
from orders.fulfilment import REJECT_REASON_MAX_LENGTH
from stores.forms import SKUField, WholeNumberField

MAX_LINES = 5
_NO_AUTOCORRECT = {"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}


def client_reference() -> str:
    """A fresh token for a form, so that a double tap or a resent form makes one order/payment."""
    return uuid.uuid4().hex


# --- coupons and tenders ---------------------------------------------------------------------------


class CouponCodeField(forms.CharField):
    """A member's coupon code as read out or scanned: ASCII letters, digits and dashes, at most 20
    (marketing.models.CouponCode.code); case does not matter. Whether it is the member's, unused and
    valid is marketing.pricing's answer."""

    PATTERN = re.compile(r"[A-Za-z0-9_-]{1,20}")

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={**_NO_AUTOCORRECT, "autocapitalize": "characters"})
        )
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value and not self.PATTERN.fullmatch(value):
            raise forms.ValidationError(_("That is not a coupon code."), code="invalid")
        return value.upper() if value else ""

    def bound_data(self, data, initial):
        """Shown again as it will be used (upper case), so the member's code stays selected."""
        return data.strip().upper() if isinstance(data, str) else data


class CouponDefinitionField(forms.CharField):
    """The code of a coupon's definition (marketing.models.Coupon.code, a slug of at most 40)."""

    PATTERN = re.compile(r"[A-Za-z0-9_-]{1,40}")

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs=_NO_AUTOCORRECT))
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value and not self.PATTERN.fullmatch(value):
            raise forms.ValidationError(_("That is not a coupon's code."), code="invalid")
        return value


class MoneyFormField(forms.DecimalField):
    """An amount typed in ASCII digits with at most two decimals ("１２３", "1e3" and "NaN" are
    field errors: Python's Decimal would take them)."""

    ASCII_MONEY = re.compile(r"[0-9]{1,10}(\.[0-9]{0,2})?")

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).strip()
        if not self.ASCII_MONEY.fullmatch(text):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        try:
            return Decimal(text)
        except InvalidOperation:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


# --- order lines --------------------------------------------------------------------------------


class LineForm(forms.Form):
    """One line: a SKU typed or scanned, and how many."""

    sku = SKUField(required=False)
    quantity = WholeNumberField(
        label=_("Quantity"),
        initial=1,
        min_value=1,
        max_value=999,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "class": "qty"}),
        error_messages={"min_value": _("At least 1.")},
    )

    def clean(self):
        data = super().clean()
        if not self.errors and data.get("sku") is None:
            self.add_error("sku", _("Type or scan a SKU, or clear the quantity."))
        return data


class BaseLineFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        if not self.lines():
            raise forms.ValidationError(_("Add at least one SKU."), code="no_lines")

    def line_forms(self) -> list[LineForm]:
        """The filled-in rows, in the order they are passed to the service (for its error keys)."""
        return [f for f in self.forms if f.has_changed() and f.is_valid() and f.cleaned_data.get("sku")]

    def lines(self) -> list[tuple]:
        return [(f.cleaned_data["sku"], f.cleaned_data["quantity"]) for f in self.line_forms()]


LineFormSet = forms.formset_factory(
    LineForm, formset=BaseLineFormSet, extra=MAX_LINES, max_num=MAX_LINES, validate_max=True
)


# --- the clerk's order (endless aisle) ----------------------------------------------------------


class ClerkOrderForm(forms.Form):
    """Who orders and where it goes. The lines come in a LineFormSet beside it."""

    member = forms.CharField(
        label=_("Member's mobile or card"),
        max_length=128,
        required=False,
        help_text=_("Leave empty for a customer who is not a member."),
        widget=forms.TextInput(attrs={**_NO_AUTOCORRECT, "inputmode": "search", "class": "big-input"}),
    )
    delivery_method = forms.ChoiceField(
        label=_("Delivery"), choices=DeliveryMethod.choices, widget=forms.RadioSelect
    )
    recipient_name = forms.CharField(label=_("Recipient"), max_length=100, required=False)
    recipient_phone = forms.CharField(
        label=_("Recipient's mobile"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={**_NO_AUTOCORRECT, "type": "tel", "inputmode": "tel"}),
    )
    address = forms.CharField(label=_("Delivery address"), max_length=255, required=False)
    city = forms.CharField(label=_("City"), max_length=40, required=False)
    use_store_location = forms.BooleanField(
        label=_("Use the store's location (delivery near the store)"), required=False
    )
    latitude = forms.DecimalField(
        label=_("Latitude"), max_digits=9, decimal_places=6, min_value=-90, max_value=90, required=False
    )
    longitude = forms.DecimalField(
        label=_("Longitude"),
        max_digits=9,
        decimal_places=6,
        min_value=-180,
        max_value=180,
        required=False,
    )
    coupon = CouponCodeField(
        label=_("Coupon code"),
        help_text=_("One of the member's coupons. Check the price to see what it takes off."),
    )
    give_coupon = CouponDefinitionField(
        label=_("Give the member a coupon"),
        help_text=_("The code of a coupon HQ set up (on the coupon's poster or in HQ's message)."),
    )
    client_reference = forms.CharField(max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, store, carry_out: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.store = store
        if not carry_out:
            self.fields["delivery_method"].choices = [
                choice for choice in DeliveryMethod.choices if choice[0] != DeliveryMethod.CARRY_OUT
            ]

    def offer_codes(self, codes) -> None:
        """The member's usable codes as the coupon field's choices (a select instead of typing)."""
        choices = [("", _("No coupon"))] + [(c.code, f"{c.code} · {c.coupon.name}") for c in codes]
        current = (self.data.get(self.add_prefix("coupon")) or "").strip().upper() if self.is_bound else ""
        if current and current not in {code for code, _label in choices}:
            choices.append((current, current))  # what was typed stays, with its error
        self.fields["coupon"].widget = forms.Select(choices=choices)

    def clean(self):
        data = super().clean()
        if data.get("delivery_method") == DeliveryMethod.SHIP and data.get("use_store_location"):
            # A delivery near the store: its own coordinates stand for the address's.
            data["latitude"] = self.store.latitude
            data["longitude"] = self.store.longitude
            data["city"] = data.get("city") or self.store.city
        return data


class PaymentForm(forms.Form):
    """The customer pays the total at the counter: some points, some stored value (a member's), and
    the rest by an external method (the `amount`)."""

    points = WholeNumberField(
        label=_("Points to spend"),
        required=False,
        min_value=0,
        max_value=10**9,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    stored_value = MoneyFormField(label=_("Stored value to spend"), required=False, min_value=Decimal(0))
    amount = MoneyFormField(
        label=_("Amount"),
        min_value=Decimal("0.01"),
        required=False,
        help_text=_("What the external method pays: the total less points and stored value."),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "class": "big-input", "autocomplete": "off"}),
    )
    method = forms.ChoiceField(
        label=_("Paid by"),
        # An external method: points and stored value are their own fields above.
        choices=[
            c for c in PaymentMethod.choices if c[0] in EXTERNAL_METHODS and c[0] != PaymentMethod.MARKETPLACE
        ],
        widget=forms.RadioSelect,
    )
    reference = forms.CharField(
        label=_("Payment reference"),
        max_length=64,
        required=False,
        help_text=_("The terminal's receipt or transaction number, if there is one."),
        widget=forms.TextInput(attrs=_NO_AUTOCORRECT),
    )


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is the order cancelled?"),
        max_length=255,
        widget=forms.TextInput(attrs={"class": "big-input"}),
    )


# --- the store queue -------------------------------------------------------------------------


class RejectForm(forms.Form):
    # Bounded so "<store> rejected: <reason>" fits the routing decision (orders.fulfilment).
    reason = forms.CharField(label=_("Reason"), max_length=REJECT_REASON_MAX_LENGTH, required=False)


class ShipForm(forms.Form):
    tracking_number = forms.CharField(
        label=_("Tracking number"), max_length=64, required=False, widget=forms.TextInput(_NO_AUTOCORRECT)
    )


class CollectForm(forms.Form):
    pickup_code = forms.CharField(
        label=_("Customer's pickup code"),
        max_length=8,
        required=False,
        widget=forms.TextInput(attrs={**_NO_AUTOCORRECT, "inputmode": "numeric", "class": "big-input"}),
    )


# --- the public QR order page ------------------------------------------------------------------


class PublicOrderForm(forms.Form):
    """What a customer types on their phone after scanning the store's QR code."""

    phone = forms.CharField(
        label=_("Mobile number"),
        max_length=32,
        widget=forms.TextInput(
            attrs={**_NO_AUTOCORRECT, "type": "tel", "inputmode": "tel", "autocomplete": "tel"}
        ),
    )
    name = forms.CharField(
        label=_("Name"), max_length=100, required=False, widget=forms.TextInput({"autocomplete": "name"})
    )
    address = forms.CharField(
        label=_("Delivery address"),
        max_length=255,
        widget=forms.TextInput({"autocomplete": "street-address"}),
    )
    city = forms.CharField(
        label=_("City"),
        max_length=40,
        required=False,
        widget=forms.TextInput({"autocomplete": "address-level2"}),
    )
    coupon = CouponCodeField(
        label=_("Coupon code"), help_text=_("If you have a coupon of ours, type its code.")
    )
    latitude = forms.CharField(required=False, max_length=32, widget=forms.HiddenInput)
    longitude = forms.CharField(required=False, max_length=32, widget=forms.HiddenInput)
    client_reference = forms.CharField(max_length=64, widget=forms.HiddenInput)

    def clean_phone(self):
        try:
            return normalise_phone(self.cleaned_data["phone"])
        except InvalidPhone as error:
            raise forms.ValidationError(error.message, code=error.code) from None

    def clean(self):
        data = super().clean()
        data["latitude"] = _coordinate(data.get("latitude"), 90)
        data["longitude"] = _coordinate(data.get("longitude"), 180)
        if data["latitude"] is None or data["longitude"] is None:
            data["latitude"] = data["longitude"] = None  # the view falls back to the store's location
        return data


class CouponClaimForm(forms.Form):
    """A customer claims the coupon a store's or guide's QR page offers, with their mobile."""

    phone = forms.CharField(
        label=_("Mobile number"),
        max_length=32,
        widget=forms.TextInput(
            attrs={**_NO_AUTOCORRECT, "type": "tel", "inputmode": "tel", "autocomplete": "tel"}
        ),
    )
    coupon = CouponDefinitionField(required=True, widget=forms.HiddenInput)

    def clean_phone(self):
        try:
            return normalise_phone(self.cleaned_data["phone"])
        except InvalidPhone as error:
            raise forms.ValidationError(error.message, code=error.code) from None


def _coordinate(raw, bound: int) -> Decimal | None:
    """The browser's position, rounded to the model's six places; nonsense counts as not given
    (the customer cannot see or fix a hidden field)."""
    try:
        value = Decimal(str(raw).strip())
    except (ArithmeticError, ValueError, TypeError):
        return None
    if not value.is_finite() or not (-bound <= value <= bound):
        return None
    return value.quantize(Decimal("0.000001"))


# --- serial numbers of the units that leave ------------------------------------------------------


class SerialsForm(forms.Form):
    """One input per unit of each serial-tracked line (scan the barcode on the box). Lines that
    are not serial-tracked get none; the service checks the serials (count, repeats, still sold)."""

    def __init__(self, *args, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.tracked = [line for line in lines if line.sku.serial_tracked]
        self.line_errors: dict[int, list[str]] = {}
        for line in self.tracked:
            for index in range(line.quantity):
                self.fields[self.field_name(line, index)] = forms.CharField(
                    label=_("%(sku)s, unit %(n)s of %(of)s")
                    % {"sku": line.sku.code, "n": index + 1, "of": line.quantity},
                    max_length=64,
                    required=False,
                    widget=forms.TextInput(attrs={**_NO_AUTOCORRECT, "autocapitalize": "characters"}),
                )

    @staticmethod
    def field_name(line, index: int) -> str:
        return f"serial-{line.pk}-{index}"

    def serials(self) -> dict[int, list[str]]:
        """{line id: [serial, ...]} as typed (blanks included: the service counts what is missing)."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return {
            line.pk: [data.get(self.field_name(line, index), "") for index in range(line.quantity)]
            for line in self.tracked
        }

    def show_error(self, error) -> None:
        """Put a service refusal's `serials[<line id>]` messages under that line's inputs."""
        for line in self.tracked:
            messages = (error.fields or {}).get(f"serials[{line.pk}]")
            if messages:
                self.line_errors[line.pk] = [str(message) for message in messages]

    def rows(self) -> list[dict]:
        """Per serial-tracked line: the line, its inputs and its errors (for the template)."""
        return [
            {
                "line": line,
                "fields": [self[self.field_name(line, index)] for index in range(line.quantity)],
                "errors": self.line_errors.get(line.pk, []),
            }
            for line in self.tracked
        ]
