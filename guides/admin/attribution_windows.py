"""Guides admin: attribution windows."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.admin import (
    ModelAdmin,
    adopt_saved,
)
from guides.models import (
    AttributionWindow,
)
from guides.services import attribution_window_set


class AttributionWindowForm(forms.ModelForm):
    days = forms.IntegerField(label=gettext_lazy("days"), min_value=1, max_value=365)

    class Meta:
        model = AttributionWindow
        fields = ("channel", "days")

    def clean(self):
        data = super().clean()
        if self.instance.pk is None and "channel" in data:
            channel = data.get("channel")
            taken = AttributionWindow.objects.filter(
                **({"channel": channel} if channel is not None else {"channel__isnull": True})
            )
            if taken.exists():
                self.add_error(
                    "channel",
                    _("This channel already has a window; change that one.")
                    if channel is not None
                    else _("The brand default already exists; change that one."),
                )
        return data

    def _post_clean(self):
        # The one-per-channel rule is checked in clean() (with a message that says what to do) and
        # the range by the field; the rest is attribution_window_set's.
        pass


@admin.register(AttributionWindow)
class AttributionWindowAdmin(ModelAdmin):
    """Window lengths, set through attribution_window_set (which moves open bindings' ends too)."""

    form = AttributionWindowForm
    list_display = ("scope", "days")
    list_select_related = ("channel",)
    autocomplete_fields = ("channel",)

    @admin.display(description=gettext_lazy("channel"), ordering="channel__code")
    def scope(self, obj):
        return obj.channel.name if obj.channel_id else _("All channels (brand default)")

    def get_readonly_fields(self, request, obj=None):
        return ("channel",) if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        return False  # no service removes a window; set the channel's days to the default instead

    def save_model(self, request, obj, form, change):
        # On a change the channel is read-only (not on the form): the row's own.
        channel = obj.channel if change else form.cleaned_data.get("channel")
        window = attribution_window_set(days=form.cleaned_data["days"], channel=channel, actor=request.user)
        adopt_saved(obj, window)
