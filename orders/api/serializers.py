"""Serializers of the orders API. They translate; every rule lives in orders.services and
orders.fulfilment (quantities, prices, delivery, stock, states)."""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.api.serializers import IdOrCodeField, resolve_by_id_or_code_read
from catalog.models import SKU, Channel
from config.api.serializers import DeclaredFieldsCopied, FieldsBuiltOnce, StrictInput, StrictIntegerField
from config.sql import Batch
from integrations.authentication import api_key_of
from marketing.api.serializers import StrictMoneyField
from marketing.pricing import MAX_CODES
from members.api.serializers import MemberIdField
from orders.choices import (
    AssignmentStatus,
    DeliveryMethod,
    DiscountSource,
    OrderStatus,
    Origin,
    PaymentKind,
    PaymentMethod,
    ShareParty,
)
from orders.fulfilment import REJECT_REASON_MAX_LENGTH
from orders.models import (
    Order,
    OrderLine,
    OrderStatusChange,
    Payment,
    RevenueShare,
    RoutingDecision,
    StoreAssignment,
)
from orders.policies import may_see_pickup_code
from orders.services import MAX_LINE_QUANTITY, MAX_LINES, REASON_MAX_LENGTH
from stores.api.serializers import StoreRefSerializer
from stores.models import Store
from stores.policies import stores_visible_to


def _money(**kwargs):
    return serializers.DecimalField(
        max_digits=settings.MONEY_MAX_DIGITS, decimal_places=settings.MONEY_DECIMAL_PLACES, **kwargs
    )


def _named_choice_field(choices_class):
    """A ChoiceField whose choice set is one named schema component (e.g. `OrderStatusEnum`).

    `status` means three different choice sets (order, store offer, store); without a name of
    its own drf-spectacular would invent one and warn.
    """
    values = list(choices_class.values)
    description = lazy(
        lambda: "\n".join(f"* `{value}` - {label}" for value, label in choices_class.choices), str
    )()

    @extend_schema_field(
        {"type": "string", "enum": values, "description": description},
        component_name=f"{choices_class.__name__}Enum",
    )
    class NamedChoiceField(serializers.ChoiceField):
        def __init__(self, **kwargs):
            super().__init__(choices=choices_class.choices, **kwargs)

        def to_representation(self, value):
            return value or None  # a blank choice (the first history row's `from_status`) is null

    NamedChoiceField.__name__ = f"{choices_class.__name__}Field"
    return NamedChoiceField


OrderStatusField = _named_choice_field(OrderStatus)
AssignmentStatusField = _named_choice_field(AssignmentStatus)
DeliveryMethodField = _named_choice_field(DeliveryMethod)
OriginField = _named_choice_field(Origin)
PaymentKindField = _named_choice_field(PaymentKind)
PaymentMethodField = _named_choice_field(PaymentMethod)
SharePartyField = _named_choice_field(ShareParty)
DiscountSourceField = _named_choice_field(DiscountSource)

# Points in one request: far above any real balance, far below the ledger column's range.
MAX_POINTS = 10**9
# A coupon code as the customer types it (marketing.pricing refuses anything longer than 20).
COUPON_CODE_MAX_LENGTH = 20


def coupons_field(**kwargs):
    return serializers.ListField(
        child=serializers.CharField(max_length=COUPON_CODE_MAX_LENGTH),
        max_length=MAX_CODES,
        required=False,
        default=list,
        help_text=_("The member's coupon codes to apply (at most %(n)s, one per coupon).") % {"n": MAX_CODES},
        **kwargs,
    )


def points_field(**kwargs):
    return StrictIntegerField(
        min_value=0,
        max_value=MAX_POINTS,
        required=False,
        default=0,
        **kwargs,
    )


def stored_value_field(**kwargs):
    return StrictMoneyField(min_value=0, required=False, default=0, **kwargs)


def _coordinate(limit: int, **kwargs):
    # More decimals than the column keeps are rounded (GPS gives 7-15), not refused.
    return serializers.DecimalField(
        max_digits=9,
        decimal_places=6,
        rounding=ROUND_HALF_UP,
        min_value=-limit,
        max_value=limit,
        required=False,
        allow_null=True,
        **kwargs,
    )


# --- input: creating an order -----------------------------------------------------------------


class OrderLineInputSerializer(StrictInput, DeclaredFieldsCopied, serializers.Serializer):
    sku = serializers.CharField(max_length=64, help_text=_("SKU id or code."))
    # Below one is refused by order_create, with its own words (`order_refused`).
    quantity = StrictIntegerField(
        max_value=MAX_LINE_QUANTITY, help_text=_("How many (a whole number above zero).")
    )
    unit_price = _money(
        required=False,
        allow_null=True,
        help_text=_("The price you expect; refused (`price_mismatch`) if the live price differs."),
    )


class BasketInput:
    """What an order and a quote take alike: the origin store among the caller's stores, a channel
    key's own channel known, line errors named `lines[i].field`, every SKU in one query."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            # A sale is credited only to a store the caller works at (HQ: any store).
            self.fields["origin_store"].queryset = stores_visible_to(request.user)
            self.fields["origin_store"].error_messages["does_not_exist"] = _(
                "No store with id or code '{value}' that you work at."
            )
            key = api_key_of(request.user)
            if key is not None and key.channel_id is not None:
                self.fields["channel"].known = (key.channel,)

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError(_flatten_line_errors(exc.detail)) from None

    def resolve_lines(self, data) -> dict:
        """Each line's SKU (id or code) and the member (a `MemberIdField(later=True)`) in one
        round trip; the errors of the unknown ones, by line and field."""
        lines = data["lines"]
        reads = Batch()
        found = resolve_by_id_or_code_read(reads, SKU, [line["sku"].strip() for line in lines])
        member_id = data.get("member")
        member = self.fields["member"].read_later(reads, member_id) if member_id is not None else None
        if len(reads):
            reads.run()
        skus = found.value
        errors = {}
        for index, line in enumerate(lines):
            sku = skus.get(line["sku"].strip())
            if sku is None:
                errors[f"lines[{index}].sku"] = [
                    _("No SKU with id or code '%(value)s'.") % {"value": line["sku"]}
                ]
            line["sku"] = sku
        if member is not None:
            data["member"] = member.value
            if member.value is None:
                errors["member"] = [self.fields["member"].missing(member_id)]
        return errors


class OrderCreateSerializer(BasketInput, StrictInput, DeclaredFieldsCopied, serializers.Serializer):
    """Input of POST /orders/: parsed here, judged by orders.services.order_create."""

    channel = IdOrCodeField(queryset=Channel.objects.all(), help_text=_("Channel id or code."))
    lines = OrderLineInputSerializer(many=True, max_length=MAX_LINES, allow_empty=False)
    delivery_method = DeliveryMethodField()
    origin = OriginField(default=Origin.ONLINE)
    member = MemberIdField(later=True, required=False, allow_null=True, help_text=_("Member id."))
    member_phone = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=32,
        help_text=_("The customer's mobile, any format: the member is found or registered."),
    )
    origin_store = IdOrCodeField(
        queryset=Store.objects.all(),
        required=False,
        allow_null=True,
        help_text=_("Store id or code the sale is credited to; one of your stores."),
    )
    pickup_store = IdOrCodeField(
        queryset=Store.objects.all(),
        required=False,
        allow_null=True,
        help_text=_("Store id or code where the customer picks up (delivery_method `pickup`)."),
    )
    recipient_name = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    recipient_phone = serializers.CharField(required=False, allow_blank=True, max_length=20, default="")
    address = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    city = serializers.CharField(required=False, allow_blank=True, max_length=40, default="")
    latitude = _coordinate(90, help_text=_("Delivery address latitude (needed to ship)."))
    longitude = _coordinate(180, help_text=_("Delivery address longitude (needed to ship)."))
    external_reference = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=64,
        help_text=_("Your order id on this channel: a retry with it returns the first order."),
    )
    coupons = coupons_field()

    def validate(self, data):
        errors = self.resolve_lines(data)
        if data.get("member") and data.get("member_phone"):
            errors["member_phone"] = [_("Give a member id or a mobile, not both.")]
        if errors:
            raise serializers.ValidationError(errors)
        data["external_reference"] = data.get("external_reference") or None
        return data


def _flatten_line_errors(detail):
    """`{"lines": [{}, {"quantity": [...]}]}` -> `{"lines[1].quantity": [...]}`, the key the
    services use, so a client sees one naming whichever layer refused the line."""
    if not isinstance(detail, dict) or not isinstance(detail.get("lines"), list | dict):
        return detail
    flat = {key: value for key, value in detail.items() if key != "lines"}
    loose = []
    lines = detail["lines"]
    items = lines.items() if isinstance(lines, dict) else enumerate(lines)  # DRF gives either
    for index, item in items:
        if isinstance(item, dict):
            for field, messages in item.items():
                flat[f"lines[{index}].{field}"] = messages
        elif item:
            loose.extend(item if isinstance(item, list) else [item])
    if loose:
        flat["lines"] = loose
    return flat


def fingerprint_payload(data: dict) -> dict:
    """The validated body as plain JSON (rows by id), so `"mall"` and its id are the same request."""

    def pk(row):
        return row.pk if row is not None else None

    def text(value):
        return None if value is None else str(value)

    return {
        "channel": data["channel"].pk,
        "lines": [
            {"sku": line["sku"].pk, "quantity": line["quantity"], "unit_price": text(line.get("unit_price"))}
            for line in data["lines"]
        ],
        "delivery_method": data["delivery_method"],
        "origin": data["origin"],
        "member": pk(data.get("member")),
        "member_phone": data.get("member_phone") or "",
        "origin_store": pk(data.get("origin_store")),
        "pickup_store": pk(data.get("pickup_store")),
        "recipient_name": data["recipient_name"],
        "recipient_phone": data["recipient_phone"],
        "address": data["address"],
        "city": data["city"],
        "latitude": text(data.get("latitude")),
        "longitude": text(data.get("longitude")),
        "external_reference": data.get("external_reference"),
        # Only when given: a request without coupons keeps the fingerprint it always had.
        **({"coupons": [code.strip().upper() for code in data["coupons"]]} if data.get("coupons") else {}),
    }


# --- input: actions ---------------------------------------------------------------------------


def _serials_field(when: str):
    return serializers.DictField(
        child=serializers.ListField(child=serializers.CharField(max_length=64, allow_blank=True)),
        required=False,
        help_text=_(
            "The serial number of every unit of each serial-tracked line, %(when)s: "
            '{"<line id>": ["SN1", ...]}, exactly one per unit; other lines need none.'
        )
        % {"when": when},
    )


class PayInputSerializer(StrictInput, serializers.Serializer):
    amount = _money(
        help_text=_(
            "What is left to pay after points and stored value, in yuan, paid by `method` (the order "
            "total when neither is used; 0.00 when they pay it all)."
        )
    )
    method = PaymentMethodField(
        required=False,
        allow_blank=True,
        help_text=_(
            "How the rest is paid (cash, card, ...); not needed when points and stored value pay it all."
        ),
    )
    points = points_field(
        help_text=_("Points the member spends on this order (at HQ's rate, within the cap).")
    )
    stored_value = stored_value_field(help_text=_("Stored value taken from the member's wallet, in yuan."))
    external_reference = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=64,
        help_text=_("The payment provider's reference: a retry with it returns the first payment."),
    )
    serials = _serials_field(_("for a carried-out order"))


class ReasonInputSerializer(StrictInput, serializers.Serializer):
    reason = serializers.CharField(max_length=REASON_MAX_LENGTH, help_text=_("Why."))


class RejectInputSerializer(StrictInput, serializers.Serializer):
    # Bounded so "<store> rejected: <reason>" fits the routing decision (orders.fulfilment).
    reason = serializers.CharField(max_length=REJECT_REASON_MAX_LENGTH, help_text=_("Why the store cannot."))


class ShipInputSerializer(StrictInput, serializers.Serializer):
    tracking_number = serializers.CharField(max_length=64, help_text=_("The carrier's tracking number."))
    serials = _serials_field(_("as they leave in the parcel"))


class CollectInputSerializer(StrictInput, serializers.Serializer):
    pickup_code = serializers.CharField(max_length=8, help_text=_("The code the customer shows."))
    serials = _serials_field(_("as they are handed over"))


class QueueQuerySerializer(serializers.Serializer):
    store = serializers.CharField(max_length=64, help_text=_("Store id or code (a store you work at)."))


# --- output -----------------------------------------------------------------------------------


class OrderLineSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    sku_code = serializers.CharField(source="sku.code", read_only=True)
    sku_name = serializers.CharField(source="sku.name", read_only=True)

    class Meta:
        model = OrderLine
        fields = ["id", "sku", "sku_code", "sku_name", "quantity", "unit_price", "discount", "line_total"]
        read_only_fields = fields


class LineDiscountSerializer(serializers.Serializer):
    """One discount a line carries: the promotion or coupon that gave it and its part, to the cent
    (an order's stored LineDiscount rows, or a quote's)."""

    source = DiscountSourceField(read_only=True)
    label = serializers.CharField(read_only=True, help_text=_("The promotion's or coupon's name."))
    amount = _money(read_only=True, help_text=_("This line's part of the discount."))
    promotion = serializers.CharField(
        source="promotion.code", read_only=True, allow_null=True, default=None, help_text=_("Promotion code.")
    )
    coupon_code = serializers.CharField(
        source="code.code",
        read_only=True,
        allow_null=True,
        default=None,
        help_text=_("The coupon code used."),
    )
    threshold = _money(
        read_only=True, allow_null=True, help_text=_("The basket minimum this discount depended on, if any.")
    )


class OrderLineDetailSerializer(OrderLineSerializer):
    """A line with the discounts it carries (Σ = its `discount`)."""

    discounts = LineDiscountSerializer(many=True, read_only=True)

    class Meta(OrderLineSerializer.Meta):
        fields = [*OrderLineSerializer.Meta.fields, "discounts"]
        read_only_fields = fields


class OrderSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    """A row of an order list: the order, its stores and its lines (a page is three queries)."""

    channel = serializers.CharField(source="channel.code", read_only=True, help_text=_("Channel code."))
    origin_store = StoreRefSerializer(read_only=True, allow_null=True)
    fulfilling_location = StoreRefSerializer(read_only=True, allow_null=True)
    origin = OriginField(read_only=True)
    delivery_method = DeliveryMethodField(read_only=True)
    status = OrderStatusField(read_only=True)
    lines = OrderLineSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "number",
            "channel",
            "member",
            "origin",
            "origin_store",
            "fulfilling_location",
            "delivery_method",
            "status",
            "subtotal",
            "discount_total",
            "total",
            "external_reference",
            "lines",
            "created_at",
            "paid_at",
        ]
        read_only_fields = fields


class PaymentSerializer(serializers.ModelSerializer):
    kind = PaymentKindField(read_only=True)
    method = PaymentMethodField(read_only=True)
    created_by = serializers.CharField(
        source="created_by.get_username", read_only=True, allow_null=True, help_text=_("Username.")
    )

    class Meta:
        model = Payment
        fields = [
            "id",
            "kind",
            "method",
            "amount",
            "points",
            "external_reference",
            "reverses",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class StatusChangeSerializer(serializers.ModelSerializer):
    from_status = OrderStatusField(read_only=True, allow_null=True, help_text=_("Null on the first row."))
    to_status = OrderStatusField(read_only=True)
    changed_by = serializers.CharField(
        source="changed_by.get_username", read_only=True, allow_null=True, help_text=_("Username.")
    )

    class Meta:
        model = OrderStatusChange
        fields = ["from_status", "to_status", "reason", "changed_by", "changed_at"]
        read_only_fields = fields


class RoutingDecisionSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    location = StoreRefSerializer(read_only=True, allow_null=True)
    candidates = serializers.JSONField(
        read_only=True, help_text=_("Stores considered: code, distance_km, preferred, radius_km.")
    )

    class Meta:
        model = RoutingDecision
        fields = ["attempt", "location", "reason", "candidates", "decided_at"]
        read_only_fields = fields


class AssignmentSerializer(serializers.ModelSerializer):
    store = StoreRefSerializer(read_only=True)
    status = AssignmentStatusField(read_only=True)
    responded_by = serializers.CharField(
        source="responded_by.get_username", read_only=True, allow_null=True, help_text=_("Username.")
    )

    class Meta:
        model = StoreAssignment
        fields = [
            "id",
            "store",
            "status",
            "offered_at",
            "respond_by",
            "responded_at",
            "responded_by",
            "reason",
        ]
        read_only_fields = fields


class RevenueShareSerializer(serializers.ModelSerializer):
    party = SharePartyField(read_only=True)
    store_code = serializers.CharField(source="store.code", read_only=True, allow_null=True)

    class Meta:
        model = RevenueShare
        fields = ["id", "line", "party", "store", "store_code", "amount", "reverses", "created_at"]
        read_only_fields = fields


class TenderSummarySerializer(serializers.Serializer):
    """What one tender paid for the order and what went back to it."""

    method = PaymentMethodField(read_only=True)
    paid = _money(read_only=True)
    refunded = _money(read_only=True)
    points_paid = serializers.IntegerField(
        read_only=True, allow_null=True, help_text=_("Points tenders only.")
    )
    points_refunded = serializers.IntegerField(
        read_only=True, allow_null=True, help_text=_("Points tenders only.")
    )


def tenders_of(payments) -> list[dict]:
    """Per method, in the order the tenders were paid: what each paid and got back (from the
    order's payments, already in hand)."""
    by_method: dict[str, dict] = {}
    for payment in payments:
        row = by_method.setdefault(
            payment.method,
            {
                "method": payment.method,
                "paid": Decimal(0),
                "refunded": Decimal(0),
                "points_paid": None,
                "points_refunded": None,
            },
        )
        side = "paid" if payment.kind == PaymentKind.PAYMENT else "refunded"
        row[side] += payment.amount
        if payment.method == PaymentMethod.POINTS:
            row[f"points_{side}"] = (row[f"points_{side}"] or 0) + (payment.points or 0)
    return list(by_method.values())


class OrderCreatedSerializer(OrderSerializer):
    """The answer to creating an order (and to its replays): the order, its lines with their
    discounts and where it was routed and why. Three queries (four with discounts); the full
    detail is at /orders/{number}/."""

    lines = OrderLineDetailSerializer(many=True, read_only=True)
    routing_decisions = RoutingDecisionSerializer(many=True, read_only=True)

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "routing_decisions"]


class OrderDetailSerializer(OrderSerializer):
    """One order with all five flows: lines, payments, history, routing, the store's offer, shares.

    The pickup code is shown to HQ only: a clerk checks the code the customer shows, so the
    clerk's own screen must not give it away.
    """

    placed_by = serializers.CharField(
        source="placed_by.get_username", read_only=True, allow_null=True, help_text=_("Username.")
    )
    pickup_code = serializers.SerializerMethodField(help_text=_("HQ only; null for everyone else."))
    lines = OrderLineDetailSerializer(many=True, read_only=True)
    payments = PaymentSerializer(many=True, read_only=True)
    tenders = serializers.SerializerMethodField(
        help_text=_("Per tender (points, stored value, the external payment): what it paid and got back.")
    )
    status_history = StatusChangeSerializer(source="status_changes", many=True, read_only=True)
    routing_decisions = RoutingDecisionSerializer(many=True, read_only=True)
    assignment = serializers.SerializerMethodField(help_text=_("The latest store offer, if any."))
    revenue_shares = serializers.SerializerMethodField()

    class Meta(OrderSerializer.Meta):
        fields = [
            *OrderSerializer.Meta.fields,
            "placed_by",
            "recipient_name",
            "recipient_phone",
            "address",
            "city",
            "latitude",
            "longitude",
            "tracking_number",
            "pickup_code",
            "payments",
            "tenders",
            "status_history",
            "routing_decisions",
            "assignment",
            "revenue_shares",
            "updated_at",
        ]
        read_only_fields = fields

    def get_pickup_code(self, order) -> str | None:
        request = self.context.get("request")
        if request is None or not may_see_pickup_code(request.user):
            return None
        return order.pickup_code or None

    @extend_schema_field(TenderSummarySerializer(many=True))
    def get_tenders(self, order):
        return TenderSummarySerializer(tenders_of(order.payments.all()), many=True).data

    @extend_schema_field(AssignmentSerializer(allow_null=True))
    def get_assignment(self, order):
        assignments = list(order.assignments.all())  # prefetched, newest first
        return AssignmentSerializer(assignments[0]).data if assignments else None

    @extend_schema_field(RevenueShareSerializer(many=True))
    def get_revenue_shares(self, order):
        shares = [share for line in order.lines.all() for share in line.shares.all()]
        return RevenueShareSerializer(shares, many=True).data


class PaymentResultSerializer(serializers.Serializer):
    payment = PaymentSerializer(
        allow_null=True,
        help_text=_("The external payment (or the last tender when points and stored value paid it all)."),
    )
    tenders = PaymentSerializer(
        many=True, help_text=_("Every payment row this payment wrote, one per tender.")
    )
    order = OrderDetailSerializer()


class OfferSerializer(serializers.ModelSerializer):
    order = OrderSerializer(read_only=True)

    class Meta:
        model = StoreAssignment
        fields = ["id", "offered_at", "respond_by", "order"]
        read_only_fields = fields


class QueueSerializer(serializers.Serializer):
    """A store's work: offers to answer (soonest deadline first), orders to ship or prepare,
    pickups waiting for their customer."""

    store = StoreRefSerializer()
    offers = OfferSerializer(many=True)
    to_fulfil = OrderSerializer(many=True)
    pickups = OrderSerializer(many=True)
