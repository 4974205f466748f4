"""Forms of HQ's marketing pages (/hq/marketing/). They parse what is typed; every marketing rule
(the unified-SKU rule, budgets, windows, the audience) lives in marketing.services, whose refusal
is shown on the form."""

import re
from decimal import Decimal
from functools import reduce
from operator import or_

from django import forms
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.forms import DateTimeLocalInput
from catalog.models import SKU, Category, Channel
from marketing.choices import CampaignStatus, CouponKind, PromotionKind
from marketing.models import Coupon
from members.models import Segment
from stores.forms import WholeNumberField
from stores.models import Store

CODES_MAX = 50  # SKUs or categories typed into one field


class PlainDecimalField(forms.DecimalField):
    """A decimal typed in ASCII digits with at most `decimal_places` places: "1e400", "１２３",
    "NaN" and anything past the bounds are a field error (Django's DecimalField takes "１２３")."""

    PLAIN = re.compile(r"[+-]?[0-9]{1,15}(\.[0-9]*)?")

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).strip()
        if not self.PLAIN.fullmatch(text):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return Decimal(text)


def money_field(label, *, required=True, help_text=""):
    return PlainDecimalField(
        label=label,
        required=required,
        min_value=Decimal("0.01"),
        max_value=Decimal("99999999.99"),
        max_digits=settings.MONEY_MAX_DIGITS,
        decimal_places=settings.MONEY_DECIMAL_PLACES,
        help_text=help_text,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )


def percent_field(label, *, required=False, help_text=""):
    return PlainDecimalField(
        label=label,
        required=required,
        min_value=Decimal("0.01"),
        max_value=Decimal("100"),
        max_digits=5,
        decimal_places=2,
        help_text=help_text,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )


class CodesField(forms.CharField):
    """Codes of a model typed comma- or space-separated (SKU codes, category codes); cleans to the
    rows, in the order typed. An unknown code is a field error naming it."""

    def __init__(self, *, model, **kwargs):
        self.model = model
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 2000)
        kwargs.setdefault("widget", forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
        super().__init__(**kwargs)

    def clean(self, value):
        text = super().clean(value) or ""
        codes = list(dict.fromkeys(c for c in re.split(r"[\s,，;；]+", text) if c))
        if len(codes) > CODES_MAX:
            raise forms.ValidationError(_("At most %(n)s codes."), params={"n": CODES_MAX}, code="too_many")
        too_long = [c for c in codes if len(c) > 40]
        if too_long:
            raise forms.ValidationError(_("A code has at most 40 characters."), code="too_long")
        rows = self.model.objects.filter(reduce(or_, (Q(code__iexact=c) for c in codes))) if codes else []
        found = {row.code.upper(): row for row in rows}
        missing = [c for c in codes if c.upper() not in found]
        if missing:
            raise forms.ValidationError(
                _("Unknown: %(codes)s."), params={"codes": ", ".join(missing[:5])}, code="unknown"
            )
        return [found[c.upper()] for c in codes]


def _channel_choices():
    return [(c.code, c.name) for c in Channel.objects.filter(is_active=True).order_by("name")]


class ChannelsField(forms.MultipleChoiceField):
    """Channels ticked by code; none ticked means every channel. Cleans to the channels."""

    widget = forms.CheckboxSelectMultiple

    def clean(self, value):
        codes = super().clean(value)
        channels = {c.code: c for c in Channel.objects.filter(code__in=codes)}
        return [channels[code] for code in codes if code in channels]


class _WindowForm(forms.Form):
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
        help_text=_("Empty: until it is ended."),
    )

    def window(self):
        data = self.cleaned_data
        return data.get("valid_from") or timezone.now(), data.get("valid_to")


class PromotionForm(_WindowForm):
    code = forms.SlugField(
        label=_("Code"),
        max_length=40,
        help_text=_("A new version of an existing code closes the open one where the new one starts."),
    )
    name = forms.CharField(label=_("Name"), max_length=120)
    kind = forms.ChoiceField(label=_("Kind"), choices=PromotionKind.choices)
    percent = percent_field(_("Percent off"), help_text=_("Percent-off promotions; the Nth unit's discount."))
    amount = money_field(
        _("Amount off (CNY)"),
        required=False,
        help_text=_("Off each unit, or off the basket when the threshold is reached."),
    )
    threshold = money_field(_("Spend threshold (CNY)"), required=False)
    nth = WholeNumberField(label=_("Every Nth unit"), required=False, min_value=2, max_value=100)
    skus = CodesField(model=SKU, label=_("SKU codes"), help_text=_("Comma-separated."))
    categories = CodesField(model=Category, label=_("Category codes"), help_text=_("Comma-separated."))
    channels = ChannelsField(
        label=_("Channels"),
        required=False,
        help_text=_("None ticked: every channel (a one product, one price SKU always takes every channel)."),
    )

    field_order = ["code", "name", "kind", "percent", "amount", "threshold", "nth"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channels"].choices = _channel_choices()

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        valid_from, valid_to = self.window()
        return {
            "code": data["code"],
            "name": data["name"],
            "kind": data["kind"],
            "percent": data.get("percent"),
            "amount": data.get("amount"),
            "threshold": data.get("threshold"),
            "nth": data.get("nth"),
            "skus": data.get("skus") or [],
            "categories": data.get("categories") or [],
            "channels": data.get("channels") or [],
            "valid_from": valid_from,
            "valid_to": valid_to,
        }


class CouponForm(_WindowForm):
    code = forms.SlugField(label=_("Code"), max_length=40)
    name = forms.CharField(label=_("Name"), max_length=120)
    kind = forms.ChoiceField(label=_("Kind"), choices=CouponKind.choices)
    value = PlainDecimalField(
        label=_("Value"),
        min_value=Decimal("0.01"),
        max_value=Decimal("99999999.99"),
        max_digits=settings.MONEY_MAX_DIGITS,
        decimal_places=2,
        help_text=_("Yuan off the basket, or percent off the eligible lines."),
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    min_spend = money_field(_("Minimum spend (CNY)"), required=False)
    per_member_limit = WholeNumberField(label=_("Codes per member"), min_value=1, max_value=100, initial=1)
    claimable = forms.BooleanField(
        label=_("Customers may claim it at store and guide QR codes"),
        required=False,
        help_text=_("Leave unticked for a campaign's or the counter's coupon."),
    )
    budget_count = WholeNumberField(
        label=_("Budget: redemptions"), required=False, min_value=1, max_value=100_000_000
    )
    budget_amount = money_field(_("Budget: money (CNY)"), required=False)
    skus = CodesField(model=SKU, label=_("Only these SKU codes"), help_text=_("Empty: any SKU."))
    categories = CodesField(model=Category, label=_("Only these category codes"))
    channels = ChannelsField(label=_("Channels"), required=False, help_text=_("None ticked: every channel."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channels"].choices = _channel_choices()

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        valid_from, valid_to = self.window()
        return {
            "code": data["code"],
            "name": data["name"],
            "kind": data["kind"],
            "value": data["value"],
            "min_spend": data.get("min_spend") or 0,
            "per_member_limit": data["per_member_limit"],
            "claimable": bool(data.get("claimable")),
            "budget_count": data.get("budget_count"),
            "budget_amount": data.get("budget_amount"),
            "skus": data.get("skus") or [],
            "categories": data.get("categories") or [],
            "channels": data.get("channels") or [],
            "valid_from": valid_from,
            "valid_to": valid_to,
        }


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    segment = forms.ChoiceField(
        label=_("Segment"), required=False, help_text=_("Empty: every member (consenting only).")
    )
    near_store = forms.CharField(
        label=_("Near store (code)"),
        required=False,
        max_length=20,
        help_text=_("Members whose home store lies within the distance of this store."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    radius_km = PlainDecimalField(
        label=_("Within (km)"),
        required=False,
        min_value=Decimal("0.1"),
        max_value=Decimal("5000"),
        max_digits=6,
        decimal_places=1,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    city = forms.CharField(label=_("City"), required=False, max_length=40)
    coupon = forms.ChoiceField(
        label=_("Coupon"), required=False, help_text=_("One code of it for each member reached.")
    )
    message = forms.CharField(
        label=_("Message"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Sent by the brand's SMS or WeChat provider; at most 500 characters."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].choices = [("", _("Every member"))] + [
            (str(pk), name) for pk, name in Segment.objects.order_by("name", "pk").values_list("pk", "name")
        ]
        now = timezone.now()
        live = Coupon.objects.exclude(valid_to__lte=now).order_by("code")
        self.fields["coupon"].choices = [("", _("No coupon"))] + [
            (str(c.pk), f"{c.code} · {c.name}") for c in live.only("pk", "code", "name")
        ]

    def clean_near_store(self):
        code = self.cleaned_data["near_store"].strip()
        if not code:
            return None
        store = Store.objects.filter(code__iexact=code).first()
        if store is None:
            raise forms.ValidationError(_("No store has the code “%(code)s”."), params={"code": code})
        return store

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        segment = Segment.objects.get(pk=int(data["segment"])) if data.get("segment") else None
        coupon = Coupon.objects.get(pk=int(data["coupon"])) if data.get("coupon") else None
        return {
            "name": data["name"],
            "segment": segment,
            "near_store": data.get("near_store"),
            "radius_km": data.get("radius_km"),
            "city": data.get("city", ""),
            "coupon": coupon,
            "message": data.get("message", ""),
        }


# --- list filters -------------------------------------------------------------------------------


class PromotionFilterForm(forms.Form):
    STATUS = [
        ("", _("Any")),
        ("live", _("Live now")),
        ("upcoming", _("Not started")),
        ("ended", _("Ended")),
    ]
    q = forms.CharField(label=_("Code or name"), required=False, max_length=120)
    status = forms.ChoiceField(label=_("Status"), choices=STATUS, required=False)
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", _("Any"))] + PromotionKind.choices, required=False
    )


class CouponFilterForm(forms.Form):
    q = forms.CharField(label=_("Code or name"), required=False, max_length=120)
    status = forms.ChoiceField(label=_("Status"), choices=PromotionFilterForm.STATUS, required=False)


class CampaignFilterForm(forms.Form):
    q = forms.CharField(label=_("Name"), required=False, max_length=120)
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("Any"))] + CampaignStatus.choices, required=False
    )
