"""HQ's admin for guides, attribution windows, commission rules, the commission ledger and the
settlement statements.

Every business move goes through the guides services, never a plain save: a guide is created by
guide_register (which draws the code) and suspended or reinstated by the actions; a window is set
by attribution_window_set (which also moves open bindings when the default changes); a commission
rule is started by commission_rule_set and ended by commission_rule_end, never edited; statements
are approved and paid by guides.settlement. Scans, bindings, the ledger, rule changes and partner
rewards are records written by those services: view only. A refusal is shown as the service's
message.
"""

import csv

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

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
from config.csv import csv_attachment, csv_cell
from config.errors import DomainError
from config.roles import SYSTEM
from guides.choices import StatementParty
from guides.commission import commission_rule_end, commission_rule_set
from guides.models import (
    AttributionWindow,
    Binding,
    CommissionEntry,
    CommissionRule,
    CommissionRuleChange,
    Guide,
    GuideLevel,
    PartnerReward,
    PartnerRewardRule,
    ScanEvent,
    Statement,
)
from guides.policies import commission_rules_managed_by, guides_managed_by
from guides.services import attribution_window_set, guide_register, guide_reinstate, guide_suspend
from guides.settlement import partner_rewards_compute, statement_approve, statement_pay, statement_rows
from members.errors import InvalidPhone
from members.phones import normalise_phone

ACTION_FORM_TEMPLATE = "admin/guides/action_form.html"
ACTION_FORM_LISTED = 50  # the intermediate page names this many of the selected rows


def _ask(modeladmin, request, queryset, *, form_class, title: str, intro: str, button: str):
    """An action's intermediate page: the form's cleaned data once it was sent back valid, else
    the page to show (first time, or again with its errors).

    The page posts back to the same address with everything the action was started with (the
    action, the selected rows, the list's or the object page's field names), plus `apply`.
    """
    if "apply" in request.POST:
        form = form_class(request.POST)
        if form.is_valid():
            return form.cleaned_data
    else:
        form = form_class()
    own = {"csrfmiddlewaretoken", "apply", *form.fields}
    carried = [(key, value) for key, values in request.POST.lists() if key not in own for value in values]
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "intro": intro,
        "button": button,
        "form": form,
        "carried": carried,
        "objects": list(queryset[:ACTION_FORM_LISTED]),
        "more": max(0, queryset.count() - ACTION_FORM_LISTED),
        "opts": opts,
        "back": request.get_full_path(),
    }
    return TemplateResponse(request, ACTION_FORM_TEMPLATE, context)


def _each(modeladmin, request, rows, call, *, label) -> int:
    """Call the service for each row on its own: what can be done is, refusals are shown."""
    done = 0
    for row in rows:
        try:
            call(row)
        except DomainError as exc:
            modeladmin.message_user(
                request,
                _("%(row)s: %(reason)s") % {"row": label(row), "reason": exc.message},
                messages.ERROR,
            )
            continue
        done += 1
    return done


# --- Levels and guides ------------------------------------------------------------------------


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


# --- Attribution windows ----------------------------------------------------------------------


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


# --- Scans and fans: records ------------------------------------------------------------------


@admin.register(ScanEvent)
class ScanEventAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Every opening of a guide's or store's QR code; written by scan_open / scan_bind."""

    list_display = ("scanned_at", "guide", "store", "member", "outcome", "user_agent")
    list_filter = ("outcome",)
    search_fields = ("=guide__code", "=store__code", "=member__phone")
    search_help_text = gettext_lazy("Guide code, store code or the member's mobile (exact).")
    list_select_related = ("guide", "store", "member")
    show_full_result_count = False


@admin.register(Binding)
class BindingAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Fans bound to guides; last scan wins, the same guide extends (guides.services.member_bind)."""

    list_display = (
        "member",
        "guide",
        "store",
        "started_at",
        "last_scan_at",
        "ends_at",
        "scan_count",
        "ended_at",
        "end_reason",
    )
    list_filter = ("end_reason",)
    search_fields = ("=guide__code", "=member__phone")
    search_help_text = gettext_lazy("Guide code or the member's mobile (exact).")
    list_select_related = ("member", "guide", "store", "ended_by")
    show_full_result_count = False


# --- Commission rules -------------------------------------------------------------------------


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


# --- The ledger -------------------------------------------------------------------------------


@admin.register(CommissionEntry)
class CommissionEntryAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """The append-only commission ledger: accruals, releases, clawbacks and rewards."""

    list_display = (
        "created_at",
        "kind",
        "guide",
        "partner",
        "store",
        "order",
        "base_amount",
        "held_change",
        "payable_change",
        "statement",
        "partner_statement",
        "note",
    )
    list_filter = ("kind",)
    search_fields = ("=guide__code", "=partner__code", "=order__number")
    search_help_text = gettext_lazy("Guide code, partner code or order number (exact).")
    list_select_related = ("guide", "partner", "store", "order", "statement", "partner_statement")
    show_full_result_count = False


# --- Statements -------------------------------------------------------------------------------


class PaymentReferenceForm(forms.Form):
    payment_reference = forms.CharField(
        label=gettext_lazy("Payment reference"),
        max_length=64,
        help_text=gettext_lazy("The bank transfer or wallet payout reference."),
    )


STATEMENT_CSV_PREFIX = ("statement", "party", "for", "period", "status")


@admin.register(Statement)
class StatementAdmin(ModelAdmin):
    """Monthly statements, drafted by guides.settlement; HQ approves and records the payout."""

    list_display = (
        "period",
        "party",
        "guide",
        "partner",
        "status",
        "total",
        "entry_count",
        "approved_at",
        "paid_at",
        "payment_reference",
    )
    list_filter = ("status", "party", "period")
    search_fields = ("=guide__code", "=partner__code", "=payment_reference")
    search_help_text = gettext_lazy("Guide code, partner code or payment reference (exact).")
    list_select_related = ("guide", "partner")
    readonly_fields = ("entries",)
    actions = ("approve", "mark_paid", "export_csv")
    show_full_result_count = False

    def get_fields(self, request, obj=None):
        return [f.name for f in Statement._meta.concrete_fields if f.name != "id"] + ["entries"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("guide", "partner", "approved_by", "paid_by")

    def has_add_permission(self, request):
        return False  # drafted by statements_draft / month_end

    def has_change_permission(self, request, obj=None):
        return False  # moves only by the actions; immutable once approved

    def has_delete_permission(self, request, obj=None):
        return False

    def has_settle_permission(self, request):
        return commission_rules_managed_by(request.user) and request.user.has_perm("guides.change_statement")

    @admin.display(description=gettext_lazy("ledger entries"))
    def entries(self, obj):
        if obj.pk is None:
            return "-"
        field = "partner_statement" if obj.party == StatementParty.PARTNER else "statement"
        url = reverse("admin:guides_commissionentry_changelist") + f"?{field}__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("%(count)d entries") % {"count": obj.entry_count})

    @admin.action(description=gettext_lazy("Approve"), permissions=["settle"], location=BOTH)
    def approve(self, request, queryset):
        done = _each(
            self,
            request,
            queryset.order_by("pk"),
            lambda statement: statement_approve(statement=statement, user=request.user),
            label=lambda statement: _("Statement %(id)s") % {"id": statement.pk},
        )
        if done:
            self.message_user(
                request,
                ngettext("Approved %(count)d statement.", "Approved %(count)d statements.", done)
                % {"count": done},
                messages.SUCCESS,
            )

    @admin.action(
        description=gettext_lazy("Mark paid (asks the reference)"), permissions=["settle"], location=BOTH
    )
    def mark_paid(self, request, queryset):
        queryset = queryset.select_related("guide", "partner")
        asked = _ask(
            self,
            request,
            queryset,
            form_class=PaymentReferenceForm,
            title=_("Record the payout"),
            intro=_("Only approved statements can be marked paid; the reference is kept on each."),
            button=_("Mark paid"),
        )
        if not isinstance(asked, dict):
            return asked
        done = _each(
            self,
            request,
            queryset.order_by("pk"),
            lambda statement: statement_pay(
                statement=statement, user=request.user, payment_reference=asked["payment_reference"]
            ),
            label=lambda statement: _("Statement %(id)s") % {"id": statement.pk},
        )
        if done:
            self.message_user(
                request,
                ngettext("Marked %(count)d statement paid.", "Marked %(count)d statements paid.", done)
                % {"count": done},
                messages.SUCCESS,
            )
        return None

    @admin.action(description=gettext_lazy("Export CSV"), permissions=["view"], location=BOTH)
    def export_csv(self, request, queryset):
        """The selected statements' ledger rows in one file, each row naming its statement."""
        statements = list(queryset.select_related("guide", "partner").order_by("period", "party", "pk"))
        response = csv_attachment("statements.csv")
        writer = csv.writer(response)
        columns = None
        for statement in statements:
            rows = statement_rows(statement)
            if columns is None and rows:
                columns = list(rows[0].keys())
                writer.writerow([*STATEMENT_CSV_PREFIX, *columns])
            party = statement.guide.code if statement.guide_id else statement.partner.code
            head = [statement.pk, statement.party, party, f"{statement.period:%Y-%m}", statement.status]
            writer.writerows([*head, *(csv_cell(row[c]) for c in columns)] for row in rows)
        if columns is None:
            writer.writerow(STATEMENT_CSV_PREFIX)
        return response


# --- Partner rewards --------------------------------------------------------------------------


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
