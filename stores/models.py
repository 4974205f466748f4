from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from stores.choices import STORE_STATUS_TONES, MovementKind, StaffRole, StoreKind, StoreStatus


class Partner(models.Model):
    """A company that runs partner stores; its users log in to see their stores."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    contact_name = models.CharField(_("contact"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="partners")
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Store(models.Model):
    """A location that sells or ships: own flagship, partner store, dealer or warehouse."""

    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=StoreKind.choices)
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="stores"
    )
    province = models.CharField(_("province"), max_length=40, blank=True)
    city = models.CharField(_("city"), max_length=40)
    address = models.CharField(_("address"), max_length=255, blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6)
    city_tier = models.PositiveSmallIntegerField(_("city tier"), help_text=_("1 (largest) to 6"))
    service_radius_km = models.PositiveSmallIntegerField(
        _("service radius (km)"), default=10, help_text=_("Store-as-warehouse delivery radius.")
    )
    status = models.CharField(
        _("status"), max_length=20, choices=StoreStatus.choices, default=StoreStatus.OPEN
    )

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__gte=-90, latitude__lte=90), name="store_latitude_range"
            ),
            models.CheckConstraint(
                condition=Q(longitude__gte=-180, longitude__lte=180), name="store_longitude_range"
            ),
            models.CheckConstraint(
                condition=Q(city_tier__gte=1, city_tier__lte=6), name="store_city_tier_range"
            ),
            models.CheckConstraint(
                condition=Q(service_radius_km__gte=1, service_radius_km__lte=200),
                name="store_service_radius_range",
            ),
        ]
        indexes = [
            models.Index(fields=["latitude", "longitude"], name="store_location_idx"),
            models.Index(fields=["kind", "status"], name="store_kind_status_idx"),
        ]

    def __str__(self):
        return f"{self.code} {self.name}"

    @property
    def status_tone(self) -> str:
        """The colour of the status badge (config.badges)."""
        return STORE_STATUS_TONES.get(self.status, "")


class StaffMembership(models.Model):
    """A user works at a store as manager or clerk; a clerk acts on these stores only."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="store_memberships"
    )
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=20, choices=StaffRole.choices)

    class Meta:
        verbose_name = _("staff membership")
        verbose_name_plural = _("staff memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "store"], name="staff_membership_unique"),
        ]

    def __str__(self):
        return f"{self.user} @ {self.store.code} ({self.role})"


class Stock(models.Model):
    """Units of a SKU at a location. Changed only through the movement ledger (services)."""

    location = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="stock")
    sku = models.ForeignKey("catalog.SKU", on_delete=models.PROTECT, related_name="stock")
    on_hand = models.IntegerField(_("on hand"), default=0)
    reserved = models.IntegerField(_("reserved"), default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("stock")
        verbose_name_plural = _("stock")
        constraints = [
            models.UniqueConstraint(fields=["location", "sku"], name="stock_location_sku_unique"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_not_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_not_negative"),
            models.CheckConstraint(
                condition=Q(reserved__lte=F("on_hand")), name="stock_reserved_within_on_hand"
            ),
        ]
        indexes = [models.Index(fields=["sku", "location"], name="stock_sku_location_idx")]

    def __str__(self):
        return f"{self.sku_id}@{self.location_id}: {self.on_hand} on hand, {self.reserved} reserved"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class StockMovement(models.Model):
    """Append-only ledger row: on hand = sum(on_hand_delta), reserved = sum(reserved_delta)."""

    stock = models.ForeignKey(Stock, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(_("kind"), max_length=20, choices=MovementKind.choices)
    on_hand_delta = models.IntegerField(_("on hand change"), default=0)
    reserved_delta = models.IntegerField(_("reserved change"), default=0)
    reason = models.CharField(_("reason"), max_length=255)
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    reverses = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(on_hand_delta=0) | ~Q(reserved_delta=0),
                name="stock_movement_changes_something",
            ),
        ]
        # Movements are found by their exact reference (an order or ticket number); a plain index,
        # without the LIKE-pattern twin db_index=True adds to a text column on PostgreSQL.
        indexes = [models.Index(fields=["reference"], name="stock_movement_reference_idx")]

    def __str__(self):
        return f"{self.kind} {self.on_hand_delta:+}/{self.reserved_delta:+} ({self.reason})"
