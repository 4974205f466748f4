"""Serializers of the guides API. They translate; every rule lives in guides.services,
guides.commission and guides.settlement."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from catalog.api.serializers import IdOrCodeField
from catalog.models import Category, Channel
from config.api.serializers import StrictInput
from guides.choices import BindingEnd
from guides.models import Binding, CommissionEntry, CommissionRule, Guide, GuideLevel, Statement
from guides.policies import fan_name_visible_to, fan_phone_shown_in_full
from members.phones import masked_phone


def _money(**kwargs):
    return serializers.DecimalField(
        max_digits=settings.MONEY_MAX_DIGITS, decimal_places=settings.MONEY_DECIMAL_PLACES, **kwargs
    )


# --- guides -----------------------------------------------------------------------------------


class GuideCardSerializer(serializers.ModelSerializer):
    """The public card of an active guide, for the brand's own mini-program or app."""

    store_code = serializers.CharField(source="store.code", read_only=True, allow_null=True)
    store_name = serializers.CharField(source="store.name", read_only=True, allow_null=True)
    level = serializers.CharField(source="level.name", read_only=True, allow_null=True)

    class Meta:
        model = Guide
        fields = ["code", "name", "store_code", "store_name", "level"]
        read_only_fields = fields


class GuideSerializer(serializers.ModelSerializer):
    """A guide you may see (yourself, your partner's guides, or any for HQ)."""

    store = serializers.CharField(
        source="store.code", read_only=True, allow_null=True, help_text=_("Store code.")
    )
    store_name = serializers.CharField(source="store.name", read_only=True, allow_null=True)
    partner = serializers.CharField(
        source="partner.code", read_only=True, allow_null=True, help_text=_("Partner code.")
    )
    level = serializers.CharField(
        source="level.code", read_only=True, allow_null=True, help_text=_("Level code.")
    )
    level_name = serializers.CharField(source="level.name", read_only=True, allow_null=True)

    class Meta:
        model = Guide
        fields = [
            "id",
            "code",
            "name",
            "phone",
            "store",
            "store_name",
            "partner",
            "level",
            "level_name",
            "status",
            "suspended_reason",
            "suspended_at",
            "created_at",
        ]
        read_only_fields = fields


class GuideLookupQuerySerializer(serializers.Serializer):
    code = serializers.CharField(
        max_length=12, help_text=_("The guide's code, as printed under the QR code.")
    )


class ScanInputSerializer(StrictInput, serializers.Serializer):
    """POST /guides/{code}/scans/: the customer's mobile (any format; checked by member_upsert)."""

    phone = serializers.CharField(max_length=32, help_text=_("The customer's mobile, any format."))
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class ScanBindingSerializer(serializers.Serializer):
    """What a scan did: the member's binding to the guide and how the scan changed it."""

    scan = serializers.IntegerField(source="scan.pk", help_text=_("Id of the recorded scan."))
    outcome = serializers.CharField(
        source="scan.outcome", help_text=_("`bound` (new fan), `rebound` (taken over) or `extended`.")
    )
    binding = serializers.IntegerField(source="binding.pk", help_text=_("Binding id."))
    member = serializers.IntegerField(source="binding.member_id", help_text=_("Member id."))
    guide = serializers.CharField(source="binding.guide.code", help_text=_("Guide code."))
    started_at = serializers.DateTimeField(source="binding.started_at")
    last_scan_at = serializers.DateTimeField(source="binding.last_scan_at")
    ends_at = serializers.DateTimeField(
        source="binding.ends_at",
        help_text=_("Exclusive end of the brand's default window (an Asia/Shanghai midnight)."),
    )
    scan_count = serializers.IntegerField(source="binding.scan_count")


# --- bindings ---------------------------------------------------------------------------------


class BlankAsNullChoiceField(serializers.ChoiceField):
    """A choice stored as "" when there is none, answered as null (the schema says nullable)."""

    def to_representation(self, value):
        return None if value in ("", None) else super().to_representation(value)


class BindingSerializer(serializers.ModelSerializer):
    """A fan: the member's id, name and mobile, masked except for HQ (guides.policies). Nothing
    else of the member: anyone may sign up as a guide."""

    guide = serializers.CharField(source="guide.code", read_only=True, help_text=_("Guide code."))
    member_name = serializers.SerializerMethodField(
        help_text=_("The fan's name: for their own guide, HQ and their home store's people; else null.")
    )
    end_reason = BlankAsNullChoiceField(
        choices=BindingEnd.choices,
        read_only=True,
        allow_null=True,
        help_text=_("Why the binding ended; null while it is open."),
    )
    store = serializers.CharField(
        source="store.code", read_only=True, allow_null=True, help_text=_("Store code.")
    )
    member_phone = serializers.SerializerMethodField(help_text=_("Masked (138****5678) except for HQ."))

    class Meta:
        model = Binding
        fields = [
            "id",
            "member",
            "member_name",
            "member_phone",
            "guide",
            "store",
            "started_at",
            "last_scan_at",
            "ends_at",
            "scan_count",
            "ended_at",
            "end_reason",
        ]
        read_only_fields = fields

    def get_member_name(self, binding) -> str | None:
        request = self.context.get("request")
        if request is not None and fan_name_visible_to(request.user, binding):
            return binding.member.name
        return None

    def get_member_phone(self, binding) -> str:
        phone = binding.member.phone or ""
        request = self.context.get("request")
        if request is not None and fan_phone_shown_in_full(request.user):
            return phone
        return masked_phone(phone)


# --- ledger and statements --------------------------------------------------------------------


class CommissionEntrySerializer(serializers.ModelSerializer):
    guide = serializers.CharField(
        source="guide.code", read_only=True, allow_null=True, help_text=_("Guide code.")
    )
    partner = serializers.CharField(
        source="partner.code", read_only=True, allow_null=True, help_text=_("Partner code.")
    )
    store = serializers.CharField(
        source="store.code", read_only=True, allow_null=True, help_text=_("Store code.")
    )
    order = serializers.CharField(
        source="order.number", read_only=True, allow_null=True, help_text=_("Order number.")
    )

    class Meta:
        model = CommissionEntry
        fields = [
            "id",
            "kind",
            "guide",
            "partner",
            "store",
            "order",
            "line",
            "accrual",
            "rule",
            "base_amount",
            "held_change",
            "payable_change",
            "statement",
            "partner_statement",
            "note",
            "released_through",
            "accruals_through",
            "accrual_count",
            "created_at",
        ]
        read_only_fields = fields


class StatementSerializer(serializers.ModelSerializer):
    guide = serializers.CharField(
        source="guide.code", read_only=True, allow_null=True, help_text=_("Guide code.")
    )
    partner = serializers.CharField(
        source="partner.code", read_only=True, allow_null=True, help_text=_("Partner code.")
    )
    approved_by = serializers.CharField(
        source="approved_by.get_username", read_only=True, allow_null=True, help_text=_("Username.")
    )
    paid_by = serializers.CharField(
        source="paid_by.get_username", read_only=True, allow_null=True, help_text=_("Username.")
    )

    class Meta:
        model = Statement
        fields = [
            "id",
            "party",
            "guide",
            "partner",
            "period",
            "status",
            "total",
            "entry_count",
            "created_at",
            "approved_at",
            "approved_by",
            "paid_at",
            "paid_by",
            "payment_reference",
        ]
        read_only_fields = fields


class StatementPaySerializer(StrictInput, serializers.Serializer):
    payment_reference = serializers.CharField(
        max_length=64, help_text=_("The bank transfer or wallet payout reference.")
    )


# --- commission rules -------------------------------------------------------------------------


class CommissionRuleSerializer(serializers.ModelSerializer):
    """A rule as stored; empty channel / category / level mean "any"."""

    channel = serializers.CharField(
        source="channel.code", read_only=True, allow_null=True, help_text=_("Channel code.")
    )
    category = serializers.CharField(
        source="category.code", read_only=True, allow_null=True, help_text=_("Category code.")
    )
    level = serializers.CharField(
        source="level.code", read_only=True, allow_null=True, help_text=_("Level code.")
    )
    created_by = serializers.CharField(
        source="created_by.get_username", read_only=True, allow_null=True, help_text=_("Username.")
    )

    class Meta:
        model = CommissionRule
        fields = [
            "id",
            "channel",
            "category",
            "level",
            "rate_percent",
            "fixed_per_unit",
            "valid_from",
            "valid_to",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class CommissionRuleInputSerializer(StrictInput, serializers.Serializer):
    """POST /commission-rules/: parsed here, judged by guides.commission.commission_rule_set."""

    channel = IdOrCodeField(
        queryset=Channel.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text=_("Id or code."),
    )
    category = IdOrCodeField(
        queryset=Category.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text=_("Id or code."),
    )
    level = IdOrCodeField(
        queryset=GuideLevel.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text=_("Id or code."),
    )
    rate_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, help_text=_("Percent of the paid line amount, 0-100.")
    )
    fixed_per_unit = _money(required=False, default=0, help_text=_("A fixed amount per unit sold."))
    valid_from = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text=_("Aware ISO 8601; default now.")
    )
