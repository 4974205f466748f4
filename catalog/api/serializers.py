"""Serializers of the catalog API. They translate; every rule lives in catalog.services."""

from datetime import UTC, datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.models import SKU, Category, Channel, Price, Product
from catalog.policies import may_see_dealer_cost
from catalog.sql import by_id_or_code_statement, rows_by_id_or_code
from config.api.serializers import DeclaredFieldsCopied, StrictInput
from config.sql import Pending, from_row

MAX_BATCH_SKUS = 200
MAX_PK = 2**63 - 1


def _as_pk(value: str) -> int | None:
    # isdigit() alone accepts "²" and other Unicode digits that int() refuses.
    if value.isascii() and value.isdigit() and int(value) <= MAX_PK:
        return int(value)
    return None


def resolve_by_id_or_code(queryset, values: list[str]) -> dict[str, object]:
    """Map each given id-or-code to its row in one query; a code match wins over an id match.

    Codes are the identifiers other systems hold, so a code that happens to be all digits
    must not be shadowed by an unrelated row's primary key.
    """
    values, ids = _wanted(values)
    if not values:
        return {}
    if queryset.query.where:
        rows = list(queryset.filter(Q(code__in=values) | Q(pk__in=ids)))
    else:  # every row of the table (SKUs and channels of an order): plain SQL, built once per size
        rows = rows_by_id_or_code(queryset.model, values, ids)
    return _matched(values, rows)


def resolve_by_id_or_code_read(batch, model, values: list[str]) -> Pending:
    """`resolve_by_id_or_code` over every row of `model`, read on `batch` (a config.sql.Batch) with
    the caller's other reads: its `value` once the batch ran."""
    values, ids = _wanted(values)
    if not values:
        return Pending.of({})
    statement, params = by_id_or_code_statement(model, values, ids)
    return batch.read(statement, params, lambda rows: _matched(values, [from_row(model, r) for r in rows]))


def _wanted(values: list[str]) -> tuple[list[str], list[int]]:
    # No code holds a NUL character, and PostgreSQL refuses one in a query: such a value is unknown.
    values = [v for v in dict.fromkeys(values) if v and "\x00" not in v]
    return values, [pk for pk in map(_as_pk, values) if pk is not None]


def _matched(values: list[str], rows: list) -> dict[str, object]:
    by_code = {row.code: row for row in rows}
    by_id = {str(row.pk): row for row in rows}
    found = {}
    for value in values:
        row = by_code.get(value) or by_id.get(value)
        if row is not None:
            found[value] = row
    return found


@extend_schema_field(OpenApiTypes.STR)
class IdOrCodeField(serializers.Field):
    """A row given by its id or its code (a plain text input, never a select of every row)."""

    default_error_messages = {
        # DRF fills these with str.format: {model}, {value}.
        "does_not_exist": _("No {model} with id or code '{value}'."),
        "invalid": _("Give an id or a code."),
    }

    def __init__(self, *, queryset, **kwargs):
        self.queryset = queryset
        self.known = ()  # rows already in hand (an API key's own channel): found by code, no query
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("invalid")
        value = str(data).strip()
        if not value:
            if self.allow_null:
                return None
            self.fail("required")
        for row in self.known:
            if row.code == value:
                return row
        row = resolve_by_id_or_code(self.queryset.all(), [value]).get(value)
        if row is None:
            self.fail("does_not_exist", model=self.queryset.model._meta.verbose_name, value=value)
        return row

    def to_representation(self, value):
        return value.code


class Rfc3339DateTimeField(serializers.DateTimeField):
    """A datetime answered in RFC 3339: in Shanghai time (+08:00), or in UTC for an instant whose
    local offset is not whole minutes (Shanghai's local mean time before 1901, +08:05:43)."""

    def to_representation(self, value):
        if isinstance(value, datetime) and timezone.is_aware(value):
            local = timezone.localtime(value)
            if local.utcoffset().total_seconds() % 60:
                return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return super().to_representation(value)


class CatalogModelSerializer(serializers.ModelSerializer):
    # Every datetime of a catalog answer is RFC 3339. (A comment: a docstring would show in the schema.)
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: Rfc3339DateTimeField,
    }


class ChannelSerializer(CatalogModelSerializer):
    margin_floor_percent = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        read_only=True,
        allow_null=True,
        help_text=_("Dealer channels' margin floor: shown to HQ and dealer keys only, else null."),
    )

    class Meta:
        model = Channel
        fields = ["id", "code", "name", "kind", "margin_floor_percent", "is_active"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is None or not may_see_dealer_cost(request.user):
            data["margin_floor_percent"] = None
        return data


class CategorySerializer(CatalogModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "code", "name", "parent"]


class SKUFieldsMixin:
    """Dealer cost is commercial data: catalog.policies.may_see_dealer_cost (HQ and dealer keys)
    decides; everyone else gets null."""

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is None or not may_see_dealer_cost(request.user):
            data["dealer_cost"] = None
        return data


class ProductSKUSerializer(SKUFieldsMixin, CatalogModelSerializer):
    dealer_cost = serializers.DecimalField(
        max_digits=settings.MONEY_MAX_DIGITS,
        decimal_places=settings.MONEY_DECIMAL_PLACES,
        read_only=True,
        allow_null=True,
        help_text=_("Only shown to HQ and dealer-channel keys; null for everyone else."),
    )

    class Meta:
        model = SKU
        fields = [
            "id",
            "code",
            "barcode",
            "name",
            "attributes",
            "serial_tracked",
            "unified",
            "dealer_cost",
            "is_active",
        ]


class SKUSerializer(ProductSKUSerializer):
    product_code = serializers.CharField(source="product.code", read_only=True)

    class Meta(ProductSKUSerializer.Meta):
        fields = ["id", "product", "product_code", *ProductSKUSerializer.Meta.fields[1:]]


class ProductSerializer(CatalogModelSerializer):
    category_code = serializers.CharField(source="category.code", read_only=True)
    skus = ProductSKUSerializer(many=True, read_only=True)

    class Meta:
        model = Product
        fields = ["id", "code", "name", "brand", "category", "category_code", "description", "skus"]


class PriceSerializer(CatalogModelSerializer):
    sku_code = serializers.CharField(source="sku.code", read_only=True)
    channel_code = serializers.CharField(source="channel.code", read_only=True, allow_null=True)
    currency = serializers.SerializerMethodField()
    scope = serializers.SerializerMethodField()

    class Meta:
        model = Price
        fields = [
            "id",
            "sku",
            "sku_code",
            "channel",
            "channel_code",
            "scope",
            "amount",
            "currency",
            "valid_from",
            "valid_to",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_currency(self, price) -> str:
        return settings.CURRENCY

    def get_scope(self, price) -> str:
        return "channel" if price.channel_id else "all"


class PriceSetSerializer(StrictInput, serializers.Serializer):
    """Input of POST /prices/: parsed here, judged by catalog.services.price_set."""

    sku = IdOrCodeField(queryset=SKU.objects.all(), help_text=_("SKU id or code."))
    channel = IdOrCodeField(
        queryset=Channel.objects.all(),
        allow_null=True,
        help_text=_("Channel id or code; null sets the price for all channels (required, to be explicit)."),
    )
    # Range and precision are only parsed here: "must be above zero" is the service's rule.
    amount = serializers.DecimalField(
        max_digits=settings.MONEY_MAX_DIGITS, decimal_places=settings.MONEY_DECIMAL_PLACES
    )
    valid_from = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text=_("Default: now. Naive times are Asia/Shanghai. Not before 2000-01-01."),
    )
    valid_to = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text=_("Exclusive end, in the future; null or absent: open-ended."),
    )


class PriceEndSerializer(StrictInput, serializers.Serializer):
    at = serializers.DateTimeField(
        required=False, allow_null=True, help_text=_("When the price stops; default now.")
    )


class LivePriceQuerySerializer(DeclaredFieldsCopied, serializers.Serializer):
    """Query of GET /prices/live/: one SKU (`sku`) or a batch (`skus`), a channel and an instant."""

    sku = serializers.CharField(required=False, help_text=_("SKU id or code."))
    skus = serializers.CharField(
        required=False,
        help_text=_("Comma-separated SKU ids or codes (at most %(max)s); the answer is then a list.")
        % {"max": MAX_BATCH_SKUS},
    )
    channel = serializers.CharField(help_text=_("Channel id or code."))
    at = serializers.DateTimeField(required=False, help_text=_("ISO 8601 instant; default now."))

    def validate(self, data):
        if bool(data.get("sku")) == bool(data.get("skus")):
            message = _("Give either sku or skus.")
            raise serializers.ValidationError({"sku": [message], "skus": [message]})
        errors = {}
        channel = resolve_by_id_or_code(Channel.objects.all(), [data["channel"]]).get(data["channel"])
        if channel is None:
            errors["channel"] = [_("No channel with id or code '%(value)s'.") % {"value": data["channel"]}]
        data["channel"] = channel
        if data.get("sku"):
            wanted = [data["sku"]]
        else:
            wanted = [v.strip() for v in data["skus"].split(",") if v.strip()]
            if len(wanted) > MAX_BATCH_SKUS:
                errors["skus"] = [_("At most %(max)s SKUs per request.") % {"max": MAX_BATCH_SKUS}]
        if "skus" not in errors:
            found = resolve_by_id_or_code(SKU.objects.all(), wanted)
            unknown = [v for v in wanted if v not in found]
            if unknown:
                key = "sku" if data.get("sku") else "skus"
                errors[key] = [_("No SKU with id or code: %(values)s.") % {"values": ", ".join(unknown)}]
            data["resolved_skus"] = [found[v] for v in wanted if v in found]
        if errors:
            raise serializers.ValidationError(errors)
        return data


class LivePriceSerializer(DeclaredFieldsCopied, serializers.Serializer):
    """The answer of price_lookup for one SKU on one channel at one instant."""

    sku = serializers.CharField(source="sku.code", help_text=_("SKU code."))
    sku_id = serializers.IntegerField(source="sku.pk")
    channel = serializers.CharField(source="channel.code", help_text=_("Channel code."))
    channel_id = serializers.IntegerField(source="channel.pk")
    at = Rfc3339DateTimeField()
    price_id = serializers.IntegerField(source="price.pk", allow_null=True)
    amount = serializers.DecimalField(
        source="price.amount",
        max_digits=settings.MONEY_MAX_DIGITS,
        decimal_places=settings.MONEY_DECIMAL_PLACES,
        allow_null=True,
        help_text=_("Null (batch form only) when the SKU has no live price on this channel."),
    )
    currency = serializers.CharField()
    valid_from = Rfc3339DateTimeField(source="price.valid_from", allow_null=True)
    valid_to = Rfc3339DateTimeField(source="price.valid_to", allow_null=True)
    scope = serializers.ChoiceField(
        choices=["channel", "all"],
        allow_null=True,
        help_text=_("`channel`: the channel's own price; `all`: the all-channels price applies."),
    )

    def to_representation(self, instance):
        price = instance["price"]
        instance = {
            **instance,
            "currency": settings.CURRENCY,
            "scope": None if price is None else ("channel" if price.channel_id else "all"),
        }
        return super().to_representation(instance)
