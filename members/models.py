from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from config.money import MoneyField
from members.choices import Gender, IdentitySource, PointsKind


class Tier(models.Model):
    """A membership tier reached by 12-month spend; HQ sets the thresholds."""

    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=60)
    min_spend_12m = MoneyField(_("minimum 12-month spend"), unique=True)

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["min_spend_12m"]
        constraints = [
            models.CheckConstraint(condition=Q(min_spend_12m__gte=0), name="tier_spend_not_negative")
        ]

    def __str__(self):
        return self.name


class Member(models.Model):
    """One customer across every channel, keyed by a normalised mainland mobile number."""

    phone = models.CharField(_("mobile"), max_length=11, unique=True, null=True, blank=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    gender = models.CharField(_("gender"), max_length=10, choices=Gender.choices, blank=True, default="")
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    city = models.CharField(_("city"), max_length=40, blank=True)
    home_store = models.ForeignKey(
        "stores.Store", on_delete=models.SET_NULL, null=True, blank=True, related_name="home_members"
    )
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="members")
    marketing_consent = models.BooleanField(_("marketing consent"), default=False)
    consent_changed_at = models.DateTimeField(_("consent given/withdrawn at"), null=True, blank=True)
    consent_channel = models.ForeignKey(
        "catalog.Channel", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged_members"
    )
    # Kept by the points services in the same transaction as the ledger row (conditional UPDATE),
    # like Stock.on_hand: the ledger is the truth, these make "never negative" and segments cheap.
    points_balance = models.IntegerField(_("points balance"), default=0)
    total_spend = MoneyField(_("total spend"), default=0)
    last_purchase_at = models.DateTimeField(_("last purchase"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(points_balance__gte=0), name="member_points_not_negative"),
            models.CheckConstraint(
                condition=Q(phone__isnull=True) | Q(phone__regex=r"^1[3-9][0-9]{9}$"),
                name="member_phone_normalised",
            ),
        ]
        indexes = [
            models.Index(fields=["city"], name="member_city_idx"),
            models.Index(fields=["total_spend"], name="member_total_spend_idx"),
            models.Index(fields=["last_purchase_at"], name="member_last_purchase_idx"),
            models.Index(fields=["name", "birthday", "city"], name="member_name_bday_city_idx"),
        ]

    def __str__(self):
        return self.name or self.phone or f"member {self.pk}"

    @property
    def is_merged(self) -> bool:
        return self.merged_into_id is not None


class ExternalIdentity(models.Model):
    """An identity another system knows the member by (loyalty card, Tmall/JD buyer, WeChat, partner no.)."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="identities")
    source = models.CharField(_("source"), max_length=20, choices=IdentitySource.choices)
    external_id = models.CharField(_("external id"), max_length=128)
    reported_phone = models.CharField(
        _("phone as reported"),
        max_length=11,
        blank=True,
        help_text=_("The source system's phone for this identity, normalised; finds duplicates."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("external identity")
        verbose_name_plural = _("external identities")
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="identity_source_id_unique"),
        ]
        indexes = [
            models.Index(fields=["external_id"], name="identity_external_id_idx"),
            models.Index(fields=["reported_phone"], name="identity_reported_phone_idx"),
        ]

    def __str__(self):
        return f"{self.get_source_display()} {self.external_id}"


class MemberMerge(models.Model):
    """Record of a merge: which duplicate went into which survivor, what moved, who did it."""

    survivor = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="merges_received")
    merged = models.OneToOneField(Member, on_delete=models.PROTECT, related_name="merge_record")
    merged_phone = models.CharField(_("merged member's mobile"), max_length=11, blank=True)
    moved = models.JSONField(_("what moved"), default=dict)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    merged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("member merge")
        verbose_name_plural = _("member merges")
        ordering = ["-merged_at"]

    def __str__(self):
        return f"{self.merged_id} -> {self.survivor_id}"


class PointsRule(models.Model):
    """How many points a yuan paid earns on a channel (or all channels), and how long points live."""

    channel = models.OneToOneField(
        "catalog.Channel", on_delete=models.PROTECT, null=True, blank=True, related_name="points_rule"
    )
    points_per_yuan = models.DecimalField(_("points per yuan"), max_digits=6, decimal_places=2)
    life_days = models.PositiveIntegerField(_("points life (days)"), default=365)

    class Meta:
        verbose_name = _("points rule")
        verbose_name_plural = _("points rules")
        constraints = [
            models.CheckConstraint(condition=Q(points_per_yuan__gte=0), name="points_rule_rate_not_negative"),
            models.UniqueConstraint(
                fields=["channel"], condition=Q(channel__isnull=True), name="points_rule_one_default"
            ),
        ]

    def __str__(self):
        return f"{self.channel or 'all channels'}: {self.points_per_yuan}/yuan"


class PointsEntry(models.Model):
    """Append-only points ledger row; the balance is the sum of `points` and never negative."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="points_entries")
    kind = models.CharField(_("kind"), max_length=10, choices=PointsKind.choices)
    points = models.IntegerField(_("points"))
    channel = models.ForeignKey(
        "catalog.Channel", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    paid_amount = MoneyField(
        _("amount paid"), null=True, blank=True, help_text=_("Earn entries: what was paid.")
    )
    reference = models.CharField(_("reference"), max_length=64, blank=True, db_index=True)
    client_reference = models.CharField(
        _("client reference"),
        max_length=64,
        null=True,
        blank=True,
        help_text=_("Makes a request idempotent."),
    )
    reverses = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(points=0), name="points_entry_not_zero"),
            models.CheckConstraint(
                condition=Q(kind__in=[PointsKind.EARN, PointsKind.REFUND], points__gt=0)
                | Q(kind__in=[PointsKind.REDEEM, PointsKind.REVERSE, PointsKind.EXPIRE], points__lt=0)
                | Q(kind=PointsKind.ADJUST),
                name="points_entry_sign_matches_kind",
            ),
            models.UniqueConstraint(fields=["client_reference"], name="points_client_reference_unique"),
        ]
        indexes = [models.Index(fields=["member", "created_at"], name="points_member_time_idx")]

    def __str__(self):
        return f"{self.member_id} {self.kind} {self.points:+}"


class Segment(models.Model):
    """A dynamic segment: a saved filter over members, evaluated in the database each time."""

    name = models.CharField(_("name"), max_length=120)
    filters = models.JSONField(_("filters"), default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]

    def __str__(self):
        return self.name


class StaticGroup(models.Model):
    """A hand-kept list of members (a store's VIP list), edited by that store's manager."""

    name = models.CharField(_("name"), max_length=120)
    store = models.ForeignKey("stores.Store", on_delete=models.CASCADE, related_name="member_groups")
    members = models.ManyToManyField(Member, blank=True, related_name="static_groups")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("static group")
        verbose_name_plural = _("static groups")
        ordering = ["store", "name"]
        constraints = [
            models.UniqueConstraint(fields=["store", "name"], name="static_group_store_name_unique")
        ]

    def __str__(self):
        return f"{self.store.code}: {self.name}"


# --- "what to show this member": tables refreshed daily by insights.suggestions.suggestions_refresh ---


class SkuAffinity(models.Model):
    """How many distinct members bought both SKUs (on any channel, in any orders): the co-purchase
    count behind "bought with the X55 TV by 312 customers". Rebuilt whole by the daily refresh."""

    sku = models.ForeignKey("catalog.SKU", on_delete=models.CASCADE, related_name="+", db_index=False)
    other_sku = models.ForeignKey("catalog.SKU", on_delete=models.CASCADE, related_name="+", db_index=False)
    customers = models.PositiveIntegerField(_("customers who bought both"))

    class Meta:
        verbose_name = _("SKU affinity")
        verbose_name_plural = _("SKU affinities")
        constraints = [models.UniqueConstraint(fields=["sku", "other_sku"], name="sku_affinity_pair_unique")]
        indexes = [models.Index(fields=["sku", "-customers"], name="sku_affinity_top_idx")]

    def __str__(self):
        return f"{self.sku_id} + {self.other_sku_id}: {self.customers}"


class CategoryBestSeller(models.Model):
    """A category's best-selling SKUs by distinct buying members. Rebuilt whole by the daily refresh."""

    category = models.ForeignKey(
        "catalog.Category", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    sku = models.ForeignKey("catalog.SKU", on_delete=models.CASCADE, related_name="+", db_index=False)
    customers = models.PositiveIntegerField(_("customers"))

    class Meta:
        verbose_name = _("category best seller")
        verbose_name_plural = _("category best sellers")
        constraints = [
            models.UniqueConstraint(fields=["category", "sku"], name="category_best_seller_unique")
        ]
        indexes = [models.Index(fields=["category", "-customers"], name="category_best_seller_top_idx")]

    def __str__(self):
        return f"{self.category_id}: {self.sku_id} ({self.customers})"


class TierBestSeller(models.Model):
    """A tier's best-selling SKUs by distinct buying members of that tier. Rebuilt by the daily refresh."""

    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="+", db_index=False)
    sku = models.ForeignKey("catalog.SKU", on_delete=models.CASCADE, related_name="+", db_index=False)
    customers = models.PositiveIntegerField(_("customers"))

    class Meta:
        verbose_name = _("tier best seller")
        verbose_name_plural = _("tier best sellers")
        constraints = [models.UniqueConstraint(fields=["tier", "sku"], name="tier_best_seller_unique")]
        indexes = [models.Index(fields=["tier", "-customers"], name="tier_best_seller_top_idx")]

    def __str__(self):
        return f"{self.tier_id}: {self.sku_id} ({self.customers})"
