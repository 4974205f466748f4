from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Round
from django.utils.translation import gettext_lazy as _

from config.money import MoneyField
from orders.choices import (
    ASSIGNMENT_STATUS_TONES,
    ORDER_STATUS_TONES,
    AssignmentStatus,
    DeliveryMethod,
    DiscountSource,
    OrderStatus,
    Origin,
    PaymentKind,
    PaymentMethod,
    ShareParty,
)


class Order(models.Model):
    """The centre of the five flows: who bought what on which channel, fulfilled from where."""

    # Every index is written by every order (flash sales): the foreign keys that lead one of the
    # composite indexes below get no index of their own, and the unique codes are constraints
    # (no second, LIKE-pattern index beside them: nobody searches orders by a prefix of them).
    number = models.CharField(_("number"), max_length=24)
    channel = models.ForeignKey(
        "catalog.Channel", on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    member = models.ForeignKey(
        "members.Member",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        db_index=False,
    )
    origin = models.CharField(_("origin"), max_length=20, choices=Origin.choices)
    origin_store = models.ForeignKey(
        "stores.Store",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="originated_orders",
        db_index=False,
    )
    guide = models.ForeignKey(
        "guides.Guide",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="attributed_orders",
        help_text=_("The guide the member was bound to when ordering (attribution)."),
        db_index=False,
    )
    binding = models.ForeignKey(
        "guides.Binding", on_delete=models.PROTECT, null=True, blank=True, related_name="orders"
    )
    attribution_reason = models.CharField(_("why attributed (or not)"), max_length=255, blank=True)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="placed_orders",
    )
    fulfilling_location = models.ForeignKey(
        "stores.Store",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="fulfilled_orders",
        db_index=False,
    )
    delivery_method = models.CharField(_("delivery"), max_length=20, choices=DeliveryMethod.choices)
    recipient_name = models.CharField(_("recipient"), max_length=100, blank=True)
    recipient_phone = models.CharField(_("recipient phone"), max_length=20, blank=True)
    address = models.CharField(_("delivery address"), max_length=255, blank=True)
    city = models.CharField(_("city"), max_length=40, blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.CREATED
    )
    subtotal = MoneyField(_("subtotal"))
    discount_total = MoneyField(_("discounts"), default=0)
    total = MoneyField(_("total"))
    external_reference = models.CharField(_("external reference"), max_length=64, null=True, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=128, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    pickup_code = models.CharField(_("pickup code"), max_length=8, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    delivered_at = models.DateTimeField(
        _("delivered at"), null=True, blank=True, help_text=_("Delivered, collected or carried out.")
    )

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["number"], name="order_number_unique"),
            models.UniqueConstraint(fields=["idempotency_key"], name="order_idempotency_key_unique"),
            models.UniqueConstraint(
                fields=["channel", "external_reference"],
                condition=Q(external_reference__isnull=False),
                name="order_channel_external_reference_unique",
            ),
            models.CheckConstraint(condition=Q(subtotal__gte=0), name="order_subtotal_not_negative"),
            models.CheckConstraint(condition=Q(discount_total__gte=0), name="order_discount_not_negative"),
            models.CheckConstraint(
                # Rounded to the cent: exact on PostgreSQL (numeric); on SQLite, whose decimals are
                # floats, 0.30 - 0.10 is 0.19999999999999998 and would refuse a right total.
                condition=Q(total=Round(F("subtotal") - F("discount_total"), settings.MONEY_DECIMAL_PLACES)),
                name="order_total_is_subtotal_less_discounts",
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative"),
        ]
        indexes = [
            models.Index(fields=["fulfilling_location", "status"], name="order_location_status_idx"),
            models.Index(fields=["origin_store", "created_at"], name="order_origin_store_idx"),
            models.Index(fields=["member", "created_at"], name="order_member_idx"),
            models.Index(fields=["channel", "status", "created_at"], name="order_channel_status_idx"),
            models.Index(fields=["guide", "created_at"], name="order_guide_idx"),
            # The HQ dashboard's sales figures all filter on the payment day.
            models.Index(fields=["paid_at"], name="order_paid_at_idx"),
        ]

    def __str__(self):
        return self.number

    @property
    def status_tone(self) -> str:
        """The colour of the status badge (config.badges)."""
        return ORDER_STATUS_TONES.get(self.status, "info")

    @property
    def is_payable(self) -> bool:
        """The state machine (orders.states) lets this order be paid now."""
        from orders.states import can_move  # orders.states imports this module: read when asked

        return can_move(self.status, OrderStatus.PAID)

    @property
    def awaits_pickup(self) -> bool:
        """Ready at the store, waiting for the customer to collect it."""
        return self.delivery_method == DeliveryMethod.PICKUP and self.status == OrderStatus.READY_FOR_PICKUP


class OrderLine(models.Model):
    """A SKU, how many, and the price it sold at (a snapshot of the price list at order time)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.ForeignKey("catalog.SKU", on_delete=models.PROTECT, related_name="order_lines")
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = MoneyField(_("unit price"))
    price = models.ForeignKey(
        "catalog.Price", on_delete=models.PROTECT, null=True, blank=True, related_name="order_lines"
    )
    discount = MoneyField(_("discount"), default=0)
    line_total = MoneyField(_("line total"))
    returned_quantity = models.PositiveIntegerField(_("returned"), default=0)
    warranty_policy = models.ForeignKey(
        "aftersales.WarrantyPolicy",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="order_lines",
        help_text=_("The policy in force when the line was delivered."),
    )
    returnable_until = models.DateTimeField(
        _("returnable until"),
        null=True,
        blank=True,
        help_text=_("End of the return window (exclusive); commission is held until then."),
    )

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_line_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gt=0), name="order_line_price_positive"),
            models.CheckConstraint(
                condition=Q(
                    line_total=Round(
                        F("unit_price") * F("quantity") - F("discount"), settings.MONEY_DECIMAL_PLACES
                    )
                ),
                name="order_line_total_is_price_times_quantity_less_discount",
            ),
            models.CheckConstraint(
                condition=Q(returned_quantity__lte=F("quantity")), name="order_line_returned_within_quantity"
            ),
        ]
        indexes = [models.Index(fields=["returnable_until"], name="order_line_returnable_idx")]

    def __str__(self):
        return f"{self.quantity} x {self.sku_id} @ {self.unit_price}"


class LineDiscount(models.Model):
    """One discount a line carries: the promotion or coupon that gave it and its part, to the cent
    (marketing.pricing allocates each order-level discount over its lines). Σ per line = the
    line's `discount`; Σ over the order = its `discount_total`. Written with the order, never edited."""

    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="discounts")
    source = models.CharField(_("source"), max_length=10, choices=DiscountSource.choices)
    promotion = models.ForeignKey(
        "marketing.Promotion", on_delete=models.PROTECT, null=True, blank=True, related_name="line_discounts"
    )
    code = models.ForeignKey(
        "marketing.CouponCode", on_delete=models.PROTECT, null=True, blank=True, related_name="line_discounts"
    )
    label = models.CharField(_("name"), max_length=120)
    amount = MoneyField(_("amount"))
    threshold = MoneyField(
        _("threshold"), null=True, blank=True, help_text=_("The basket minimum this discount depended on.")
    )

    class Meta:
        verbose_name = _("line discount")
        verbose_name_plural = _("line discounts")
        ordering = ["line", "id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="line_discount_positive")]

    def __str__(self):
        return f"{self.line_id} -{self.amount} ({self.label})"


class SoldUnit(models.Model):
    """One serial-numbered unit that left with an order line; a return marks it returned."""

    line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="units")
    sku = models.ForeignKey("catalog.SKU", on_delete=models.PROTECT, related_name="sold_units")
    serial = models.CharField(_("serial number"), max_length=64)
    sold_at = models.DateTimeField(_("sold at"), auto_now_add=True)
    returned_at = models.DateTimeField(_("returned at"), null=True, blank=True)

    class Meta:
        verbose_name = _("sold unit")
        verbose_name_plural = _("sold units")
        ordering = ["line", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["sku", "serial"], condition=Q(returned_at__isnull=True), name="sold_unit_serial_once"
            ),
        ]
        indexes = [models.Index(fields=["serial"], name="sold_unit_serial_idx")]

    def __str__(self):
        return self.serial


class Payment(models.Model):
    """Capital flow: money in (payment) or out (refund) for an order. Append-only."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    kind = models.CharField(_("kind"), max_length=10, choices=PaymentKind.choices)
    method = models.CharField(_("method"), max_length=20, choices=PaymentMethod.choices)
    amount = MoneyField(_("amount"))
    points = models.PositiveIntegerField(
        _("points"),
        null=True,
        blank=True,
        help_text=_("Points tenders: how many points paid (or came back)."),
    )
    external_reference = models.CharField(
        _("payment reference"), max_length=64, null=True, blank=True, unique=True
    )
    reverses = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="refunds"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["created_at", "id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive")]

    def __str__(self):
        return f"{self.kind} {self.amount} ({self.method})"


class OrderStatusChange(models.Model):
    """The order's history: every move of the state machine, who made it and why."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=OrderStatus.choices)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")
        ordering = ["changed_at", "id"]

    def __str__(self):
        return f"{self.order_id}: {self.from_status or '-'} -> {self.to_status}"


class RoutingDecision(models.Model):
    """Why an order went to a location: the candidates considered, their distance and stock."""

    # Its index is routing_attempt_unique (order, attempt).
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="routing_decisions", db_index=False
    )
    attempt = models.PositiveSmallIntegerField(_("attempt"))
    location = models.ForeignKey(
        "stores.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="routing_decisions"
    )
    reason = models.CharField(_("reason"), max_length=255)
    candidates = models.JSONField(_("candidates considered"), default=list)
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("routing decision")
        verbose_name_plural = _("routing decisions")
        ordering = ["order", "attempt"]
        constraints = [models.UniqueConstraint(fields=["order", "attempt"], name="routing_attempt_unique")]

    def __str__(self):
        return f"{self.order_id} #{self.attempt} -> {self.location_id}: {self.reason}"


class StoreAssignment(models.Model):
    """An order offered to a store, which accepts or rejects it before `respond_by`."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="assignments")
    store = models.ForeignKey("stores.Store", on_delete=models.PROTECT, related_name="assignments")
    status = models.CharField(
        _("status"), max_length=20, choices=AssignmentStatus.choices, default=AssignmentStatus.OFFERED
    )
    offered_at = models.DateTimeField(auto_now_add=True)
    respond_by = models.DateTimeField(_("answer by"))
    responded_at = models.DateTimeField(null=True, blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("store assignment")
        verbose_name_plural = _("store assignments")
        ordering = ["-offered_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=Q(status="offered"), name="one_open_assignment_per_order"
            ),
        ]
        indexes = [models.Index(fields=["store", "status"], name="assignment_store_status_idx")]

    def __str__(self):
        return f"{self.order_id} -> {self.store_id} ({self.status})"

    @property
    def status_tone(self) -> str:
        """The colour of the status badge (config.badges)."""
        return ASSIGNMENT_STATUS_TONES.get(self.status, "")


class RevenueRule(models.Model):
    """How a channel's sale is split: the fulfilling store's fee and the origin store's share."""

    channel = models.OneToOneField("catalog.Channel", on_delete=models.PROTECT, related_name="revenue_rule")
    fulfilling_fee_percent = models.DecimalField(
        _("fulfilling store fee (%)"), max_digits=5, decimal_places=2, default=0
    )
    fulfilling_fee_fixed = MoneyField(_("fulfilling store fee per line (fixed)"), default=0)
    origin_share_percent = models.DecimalField(
        _("origin store share (%)"), max_digits=5, decimal_places=2, default=0
    )

    class Meta:
        verbose_name = _("revenue rule")
        verbose_name_plural = _("revenue rules")
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    fulfilling_fee_percent__gte=0, origin_share_percent__gte=0, fulfilling_fee_fixed__gte=0
                ),
                name="revenue_rule_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(fulfilling_fee_percent__lte=100 - F("origin_share_percent")),
                name="revenue_rule_shares_within_whole",
            ),
        ]

    def __str__(self):
        return str(self.channel)


class RevenueShare(models.Model):
    """Append-only: one party's share of one order line. The shares of a line sum to its total."""

    line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="shares")
    party = models.CharField(_("party"), max_length=20, choices=ShareParty.choices)
    store = models.ForeignKey(
        "stores.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="revenue_shares"
    )
    amount = MoneyField(_("amount"))
    reverses = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("revenue share")
        verbose_name_plural = _("revenue shares")
        ordering = ["line", "id"]
        indexes = [models.Index(fields=["store", "created_at"], name="revenue_share_store_idx")]

    def __str__(self):
        return f"{self.line_id} {self.party} {self.amount}"
