"""Guides admin: levels and guides."""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from config.admin import (
    BOTH,
    ModelAdmin,
    adopt_saved,
    dry_run,
)
from guides.admin.base import _ask, _each
from guides.models import (
    Guide,
    GuideLevel,
)
from guides.policies import guides_managed_by
from guides.services import guide_register, guide_reinstate, guide_suspend
from members.errors import InvalidPhone
from members.phones import normalise_phone


@admin.register(GuideLevel)
class GuideLevelAdmin(ModelAdmin):
    list_display = ("code", "name", "rank")
    search_fields = ("code", "name")


class GuideForm(forms.ModelForm):
    # Wider than the stored number: HQ may type "+86 138 0013 8000"; clean_phone normalises it.
    phone = forms.CharField(label=gettext_lazy("mobile"), max_length=32, required=False)

    class Meta:
        model = Guide
        fields = ("user", "name", "phone", "store", "partner", "level")

    def clean_phone(self):
        raw = (self.cleaned_data.get("phone") or "").strip()
        if not raw:
            return ""
        try:
            return normalise_phone(raw)
        except InvalidPhone as exc:
            raise forms.ValidationError(exc.message) from None

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if self.instance.pk is None:
            # A new guide is made by guide_register (code, role, one guide per user): ask it first.
            dry_run(
                self,
                lambda: guide_register(
                    user=data.get("user"),
                    name=data.get("name", ""),
                    phone=data.get("phone", ""),
                    store=data.get("store"),
                    partner=data.get("partner"),
                    level=data.get("level"),
                ),
            )
            return data
        # Moving an existing guide: the same pairing rule guide_register applies.
        store, partner = data.get("store"), data.get("partner")
        if store is not None and partner is not None and store.partner_id not in (None, partner.pk):
            self.add_error(
                "partner",
                _("Store %(store)s is run by another partner than %(partner)s.")
                % {"store": store.code, "partner": partner.code},
            )
        return data

    def _post_clean(self):
        if self.instance.pk is None:
            return  # built by guide_register, which checks the same rules with clearer messages
        super()._post_clean()


class GuideSuspendForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why"),
        max_length=255,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=gettext_lazy("Kept on the guide; their QR code then binds nobody."),
    )


@admin.register(Guide)
class GuideAdmin(ModelAdmin):
    """Guides are registered by guide_register (code drawn there) and suspended by its actions."""

    form = GuideForm
    list_display = ("code", "name", "phone", "store", "partner", "level", "status", "created_at")
    list_filter = ("status", "level")
    search_fields = ("=code", "name", "=phone", "=store__code", "=partner__code")
    search_help_text = gettext_lazy("Code, mobile, store or partner code (exact), or part of the name.")
    list_select_related = ("store", "partner", "level")
    autocomplete_fields = ("store", "partner")
    raw_id_fields = ("user",)
    actions = ("suspend", "reinstate")
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("code", "user", "status", "suspended_reason", "suspended_at", "created_at")

    def get_fields(self, request, obj=None):
        fields = ["user", "name", "phone", "store", "partner", "level"]
        if obj is not None:
            fields = ["code", *fields, "status", "suspended_reason", "suspended_at", "created_at"]
        return fields

    def get_search_results(self, request, queryset, search_term):
        try:
            phone = normalise_phone(search_term)
        except InvalidPhone:
            return super().get_search_results(request, queryset, search_term.strip().upper() or search_term)
        return queryset.filter(phone=phone), False

    def has_delete_permission(self, request, obj=None):
        return False  # scans, fans and the ledger point at every guide

    def has_suspend_permission(self, request):
        return guides_managed_by(request.user) and request.user.has_perm("guides.change_guide")

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        guide = guide_register(
            user=data.get("user"),
            name=data["name"],
            phone=data.get("phone", ""),
            store=data.get("store"),
            partner=data.get("partner"),
            level=data.get("level"),
        )
        adopt_saved(obj, guide)

    @admin.action(description=gettext_lazy("Suspend (asks why)"), permissions=["suspend"], location=BOTH)
    def suspend(self, request, queryset):
        queryset = queryset.select_related("store", "partner", "level")
        asked = _ask(
            self,
            request,
            queryset,
            form_class=GuideSuspendForm,
            title=_("Suspend guides"),
            intro=_(
                "Their QR codes will land on a friendly page and bind nobody; their fans' orders are not "
                "attributed while the suspension lasts."
            ),
            button=_("Suspend"),
        )
        if not isinstance(asked, dict):
            return asked
        done = _each(
            self,
            request,
            queryset.order_by("pk"),
            lambda guide: guide_suspend(guide=guide, reason=asked["reason"], actor=request.user),
            label=str,
        )
        if done:
            self.message_user(
                request,
                ngettext("Suspended %(count)d guide.", "Suspended %(count)d guides.", done) % {"count": done},
                messages.SUCCESS,
            )
        return None

    @admin.action(description=gettext_lazy("Reinstate"), permissions=["suspend"], location=BOTH)
    def reinstate(self, request, queryset):
        done = _each(
            self,
            request,
            queryset.order_by("pk"),
            lambda guide: guide_reinstate(guide=guide, actor=request.user),
            label=str,
        )
        if done:
            self.message_user(
                request,
                ngettext("Reinstated %(count)d guide.", "Reinstated %(count)d guides.", done)
                % {"count": done},
                messages.SUCCESS,
            )
