"""HQ's admin for webhooks: subscriptions, the outbox, and deliveries with their attempt log.

Events and deliveries are written by the outbox and the tasks: view only. HQ's one move on a
delivery is "Redeliver", which enqueues it to be sent now (a fresh retry schedule; the log is kept).
"""

import secrets

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy, ngettext

from config.admin import BOTH, ModelAdmin, ReadOnlyAdminMixin, TabularInline
from integrations.admin_access import HQOnlyAdmin
from integrations.models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookSubscription
from integrations.outbox import EVENT_TYPES
from integrations.policies import integrations_manageable_by
from integrations.tasks import delivery_redeliver


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


class WebhookSubscriptionForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        label=gettext_lazy("events"),
        choices=[(t, t) for t in EVENT_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("None ticked: every event."),
    )

    class Meta:
        model = WebhookSubscription
        fields = ("url", "secret", "event_types", "channel", "partner", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            self.fields["secret"].initial = new_secret()

    def clean(self):
        data = super().clean()
        if data.get("channel") and data.get("partner"):
            self.add_error(
                "partner", gettext_lazy("A subscription is for one channel or one partner, not both.")
            )
        return data


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(HQOnlyAdmin, ModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ("url", "channel", "partner", "is_active", "created_at")
    list_filter = ("is_active", "channel")
    search_fields = ("url",)
    list_select_related = ("channel", "partner")


class _ReadOnlyInline(ReadOnlyAdminMixin, TabularInline):
    extra = 0
    can_delete = False


class WebhookDeliveryInline(_ReadOnlyInline):
    model = WebhookDelivery
    fields = readonly_fields = ("subscription", "status", "attempts", "last_status_code", "next_attempt_at")
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("subscription")


@admin.register(OutboxEvent)
class OutboxEventAdmin(HQOnlyAdmin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("created_at", "type", "event_id", "channel", "partner", "dispatched_at")
    list_filter = ("type",)
    search_fields = ("event_id", "type")
    list_select_related = ("channel", "partner")
    fields = readonly_fields = (
        "event_id",
        "type",
        "channel",
        "partner",
        "payload",
        "created_at",
        "dispatched_at",
    )
    inlines = (WebhookDeliveryInline,)


class WebhookAttemptInline(_ReadOnlyInline):
    model = WebhookAttempt
    fields = readonly_fields = ("attempted_at", "status_code", "error", "duration_ms")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(HQOnlyAdmin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = (
        "created_at",
        "event",
        "subscription",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
    )
    list_filter = ("status",)
    search_fields = ("event__event_id", "event__type", "subscription__url")
    list_select_related = ("event", "subscription")
    fields = readonly_fields = (
        "event",
        "subscription",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "delivered_at",
        "created_at",
    )
    inlines = (WebhookAttemptInline,)
    actions = ("redeliver",)

    def has_redeliver_permission(self, request):
        return integrations_manageable_by(request.user) and request.user.has_perm(
            "integrations.change_webhookdelivery"
        )

    @admin.action(description=gettext_lazy("Redeliver"), permissions=["redeliver"], location=BOTH)
    def redeliver(self, request, queryset):
        """Enqueue each delivery to be sent now, with a fresh retry schedule."""
        count = 0
        for delivery in queryset.order_by("pk"):
            delivery_redeliver(delivery=delivery)
            count += 1
        self.message_user(
            request,
            ngettext(
                "%(count)d delivery queued again.",
                "%(count)d deliveries queued again.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )
