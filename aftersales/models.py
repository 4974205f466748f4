"""After-sales: warranty policies as data, and service tickets (return, exchange, repair) that
any store can open against any channel's order line."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from aftersales.choices import TICKET_STATUS_TONES, OpenedVia, TicketKind, TicketStatus


class WarrantyPolicy(models.Model):
    """Windows for return / exchange / repair (days after delivery) and the warranty length, for
    a category (empty = the default). Versions are never edited: a change ends one and starts
    another, and applies to orders delivered after it takes effect (lines keep their policy)."""

    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=120)
    category = models.ForeignKey(
        "catalog.Category",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="warranty_policies",
        help_text=_("Empty: the default for every category without its own policy."),
    )
    return_days = models.PositiveSmallIntegerField(_("return window (days)"))
    exchange_days = models.PositiveSmallIntegerField(_("exchange window (days)"))
    repair_days = models.PositiveSmallIntegerField(_("free repair window (days)"))
    warranty_months = models.PositiveSmallIntegerField(_("warranty (months)"), default=12)
    no_fault_return_days = models.PositiveSmallIntegerField(
        _("no-fault return window (days)"),
        null=True,
        blank=True,
        help_text=_("Empty: returns need a fault."),
    )
    valid_from = models.DateTimeField(_("valid from"))
    valid_to = models.DateTimeField(_("valid to"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("warranty policy")
        verbose_name_plural = _("warranty policies")
        ordering = ["category__name", "-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(exchange_days__gte=F("return_days"), repair_days__gte=F("exchange_days")),
                name="warranty_windows_nested",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")),
                name="warranty_policy_window_forward",
            ),
        ]
        indexes = [models.Index(fields=["category", "valid_from"], name="warranty_category_idx")]

    def __str__(self):
        return f"{self.name} ({self.return_days}/{self.exchange_days}/{self.repair_days})"


class WarrantyPolicyChange(models.Model):
    """Audit: who started or ended which policy version, and when."""

    policy = models.ForeignKey(WarrantyPolicy, on_delete=models.PROTECT, related_name="changes")
    action = models.CharField(_("action"), max_length=20)
    detail = models.JSONField(_("detail"), default=dict)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("warranty policy change")
        verbose_name_plural = _("warranty policy changes")
        ordering = ["-changed_at", "-id"]

    def __str__(self):
        return f"{self.policy_id} {self.action}"


class Ticket(models.Model):
    """A service request against one order line (and serial): opened anywhere, handled anywhere."""

    number = models.CharField(_("number"), max_length=24, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=TicketKind.choices)
    status = models.CharField(
        _("status"), max_length=12, choices=TicketStatus.choices, default=TicketStatus.OPENED
    )
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="tickets")
    line = models.ForeignKey("orders.OrderLine", on_delete=models.PROTECT, related_name="tickets")
    unit = models.ForeignKey(
        "orders.SoldUnit", on_delete=models.PROTECT, null=True, blank=True, related_name="tickets"
    )
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    fault = models.BooleanField(_("faulty"), default=True)
    description = models.TextField(_("what is wrong"), blank=True)
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, null=True, blank=True, related_name="tickets"
    )
    customer_phone = models.CharField(_("customer mobile"), max_length=11)
    channel = models.ForeignKey(
        "catalog.Channel",
        on_delete=models.PROTECT,
        related_name="tickets",
        help_text=_("The channel the product was sold on."),
    )
    opened_via = models.CharField(_("opened via"), max_length=10, choices=OpenedVia.choices)
    intake_store = models.ForeignKey(
        "stores.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="intake_tickets"
    )
    handling_store = models.ForeignKey(
        "stores.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="handled_tickets"
    )
    policy = models.ForeignKey(
        WarrantyPolicy, on_delete=models.PROTECT, null=True, blank=True, related_name="tickets"
    )
    eligibility = models.CharField(_("eligibility when opened"), max_length=255, blank=True)
    refused_reason = models.CharField(_("why refused"), max_length=255, blank=True)
    repair_note = models.TextField(_("repair note"), blank=True)
    refund = models.ForeignKey(
        "orders.Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="tickets"
    )
    replacement_order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="replacement_for"
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    opened_at = models.DateTimeField(_("opened at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("service ticket")
        verbose_name_plural = _("service tickets")
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="ticket_quantity_positive"),
        ]
        indexes = [
            models.Index(fields=["status", "opened_at"], name="ticket_status_idx"),
            models.Index(fields=["handling_store", "status"], name="ticket_handling_idx"),
            models.Index(fields=["intake_store", "status"], name="ticket_intake_idx"),
            models.Index(fields=["channel", "opened_at"], name="ticket_channel_idx"),
        ]

    def __str__(self):
        return self.number

    @property
    def status_tone(self) -> str:
        """The colour of the status badge (config.badges)."""
        return TICKET_STATUS_TONES.get(self.status, "info")

    @property
    def awaits_take_in(self) -> bool:
        """Opened online or by HQ and no store has the unit yet: the state machine's next step is
        a counter receiving it (aftersales.states)."""
        from aftersales.states import can_move  # aftersales.states imports this module

        return not self.handling_store_id and can_move(self, TicketStatus.RECEIVED)


class TicketStatusChange(models.Model):
    """The ticket's history: every step, who took it, at which store, with a note."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=12, choices=TicketStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=TicketStatus.choices)
    store = models.ForeignKey(
        "stores.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.CharField(_("note"), max_length=255, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("ticket step")
        verbose_name_plural = _("ticket steps")
        ordering = ["changed_at", "id"]

    def __str__(self):
        return f"{self.ticket_id}: {self.from_status or '-'} -> {self.to_status}"


class TicketPhoto(models.Model):
    """A photo of the fault (checked: an image, of an allowed type and size)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(_("photo"), upload_to="tickets/%Y/%m/")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("ticket photo")
        verbose_name_plural = _("ticket photos")
        ordering = ["uploaded_at", "id"]

    def __str__(self):
        return self.image.name
