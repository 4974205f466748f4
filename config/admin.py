"""The admin's answer to hostile input, shared by every app's admin (docs/security.md, "Hostile input").

Django's own admin views trust some values they are sent back:
- an autocomplete (or raw-id) key field re-rendered after a refused save looks the sent value up
  in the database as it is: text, a NUL byte or a number past the column gave a 500 instead of the
  form's "Select a valid choice";
- an action's selected rows (`_selected_action`) are filtered on as they are: the same 500;
- a list without actions (a read-only list) shows itself again on a POST without saying why.

Every app's admin builds on `ModelAdmin`, `TabularInline` and `StackedInline` here (or mixes in
`HostileInputAdmin` first when it builds on a third party's admin), so a new admin cannot forget.
This is the kernel: it imports nothing from the apps.
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.widgets import (
    AutocompleteSelect,
    AutocompleteSelectMultiple,
    ForeignKeyRawIdWidget,
    ManyToManyRawIdWidget,
)
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.utils.translation import gettext as _


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

    def changelist_view(self, request, extra_context=None):
        """A POST to a list that has neither actions nor editable columns changes nothing: say so
        (as the admin does for a POST without an action) instead of showing the list again."""
        if (
            request.method == "POST"
            and not self.list_editable
            and not self.get_actions(request)
        ):
            self.message_user(request, _("No action selected."), messages.WARNING)
            return HttpResponseRedirect(request.get_full_path())
        return super().changelist_view(request, extra_context)


class ModelAdmin(HostileInputModelAdmin, admin.ModelAdmin):
    pass


class TabularInline(HostileInputAdmin, admin.TabularInline):
    pass


class StackedInline(HostileInputAdmin, admin.StackedInline):
    pass
