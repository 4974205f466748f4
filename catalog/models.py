from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from catalog.choices import ChannelKind, PriceAction
from config.money import MoneyField


class Category(models.Model):
    """A node of the product tree; rules (warranty, commission) hang off categories."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Product(models.Model):
    """A product (SPU): what the customer recognises, sold as one or more SKUs."""

    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    brand = models.CharField(_("brand"), max_length=80)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.name}"


class SKU(models.Model):
    """A sellable variant of a product, with its barcode and the one-price flag."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="skus")
    code = models.CharField(_("SKU code"), max_length=40, unique=True)
    barcode = models.CharField(_("barcode"), max_length=32, unique=True, null=True, blank=True)
    name = models.CharField(_("name"), max_length=200)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    serial_tracked = models.BooleanField(_("serial-tracked"), default=False)
    unified = models.BooleanField(
        _("one product, one price"),
        default=False,
        help_text=_("One price at every instant across every channel."),
    )
    dealer_cost = MoneyField(_("dealer cost"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("SKU")
        verbose_name_plural = _("SKUs")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(dealer_cost__isnull=True) | Q(dealer_cost__gt=0),
                name="sku_dealer_cost_positive",
            ),
        ]

    def __str__(self):
        return f"{self.code} {self.name}"


class Channel(models.Model):
    """Where a sale happens: own mall, a marketplace flagship, own or partner stores, dealers."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=20, choices=ChannelKind.choices)
    margin_floor_percent = models.DecimalField(
        _("dealer margin floor (%)"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Dealer channels: a price below dealer cost plus this margin is refused."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(margin_floor_percent__isnull=True) | Q(margin_floor_percent__gte=0),
                name="channel_margin_floor_not_negative",
            ),
        ]

    def __str__(self):
        return self.name


class Price(models.Model):
    """One version of a SKU's price for a channel (or all channels) over [valid_from, valid_to).

    Rows are never edited except to close an open window; a change is a new row.
    """

    sku = models.ForeignKey(SKU, on_delete=models.PROTECT, related_name="prices")
    channel = models.ForeignKey(
        Channel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="prices",
        help_text=_("Empty means all channels."),
    )
    amount = MoneyField(_("amount"))
    valid_from = models.DateTimeField(_("valid from"))
    valid_to = models.DateTimeField(_("valid to"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("price")
        verbose_name_plural = _("prices")
        ordering = ["sku", "channel", "-valid_from"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="price_amount_positive"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")),
                name="price_window_not_empty",
            ),
        ]
        indexes = [models.Index(fields=["sku", "channel", "valid_from"], name="price_lookup_idx")]

    def __str__(self):
        scope = self.channel.code if self.channel_id else "all"
        return f"{self.sku_id}@{scope}: {self.amount}"

    def is_live_at(self, at) -> bool:
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)


class PriceChange(models.Model):
    """Audit trail of every price change: who, when, old -> new. Append-only."""

    price = models.ForeignKey(Price, on_delete=models.PROTECT, related_name="changes")
    sku = models.ForeignKey(SKU, on_delete=models.PROTECT, related_name="price_changes")
    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, null=True, blank=True, related_name="price_changes"
    )
    action = models.CharField(_("action"), max_length=10, choices=PriceAction.choices)
    old_amount = MoneyField(_("old amount"), null=True, blank=True)
    new_amount = MoneyField(_("new amount"), null=True, blank=True)
    valid_from = models.DateTimeField(_("valid from"))
    valid_to = models.DateTimeField(_("valid to"), null=True, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("price change")
        verbose_name_plural = _("price changes")
        ordering = ["-changed_at", "-id"]

    def __str__(self):
        return f"{self.sku_id} {self.action} {self.old_amount} -> {self.new_amount}"
