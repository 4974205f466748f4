"""Serializers of the marketing API (a member's coupons and wallet). They translate; every rule
lives in marketing.services and marketing.policies."""

from django.conf import settings
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api.serializers import StrictInput
from marketing.choices import CodeStatus, CouponKind, IssuedVia, WalletKind
from marketing.models import CouponCode, WalletEntry
from marketing.services import EXTERNAL_TOPUP_METHODS

# Wallet entries shown with the balance; older ones are in the admin and the member's page.
RECENT_ENTRIES = 20


def _named_choice_field(name: str, choices: list[tuple[str, str]]):
    """A ChoiceField whose choice set is one named schema component (`<name>Enum`): `kind` and
    `status` mean other choice sets elsewhere in the API."""
    values = [value for value, _label in choices]
    description = lazy(lambda: "\n".join(f"* `{value}` - {label}" for value, label in choices), str)()

    @extend_schema_field(
        {"type": "string", "enum": values, "description": description}, component_name=f"{name}Enum"
    )
    class NamedChoiceField(serializers.ChoiceField):
        def __init__(self, **kwargs):
            super().__init__(choices=choices, **kwargs)

    NamedChoiceField.__name__ = f"{name}Field"
    return NamedChoiceField


CouponKindField = _named_choice_field("CouponKind", CouponKind.choices)
CodeStatusField = _named_choice_field("CodeStatus", CodeStatus.choices)
IssuedViaField = _named_choice_field("IssuedVia", IssuedVia.choices)
WalletKindField = _named_choice_field("WalletKind", WalletKind.choices)
TopUpMethodField = _named_choice_field("TopUpMethod", [(method, method) for method in EXTERNAL_TOPUP_METHODS])


def _money(**kwargs):
    return serializers.DecimalField(
        max_digits=settings.MONEY_MAX_DIGITS, decimal_places=settings.MONEY_DECIMAL_PLACES, **kwargs
    )


class StrictMoneyField(serializers.DecimalField):
    """An amount a client sends: a JSON number or ASCII digits ("12.50"); never true, "１２３"
    (Python's Decimal reads full-width digits) or a number past the money column."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", settings.MONEY_MAX_DIGITS)
        kwargs.setdefault("decimal_places", settings.MONEY_DECIMAL_PLACES)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or (isinstance(data, str) and not data.isascii()):
            self.fail("invalid")
        return super().to_internal_value(data)


class CouponCodeSerializer(serializers.ModelSerializer):
    """One code the member holds: the coupon it belongs to, what it takes off, when, and whether
    it was used."""

    coupon = serializers.CharField(source="coupon.code", read_only=True, help_text=_("Coupon code."))
    coupon_name = serializers.CharField(source="coupon.name", read_only=True)
    kind = CouponKindField(source="coupon.kind", read_only=True)
    value = serializers.DecimalField(
        source="coupon.value",
        max_digits=12,
        decimal_places=2,
        read_only=True,
        help_text=_("Yuan off (`amount`) or percent off (`percent`)."),
    )
    min_spend = _money(source="coupon.min_spend", read_only=True)
    valid_from = serializers.DateTimeField(source="coupon.valid_from", read_only=True)
    valid_to = serializers.DateTimeField(source="coupon.valid_to", read_only=True, allow_null=True)
    status = CodeStatusField(read_only=True)
    issued_via = IssuedViaField(read_only=True)

    class Meta:
        model = CouponCode
        fields = [
            "code",
            "coupon",
            "coupon_name",
            "kind",
            "value",
            "min_spend",
            "valid_from",
            "valid_to",
            "status",
            "issued_via",
            "issued_at",
            "redeemed_at",
        ]
        read_only_fields = fields


class WalletEntrySerializer(serializers.ModelSerializer):
    kind = WalletKindField(read_only=True)

    class Meta:
        model = WalletEntry
        fields = [
            "id",
            "kind",
            "amount",
            "method",
            "order_number",
            "reference",
            "client_reference",
            "created_at",
        ]
        read_only_fields = fields


class WalletSerializer(serializers.Serializer):
    """GET /members/{id}/wallet/: the member's balances and the newest stored-value entries."""

    member = serializers.IntegerField(help_text=_("Member id."))
    points_balance = serializers.IntegerField(help_text=_("Points (the points ledger's sum)."))
    stored_value = _money(help_text=_("Stored value, in yuan (the wallet ledger's sum; never below zero)."))
    entries = WalletEntrySerializer(
        many=True, help_text=_("The newest %(n)s stored-value entries, newest first.") % {"n": RECENT_ENTRIES}
    )


class TopUpInputSerializer(StrictInput, serializers.Serializer):
    amount = StrictMoneyField(help_text=_("Money taken, in yuan (above zero)."))
    method = TopUpMethodField(help_text=_("How it was paid: never the wallet itself or points."))
    reference = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default="", help_text=_("Your receipt number.")
    )
    client_reference = serializers.CharField(
        max_length=64,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text=_("Makes the request idempotent: a retry with it returns the first top-up."),
    )


class TopUpResultSerializer(serializers.Serializer):
    entry = WalletEntrySerializer()
    stored_value = _money(help_text=_("The member's stored value afterwards."))
    replayed = serializers.BooleanField(
        help_text=_("True when this client reference was seen before and nothing new was written.")
    )
