"""POST /api/v1/quote/: the basket quote (orders.quote.basket_quote), the same breakdown an order
would get - prices, discounts per rule and line, totals, the tenders - without creating anything.
Whoever may place the order may quote it: HQ, a store's staff for their store (`origin_store`), a
channel's key on its own channel."""

from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.response import Response

from catalog.api.serializers import IdOrCodeField
from catalog.models import Channel
from config.api.errors import error_responses
from config.api.serializers import DeclaredFieldsCopied, FieldsBuiltOnce, StrictInput, StrictIntegerField
from config.money import CENT
from integrations.choices import Scope
from members.api.serializers import MemberIdField
from orders.api.serializers import (
    BasketInput,
    LineDiscountSerializer,
    _money,
    coupons_field,
    points_field,
    stored_value_field,
)
from orders.quote import BasketQuote, basket_quote
from orders.services import MAX_LINE_QUANTITY, MAX_LINES, LineRequest
from stores.models import Store

# --- input ------------------------------------------------------------------------------------


class QuoteLineInputSerializer(StrictInput, DeclaredFieldsCopied, serializers.Serializer):
    sku = serializers.CharField(max_length=64, help_text=_("SKU id or code."))
    # Below one is refused by the quote, with the order's own words (`order_refused`).
    quantity = StrictIntegerField(
        max_value=MAX_LINE_QUANTITY, help_text=_("How many (a whole number above zero).")
    )


class QuoteInputSerializer(BasketInput, StrictInput, DeclaredFieldsCopied, serializers.Serializer):
    """Input of POST /quote/: the basket, the member, their coupons and the tenders they would use."""

    channel = IdOrCodeField(queryset=Channel.objects.all(), help_text=_("Channel id or code."))
    member = MemberIdField(
        later=True,
        required=False,
        allow_null=True,
        help_text=_("Member id: their coupons, points and stored value."),
    )
    origin_store = IdOrCodeField(
        queryset=Store.objects.all(),
        required=False,
        allow_null=True,
        help_text=_("Store id or code the sale would be credited to (store staff: one of your stores)."),
    )
    lines = QuoteLineInputSerializer(many=True, max_length=MAX_LINES, allow_empty=False)
    coupons = coupons_field()
    points = points_field(help_text=_("Points the member would spend (at HQ's rate, within the cap)."))
    stored_value = stored_value_field(help_text=_("Stored value the member would spend, in yuan."))

    def validate(self, data):
        errors = self.resolve_lines(data)
        if errors:
            raise serializers.ValidationError(errors)
        return data


# --- output -----------------------------------------------------------------------------------


class QuoteLineSerializer(serializers.Serializer):
    sku = serializers.CharField(source="sku.code", help_text=_("SKU code."))
    sku_name = serializers.CharField(source="sku.name")
    quantity = serializers.IntegerField()
    unit_price = _money(help_text=_("The live price on this channel."))
    gross = _money(help_text=_("unit_price × quantity."))
    discounts = LineDiscountSerializer(many=True)
    discount = _money(help_text=_("Σ of this line's discounts."))
    net = _money(help_text=_("What the line costs after its discounts (the order line's `line_total`)."))


class QuoteAppliedSerializer(serializers.Serializer):
    """A promotion or coupon that took money off the basket, and how much in all."""

    source = serializers.CharField(help_text=_("`promotion` or `coupon`."))
    name = serializers.CharField()
    amount = _money()
    promotion = serializers.CharField(source="promotion.code", allow_null=True, default=None)
    coupon_code = serializers.CharField(source="code.code", allow_null=True, default=None)


class QuoteTenderSerializer(serializers.Serializer):
    method = serializers.CharField(
        help_text=_(
            "`points`, `stored_value`, or `external`: the rest, paid by the method the customer picks."
        )
    )
    amount = _money()
    points = serializers.IntegerField(allow_null=True, help_text=_("Points tenders: how many points."))


class PointsCapSerializer(serializers.Serializer):
    """How far points may pay this basket on this channel."""

    points_per_yuan = serializers.IntegerField(help_text=_("HQ's rate."))
    cap_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, help_text=_("At most this percent of the order.")
    )
    max_amount = _money(help_text=_("The cap, in yuan."))
    max_points = serializers.IntegerField(
        help_text=_("The most points this basket takes (within the member's balance when a member is given).")
    )
    balance = serializers.IntegerField(
        allow_null=True, help_text=_("The member's points; null without a member.")
    )


class QuoteSerializer(FieldsBuiltOnce, serializers.Serializer):
    """The breakdown an order of this basket would get, and how it would be paid."""

    channel = serializers.CharField(source="channel.code", help_text=_("Channel code."))
    member = serializers.IntegerField(source="member.pk", allow_null=True, default=None)
    lines = QuoteLineSerializer(many=True)
    applied = QuoteAppliedSerializer(many=True)
    subtotal = _money()
    discount_total = _money()
    total = _money()
    tenders = QuoteTenderSerializer(many=True)
    points_cap = PointsCapSerializer(
        allow_null=True, help_text=_("Null when points cannot pay on this channel.")
    )
    wallet_balance = _money(allow_null=True, help_text=_("The member's stored value; null without a member."))


def _money_text(amount: Decimal | None) -> str | None:
    """A money amount as the DecimalFields above give it: a string in whole cents."""
    return None if amount is None else f"{amount.quantize(CENT):f}"


def _code_of(rule) -> str | None:
    return None if rule is None else rule.code


def quote_answer(quote: BasketQuote) -> dict:
    """QuoteSerializer's answer, built without it: DRF spent ~2 ms of a quote's Python on reading
    some 90 fields through the nested serializers (docs/benchmarks.md, "Basket quote"). The
    serializer stays the schema; tests/marketing/test_quote_answer.py holds the two equal."""
    cap = quote.points_cap
    return {
        "channel": quote.channel.code,
        "member": quote.member.pk if quote.member is not None else None,
        "lines": [
            {
                "sku": line.sku.code,
                "sku_name": line.sku.name,
                "quantity": line.quantity,
                "unit_price": _money_text(line.unit_price),
                "gross": _money_text(line.gross),
                "discounts": [
                    {
                        "source": discount.source,
                        "label": discount.label,
                        "amount": _money_text(discount.amount),
                        "promotion": _code_of(discount.promotion),
                        "coupon_code": _code_of(discount.code),
                        "threshold": _money_text(discount.threshold),
                    }
                    for discount in line.discounts
                ],
                "discount": _money_text(line.discount),
                "net": _money_text(line.net),
            }
            for line in quote.lines
        ],
        "applied": [
            {
                "source": applied.source,
                "name": applied.name,
                "amount": _money_text(applied.amount),
                "promotion": _code_of(applied.promotion),
                "coupon_code": _code_of(applied.code),
            }
            for applied in quote.applied
        ],
        "subtotal": _money_text(quote.subtotal),
        "discount_total": _money_text(quote.discount_total),
        "total": _money_text(quote.total),
        "tenders": [
            {"method": tender.method, "amount": _money_text(tender.amount), "points": tender.points}
            for tender in quote.tenders
        ],
        "points_cap": None
        if cap is None
        else {
            "points_per_yuan": cap.points_per_yuan,
            "cap_percent": f"{cap.cap_percent.quantize(CENT):f}",
            "max_amount": _money_text(cap.max_amount),
            "max_points": cap.max_points,
            "balance": cap.balance,
        },
        "wallet_balance": _money_text(quote.wallet_balance),
    }


class QuoteViewSet(viewsets.GenericViewSet):
    serializer_class = QuoteInputSerializer
    filterset_class = None
    pagination_class = None
    key_scopes = {"create": Scope.ORDERS_WRITE}

    @extend_schema(
        summary="Quote a basket: prices, discounts and tenders, without creating anything",
        description=(
            "The same breakdown the order would get: each line at the live price with its discounts per "
            "promotion and coupon (allocated to the cent), the rules applied, subtotal, discount_total "
            "and total, and the tenders (`points` and `stored_value` as asked, the rest `external`) with "
            "the points cap. Nothing is written: no order, no code used, no stock reserved. Who may place "
            "the order may quote it: HQ, store staff for their store (`origin_store`), a channel's key "
            "(`orders:write`) on its own channel only (400 `wrong_channel`). A `member` you may not see "
            "is a 404. 400: unknown SKU or channel, quantity out of range, `no_price`, `coupon_refused` "
            "(not the member's, used, out of its window or channel, minimum spend not reached), "
            "`tender_refused` (points above the balance or the cap, not in whole cents, stored value "
            "above the balance or what is left to pay, points or stored value without a member)."
        ),
        request=QuoteInputSerializer,
        responses={200: QuoteSerializer, **error_responses(400, 403, 404)},
        filters=False,
        operation_id="quote_create",
    )
    def create(self, request):
        serializer = QuoteInputSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        quote = basket_quote(
            channel=data["channel"],
            lines=[LineRequest(sku=line["sku"], quantity=line["quantity"]) for line in data["lines"]],
            member=data.get("member"),
            origin_store=data.get("origin_store"),
            coupons=data["coupons"],
            points=data["points"],
            stored_value=data["stored_value"],
            actor=request.user,
        )
        return Response(quote_answer(quote))
