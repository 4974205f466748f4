from django.db import models
from django.utils.translation import gettext_lazy as _


class Scope(models.TextChoices):
    CATALOG_READ = "catalog:read", _("Read catalog and prices")
    PRICES_WRITE = "prices:write", _("Set prices (own channel only)")
    STOCK_READ = "stock:read", _("Read stock")
    ORDERS_READ = "orders:read", _("Read orders")
    ORDERS_WRITE = "orders:write", _("Create and move orders")
    MEMBERS_READ = "members:read", _("Read members")
    MEMBERS_WRITE = "members:write", _("Create members, earn and redeem points")
    AFTERSALES_WRITE = "aftersales:write", _("Open and read service tickets")
    GUIDES_READ = "guides:read", _("Look up guides, bind by scan")
    GUIDES_WRITE = "guides:write", _("Bind customers to guides by scan")
    COMMISSIONS_READ = "commissions:read", _("Read commission ledger and statements")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    DELIVERED = "delivered", _("Delivered")
    RETRYING = "retrying", _("Failed, will retry")
    FAILED = "failed", _("Gave up")
