"""HQ's admin for the catalog and the price list.

Prices, the one-price flag and the audit trail are business rules, so every write here
goes through catalog.services; a refusal is shown as the service's message on the page.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.cache import cache
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export.admin import ImportExportModelAdmin
from import_export.formats import base_formats
from tablib import InvalidDimensions

from catalog.models import SKU, Category, Channel, Price, PriceChange, Product
from catalog.resources import PriceResource, ProductResource, SKUResource
from catalog.services import UnifiedResult, category_set_unified, price_end, price_set, sku_set_unified
from config.admin import HostileInputModelAdmin, ModelAdmin, TabularInline
from config.errors import DomainError
from config.roles import SYSTEM


class HQImportExportAdmin(HostileInputModelAdmin, ImportExportModelAdmin):
    """Import (with its dry-run preview) and export in CSV and XLSX, for users allowed to write."""

    import_formats = [base_formats.CSV, base_formats.XLSX]
    export_formats = [base_formats.CSV, base_formats.XLSX]
    # Rows with errors are listed by row number and message, not with a traceback.
    import_error_display = ("message",)

    def has_import_permission(self, request):
        return self.has_add_permission(request) and self.has_change_permission(request)

    def has_export_permission(self, request):
        return self.has_view_permission(request)

    def export_action(self, request):
        """The export of the list as filtered: filters in the address the list does not know (a
        hand-made `?page=`, a value that is no key) say so and offer the whole list's export,
        instead of a 500 from the admin's list."""
        try:
            return super().export_action(request)
        except IncorrectLookupParameters:
            self.message_user(
                request,
                _("The filters in the address are not valid for this list; they were left out."),
                level=messages.ERROR,
            )
            return HttpResponseRedirect(request.path)

    def add_data_read_fail_error_to_form(self, form, e):
        if isinstance(e, UnicodeDecodeError):
            reason = _("it is not UTF-8 text")
        elif isinstance(e, InvalidDimensions):
            reason = _("its rows do not all have as many columns as the header")
        else:
            reason = type(e).__name__
        form.add_error(
            "import_file",
            _(
                "The file could not be read (%(reason)s). Save it as CSV (UTF-8) or XLSX and pick the "
                "matching format. Nothing was imported."
            )
            % {"reason": reason},
        )

    def import_action(self, request, **kwargs):
        """The preview, with the file's problems as messages on the form: import-export shows an
        error outside a row (a missing column) with its traceback, server paths included, and an
        unexpected row error hides every other row's validation message."""
        response = super().import_action(request, **kwargs)
        context = getattr(response, "context_data", None) or {}
        result, form = context.get("result"), context.get("form")
        if result is None or form is None:
            return response
        if result.base_errors:
            for error in result.base_errors:
                form.add_error("import_file", _("%(error)s Nothing was imported.") % {"error": error.error})
            result.base_errors.clear()
            context["result"] = None
        for number, errors in result.row_errors():
            for error in errors:
                form.add_error(None, _("row %(row)s: %(error)s") % {"row": number, "error": error.error})
            errors.clear()  # the row's own messages (in the validation list) stay visible
        return response

    def process_import(self, request, **kwargs):
        """The confirm step, once per preview: a second press (or a confirm after the upload was
        cleaned away) says so instead of failing on the missing file. The claim is in the shared
        cache, so two presses at once on two app servers import the file once."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        name = str(request.POST.get("import_file_name", ""))[:255]
        if name and not cache.add(f"import-export:confirmed:{name}", True, timeout=60 * 60 * 24):
            return self._import_gone(request)
        try:
            return super().process_import(request, **kwargs)
        except FileNotFoundError:  # read before anything is written: nothing was imported
            return self._import_gone(request)

    def _import_gone(self, request):
        self.message_user(
            request,
            _(
                "This import was already confirmed or has expired; nothing more was imported. "
                "Upload the file again to import it."
            ),
            level=messages.ERROR,
        )
        info = self.opts.app_label, self.opts.model_name
        return HttpResponseRedirect(reverse(f"admin:{info[0]}_{info[1]}_import"))

    def process_result(self, result, request):
        # The confirm step imports again for real; if the data changed since the preview
        # (someone else wrote in between) the file was rolled back whole: say so.
        if result.has_errors() or result.has_validation_errors():
            self.message_user(request, import_failure_message(result), level=messages.ERROR)
            info = self.opts.app_label, self.opts.model_name
            return HttpResponseRedirect(reverse(f"admin:{info[0]}_{info[1]}_import"))
        return super().process_result(result, request)


def import_failure_message(result, limit: int = 10) -> str:
    problems = [str(error.error) for error in result.base_errors]
    for number, errors in result.row_errors():
        problems.extend(_("row %(row)s: %(error)s") % {"row": number, "error": e.error} for e in errors)
    for row in result.invalid_rows:
        for field, field_errors in row.error_dict.items():
            text = "; ".join(str(e) for e in field_errors)
            if field == NON_FIELD_ERRORS:
                problems.append(_("row %(row)s: %(error)s") % {"row": row.number, "error": text})
            else:
                problems.append(
                    _("row %(row)s, %(field)s: %(error)s")
                    % {"row": row.number, "field": field, "error": text}
                )
    shown = "; ".join(problems[:limit])
    if len(problems) > limit:
        shown += " " + _("(and %(count)d more)") % {"count": len(problems) - limit}
    return _("Nothing was imported: %(problems)s") % {"problems": shown}


def add_domain_error(form: forms.Form, exc: DomainError) -> None:
    """Put a service's refusal on the form fields it names, else on top of the form."""
    placed = False
    for name, field_messages in (exc.fields or {}).items():
        if name in form.fields and name not in form.errors:
            form.add_error(name, list(field_messages))
            placed = True
    if not placed:
        form.add_error(None, exc.message)


def _scope(price) -> str:
    return price.channel.name if price.channel_id else _("All channels")


# Actions offered on the change list and, since Django 6.1, on the object's own page.
BOTH = [admin.ActionLocation.CHANGE_LIST, admin.ActionLocation.CHANGE_FORM]


def adopt_saved(obj, saved) -> None:
    """save_model's object becomes the row the service saved (its id and every stored value),
    so the admin's redirect and messages name the real row."""
    for field in saved._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False


class _DryRun(Exception):
    """Raised to roll back the savepoint of a validation-only service call."""


def dry_run(form: forms.Form, call, *, show=add_domain_error) -> None:
    """Ask a service in a savepoint that is always rolled back, so a refusal lands on the form
    (through `show`); save_model then makes the same call for real."""
    try:
        with transaction.atomic():
            call()
            raise _DryRun
    except _DryRun:
        pass
    except DomainError as exc:
        show(form, exc)


def end_all(modeladmin, request, rows, end, *, refusal, none_ended: str, ended: str, level=messages.INFO):
    """An "End now" action: every selected version ends through its service, or none does.

    `refusal(row, reason)` names the row a refusal is about; `none_ended` (with %(reason)s) and
    `ended` (with %(count)d) are the translated messages shown after."""
    try:
        with transaction.atomic():
            for row in rows:
                try:
                    end(row)
                except DomainError as exc:
                    exc.message = refusal(row, exc.message)
                    raise
    except DomainError as exc:
        modeladmin.message_user(request, none_ended % {"reason": exc.message}, messages.ERROR)
        return
    modeladmin.message_user(request, ended % {"count": len(rows)}, level)


class ValidNowFilter(admin.SimpleListFilter):
    """Versions valid now (valid_from <= now < valid_to, or no end) or not; subclasses name it."""

    title = gettext_lazy("live now")
    parameter_name = "live"
    now_label = gettext_lazy("Live now")

    def lookups(self, request, model_admin):
        return (("yes", self.now_label), ("no", _("Ended or not started")))

    def queryset(self, request, queryset):
        now = timezone.now()
        live = Q(valid_from__lte=now) & (Q(valid_to__isnull=True) | Q(valid_to__gt=now))
        if self.value() == "yes":
            return queryset.filter(live)
        if self.value() == "no":
            return queryset.exclude(live)
        return queryset


# --- Audit trail: shown on the SKU and the Price pages, never edited.


class PriceChangeInline(TabularInline):
    model = PriceChange
    fk_name = "price"
    fields = readonly_fields = (
        "action",
        "channel",
        "old_amount",
        "new_amount",
        "valid_from",
        "valid_to",
        "changed_by",
        "changed_at",
    )
    extra = 0
    can_delete = False
    verbose_name_plural = gettext_lazy("Price changes (who, when, old → new)")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("channel", "changed_by")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SKUPriceChangeInline(PriceChangeInline):
    fk_name = "sku"


class SKUPriceInline(TabularInline):
    """The SKU's price versions, read-only: prices are added on the Price page or by import."""

    model = Price
    fields = readonly_fields = ("channel", "amount", "valid_from", "valid_to", "created_by")
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = gettext_lazy("Prices")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("channel", "created_by")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PriceChange)
class PriceChangeAdmin(ModelAdmin):
    """The audit trail of the price list: read-only, nobody adds, edits or deletes rows."""

    list_display = (
        "changed_at",
        "sku",
        "scope",
        "action",
        "old_amount",
        "new_amount",
        "valid_from",
        "valid_to",
        "changed_by",
    )
    list_filter = ("action", "channel")
    search_fields = ("sku__code", "sku__name")
    list_select_related = ("sku", "channel", "changed_by")
    show_full_result_count = False

    @admin.display(description=gettext_lazy("channel"), ordering="channel__code")
    def scope(self, obj):
        return _scope(obj)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Catalog


def _set_unified(modeladmin, request, unified: bool, call) -> None:
    try:
        result = call()
    except DomainError as exc:
        modeladmin.message_user(request, exc.message, level=messages.ERROR)
        return
    if unified:
        text = _("%(changed)d SKUs marked one product, one price (%(unchanged)d already were).")
    else:
        text = _("%(changed)d SKUs no longer one product, one price (%(unchanged)d already were not).")
    modeladmin.message_user(request, text % {"changed": result.changed, "unchanged": result.unchanged})


@admin.register(Category)
class CategoryAdmin(ModelAdmin):
    list_display = ("name", "code", "parent")
    search_fields = ("code", "name")
    list_select_related = ("parent",)
    autocomplete_fields = ("parent",)
    actions = ("mark_unified", "unmark_unified")

    @admin.action(
        description=gettext_lazy("Mark all SKUs in category as one product, one price"),
        permissions=["change"],
        location=BOTH,
    )
    def mark_unified(self, request, queryset):
        self._set(request, queryset, unified=True)

    @admin.action(
        description=gettext_lazy("Unmark all SKUs in category as one product, one price"),
        permissions=["change"],
        location=BOTH,
    )
    def unmark_unified(self, request, queryset):
        self._set(request, queryset, unified=False)

    def _set(self, request, queryset, *, unified: bool) -> None:
        @transaction.atomic  # several categories: all or none, like the SKUs of one category
        def call():
            results = [
                category_set_unified(category=category, unified=unified, actor=request.user)
                for category in queryset
            ]
            return UnifiedResult(
                changed=sum(r.changed for r in results), unchanged=sum(r.unchanged for r in results)
            )

        _set_unified(self, request, unified, call)


class SKUInline(TabularInline):
    model = SKU
    fields = ("code", "name", "barcode", "serial_tracked", "dealer_cost", "is_active", "unified")
    readonly_fields = ("unified",)
    extra = 0
    show_change_link = True


@admin.register(Product)
class ProductAdmin(HQImportExportAdmin):
    resource_classes = [ProductResource]
    list_display = ("code", "name", "brand", "category", "created_at")
    list_filter = ("category", "brand")
    search_fields = ("code", "name", "brand")
    list_select_related = ("category",)
    autocomplete_fields = ("category",)
    inlines = (SKUInline,)


@admin.register(SKU)
class SKUAdmin(HQImportExportAdmin):
    resource_classes = [SKUResource]
    list_display = (
        "code",
        "name",
        "product",
        "category",
        "barcode",
        "unified",
        "serial_tracked",
        "is_active",
    )
    list_filter = ("unified", "serial_tracked", "is_active", "product__category")
    search_fields = ("code", "barcode", "name")
    list_select_related = ("product", "product__category")
    autocomplete_fields = ("product",)
    # The flag changes only through the actions below: marking is refused while channel prices exist.
    readonly_fields = ("unified",)
    inlines = (SKUPriceInline, SKUPriceChangeInline)
    actions = ("mark_unified", "unmark_unified")
    show_full_result_count = False

    @admin.display(description=gettext_lazy("category"), ordering="product__category__name")
    def category(self, obj):
        return obj.product.category

    @admin.action(
        description=gettext_lazy("Mark as one product, one price"), permissions=["change"], location=BOTH
    )
    def mark_unified(self, request, queryset):
        skus = list(queryset.values_list("pk", flat=True))
        _set_unified(
            self, request, True, lambda: sku_set_unified(skus=skus, unified=True, actor=request.user)
        )

    @admin.action(
        description=gettext_lazy("Unmark one product, one price"), permissions=["change"], location=BOTH
    )
    def unmark_unified(self, request, queryset):
        skus = list(queryset.values_list("pk", flat=True))
        _set_unified(
            self, request, False, lambda: sku_set_unified(skus=skus, unified=False, actor=request.user)
        )


@admin.register(Channel)
class ChannelAdmin(ModelAdmin):
    list_display = ("code", "name", "kind", "margin_floor_percent", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("code", "name")


# --- Prices


class PriceAddForm(forms.ModelForm):
    """A new price version. clean() asks price_set in a savepoint that is always rolled back,
    so a refusal (unified SKU, overlap, margin floor) lands on the form; save_model writes."""

    class Meta:
        model = Price
        fields = ("sku", "channel", "amount", "valid_from", "valid_to")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        dry_run(
            self,
            lambda: price_set(
                sku=data["sku"],
                channel=data.get("channel"),
                amount=data["amount"],
                valid_from=data["valid_from"],
                valid_to=data.get("valid_to"),
                actor=SYSTEM,  # a dry run: save_model sets it as the admin
            ),
        )
        return data


@admin.register(Price)
class PriceAdmin(HQImportExportAdmin):
    """New prices go through price_set; stored prices are read-only apart from "End now"."""

    resource_classes = [PriceResource]
    form = PriceAddForm
    list_display = ("sku", "scope", "amount", "valid_from", "valid_to", "live", "created_by")
    list_filter = (ValidNowFilter, "channel", "sku__unified")
    search_fields = ("sku__code", "sku__barcode", "sku__name")
    list_select_related = ("sku", "channel", "created_by")
    autocomplete_fields = ("sku",)
    inlines = (PriceChangeInline,)
    actions = ("end_now",)
    show_full_result_count = False

    @admin.display(description=gettext_lazy("channel"), ordering="channel__code")
    def scope(self, obj):
        return _scope(obj)

    @admin.display(description=gettext_lazy("live now"), boolean=True)
    def live(self, obj):
        return obj.is_live_at(timezone.now())

    def get_changeform_initial_data(self, request):
        return {"valid_from": timezone.now(), **super().get_changeform_initial_data(request)}

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def has_change_permission(self, request, obj=None):
        return False  # a price is never edited: a change is a new version

    def has_delete_permission(self, request, obj=None):
        return False  # the audit trail points at every price

    def has_end_permission(self, request):
        return self.has_add_permission(request)

    def has_import_permission(self, request):
        return self.has_add_permission(request)

    def save_model(self, request, obj, form, change):
        if change:
            raise PermissionDenied
        # Validated by the form's dry run inside this same request transaction; a refusal
        # here (a concurrent write in between) raises and rolls the whole request back.
        price = price_set(
            sku=obj.sku,
            channel=obj.channel,
            amount=obj.amount,
            valid_from=obj.valid_from,
            valid_to=obj.valid_to,
            actor=request.user,
        )
        adopt_saved(obj, price)

    @admin.action(description=gettext_lazy("End now"), permissions=["end"], location=BOTH)
    def end_now(self, request, queryset):
        end_all(
            self,
            request,
            list(queryset.select_related("sku", "channel")),
            lambda price: price_end(price=price, actor=request.user),
            refusal=lambda price, reason: f"{price.sku.code} ({_scope(price)}): {reason}",
            none_ended=_("No price was ended. %(reason)s"),
            ended=_("%(count)d prices ended."),
        )
