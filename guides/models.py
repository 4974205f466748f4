"""Shopping guides: QR codes, scans, fans bound for an attribution window, commission rules,
the append-only commission ledger and the monthly settlement statements."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from config.money import MoneyField
from guides.choices import (
    GUIDE_STATUS_TONES,
    STATEMENT_STATUS_TONES,
    BindingEnd,
    EntryKind,
    GuideStatus,
    ScanOutcome,
    StatementParty,
    StatementStatus,
)


class GuideLevel(models.Model):
    """A guide's grade (e.g. bronze, silver, gold); commission rules may differ by level."""

    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=60)
    rank = models.PositiveSmallIntegerField(_("rank"), default=0, help_text=_("Higher is senior."))

    class Meta:
        verbose_name = _("guide level")
        verbose_name_plural = _("guide levels")
        ordering = ["rank", "code"]

    def __str__(self):
        return self.name


class Guide(models.Model):
    """Anyone who sells for the brand with a personal QR code: a clerk, a partner, a fan."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="guide"
    )
    code = models.CharField(_("code"), max_length=12, unique=True)
    name = models.CharField(_("name"), max_length=100)
    phone = models.CharField(_("mobile"), max_length=20, blank=True)
    store = models.ForeignKey(
        "stores.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="guides"
    )
    partner = models.ForeignKey(
        "stores.Partner", on_delete=models.PROTECT, null=True, blank=True, related_name="guides"
    )
    level = models.ForeignKey(
        GuideLevel, on_delete=models.PROTECT, null=True, blank=True, related_name="guides"
    )
    status = models.CharField(
        _("status"), max_length=20, choices=GuideStatus.choices, default=GuideStatus.ACTIVE
    )
    suspended_reason = models.CharField(_("why suspended"), max_length=255, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("guide")
        verbose_name_plural = _("guides")
        ordering = ["code"]
        indexes = [
            models.Index(fields=["store"], name="guide_store_idx"),
            models.Index(fields=["partner"], name="guide_partner_idx"),
        ]

    def __str__(self):
        return f"{self.code} {self.name}"

    @property
    def is_active(self) -> bool:
        return self.status == GuideStatus.ACTIVE

    @property
    def status_tone(self) -> str:
        """The colour of the status badge (config.badges)."""
        return GUIDE_STATUS_TONES.get(self.status, "")


class AttributionWindow(models.Model):
    """How many days a fan stays bound: one brand default (no channel) and per-channel overrides."""

    channel = models.ForeignKey(
        "catalog.Channel",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="attribution_windows",
        help_text=_("Empty: the brand's default for every channel."),
    )
    days = models.PositiveSmallIntegerField(_("days"), default=15)

    class Meta:
        verbose_name = _("attribution window")
        verbose_name_plural = _("attribution windows")
        constraints = [
            models.UniqueConstraint(Coalesce("channel", 0), name="attribution_window_one_per_channel"),
            models.CheckConstraint(condition=Q(days__gte=1, days__lte=365), name="attribution_days_range"),
        ]

    def __str__(self):
        return f"{self.channel or _('All channels')}: {self.days}"


class ScanEvent(models.Model):
    """A customer opened a guide's or a store's QR code (and maybe gave a phone number)."""

    guide = models.ForeignKey(Guide, on_delete=models.PROTECT, null=True, blank=True, related_name="scans")
    store = models.ForeignKey(
        "stores.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="scans"
    )
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, null=True, blank=True, related_name="scans"
    )
    outcome = models.CharField(
        _("outcome"), max_length=20, choices=ScanOutcome.choices, default=ScanOutcome.OPENED
    )
    user_agent = models.CharField(_("browser"), max_length=255, blank=True)
    scanned_at = models.DateTimeField(_("scanned at"), auto_now_add=True)

    class Meta:
        verbose_name = _("scan")
        verbose_name_plural = _("scans")
        ordering = ["-scanned_at", "-id"]
        indexes = [
            models.Index(fields=["guide", "scanned_at"], name="scan_guide_idx"),
            models.Index(fields=["store", "scanned_at"], name="scan_store_idx"),
        ]

    def __str__(self):
        return f"{self.guide_id or self.store_id} {self.scanned_at:%Y-%m-%d %H:%M} {self.outcome}"


class Binding(models.Model):
    """A member bound to a guide ("fan"): orders before `ends_at` are attributed to the guide.

    One open binding per member (`ended_at` empty); a scan of another guide ends it (last scan
    wins), a re-scan of the same guide moves `last_scan_at` and `ends_at` on.
    """

    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="bindings")
    guide = models.ForeignKey(Guide, on_delete=models.PROTECT, related_name="bindings")
    store = models.ForeignKey(
        "stores.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="bindings"
    )
    started_at = models.DateTimeField(_("bound at"))
    last_scan_at = models.DateTimeField(_("last scan"))
    ends_at = models.DateTimeField(_("window ends"), help_text=_("Exclusive: Asia/Shanghai midnight."))
    scan_count = models.PositiveIntegerField(_("scans"), default=1)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    end_reason = models.CharField(_("why ended"), max_length=20, choices=BindingEnd.choices, blank=True)
    ended_by = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The binding that took over."),
    )

    class Meta:
        verbose_name = _("binding")
        verbose_name_plural = _("bindings")
        ordering = ["-last_scan_at", "-id"]
        indexes = [
            models.Index(fields=["member", "ended_at"], name="binding_member_idx"),
            models.Index(fields=["guide", "ends_at"], name="binding_guide_idx"),
        ]

    def __str__(self):
        return f"{self.member_id} -> {self.guide_id} until {self.ends_at:%Y-%m-%d}"


class CommissionRule(models.Model):
    """A commission rate for a channel / category / guide level (empty = any); the most specific
    rule in force wins. Rules are never edited: a change ends one and starts another."""

    channel = models.ForeignKey(
        "catalog.Channel", on_delete=models.PROTECT, null=True, blank=True, related_name="commission_rules"
    )
    category = models.ForeignKey(
        "catalog.Category", on_delete=models.PROTECT, null=True, blank=True, related_name="commission_rules"
    )
    level = models.ForeignKey(
        GuideLevel, on_delete=models.PROTECT, null=True, blank=True, related_name="commission_rules"
    )
    rate_percent = models.DecimalField(_("rate (%)"), max_digits=5, decimal_places=2, default=0)
    fixed_per_unit = MoneyField(_("fixed amount per unit"), default=0)
    valid_from = models.DateTimeField(_("valid from"))
    valid_to = models.DateTimeField(_("valid to"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("commission rule")
        verbose_name_plural = _("commission rules")
        ordering = ["-valid_from", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rate_percent__gte=0, rate_percent__lte=100, fixed_per_unit__gte=0),
                name="commission_rule_amounts_in_range",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")),
                name="commission_rule_window_forward",
            ),
        ]

    def __str__(self):
        return f"{self.rate_percent}% + {self.fixed_per_unit}"


class CommissionRuleChange(models.Model):
    """Audit: who started or ended which commission rule, and when."""

    rule = models.ForeignKey(CommissionRule, on_delete=models.PROTECT, related_name="changes")
    action = models.CharField(_("action"), max_length=20)
    detail = models.JSONField(_("detail"), default=dict)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("commission rule change")
        verbose_name_plural = _("commission rule changes")
        ordering = ["-changed_at", "-id"]

    def __str__(self):
        return f"{self.rule_id} {self.action}"


class Statement(models.Model):
    """A month's settlement for one guide or one partner: draft -> approved (HQ) -> paid.

    The statement claims the payable ledger entries not yet on a statement of its party; once
    approved, its total and its entries never change (later entries go to the next one)."""

    party = models.CharField(_("for"), max_length=10, choices=StatementParty.choices)
    guide = models.ForeignKey(
        Guide, on_delete=models.PROTECT, null=True, blank=True, related_name="statements"
    )
    partner = models.ForeignKey(
        "stores.Partner", on_delete=models.PROTECT, null=True, blank=True, related_name="statements"
    )
    period = models.DateField(_("month"), help_text=_("First day of the month."))
    status = models.CharField(
        _("status"), max_length=10, choices=StatementStatus.choices, default=StatementStatus.DRAFT
    )
    total = MoneyField(_("total"), default=0)
    entry_count = models.PositiveIntegerField(_("entries"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    payment_reference = models.CharField(_("payment reference"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("statement")
        verbose_name_plural = _("statements")
        ordering = ["-period", "party", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(party="guide", guide__isnull=False, partner__isnull=True))
                | Q(party="partner", partner__isnull=False, guide__isnull=True),
                name="statement_one_party",
            ),
            models.UniqueConstraint(
                fields=["guide", "period"], condition=Q(guide__isnull=False), name="statement_guide_month"
            ),
            models.UniqueConstraint(
                fields=["partner", "period"],
                condition=Q(partner__isnull=False),
                name="statement_partner_month",
            ),
        ]

    def __str__(self):
        return f"{self.period:%Y-%m} {self.guide_id or self.partner_id} {self.total}"

    @property
    def status_tone(self) -> str:
        """The colour of the status badge (config.badges)."""
        return STATEMENT_STATUS_TONES.get(self.status, "")

    def _may_become(self, wanted: str) -> bool:
        # The state machine is guides.settlement's, which imports this module: read when asked.
        from guides.settlement import TRANSITIONS

        return wanted in TRANSITIONS.get(self.status, set())

    @property
    def can_be_approved(self) -> bool:
        """A draft: HQ may approve it (guides.settlement's state machine)."""
        return self._may_become(StatementStatus.APPROVED)

    @property
    def can_be_paid(self) -> bool:
        """Approved: HQ may mark it paid (guides.settlement's state machine)."""
        return self._may_become(StatementStatus.PAID)


class CommissionEntry(models.Model):
    """Append-only ledger row. `held_change` and `payable_change` move the guide's two balances:
    accrual +held; release -held +payable; clawback -held (inside the window) or -payable (after
    release), or + of either with a negative base when a return's threshold keep-back makes the
    line's kept units worth more (guides.commission.commission_rebase); reward +payable. Balances
    and statements are sums; nothing is ever edited except the statement that claims a payable row.

    A release row moves the held commission of many accruals at once: one row per guide,
    partner and store per release run. Which accruals it releases is a rule, not a list: the
    accruals of its guide, partner and store whose line's return window closed by
    `released_through`, up to accrual id `accruals_through`, not released by an earlier row, with
    something still held (guides.settlement.releases_of / released_accruals read it). A month of a
    million lines is ten thousand rows, not a million. (A release row with `accrual` set releases
    that one accrual: the older shape, still honoured.)

    Every index is written for every row, so the table carries only those its reads need."""

    kind = models.CharField(_("kind"), max_length=20, choices=EntryKind.choices)
    guide = models.ForeignKey(
        Guide,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="commission_entries",
        db_index=False,  # (guide, created_at) below serves it
    )
    partner = models.ForeignKey(
        "stores.Partner",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="commission_entries",
        help_text=_("The guide's partner (directly or through the store) when the entry was made."),
        db_index=False,  # (partner, created_at) below serves it
    )
    store = models.ForeignKey(
        "stores.Store",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="commission_entries",
        db_index=False,  # reports group by it over a period; nothing looks it up alone
    )
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="commission_entries"
    )
    line = models.ForeignKey(
        "orders.OrderLine",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="commission_entries",
        db_index=False,  # the one-accrual-per-line unique index serves the accrual lookups
    )
    accrual = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="followups",
        help_text=_("The accrual a release or clawback belongs to."),
        db_index=False,  # (accrual, kind) below serves it
    )
    rule = models.ForeignKey(
        CommissionRule,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="entries",
        db_index=False,  # rules are never deleted; nothing looks entries up by rule
    )
    base_amount = MoneyField(_("paid amount"), default=0, help_text=_("What the rate applied to."))
    held_change = MoneyField(_("held change"), default=0)
    payable_change = MoneyField(_("payable change"), default=0)
    statement = models.ForeignKey(
        Statement, on_delete=models.PROTECT, null=True, blank=True, related_name="guide_entries"
    )
    partner_statement = models.ForeignKey(
        Statement, on_delete=models.PROTECT, null=True, blank=True, related_name="partner_entries"
    )
    note = models.CharField(_("note"), max_length=255, blank=True)
    released_through = models.DateTimeField(
        _("windows closed by"),
        null=True,
        blank=True,
        help_text=_("Release rows: the accruals whose return window closed by then."),
    )
    accruals_through = models.BigIntegerField(
        _("accruals up to"),
        null=True,
        blank=True,
        help_text=_("Release rows: the last accrual (id) the run could see."),
    )
    accrual_count = models.PositiveIntegerField(
        _("lines released"),
        default=0,
        db_default=0,
        help_text=_("Release rows: how many accruals they release."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("booked at"))

    class Meta:
        verbose_name = _("commission entry")
        verbose_name_plural = _("commission entries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["line"], condition=Q(kind="accrual"), name="commission_one_accrual_per_line"
            ),
            models.UniqueConstraint(
                fields=["accrual"], condition=Q(kind="release"), name="commission_one_release_per_accrual"
            ),
            models.CheckConstraint(
                condition=~Q(held_change=0) | ~Q(payable_change=0), name="commission_entry_moves_money"
            ),
            models.CheckConstraint(
                condition=Q(guide__isnull=False) | Q(partner__isnull=False), name="commission_entry_has_party"
            ),
            models.CheckConstraint(
                condition=Q(released_through__isnull=True, accruals_through__isnull=True)
                | Q(kind="release", released_through__isnull=False, accruals_through__isnull=False),
                name="commission_release_rule_complete",
            ),
        ]
        indexes = [
            models.Index(fields=["guide", "created_at"], name="commission_guide_idx"),
            models.Index(fields=["partner", "created_at"], name="commission_partner_idx"),
            models.Index(fields=["accrual", "kind"], name="commission_accrual_kind_idx"),
            # Partial: only the rows that are, or wait to be, on a statement (releases, payable
            # clawbacks, rewards), never the accruals: a month-end reads and totals them by these.
            models.Index(
                fields=["statement"],
                condition=Q(statement__isnull=False),
                name="commission_on_statement_idx",
            ),
            models.Index(
                fields=["partner_statement"],
                condition=Q(partner_statement__isnull=False),
                name="commission_on_partner_st_idx",
            ),
            models.Index(
                fields=["created_at"],
                condition=~Q(payable_change=0)
                & (Q(statement__isnull=True) | Q(partner_statement__isnull=True)),
                name="commission_unclaimed_idx",
            ),
            # The release rows only (a few per guide a month): "is this accrual released yet?"
            models.Index(
                fields=["guide", "released_through"],
                condition=Q(kind="release"),
                name="commission_release_idx",
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.held_change:+}/{self.payable_change:+}"


class PartnerRewardRule(models.Model):
    """A yearly bonus: the top N partners by attributed (paid, not refunded) sales get `bonus`."""

    year = models.PositiveSmallIntegerField(_("year"), unique=True)
    top_n = models.PositiveSmallIntegerField(_("top partners rewarded"), default=10)
    bonus = MoneyField(_("bonus per partner"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("partner reward rule")
        verbose_name_plural = _("partner reward rules")
        ordering = ["-year"]
        constraints = [
            models.CheckConstraint(condition=Q(top_n__gte=1, bonus__gt=0), name="partner_reward_positive"),
        ]

    def __str__(self):
        return f"{self.year}: top {self.top_n} x {self.bonus}"


class PartnerReward(models.Model):
    """A partner's place in a year's ranking and the bonus entry it earned (computed once)."""

    rule = models.ForeignKey(PartnerRewardRule, on_delete=models.PROTECT, related_name="rewards")
    partner = models.ForeignKey("stores.Partner", on_delete=models.PROTECT, related_name="rewards")
    rank = models.PositiveSmallIntegerField(_("rank"))
    attributed_sales = MoneyField(_("attributed sales"))
    entry = models.OneToOneField(CommissionEntry, on_delete=models.PROTECT, related_name="reward")

    class Meta:
        verbose_name = _("partner reward")
        verbose_name_plural = _("partner rewards")
        ordering = ["rule", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "partner"], name="partner_reward_once"),
        ]

    def __str__(self):
        return f"{self.rule.year} #{self.rank} {self.partner_id}"
