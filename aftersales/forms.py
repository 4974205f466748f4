"""Forms of the service desk, the customer's status page and the HQ reports. They parse input;
every rule about tickets lives in aftersales.warranty and aftersales.services (a refusal comes back
as a DomainError and is shown on the form)."""

from datetime import timedelta

from django import forms
from django.core.validators import MaxValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aftersales.choices import TicketKind
from aftersales.photos import MAX_PHOTOS
from config.dates import shanghai_date
from members.filtersets import PhoneFormField

PHOTO_TYPES = "image/jpeg,image/png,image/webp"
_NO_AUTOCORRECT = {"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}
# No store: the ticket is taken by HQ customer service (phone, e-mail), not at a counter.
HQ_DESK = ""


class PurchaseSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Customer's mobile, order number or serial number"),
        max_length=64,
        widget=forms.TextInput(
            attrs={**_NO_AUTOCORRECT, "inputmode": "search", "class": "big-input", "autofocus": True}
        ),
    )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Several photos in one input (the tablet's camera or gallery). Their type and size are
    checked by the ticket service, which opens each one."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "widget", MultipleFileInput(attrs={"accept": PHOTO_TYPES, "capture": "environment"})
        )
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        if len(files) > MAX_PHOTOS:
            raise forms.ValidationError(
                _("At most %(n)d photos per ticket.") % {"n": MAX_PHOTOS}, code="too_many"
            )
        single = super().clean
        return [single(file, initial) for file in files]


def store_choices(stores, *, hq: bool) -> list[tuple[str, str]]:
    choices = [(store.code, f"{store.name} ({store.code})") for store in stores]
    if hq:
        choices.insert(0, (HQ_DESK, str(_("HQ customer service (no store)"))))
    return choices


class TicketOpenForm(forms.Form):
    """Open a ticket for one order line at one of the clerk's stores (any channel's line)."""

    store = forms.ChoiceField(
        label=_("Taken in at"), help_text=_("The store where the customer hands the product in.")
    )
    kind = forms.ChoiceField(
        label=_("What does the customer want?"), choices=TicketKind.choices, widget=forms.RadioSelect
    )
    fault = forms.BooleanField(label=_("The product is faulty"), required=False, initial=True)
    quantity = forms.IntegerField(
        label=_("Quantity"),
        min_value=1,
        initial=1,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "class": "qty"}),
    )
    serial = forms.CharField(
        label=_("Serial number"),
        max_length=64,
        required=False,
        help_text=_("From the label on the product; needed for serial-tracked products."),
        widget=forms.TextInput(attrs=_NO_AUTOCORRECT),
    )
    description = forms.CharField(
        label=_("What is wrong"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )
    customer_phone = PhoneFormField(
        label=_("Customer's mobile"),
        max_length=32,
        help_text=_("The customer checks the ticket's status with it."),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    photos = PhotosField(
        label=_("Photos of the fault"),
        required=False,
        help_text=_("JPEG, PNG or WebP, at most 5 MB each."),
    )

    def __init__(self, *args, stores=(), hq=False, quantity=1, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].choices = store_choices(stores, hq=hq)
        self.fields["store"].required = not hq
        self.fields["quantity"].widget.attrs["max"] = quantity
        self.fields["quantity"].validators.append(MaxValueValidator(quantity))


class NoteForm(forms.Form):
    note = forms.CharField(label=_("Note"), max_length=255, required=False)


class RefuseForm(forms.Form):
    reason = forms.CharField(
        label=_("Why refused"),
        max_length=255,
        help_text=_("Kept on the ticket for staff and HQ; tell the customer in person."),
    )


class ResolveForm(forms.Form):
    note = forms.CharField(
        label=_("Repair note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For a repair: what was done."),
    )
    replacement_serial = forms.CharField(
        label=_("Serial number of the replacement"),
        max_length=64,
        required=False,
        help_text=_("For an exchange of a serial-tracked product: the unit the customer takes home."),
        widget=forms.TextInput(attrs=_NO_AUTOCORRECT),
    )


class StepStoreForm(forms.Form):
    """The store doing this step (a clerk working at several stores picks one)."""

    store = forms.ChoiceField(label=_("At store"), required=False)

    def __init__(self, *args, stores=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].choices = [("", "—"), *store_choices(stores, hq=False)]


class PublicStatusForm(forms.Form):
    """The customer's ticket number and mobile: both must match, or nothing is shown."""

    number = forms.CharField(
        label=_("Ticket number"),
        max_length=24,
        widget=forms.TextInput(attrs={**_NO_AUTOCORRECT, "autocapitalize": "characters"}),
    )
    phone = forms.CharField(
        label=_("Your mobile number"),
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )


def _days_before(day, days: int):
    """`days` before `day`, or the first day there is (a date_to of 0001-01-05 has no 30 days
    before it)."""
    try:
        return day - timedelta(days=days)
    except OverflowError:
        return day.min


class PeriodForm(forms.Form):
    """A period of Shanghai days, both ends included (default: the last 30 days)."""

    DEFAULT_DAYS = 30

    date_from = forms.DateField(
        label=_("Delivered from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("Delivered to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    channel = forms.CharField(label=_("Channel"), required=False, max_length=40)  # a channel's code

    def clean(self):
        data = super().clean()
        today = shanghai_date(timezone.now())
        data["date_to"] = data.get("date_to") or today
        data["date_from"] = data.get("date_from") or _days_before(data["date_to"], self.DEFAULT_DAYS - 1)
        if data["date_from"] > data["date_to"]:
            self.add_error("date_from", _("The first day comes after the last day."))
        return data
