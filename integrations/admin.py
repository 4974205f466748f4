"""API keys in the admin: made through integrations.services (the key is shown ONCE, in a message
after saving), listed by prefix, binding, scopes, last use and revocation; revoked by an action.
Nothing here shows or edits the hash."""

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.admin import BOTH, ModelAdmin, add_domain_error, adopt_saved, dry_run
from config.roles import SYSTEM
from integrations.admin_access import HQOnlyAdmin
from integrations.choices import Scope
from integrations.models import ApiKey
from integrations.services import api_key_create, api_key_revoke


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("scopes"), choices=Scope.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiKey
        fields = ["name", "channel", "partner", "scopes", "expires_at"]

    def clean(self):
        data = super().clean()
        if self.instance.pk is None and not self.errors:
            dry_run(
                self,
                lambda: api_key_create(
                    name=data.get("name", ""),
                    channel=data.get("channel"),
                    partner=data.get("partner"),
                    scopes=data.get("scopes") or [],
                    expires_at=data.get("expires_at"),
                    actor=SYSTEM,
                ),
                show=add_domain_error,
            )
        return data


class RevokedFilter(admin.SimpleListFilter):
    title = gettext_lazy("revoked")
    parameter_name = "revoked"

    def lookups(self, request, model_admin):
        return [("no", _("Active")), ("yes", _("Revoked"))]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(HQOnlyAdmin, ModelAdmin):
    form = ApiKeyForm
    list_display = ("prefix", "name", "binding", "scope_list", "expires_at", "last_used_at", "revoked_at")
    list_filter = (RevokedFilter, "channel", "partner")
    search_fields = ("prefix", "name")
    list_select_related = ("channel", "partner")
    actions = ["revoke_keys"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("prefix",)
        # A key's binding and scopes are what a client was given: make a new key to change them.
        return (
            "prefix",
            "name",
            "channel",
            "partner",
            "scope_list",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "created_by",
            "created_at",
        )

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "channel", "partner", "scopes", "expires_at"]
        return self.get_readonly_fields(request, obj)

    @admin.display(description=gettext_lazy("bound to"))
    def binding(self, key):
        if key.channel_id:
            return format_html("{}: {}", _("channel"), key.channel)
        return format_html("{}: {}", _("partner"), key.partner)

    @admin.display(description=gettext_lazy("scopes"))
    def scope_list(self, key):
        return ", ".join(key.scopes)

    def save_model(self, request, obj, form, change):
        if change:  # nothing is editable on a saved key
            return
        data = form.cleaned_data
        key, plaintext = api_key_create(
            name=data["name"],
            channel=data.get("channel"),
            partner=data.get("partner"),
            scopes=data["scopes"],
            expires_at=data.get("expires_at"),
            actor=request.user,
        )
        adopt_saved(obj, key)
        messages.warning(
            request,
            _("The API key is %(key)s - copy it now: it is shown only this once.") % {"key": plaintext},
        )

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the key row stays as the record of who could call

    @admin.action(description=gettext_lazy("Revoke now"), permissions=["change"], location=BOTH)
    def revoke_keys(self, request, queryset):
        count = 0
        for key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(key=key, actor=request.user)
            count += 1
        self.message_user(request, _("%(n)s key(s) revoked.") % {"n": count}, messages.SUCCESS)


from integrations import admin_webhooks  # noqa
