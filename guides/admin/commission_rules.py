"""Guides admin: commission rules."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.admin import (
    BOTH,
    ModelAdmin,
    ReadOnlyAdminMixin,
    TabularInline,
    ValidNowFilter,
    adopt_saved,
    dry_run,
    end_all,
)
from config.roles import SYSTEM
from guides.commission import commission_rule_end, commission_rule_set
from guides.models import (
    CommissionRule,
    CommissionRuleChange,
)
from guides.policies import commission_rules_managed_by


class CommissionRuleChangeInline(ReadOnlyAdminMixin, TabularInline):
    model = CommissionRuleChange
    fields = readonly_fields = ("changed_at", "action", "detail", "changed_by")
    extra = 0
    can_delete = False
    verbose_name_plural = gettext_lazy("Changes (who, when, before → after)")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("changed_by")


class CommissionRuleForm(forms.ModelForm):
    """A new rule. clean() asks commission_rule_set in a savepoint that is always rolled back, so
    a refusal (bad rate, a start that would rewrite booked commission) lands on the form."""

    class Meta:
        model = CommissionRule
        fields = ("channel", "category", "level", "rate_percent", "fixed_per_unit", "valid_from")
        help_texts = {
            "channel": gettext_lazy("Empty: any channel."),
            "category": gettext_lazy("Empty: any category; a category covers its subcategories."),
            "level": gettext_lazy("Empty: any guide level."),
        }

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        # a dry run as the product: save_model sets it as the admin
        dry_run(self, lambda: commission_rule_set(**self._arguments(data), actor=SYSTEM))
        return data

    @staticmethod
    def _arguments(data) -> dict:
        return {
            "rate_percent": data["rate_percent"],
            "fixed_per_unit": data.get("fixed_per_unit") or 0,
            "channel": data.get("channel"),
            "category": data.get("category"),
            "level": data.get("level"),
            "valid_from": data.get("valid_from"),
        }

    def _post_clean(self):
        pass  # commission_rule_set decides (its window and amount rules, in words)


class LiveNowFilter(ValidNowFilter):
    title = gettext_lazy("in force now")
    now_label = gettext_lazy("In force now")


@admin.register(CommissionRule)
class CommissionRuleAdmin(ModelAdmin):
    """New rules go through commission_rule_set; stored rules are never edited, only ended."""

    form = CommissionRuleForm
    list_display = (
        "channel_scope",
        "category",
        "level",
        "rate_percent",
        "fixed_per_unit",
        "valid_from",
        "valid_to",
        "live",
        "created_by",
    )
    list_filter = (LiveNowFilter, "channel", "level")
    search_fields = ("category__code", "category__name", "channel__code")
    list_select_related = ("channel", "category", "level", "created_by")
    autocomplete_fields = ("channel", "category")
    inlines = (CommissionRuleChangeInline,)
    actions = ("end_now",)
    show_full_result_count = False

    @admin.display(description=gettext_lazy("channel"), ordering="channel__code")
    def channel_scope(self, obj):
        return obj.channel.name if obj.channel_id else _("Any channel")

    @admin.display(description=gettext_lazy("in force now"), boolean=True)
    def live(self, obj):
        now = timezone.now()
        return obj.valid_from <= now and (obj.valid_to is None or obj.valid_to > now)

    def get_changeform_initial_data(self, request):
        return {"valid_from": timezone.now(), **super().get_changeform_initial_data(request)}

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def has_change_permission(self, request, obj=None):
        return False  # a rule is never edited: a change is a new rule

    def has_delete_permission(self, request, obj=None):
        return False  # the ledger and the audit trail point at every rule

    def has_end_permission(self, request):
        return commission_rules_managed_by(request.user) and request.user.has_perm(
            "guides.add_commissionrule"
        )

    def save_model(self, request, obj, form, change):
        if change:
            raise PermissionDenied
        # Validated by the form's dry run; a refusal here (a concurrent change in between) raises
        # and rolls the whole request back.
        rule = commission_rule_set(**CommissionRuleForm._arguments(form.cleaned_data), actor=request.user)
        adopt_saved(obj, rule)

    @admin.action(description=gettext_lazy("End now"), permissions=["end"], location=BOTH)
    def end_now(self, request, queryset):
        end_all(
            self,
            request,
            list(queryset.order_by("pk")),
            lambda rule: commission_rule_end(rule=rule, actor=request.user),
            refusal=lambda rule, reason: _("Rule %(id)s: %(reason)s") % {"id": rule.pk, "reason": reason},
            none_ended=_("No rule was ended. %(reason)s"),
            ended=_("%(count)d rules ended."),
            level=messages.SUCCESS,
        )


@admin.register(CommissionRuleChange)
class CommissionRuleChangeAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """The audit trail of the commission rules; written by commission_rule_set / _end only."""

    list_display = ("changed_at", "rule", "action", "changed_by")
    list_filter = ("action",)
    list_select_related = ("rule", "changed_by")
    show_full_result_count = False
