"""Guides admin: partner rewards."""

from django.contrib import admin, messages
from django.db.models import Count
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from config.admin import (
    BOTH,
    ModelAdmin,
    ReadOnlyAdminMixin,
    TabularInline,
)
from config.errors import DomainError
from guides.models import (
    PartnerReward,
    PartnerRewardRule,
)
from guides.policies import commission_rules_managed_by
from guides.settlement import partner_rewards_compute


class PartnerRewardInline(ReadOnlyAdminMixin, TabularInline):
    model = PartnerReward
    fields = readonly_fields = ("rank", "partner", "attributed_sales", "entry")
    extra = 0
    can_delete = False
    verbose_name_plural = gettext_lazy("Rewards computed")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("partner", "entry")


@admin.register(PartnerRewardRule)
class PartnerRewardRuleAdmin(ModelAdmin):
    """A year's bonus for the top partners; computed once, after the year, from the ledger."""

    list_display = ("year", "top_n", "bonus", "rewarded", "created_at")
    inlines = (PartnerRewardInline,)
    actions = ("compute_rewards",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(rewarded_count=Count("rewards"))

    @admin.display(description=gettext_lazy("partners rewarded"), ordering="rewarded_count")
    def rewarded(self, obj):
        return obj.rewarded_count

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.rewards.exists():
            return False  # computed: the rule is the record of what was paid
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.rewards.exists():
            return False
        return super().has_delete_permission(request, obj)

    def has_compute_permission(self, request):
        return commission_rules_managed_by(request.user) and request.user.has_perm("guides.add_partnerreward")

    @admin.action(description=gettext_lazy("Compute rewards"), permissions=["compute"], location=BOTH)
    def compute_rewards(self, request, queryset):
        for rule in queryset.order_by("year"):
            try:
                rewards = partner_rewards_compute(rule=rule, actor=request.user)
            except DomainError as exc:
                self.message_user(
                    request,
                    _("%(year)s: %(reason)s") % {"year": rule.year, "reason": exc.message},
                    messages.ERROR,
                )
                continue
            self.message_user(
                request,
                ngettext(
                    "%(year)s: %(count)d partner rewarded.",
                    "%(year)s: %(count)d partners rewarded.",
                    len(rewards),
                )
                % {"year": rule.year, "count": len(rewards)},
                messages.SUCCESS,
            )


@admin.register(PartnerReward)
class PartnerRewardAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Each partner's place in a year's ranking and the reward entry it earned."""

    list_display = ("rule", "rank", "partner", "attributed_sales", "entry")
    list_filter = ("rule",)
    list_select_related = ("rule", "partner", "entry")
    show_full_result_count = False
