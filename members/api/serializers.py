"""Serializers of the members API. They translate; every rule lives in members.services."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.api.serializers import MAX_PK, IdOrCodeField
from catalog.models import Channel
from config.api.serializers import StrictInput, StrictIntegerField
from config.sql import Pending
from members.choices import IdentitySource
from members.models import ExternalIdentity, Member, MemberMerge, PointsEntry, Segment
from members.policies import EVERYTHING, NOTHING, PERSONAL_FIELDS, fields_identities, member_fields_for
from members.sql import member_by_id, member_from_rows, member_statement
from stores.models import Store
from stores.policies import stores_visible_to

# Points in one request: far above any real balance, far below the ledger column's range.
MAX_POINTS = 10**9


def _money(**kwargs):
    return serializers.DecimalField(
        max_digits=settings.MONEY_MAX_DIGITS, decimal_places=settings.MONEY_DECIMAL_PLACES, **kwargs
    )


# --- members ----------------------------------------------------------------------------------


class IdentitySerializer(serializers.ModelSerializer):
    class Meta:
        model = ExternalIdentity
        fields = ["source", "external_id", "created_at"]


class MemberFieldsMixin:
    # Personal data and identities are shown field by field as members.policies.member_fields_for
    # decides, for every answer that carries a member: the decision is the policy's, not the view's.
    # Context: `request` (the actor), optional `found_by_lookup` (a clerk serving a walk-in found by
    # an exact value) and `sent` (what the caller sent: echoed back when the member is not theirs).
    # (A comment, not a docstring: drf-spectacular would show it in every schema using it.)

    def to_representation(self, member):
        data = super().to_representation(member)
        request = self.context.get("request")
        actor = request.user if request is not None else None
        decision = (
            member_fields_for(actor, member, found_by_lookup=self.context.get("found_by_lookup", False))
            if actor is not None
            else NOTHING
        )
        if decision is EVERYTHING:
            return data
        sent = self.context.get("sent") or {}
        for name in data:
            if not decision.shows(name):
                data[name] = [] if name == "identities" else sent.get(name) or None
        if decision.personal and "identities" in data:
            data["identities"] = IdentitySerializer(fields_identities(decision, member), many=True).data
        return data


_PERSONAL_NULLABLE = {name: {"allow_null": True} for name in PERSONAL_FIELDS if name != "identities"}


class MemberSerializer(MemberFieldsMixin, serializers.ModelSerializer):
    """A row of a member list: no identities, so a page is one query."""

    tier = serializers.CharField(
        source="tier.code", read_only=True, allow_null=True, help_text=_("Tier code.")
    )
    home_store_code = serializers.CharField(source="home_store.code", read_only=True, allow_null=True)

    class Meta:
        model = Member
        fields = [
            "id",
            "phone",
            "name",
            "city",
            "tier",
            "home_store",
            "home_store_code",
            "marketing_consent",
            "points_balance",
            "total_spend",
            "last_purchase_at",
        ]
        read_only_fields = fields
        extra_kwargs = _PERSONAL_NULLABLE


class MemberDetailSerializer(MemberSerializer):
    """One member: identities, points balance, tier, home store and consent. Personal data and
    identities only to those who serve the member (null and [] otherwise); an API key sees its own
    channel's identities only."""

    tier_name = serializers.CharField(source="tier.name", read_only=True, allow_null=True)
    home_store_name = serializers.CharField(source="home_store.name", read_only=True, allow_null=True)
    consent_channel = serializers.CharField(
        source="consent_channel.code", read_only=True, allow_null=True, help_text=_("Channel code.")
    )
    identities = IdentitySerializer(many=True, read_only=True)

    class Meta(MemberSerializer.Meta):
        fields = [
            *MemberSerializer.Meta.fields[:4],
            "tier_name",
            "gender",
            "birthday",
            "home_store",
            "home_store_code",
            "home_store_name",
            "marketing_consent",
            "consent_changed_at",
            "consent_channel",
            "points_balance",
            "total_spend",
            "last_purchase_at",
            "identities",
            "created_at",
        ]
        read_only_fields = fields


@extend_schema_field(OpenApiTypes.INT)
class MemberIdField(serializers.Field):
    """A member by id (a plain number input, never a select of millions of members)."""

    default_error_messages = {
        "invalid": _("Give a member id."),
        "does_not_exist": _("No member with id {value}."),  # DRF fills it with str.format
    }

    def __init__(self, *, later: bool = False, **kwargs):
        # later: the field answers the id and the serializer reads the member with its other reads
        # (read_later), one round trip for all.
        self.later = later
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("invalid")
        value = str(data).strip()
        if not (value.isascii() and value.isdigit() and int(value) <= MAX_PK):
            self.fail("invalid")
        if self.later:
            return int(value)
        member = member_by_id(int(value))
        if member is None:
            self.fail("does_not_exist", value=value)
        return member

    def read_later(self, batch, pk: int) -> Pending:
        """The member with id `pk` read on `batch` (a config.sql.Batch); once it ran, its `value`
        is the member or None (then `missing(pk)` says so, as the field would)."""
        return batch.read(*member_statement(pk), member_from_rows)

    def missing(self, pk: int) -> str:
        return self.error_messages["does_not_exist"].format(value=pk)

    def to_representation(self, value):
        return value.pk


class MemberLookupQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        max_length=128, help_text=_("Mobile in any format, loyalty card or external id (exact).")
    )


class MemberUpsertSerializer(StrictInput, serializers.Serializer):
    """Input of POST /members/upsert/: parsed here, judged by members.services.member_upsert."""

    phone = serializers.CharField(
        required=False, allow_blank=True, max_length=32, help_text=_("Mobile in any format.")
    )
    source = serializers.ChoiceField(choices=IdentitySource.choices, required=False, allow_blank=True)
    external_id = serializers.CharField(required=False, allow_blank=True, max_length=128)
    name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    city = serializers.CharField(required=False, allow_blank=True, max_length=40)
    home_store = IdOrCodeField(
        queryset=Store.objects.all(),
        required=False,
        allow_null=True,
        help_text=_("Store id or code; one of your stores."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            # A clerk registers walk-ins to their own stores only.
            self.fields["home_store"].queryset = stores_visible_to(request.user)

    def validate(self, data):
        # The input's shape; that the phone is a valid number is member_upsert's rule.
        if bool(data.get("source")) != bool(data.get("external_id")):
            missing = "external_id" if data.get("source") else "source"
            raise serializers.ValidationError(
                {missing: [_("Give both the identity's source and its external id.")]}
            )
        if not data.get("phone") and not data.get("external_id"):
            raise serializers.ValidationError({"phone": [_("Give a mobile number or an external identity.")]})
        return data


# --- points -----------------------------------------------------------------------------------


class PointsEntrySerializer(serializers.ModelSerializer):
    channel = serializers.CharField(
        source="channel.code", read_only=True, allow_null=True, help_text=_("Channel code.")
    )
    created_by = serializers.CharField(
        source="created_by.get_username", read_only=True, allow_null=True, help_text=_("Username.")
    )

    class Meta:
        model = PointsEntry
        fields = [
            "id",
            "member",
            "kind",
            "points",
            "channel",
            "paid_amount",
            "reference",
            "client_reference",
            "reverses",
            "expires_at",
            "reason",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class PointsLedgerSerializer(serializers.Serializer):
    """GET /members/{id}/points/: the balance and a page of the ledger, newest first."""

    balance = serializers.IntegerField(help_text=_("The ledger's sum."))
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = PointsEntrySerializer(many=True)


class PointsResultSerializer(serializers.Serializer):
    """What an earn or redeem did: the entry (null when the channel's rule gives no points)."""

    entry = PointsEntrySerializer(allow_null=True)
    balance = serializers.IntegerField(help_text=_("The member's balance afterwards."))
    replayed = serializers.BooleanField(
        help_text=_("True when this client reference was seen before and nothing new was written.")
    )


class PointsEarnSerializer(StrictInput, serializers.Serializer):
    channel = IdOrCodeField(queryset=Channel.objects.all(), help_text=_("Channel id or code."))
    paid_amount = _money(help_text=_("What the member paid, in yuan."))
    reference = serializers.CharField(max_length=64, help_text=_("Your order or receipt number."))
    client_reference = serializers.CharField(
        max_length=64,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text=_("Makes the request idempotent: a retry with it returns the first entry."),
    )


class PointsRedeemSerializer(StrictInput, serializers.Serializer):
    points = StrictIntegerField(
        min_value=-MAX_POINTS, max_value=MAX_POINTS, help_text=_("Points to spend (above zero).")
    )
    channel = IdOrCodeField(queryset=Channel.objects.all(), help_text=_("Channel id or code."))
    reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    client_reference = serializers.CharField(
        max_length=64,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text=_("Makes the request idempotent: a retry with it returns the first entry."),
    )


class PointsAdjustSerializer(StrictInput, serializers.Serializer):
    points = StrictIntegerField(
        min_value=-MAX_POINTS,
        max_value=MAX_POINTS,
        help_text=_("Points to add (positive) or take (negative)."),
    )
    reason = serializers.CharField(max_length=255, help_text=_("Why the points change."))


# --- merges -----------------------------------------------------------------------------------


class MemberMergeInputSerializer(StrictInput, serializers.Serializer):
    survivor = MemberIdField(help_text=_("Id of the member that stays."))
    merged = MemberIdField(help_text=_("Id of the duplicate merged into the survivor."))
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class MemberMergeSerializer(serializers.ModelSerializer):
    merged_by = serializers.CharField(
        source="merged_by.get_username", read_only=True, allow_null=True, help_text=_("Username.")
    )
    moved = serializers.JSONField(
        read_only=True, help_text=_("What moved: `app.model.field` -> ids, static groups and points balance.")
    )

    class Meta:
        model = MemberMerge
        fields = ["id", "survivor", "merged", "merged_phone", "moved", "reason", "merged_by", "merged_at"]
        read_only_fields = fields


class DuplicateGroupSerializer(serializers.Serializer):
    reason = serializers.CharField()
    member_ids = serializers.ListField(child=serializers.IntegerField())


# --- segments ---------------------------------------------------------------------------------


class SegmentSerializer(StrictInput, serializers.ModelSerializer):
    created_by = serializers.CharField(
        source="created_by.get_username", read_only=True, allow_null=True, help_text=_("Username.")
    )
    filters = serializers.JSONField(
        help_text=_(
            "Filter name -> value: city, tier, home_store, channel_used, identity_source (lists), "
            "spend_min, spend_max, points_min, points_max (numbers), last_purchase_after, "
            "last_purchase_before (aware ISO datetimes), consent (true/false)."
        )
    )

    class Meta:
        model = Segment
        fields = ["id", "name", "filters", "created_by", "created_at"]
        read_only_fields = ["id", "created_by", "created_at"]


class SegmentDetailSerializer(SegmentSerializer):
    count = serializers.IntegerField(read_only=True, help_text=_("Members matching now."))

    class Meta(SegmentSerializer.Meta):
        fields = [*SegmentSerializer.Meta.fields, "count"]
        read_only_fields = [*SegmentSerializer.Meta.read_only_fields, "count"]
