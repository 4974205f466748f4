"""Serializers of the after-sales API. They translate; every rule (eligibility, serials, the state
machine, refunds and stock) lives in aftersales.warranty and aftersales.services."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from aftersales.choices import OpenedVia, TicketKind, TicketStatus
from aftersales.models import Ticket, TicketStatusChange
from catalog.api.serializers import MAX_PK, IdOrCodeField
from config.api.serializers import StrictInput, StrictIntegerField
from orders.api.serializers import _named_choice_field
from orders.models import Order, OrderLine
from stores.api.serializers import StoreRefSerializer
from stores.models import Store
from stores.selectors import stores_visible_to

TicketKindField = _named_choice_field(TicketKind)
TicketStatusField = _named_choice_field(TicketStatus)
OpenedViaField = _named_choice_field(OpenedVia)


# --- input ------------------------------------------------------------------------------------


class TicketOpenSerializer(StrictInput, serializers.Serializer):
    """Input of POST /tickets/: which line (order number + line id or SKU code) and what is wanted.
    Parsed here, judged by aftersales.services.ticket_open (eligibility, serial, quantity)."""

    order = serializers.CharField(max_length=24, help_text=_("The order number."))
    line = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_PK,
        help_text=_("The order line id (or give `sku`)."),
    )
    sku = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text=_("The SKU code of the line (when the order has one line of it)."),
    )
    kind = TicketKindField()
    fault = serializers.BooleanField(default=True, help_text=_("The product is faulty."))
    quantity = StrictIntegerField(default=1, min_value=1, max_value=999)
    serial = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=64,
        help_text=_("The unit's serial number (required for serial-tracked products)."),
    )
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    customer_phone = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=32,
        help_text=_("The customer's mobile (default: the order's member or recipient)."),
    )
    intake_store = IdOrCodeField(
        queryset=Store.objects.all(),
        required=False,
        allow_null=True,
        help_text=_("Store id or code where the product is handed in; one of your stores."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["intake_store"].queryset = stores_visible_to(request.user)
            self.fields["intake_store"].error_messages["does_not_exist"] = _(
                "No store with id or code '{value}' that you work at."
            )

    def validate(self, data):
        # Any channel's order is serviceable: the order is found by its number alone.
        number = data["order"].strip().upper()  # order numbers are digits and upper-case hex
        order = Order.objects.filter(number=number).first()
        if order is None:
            raise serializers.ValidationError({"order": [_("No order %(number)s.") % {"number": number}]})
        lines = list(
            OrderLine.objects.filter(order=order).select_related("order", "sku__product", "warranty_policy")
        )
        line_id, sku = data.get("line"), (data.get("sku") or "").strip()
        if line_id is not None:
            line = next((line for line in lines if line.pk == line_id), None)
            if line is None:
                raise serializers.ValidationError(
                    {
                        "line": [
                            _("Order %(number)s has no line %(line)s.") % {"number": number, "line": line_id}
                        ]
                    }
                )
        elif sku:
            matching = [line for line in lines if line.sku.code == sku]
            if not matching:
                raise serializers.ValidationError(
                    {"sku": [_("Order %(number)s has no line of %(sku)s.") % {"number": number, "sku": sku}]}
                )
            if len(matching) > 1:
                raise serializers.ValidationError(
                    {
                        "line": [
                            _("Order %(number)s has several lines of %(sku)s: give the line id.")
                            % {
                                "number": number,
                                "sku": sku,
                            }
                        ]
                    }
                )
            line = matching[0]
        elif len(lines) == 1:
            line = lines[0]
        else:
            raise serializers.ValidationError({"line": [_("Give the line id or the SKU code.")]})
        data["line"] = line
        return data


class TicketNoteSerializer(StrictInput, serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)


class TicketRefuseSerializer(StrictInput, serializers.Serializer):
    reason = serializers.CharField(max_length=255, help_text=_("Why the ticket is refused."))


class TicketStoreSerializer(StrictInput, serializers.Serializer):
    store = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=64,
        help_text=_("Store id or code where this happens; one of yours (default: the ticket's store)."),
    )


class TicketResolveSerializer(TicketStoreSerializer):
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        help_text=_("For a repair: what was done."),
    )
    replacement_serial = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=64,
        help_text=_("For an exchange of a serial-tracked product: the replacement unit's serial."),
    )


# --- output -----------------------------------------------------------------------------------


class TicketStepSerializer(serializers.ModelSerializer):
    from_status = TicketStatusField(read_only=True, allow_null=True, help_text=_("Null on the first row."))
    to_status = TicketStatusField(read_only=True)
    store = serializers.CharField(
        source="store.code", read_only=True, allow_null=True, help_text=_("Store code.")
    )
    changed_by = serializers.CharField(
        source="changed_by.get_username", read_only=True, allow_null=True, help_text=_("Username.")
    )

    class Meta:
        model = TicketStatusChange
        fields = ["from_status", "to_status", "store", "note", "changed_by", "changed_at"]
        read_only_fields = fields


class TicketSerializer(serializers.ModelSerializer):
    """A row of a ticket list (a page is one query)."""

    kind = TicketKindField(read_only=True)
    status = TicketStatusField(read_only=True)
    opened_via = OpenedViaField(read_only=True)
    order = serializers.CharField(source="order.number", read_only=True, help_text=_("Order number."))
    sku = serializers.CharField(source="line.sku.code", read_only=True, help_text=_("SKU code."))
    serial = serializers.CharField(source="unit.serial", read_only=True, allow_null=True)
    channel = serializers.CharField(source="channel.code", read_only=True, help_text=_("Channel code."))
    intake_store = StoreRefSerializer(read_only=True, allow_null=True)
    handling_store = StoreRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Ticket
        fields = [
            "number",
            "kind",
            "status",
            "fault",
            "quantity",
            "order",
            "line",
            "sku",
            "serial",
            "channel",
            "opened_via",
            "intake_store",
            "handling_store",
            "opened_at",
            "updated_at",
            "closed_at",
        ]
        read_only_fields = fields


class TicketDetailSerializer(TicketSerializer):
    """One ticket with its steps, the policy's answer when it was opened and the outcome."""

    policy = serializers.CharField(source="policy.code", read_only=True, allow_null=True)
    refund_amount = serializers.DecimalField(
        source="refund.amount",
        max_digits=settings.MONEY_MAX_DIGITS,
        decimal_places=settings.MONEY_DECIMAL_PLACES,
        read_only=True,
        allow_null=True,
    )
    replacement_order = serializers.CharField(
        source="replacement_order.number", read_only=True, allow_null=True
    )
    steps = TicketStepSerializer(source="status_changes", many=True, read_only=True)
    photos = serializers.IntegerField(source="photos.count", read_only=True, help_text=_("How many photos."))

    class Meta(TicketSerializer.Meta):
        fields = [
            *TicketSerializer.Meta.fields,
            "description",
            "customer_phone",
            "policy",
            "eligibility",
            "refused_reason",
            "repair_note",
            "refund_amount",
            "replacement_order",
            "photos",
            "steps",
        ]
        read_only_fields = fields
