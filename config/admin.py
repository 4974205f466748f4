"""The admin's answer to hostile input, shared by every app's admin (docs/security.md, "Hostile input").

Django's own admin views trust some values they are sent back:
- an autocomplete (or raw-id) key field re-rendered after a refused save looks the sent value up
  in the database as it is: text, a NUL byte or a number past the column gave a 500 instead of the
  form's "Select a valid choice";
- an action's selected rows (`_selected_action`) are filtered on as they are: the same 500;
- a list without actions (a read-only list) shows itself again on a POST without saying why.

Every app's admin builds on `ModelAdmin`, `TabularInline` and `StackedInline` here (or mixes in
`HostileInputAdmin` first when it builds on a third party's admin), so a new admin cannot forget.
The helpers every app's admin shares live here too: import and export for HQ (with the file's
problems on the form), asking a service in a dry run so its refusal lands on the form, adopting
the row a service saved, ending versions through their service, the "live now" filter and the
read-only mixin for ledgers. This is the kernel: it imports nothing from the apps.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.widgets import (
    AutocompleteSelect,
    AutocompleteSelectMultiple,
    ForeignKeyRawIdWidget,
    ManyToManyRawIdWidget,
)
from django.core.cache import cache
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
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

from config.errors import DomainError


def valid_keys(field, values) -> list:
    """Of `values` sent for a key `field` (a model field), those the database can be asked about:
    no NUL byte, the field's type (a whole number for an integer key) and within its column."""
    kept = []
    for value in values:
        if value is None or "\x00" in str(value):
            continue
        try:
            python = field.to_python(value)
            field.run_validators(python)
        except (ValidationError, TypeError, ValueError):
            continue
        kept.append(value)
    return kept


def _target(remote_field):
    """The field a relation points at (its `to_field`, else the primary key)."""
    opts = remote_field.model._meta
    return opts.get_field(getattr(remote_field, "field_name", None) or opts.pk.name)


class _SafeAutocomplete:
    """Re-renders only the values that can be a key; the form's own error says the rest is wrong."""

    def optgroups(self, name, value, attr=None):
        values = valid_keys(_target(self.field.remote_field), [v for v in value if v not in ("", None)])
        return super().optgroups(name, values, attr)


class SafeAutocompleteSelect(_SafeAutocomplete, AutocompleteSelect):
    pass


class SafeAutocompleteSelectMultiple(_SafeAutocomplete, AutocompleteSelectMultiple):
    pass


class SafeForeignKeyRawIdWidget(ForeignKeyRawIdWidget):
    def label_and_url_for_value(self, value):
        if not valid_keys(_target(self.rel), [value]):
            return "", ""
        return super().label_and_url_for_value(value)


class HostileInputAdmin:
    """Mix in first: the safe widgets for key fields, and actions that refuse rows that are not keys."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs:
            db = kwargs.get("using")
            if db_field.name in self.get_autocomplete_fields(request):
                kwargs["widget"] = SafeAutocompleteSelect(db_field, self.admin_site, using=db)
            elif db_field.name in self.raw_id_fields:
                kwargs["widget"] = SafeForeignKeyRawIdWidget(db_field.remote_field, self.admin_site, using=db)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.remote_field.through._meta.auto_created:
            db = kwargs.get("using")
            if db_field.name in self.get_autocomplete_fields(request):
                kwargs["widget"] = SafeAutocompleteSelectMultiple(db_field, self.admin_site, using=db)
            elif db_field.name in self.raw_id_fields:
                kwargs["widget"] = ManyToManyRawIdWidget(db_field.remote_field, self.admin_site, using=db)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class HostileInputModelAdmin(HostileInputAdmin):
    """For a model's own admin (not an inline): its actions and its list's POSTs."""

    def response_action(self, request, queryset, *args, **kwargs):
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if len(valid_keys(self.opts.pk, selected)) != len(selected):
            self.message_user(
                request,
                _("Items must be selected in order to perform actions on them. No items have been changed."),
                messages.WARNING,
            )
            return None
        return super().response_action(request, queryset, *args, **kwargs)

    def get_changelist_instance(self, request):
        """A date drill-down past any calendar (?opened_at__year=10**12) is a bad lookup, which the
        admin answers by showing the list unfiltered, not a 500 (Django's own check catches only
        ValueError; a year past the C integer raises OverflowError)."""
        try:
            return super().get_changelist_instance(request)
        except OverflowError as error:
            raise IncorrectLookupParameters(error) from error

    def changelist_view(self, request, extra_context=None):
        """A POST to a list that has neither actions nor editable columns changes nothing: say so
        (as the admin does for a POST without an action) instead of showing the list again."""
        if request.method == "POST" and not self.list_editable and not self.get_actions(request):
            self.message_user(request, _("No action selected."), messages.WARNING)
            return HttpResponseRedirect(request.get_full_path())
        return super().changelist_view(request, extra_context)


class ModelAdmin(HostileInputModelAdmin, admin.ModelAdmin):
    pass


class TabularInline(HostileInputAdmin, admin.TabularInline):
    pass


class StackedInline(HostileInputAdmin, admin.StackedInline):
    pass


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


class ReadOnlyAdminMixin:
    """View-only: the rows are written by services (ledger), never by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
