"""Forms of the HQ catalog pages. They parse input; every pricing rule lives in catalog.services."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from catalog.models import SKU, Channel

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class DateTimeLocalInput(forms.DateTimeInput):
    """The browser's own date-and-time picker; values are read in the business time zone."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format=DATETIME_LOCAL)


class PriceForm(forms.Form):
    sku = forms.CharField(
        label=_("SKU code"),
        max_length=40,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
    )
    channel = forms.ModelChoiceField(
        label=_("Channel"),
        queryset=Channel.objects.filter(is_active=True).order_by("name"),
        required=False,
        empty_label=_("All channels"),
        help_text=_("A SKU sold at one product, one price takes only a price for all channels."),
    )
    amount = forms.DecimalField(
        label=_("Amount (CNY)"),
        max_digits=settings.MONEY_MAX_DIGITS,
        decimal_places=settings.MONEY_DECIMAL_PLACES,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01"}),
    )
    valid_from = forms.DateTimeField(
        label=_("Valid from"),
        required=False,
        widget=DateTimeLocalInput(),
        help_text=_("Empty: from now. Shanghai time."),
    )
    valid_to = forms.DateTimeField(
        label=_("Valid to"),
        required=False,
        widget=DateTimeLocalInput(),
        help_text=_("Empty: until a new price replaces it."),
    )

    def clean_sku(self):
        code = self.cleaned_data["sku"].strip()
        sku = SKU.objects.filter(code__iexact=code).first()
        if sku is None:
            raise forms.ValidationError(
                _("No SKU has the code “%(code)s”."), code="unknown_sku", params={"code": code}
            )
        return sku


class AtForm(forms.Form):
    """The instant a report is taken at; empty means now."""

    at = forms.DateTimeField(label=_("At"), required=False, widget=DateTimeLocalInput())


class UnifiedForm(forms.Form):
    """Turn one product, one price on or off for a category's SKUs."""

    unified = forms.TypedChoiceField(
        choices=[("1", _("On")), ("0", _("Off"))], coerce=lambda value: value == "1"
    )
