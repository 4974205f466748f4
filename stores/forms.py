"""Forms of the staff portal's store pages. They parse input; the stock rules live in stores.services."""

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from stores.choices import MovementKind
from stores.selectors import sku_find
from stores.services import MAX_MOVEMENT_QUANTITY


class SKUField(forms.CharField):
    """A SKU typed or scanned by its code or barcode; cleans to the SKU."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("SKU code or barcode"))
        kwargs.setdefault("max_length", 40)
        super().__init__(**kwargs)

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs.update({"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"})
        return attrs

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        sku = sku_find(value)
        if sku is None:
            raise forms.ValidationError(
                _("No SKU has the code or barcode “%(query)s”. Check the label or scan it again."),
                code="unknown_sku",
                params={"query": value},
            )
        return sku


class WholeNumberField(forms.IntegerField):
    """A whole number typed in ASCII digits, within the field's bounds: "1.0", "1e3", full-width
    "１" and anything past the bounds are a field error (Django's IntegerField takes "１" and "1.0")."""

    ASCII_WHOLE = re.compile(r"[+-]?[0-9]{1,18}")

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if not self.ASCII_WHOLE.fullmatch(str(value).strip()):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return int(str(value).strip())


class StockLookupForm(forms.Form):
    """What a clerk types or scans at the counter."""

    q = forms.CharField(
        label=_("SKU code or barcode"),
        max_length=40,
        required=False,
        widget=forms.SearchInput(
            attrs={
                "autofocus": True,
                "inputmode": "search",
                "enterkeyhint": "search",
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "class": "big-input",
            }
        ),
    )


class LookupStartForm(StockLookupForm):
    """Stock lookup for a user with several stores: which store to look from, then the SKU."""

    store = forms.ChoiceField(label=_("Look from store"))

    field_order = ["store", "q"]

    def __init__(self, *args, store_choices: list[tuple[str, str]] | None, **kwargs):
        """`store_choices` None: too many stores to list (HQ), so the store code is typed."""
        super().__init__(*args, **kwargs)
        if store_choices is None:
            self.fields["store"] = forms.CharField(
                label=_("Store code"),
                max_length=40,
                widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
            )
        else:
            self.fields["store"].choices = store_choices
        self.fields["q"].widget.attrs.pop("autofocus", None)


class StockChangeForm(forms.Form):
    """A receipt (goods arrived) or an adjustment (count correction) at one store."""

    KIND_CHOICES = [
        (MovementKind.RECEIPT, _("Receipt: goods arrived")),
        (MovementKind.ADJUSTMENT, _("Adjustment: correct the count")),
    ]

    kind = forms.ChoiceField(
        label=_("What happened"), choices=KIND_CHOICES, widget=forms.RadioSelect, initial=MovementKind.RECEIPT
    )
    sku = SKUField()
    quantity = WholeNumberField(
        label=_("Quantity"),
        help_text=_("Receipt: units that arrived. Adjustment: the change, e.g. -2 for two missing units."),
        min_value=-MAX_MOVEMENT_QUANTITY,
        max_value=MAX_MOVEMENT_QUANTITY,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=255,
        help_text=_("Shown in the stock ledger, e.g. “Delivery note 4711” or “Stock count: 2 damaged”."),
    )
    reference = forms.CharField(
        label=_("Reference (optional)"),
        max_length=64,
        required=False,
        help_text=_("Delivery note or transfer number, for receipts."),
    )
