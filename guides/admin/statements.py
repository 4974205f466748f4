"""Guides admin: statements."""

import csv

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from config.admin import (
    BOTH,
    ModelAdmin,
)
from config.csv import csv_attachment, csv_cell
from guides.admin.base import _ask, _each
from guides.choices import StatementParty
from guides.models import (
    Statement,
)
from guides.policies import commission_rules_managed_by
from guides.settlement import statement_approve, statement_pay, statement_rows


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
