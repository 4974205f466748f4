from django.db import models
from django.utils.translation import gettext_lazy as _


class Origin(models.TextChoices):
    ONLINE = "online", _("Online")
    IN_STORE = "in_store", _("In store (clerk's tablet)")
    QR_SCAN = "qr_scan", _("QR code scanned in store")


class DeliveryMethod(models.TextChoices):
    SHIP = "ship", _("Ship to address")
    PICKUP = "pickup", _("Store pickup")
    CARRY_OUT = "carry_out", _("Carry out")


class OrderStatus(models.TextChoices):
    CREATED = "created", _("Created")
    PAID = "paid", _("Paid")
    ALLOCATED = "allocated", _("Allocated to a store")
    ACCEPTED = "accepted", _("Accepted by the store")
    SHIPPED = "shipped", _("Shipped")
    READY_FOR_PICKUP = "ready_for_pickup", _("Ready for pickup")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")
    PARTLY_RETURNED = "partly_returned", _("Partly returned")
    RETURNED = "returned", _("Returned")


# The colour of each order status's badge (config.badges): done, stopped, waiting for the payment;
# every other status is on its way ("info").
ORDER_STATUS_TONES = {
    OrderStatus.COMPLETED: "ok",
    OrderStatus.CANCELLED: "err",
    OrderStatus.RETURNED: "err",
    OrderStatus.CREATED: "warn",
}


class PaymentKind(models.TextChoices):
    PAYMENT = "payment", _("Payment")
    REFUND = "refund", _("Refund")


class PaymentMethod(models.TextChoices):
    WECHAT = "wechat", _("WeChat Pay")
    ALIPAY = "alipay", _("Alipay")
    CARD = "card", _("Bank card")
    CASH = "cash", _("Cash")
    MARKETPLACE = "marketplace", _("Paid on the marketplace")
    POINTS = "points", _("Points")
    STORED_VALUE = "stored_value", _("Stored value")


# Tenders the member's own balances pay; every other method is an external payment.
MEMBER_TENDERS = (PaymentMethod.POINTS, PaymentMethod.STORED_VALUE)
EXTERNAL_METHODS = tuple(m for m in PaymentMethod.values if m not in MEMBER_TENDERS)


class DiscountSource(models.TextChoices):
    PROMOTION = "promotion", _("Promotion")
    COUPON = "coupon", _("Coupon")


class AssignmentStatus(models.TextChoices):
    OFFERED = "offered", _("Waiting for the store")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    EXPIRED = "expired", _("No answer in time")
    WITHDRAWN = "withdrawn", _("Withdrawn")


# The colour of each offer status's badge (config.badges).
ASSIGNMENT_STATUS_TONES = {
    AssignmentStatus.OFFERED: "warn",
    AssignmentStatus.ACCEPTED: "ok",
    AssignmentStatus.REJECTED: "err",
    AssignmentStatus.EXPIRED: "err",
}


class ShareParty(models.TextChoices):
    FULFILLING_STORE = "fulfilling_store", _("Fulfilling store's fee")
    ORIGIN_STORE = "origin_store", _("Origin store's share")
    BRAND = "brand", _("Brand")
