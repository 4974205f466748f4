"""Forms of the staff portal's member pages and HQ segments. They parse input; every rule about
members, points, segments and lists lives in members.services and members.selectors."""

from datetime import datetime, time

from django import forms
from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from catalog.models import Channel
from config.dates import SHANGHAI
from members.choices import IdentitySource
from members.errors import InvalidPhone
from members.models import Tier
from members.phones import normalise_phone
from stores.models import Store

# Up to this many stores a form offers a list to pick from; past it (HQ), a store code field.
STORE_CHOICES_LIMIT = 200

_NO_AUTOCORRECT = {"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}


class StoreFormMixin:
    """A `store_field_name` picked among the stores given: a list when short, a typed code when long.

    Cleans to the Store, re-read from the given queryset, so a user can only name a store the
    queryset (their visible or managed stores) holds.
    """

    store_field_name = "store"

    def setup_store_field(self, stores, *, label, required: bool, initial_code: str | None = None):
        self._stores = stores
        rows = list(stores.order_by("code").values_list("pk", "code", "name")[: STORE_CHOICES_LIMIT + 1])
        self.store_count = len(rows)
        help_text = self.fields[self.store_field_name].help_text
        if len(rows) > STORE_CHOICES_LIMIT:
            self._store_by = "code"
            field = forms.CharField(
                label=_("%(label)s (store code)") % {"label": label},
                max_length=40,
                required=required,
                help_text=help_text,
                widget=forms.TextInput(attrs={**_NO_AUTOCORRECT, "autocapitalize": "characters"}),
            )
            if initial_code:
                self.initial.setdefault(self.store_field_name, initial_code)
        else:
            self._store_by = "pk"
            choices = [(str(pk), f"{code} · {name}") for pk, code, name in rows]
            if not required or len(rows) != 1:
                choices = [("", _("Choose a store") if required else _("No home store")), *choices]
            field = forms.ChoiceField(label=label, choices=choices, required=required, help_text=help_text)
            preselect = next((str(pk) for pk, code, _n in rows if code == initial_code), None)
            if preselect is None and len(rows) == 1:
                preselect = str(rows[0][0])
            if preselect:
                self.initial.setdefault(self.store_field_name, preselect)
        self.fields[self.store_field_name] = field

    def clean_store_value(self, value):
        value = (value or "").strip()
        if not value:
            return None
        if self._store_by == "code":
            store = self._stores.filter(code__iexact=value).first()
        else:
            store = self._stores.filter(pk=value).first() if value.isdigit() else None
        if store is None:
            raise forms.ValidationError(
                _("None of your stores has this code. Pick one of your stores."), code="unknown_store"
            )
        return store


class MemberLookupForm(forms.Form):
    """The one big box at the counter: a mobile in any format, a loyalty card, a marketplace id."""

    q = forms.CharField(
        label=_("Mobile number, loyalty card or Tmall / JD / WeChat id"),
        max_length=128,
        required=False,
        widget=forms.SearchInput(
            attrs={
                **_NO_AUTOCORRECT,
                "autofocus": True,
                "inputmode": "search",
                "enterkeyhint": "search",
                "class": "big-input",
            }
        ),
    )


class PointsRedeemForm(forms.Form):
    """Spend points at the counter. The client reference makes a double tap redeem once."""

    points = forms.IntegerField(
        label=_("Points to redeem"),
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "class": "big-input"}),
    )
    reference = forms.CharField(
        label=_("Reason or receipt number"),
        max_length=64,
        required=False,
        help_text=_("Shown in the points ledger, e.g. the receipt number of the purchase."),
    )
    client_reference = forms.CharField(max_length=64, widget=forms.HiddenInput)


class QuickRegisterForm(StoreFormMixin, forms.Form):
    """A walk-in customer registered on the tablet: the mobile is the member's one key."""

    store_field_name = "home_store"

    phone = forms.CharField(
        label=_("Mobile number"),
        max_length=32,
        help_text=_("Any format: 138 0013 8000, +86 13800138000 …"),
        widget=forms.TextInput(
            attrs={**_NO_AUTOCORRECT, "type": "tel", "inputmode": "tel", "class": "big-input"}
        ),
    )
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    city = forms.CharField(label=_("City"), max_length=40, required=False)
    home_store = forms.CharField(
        label=_("Home store"), required=False, help_text=_("The store the customer shops at.")
    )
    consent = forms.BooleanField(
        label=_("The customer agrees to receive marketing messages"),
        required=False,
    )

    def __init__(self, *args, stores, store_required: bool, initial_store_code=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_store_field(
            stores, label=_("Home store"), required=store_required, initial_code=initial_store_code
        )

    def clean_phone(self):
        raw = self.cleaned_data["phone"]
        try:
            return normalise_phone(raw)
        except InvalidPhone as error:
            raise forms.ValidationError(error.message, code=error.code) from None

    def clean_home_store(self):
        return self.clean_store_value(self.cleaned_data.get("home_store"))


def _comma_list(value: str) -> list[str]:
    return [part.strip() for part in (value or "").replace("，", ",").split(",") if part.strip()]


def _midnight_iso(day) -> str:
    """A date typed in the form is that day's midnight in Shanghai (the business day)."""
    return datetime.combine(day, time.min, tzinfo=SHANGHAI).isoformat()


class SegmentForm(forms.Form):
    """A dynamic segment's filters; cleans to the `Segment.filters` JSON (members.selectors)."""

    CONSENT_CHOICES = [
        ("", _("Any")),
        ("true", _("Consented to marketing")),
        ("false", _("Did not consent")),
    ]

    name = forms.CharField(label=_("Segment name"), max_length=120)
    city = forms.CharField(
        label=_("Cities"),
        required=False,
        max_length=500,
        help_text=_("Comma-separated, as written on the member, e.g. “Beijing, Chengdu”."),
    )
    tier = forms.MultipleChoiceField(label=_("Tiers"), required=False, widget=forms.CheckboxSelectMultiple)
    home_store = forms.CharField(
        label=_("Home stores"),
        required=False,
        max_length=1000,
        help_text=_("Store codes or ids, comma-separated."),
        widget=forms.TextInput(attrs={**_NO_AUTOCORRECT, "autocapitalize": "characters"}),
    )
    channel_used = forms.MultipleChoiceField(
        label=_("Bought on channels"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Members who earned points on any of these channels."),
    )
    identity_source = forms.MultipleChoiceField(
        label=_("Known by"),
        required=False,
        choices=IdentitySource.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Members with an identity from any of these systems."),
    )
    spend_min = forms.DecimalField(
        label=_("Total spend at least (CNY)"),
        required=False,
        min_value=0,
        max_digits=settings.MONEY_MAX_DIGITS,
        decimal_places=settings.MONEY_DECIMAL_PLACES,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01"}),
    )
    spend_max = forms.DecimalField(
        label=_("Total spend at most (CNY)"),
        required=False,
        min_value=0,
        max_digits=settings.MONEY_MAX_DIGITS,
        decimal_places=settings.MONEY_DECIMAL_PLACES,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01"}),
    )
    last_purchase_after = forms.DateField(
        label=_("Last purchase on or after"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    last_purchase_before = forms.DateField(
        label=_("Last purchase before"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Purchases on this day itself do not count. Shanghai time."),
    )
    points_min = forms.IntegerField(
        label=_("Points balance at least"),
        required=False,
        min_value=0,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    points_max = forms.IntegerField(
        label=_("Points balance at most"),
        required=False,
        min_value=0,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    consent = forms.ChoiceField(label=_("Marketing consent"), choices=CONSENT_CHOICES, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = list(Tier.objects.order_by("min_spend_12m").values_list("code", "name"))
        self.fields["channel_used"].choices = list(
            Channel.objects.order_by("name").values_list("code", "name")
        )

    def clean_home_store(self):
        tokens = _comma_list(self.cleaned_data["home_store"])
        if not tokens:
            return []
        ids = [int(t) for t in tokens if t.isdigit() and len(t) < 19]
        found = list(Store.objects.filter(Q(code__in=tokens) | Q(pk__in=ids)).values_list("pk", "code"))
        by_code = {code: pk for pk, code in found}
        known_ids = {pk for pk, _code in found}
        resolved, unknown = [], []
        for token in tokens:
            if token in by_code:
                resolved.append(by_code[token])
            elif token.isdigit() and int(token) in known_ids:
                resolved.append(int(token))
            else:
                unknown.append(token)
        if unknown:
            raise forms.ValidationError(
                _("No store has the code or id %(tokens)s. Check the store list and type it again."),
                code="unknown_store",
                params={"tokens": ", ".join(unknown)},
            )
        return list(dict.fromkeys(resolved))

    def clean(self):
        data = super().clean()
        for low, high in (
            ("spend_min", "spend_max"),
            ("points_min", "points_max"),
            ("last_purchase_after", "last_purchase_before"),
        ):
            if data.get(low) is not None and data.get(high) is not None and data[low] > data[high]:
                self.add_error(high, _("Must not be below the lower bound."))
        return data

    def filters(self) -> dict:
        """The saved filter: only what was filled in, in JSON-safe values."""
        data = self.cleaned_data
        filters: dict = {}
        if cities := _comma_list(data.get("city", "")):
            filters["city"] = cities
        for key in ("tier", "home_store", "channel_used", "identity_source"):
            if data.get(key):
                filters[key] = list(data[key])
        for key in ("spend_min", "spend_max"):
            if data.get(key) is not None:
                filters[key] = str(data[key])
        for key in ("points_min", "points_max"):
            if data.get(key) is not None:
                filters[key] = data[key]
        for key in ("last_purchase_after", "last_purchase_before"):
            if data.get(key):
                filters[key] = _midnight_iso(data[key])
        if data.get("consent"):
            filters["consent"] = data["consent"] == "true"
        return filters


class StaticGroupForm(StoreFormMixin, forms.Form):
    """A new hand-kept list for one of the stores the user manages."""

    name = forms.CharField(label=_("List name"), max_length=120, help_text=_("E.g. “VIP customers”."))
    store = forms.CharField(label=_("Store"))

    def __init__(self, *args, stores, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_store_field(stores, label=_("Store"), required=True)

    def clean_store(self):
        return self.clean_store_value(self.cleaned_data.get("store"))


class GroupMemberAddForm(forms.Form):
    """Add a member to a list by exact mobile or card number: no browsing of other stores' members."""

    q = forms.CharField(
        label=_("Mobile number or loyalty card"),
        max_length=128,
        widget=forms.TextInput(attrs={**_NO_AUTOCORRECT, "inputmode": "search", "enterkeyhint": "done"}),
    )
