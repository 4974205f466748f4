"""Machine clients: API keys scoped to one channel or one partner, the stored responses that make
creating requests idempotent, and the outbox of events delivered as signed webhooks."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from integrations.choices import DeliveryStatus


class ApiKey(models.Model):
    """A key for one machine client, bound to one channel or one partner, with scopes.

    Only a hash is stored; the whole key is shown once when it is made. The prefix (the part
    before the dot) stays visible to tell keys apart in lists and logs."""

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True)
    hashed_key = models.CharField(max_length=128)
    channel = models.ForeignKey(
        "catalog.Channel", on_delete=models.PROTECT, null=True, blank=True, related_name="api_keys"
    )
    partner = models.ForeignKey(
        "stores.Partner", on_delete=models.PROTECT, null=True, blank=True, related_name="api_keys"
    )
    scopes = models.JSONField(_("scopes"), default=list)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__isnull=False, partner__isnull=True)
                | Q(channel__isnull=True, partner__isnull=False),
                name="api_key_one_channel_or_partner",
            ),
        ]

    def __str__(self):
        return f"{self.prefix} {self.name}"


class IdempotentRequest(models.Model):
    """The first response to a creating request sent with an Idempotency-Key, replayed for retries.

    Scoped by who sent it (an API key or a user); the fingerprint tells a retry from a different
    request under the same key. A row without a status is a request still running."""

    owner = models.CharField(max_length=64, help_text=_("key:<id> or user:<id>"))
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    response_headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("idempotent request")
        verbose_name_plural = _("idempotent requests")
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="idempotency_owner_key_unique")]

    def __str__(self):
        return f"{self.owner} {self.key}"


class WebhookSubscription(models.Model):
    """A receiver URL for some event types, for one channel or partner (or all, for HQ's own)."""

    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(_("signing secret"), max_length=128)
    event_types = models.JSONField(_("events"), default=list, help_text=_("Empty: every event."))
    channel = models.ForeignKey(
        "catalog.Channel", on_delete=models.CASCADE, null=True, blank=True, related_name="webhooks"
    )
    partner = models.ForeignKey(
        "stores.Partner", on_delete=models.CASCADE, null=True, blank=True, related_name="webhooks"
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["url"]

    def __str__(self):
        return self.url


class OutboxEvent(models.Model):
    """An event written in the same transaction as the change it reports; delivered afterwards."""

    event_id = models.UUIDField(_("event id"), unique=True)
    type = models.CharField(_("type"), max_length=40)
    channel = models.ForeignKey(
        "catalog.Channel", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    partner = models.ForeignKey(
        "stores.Partner", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    payload = models.JSONField(_("payload"))
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    dispatched_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("outbox event")
        verbose_name_plural = _("outbox events")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.type} {self.event_id}"


class WebhookDelivery(models.Model):
    """One event to one subscriber: attempts, the last status code, when to try next."""

    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "subscription"], name="webhook_delivery_once"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_due_idx")]

    def __str__(self):
        return f"{self.event_id} -> {self.subscription_id} ({self.status})"


class WebhookAttempt(models.Model):
    """The delivery log: every POST, its status code (or error) and how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    attempted_at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["attempted_at", "id"]

    def __str__(self):
        return f"{self.delivery_id} {self.status_code or self.error}"
