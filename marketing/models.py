"""One marketing and one wallet: promotions, coupons, campaigns, stored value and the points rate.

Orders ask marketing to price a basket (marketing.pricing) and to redeem its coupons and tenders
(marketing.services); marketing knows orders only by their number, so it sits below them.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Mod, Round
from django.db.models.lookups import Exact
from django.utils.translation import gettext_lazy as _

from config.money import MoneyField
from marketing.choices import (
    CAMPAIGN_STATUS_TONES,
    AuditAction,
    CampaignStatus,
    CodeStatus,
    CouponKind,
    IssuedVia,
    PromotionKind,
    WalletKind,
)


class Promotion(models.Model):
    """One version of a promotion over [valid_from, valid_to): never edited except to close its
    window; a change is a new row with the same code (as prices are)."""

    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=20, choices=PromotionKind.choices)
    percent = models.DecimalField(
        _("percent off"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Percent off (percent-off promotions; the Nth item's discount)."),
    )
    amount = MoneyField(
        _("amount off"),
        null=True,
        blank=True,
        help_text=_("Amount off each unit, or off the basket when the threshold is reached."),
    )
    threshold = MoneyField(_("spend threshold"), null=True, blank=True)
    nth = models.PositiveSmallIntegerField(_("every Nth unit"), null=True, blank=True)
    skus = models.ManyToManyField("catalog.SKU", blank=True, related_name="promotions")
    categories = models.ManyToManyField("catalog.Category", blank=True, related_name="promotions")
    channels = models.ManyToManyField(
        "catalog.Channel", blank=True, related_name="promotions", help_text=_("Empty means every channel.")
    )
    valid_from = models.DateTimeField(_("valid from"))
    valid_to = models.DateTimeField(_("valid to"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("promotion")
        verbose_name_plural = _("promotions")
        ordering = ["-valid_from", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")),
                name="promotion_window_not_empty",
            ),
            models.CheckConstraint(
                condition=Q(percent__isnull=True) | Q(percent__gt=0, percent__lte=100),
                name="promotion_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gt=0), name="promotion_amount_positive"
            ),
        ]
        indexes = [models.Index(fields=["valid_from", "valid_to"], name="promotion_window_idx")]

    def __str__(self):
        return f"{self.code} {self.name}"

    def is_live_at(self, at) -> bool:
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)


class PromotionChange(models.Model):
    """Audit trail of promotions: who created or ended which version, when. Append-only."""

    promotion = models.ForeignKey(Promotion, on_delete=models.PROTECT, related_name="changes")
    action = models.CharField(_("action"), max_length=10, choices=AuditAction.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("promotion change")
        verbose_name_plural = _("promotion changes")
        ordering = ["-changed_at", "-id"]

    def __str__(self):
        return f"{self.promotion_id} {self.action}"


class Coupon(models.Model):
    """A coupon's definition: what it takes off, on what, when, for whom and how many in all.

    `redeemed_count` and `redeemed_amount` move only by a conditional UPDATE inside the order's
    transaction (marketing.sql), so the budget holds however many buyers redeem at once; the
    CHECKs below are the database's own backstop."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=10, choices=CouponKind.choices)
    value = models.DecimalField(
        _("value"), max_digits=12, decimal_places=2, help_text=_("Yuan off, or percent off.")
    )
    min_spend = MoneyField(_("minimum spend"), default=0)
    skus = models.ManyToManyField("catalog.SKU", blank=True, related_name="coupons")
    categories = models.ManyToManyField("catalog.Category", blank=True, related_name="coupons")
    channels = models.ManyToManyField(
        "catalog.Channel", blank=True, related_name="coupons", help_text=_("Empty means every channel.")
    )
    valid_from = models.DateTimeField(_("valid from"))
    valid_to = models.DateTimeField(_("valid to"), null=True, blank=True)
    per_member_limit = models.PositiveSmallIntegerField(_("codes per member"), default=1)
    claimable = models.BooleanField(
        _("claimable at QR codes"),
        default=False,
        help_text=_(
            "Customers may claim it themselves on a store's or guide's QR page, and guides may hand it "
            "to their fans. Otherwise only HQ, a campaign or a clerk gives it."
        ),
    )
    budget_count = models.PositiveIntegerField(_("budget (redemptions)"), null=True, blank=True)
    budget_amount = MoneyField(_("budget (money)"), null=True, blank=True)
    issued_count = models.PositiveIntegerField(_("issued"), default=0)
    redeemed_count = models.PositiveIntegerField(_("redeemed"), default=0)
    redeemed_amount = MoneyField(_("discount given"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-valid_from", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(value__gt=0), name="coupon_value_positive"),
            models.CheckConstraint(
                condition=~Q(kind=CouponKind.PERCENT) | Q(value__lte=100), name="coupon_percent_range"
            ),
            models.CheckConstraint(condition=Q(min_spend__gte=0), name="coupon_min_spend_not_negative"),
            models.CheckConstraint(condition=Q(per_member_limit__gte=1), name="coupon_per_member_limit"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")),
                name="coupon_window_not_empty",
            ),
            models.CheckConstraint(
                condition=Q(budget_count__isnull=True) | Q(redeemed_count__lte=F("budget_count")),
                name="coupon_budget_count_kept",
            ),
            models.CheckConstraint(
                # Rounded to the cent (marketing.sql rounds too): exact on PostgreSQL; on SQLite a
                # sum of cents is a float a hair off.
                condition=Q(budget_amount__isnull=True)
                | Q(redeemed_amount__lte=Round(F("budget_amount"), settings.MONEY_DECIMAL_PLACES)),
                name="coupon_budget_amount_kept",
            ),
            models.CheckConstraint(
                condition=Q(redeemed_count__gte=0, redeemed_amount__gte=0),
                name="coupon_redeemed_not_negative",
            ),
        ]

    def __str__(self):
        return f"{self.code} {self.name}"

    def is_live_at(self, at) -> bool:
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)


class Campaign(models.Model):
    """HQ's campaign: a segment, narrowed by place, consented members only; a coupon each and
    one message event per member through the outbox."""

    name = models.CharField(_("name"), max_length=120)
    segment = models.ForeignKey(
        "members.Segment", on_delete=models.PROTECT, null=True, blank=True, related_name="campaigns"
    )
    near_store = models.ForeignKey(
        "stores.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="campaigns"
    )
    radius_km = models.DecimalField(_("within (km)"), max_digits=6, decimal_places=1, null=True, blank=True)
    city = models.CharField(_("city"), max_length=40, blank=True)
    coupon = models.ForeignKey(
        Coupon, on_delete=models.PROTECT, null=True, blank=True, related_name="campaigns"
    )
    message = models.CharField(_("message"), max_length=500, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    recipients = models.PositiveIntegerField(_("recipients"), default=0)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(radius_km__isnull=True) | Q(radius_km__gt=0), name="campaign_radius_positive"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def status_tone(self) -> str:
        """The colour of the status badge (config.badges)."""
        return CAMPAIGN_STATUS_TONES.get(self.status, "")

    @property
    def is_sent(self) -> bool:
        """Sent at least once: it has a report, and sending again reaches only members not reached."""
        return self.status == CampaignStatus.SENT


class CouponCode(models.Model):
    """One unique code of a coupon, held by one member; used once (a cancelled order frees it)."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    # No index of its own: coupon_code_per_member starts with the coupon.
    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="codes", db_index=False)
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="coupon_codes")
    seq = models.PositiveSmallIntegerField(_("member's code number"), default=1)
    issued_via = models.CharField(_("issued via"), max_length=10, choices=IssuedVia.choices)
    guide = models.ForeignKey(
        "guides.Guide", on_delete=models.PROTECT, null=True, blank=True, related_name="coupon_codes"
    )
    store = models.ForeignKey(
        "stores.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="coupon_codes"
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, null=True, blank=True, related_name="codes"
    )
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    issued_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(_("status"), max_length=10, choices=CodeStatus.choices, default=CodeStatus.HELD)
    redeemed_at = models.DateTimeField(_("redeemed at"), null=True, blank=True)
    order_number = models.CharField(_("order"), max_length=24, blank=True)

    class Meta:
        verbose_name = _("coupon code")
        verbose_name_plural = _("coupon codes")
        ordering = ["-issued_at", "-id"]
        constraints = [
            # A member holds at most `per_member_limit` codes of a coupon: numbered 1..limit, once each.
            models.UniqueConstraint(fields=["coupon", "member", "seq"], name="coupon_code_per_member"),
            models.UniqueConstraint(
                fields=["campaign", "member"],
                condition=Q(campaign__isnull=False),
                name="coupon_code_once_per_campaign",
            ),
        ]
        # No index holds status, redeemed_at or order_number, and the table leaves room on each page
        # (fillfactor, migration 0004): redeeming or freeing a code rewrites its row in place (a
        # heap-only update) without a new entry in any of its indexes.

    def __str__(self):
        return self.code

    @property
    def is_redeemed(self) -> bool:
        return self.status == CodeStatus.REDEEMED

    # The badge (config.badges): a held code whose coupon is outside its window says so. `usable`
    # is set by the page that read the coupon with the code (portal.wallet); unset, a held code is
    # taken as usable.
    @property
    def status_tone(self) -> str:
        if self.is_redeemed:
            return ""
        return "ok" if getattr(self, "usable", True) else "warn"

    @property
    def status_label(self):
        if not self.is_redeemed and not getattr(self, "usable", True):
            return _("Not valid now")
        return self.get_status_display()


class CouponRedemption(models.Model):
    """Append-only: a code redeemed on an order (positive) or released by its cancellation
    (negative), with where the sale happened, for the campaign report."""

    code = models.ForeignKey(CouponCode, on_delete=models.PROTECT, related_name="redemptions")
    # No index of its own: coupon_redemption_idx starts with the coupon.
    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions", db_index=False)
    order_number = models.CharField(_("order"), max_length=24)
    channel = models.ForeignKey("catalog.Channel", on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey(
        "stores.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    guide = models.ForeignKey(
        "guides.Guide", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    discount = MoneyField(_("discount"))
    net_sales = MoneyField(_("net sales"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("coupon redemption")
        verbose_name_plural = _("coupon redemptions")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["coupon", "created_at"], name="coupon_redemption_idx")]

    def __str__(self):
        return f"{self.order_number}: {self.discount}"


class CampaignRecipient(models.Model):
    """One member a campaign reached: unique, so sending again reaches nobody twice."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="recipient_rows")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    code = models.ForeignKey(CouponCode, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("campaign recipient")
        verbose_name_plural = _("campaign recipients")
        constraints = [models.UniqueConstraint(fields=["campaign", "member"], name="campaign_recipient_once")]

    def __str__(self):
        return f"{self.campaign_id} -> {self.member_id}"


class PointsTenderRule(models.Model):
    """HQ's rate for paying with points, and the cap: points per yuan (a multiple of 100, so a
    cent is always a whole number of points) and the most of an order points may pay (%)."""

    channel = models.OneToOneField(
        "catalog.Channel",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="points_tender_rule",
        help_text=_("Empty means every channel without its own rule."),
    )
    points_per_yuan = models.PositiveIntegerField(_("points per yuan"), default=100)
    cap_percent = models.DecimalField(
        _("at most (percent of the order)"), max_digits=5, decimal_places=2, default=50
    )

    class Meta:
        verbose_name = _("points payment rule")
        verbose_name_plural = _("points payment rules")
        constraints = [
            models.CheckConstraint(condition=Q(points_per_yuan__gte=100), name="points_tender_rate_min"),
            # A cent is a whole number of points: the rate is a multiple of 100.
            models.CheckConstraint(
                condition=Exact(Mod("points_per_yuan", 100), 0), name="points_tender_rate_whole_cents"
            ),
            models.CheckConstraint(
                condition=Q(cap_percent__gte=0, cap_percent__lte=100), name="points_tender_cap_range"
            ),
            models.UniqueConstraint(
                fields=["channel"], condition=Q(channel__isnull=True), name="points_tender_one_default"
            ),
        ]

    def __str__(self):
        return f"{self.channel or '*'}: {self.points_per_yuan}/¥, ≤{self.cap_percent}%"


class Wallet(models.Model):
    """A member's stored value: the balance is the sum of the ledger and never negative."""

    member = models.OneToOneField("members.Member", on_delete=models.PROTECT, related_name="wallet")
    balance = MoneyField(_("balance"), default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("wallet")
        verbose_name_plural = _("wallets")
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="wallet_balance_not_negative")
        ]

    def __str__(self):
        return f"{self.member_id}: {self.balance}"


class WalletEntry(models.Model):
    """Append-only stored-value ledger row (a top-up, an order paid or refunded, HQ's correction)."""

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(_("kind"), max_length=10, choices=WalletKind.choices)
    amount = MoneyField(_("amount"))
    method = models.CharField(_("paid with"), max_length=20, blank=True)
    order_number = models.CharField(_("order"), max_length=24, blank=True, db_index=True)
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    client_reference = models.CharField(
        _("client reference"),
        max_length=64,
        null=True,
        blank=True,
        unique=True,
        help_text=_("Makes a request idempotent."),
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("wallet entry")
        verbose_name_plural = _("wallet entries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=[WalletKind.TOP_UP, WalletKind.REFUND], amount__gt=0)
                | Q(kind=WalletKind.SPEND, amount__lt=0)
                | (Q(kind=WalletKind.ADJUST) & ~Q(amount=0)),
                name="wallet_entry_sign_matches_kind",
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.amount}"
