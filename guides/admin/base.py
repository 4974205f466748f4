"""Guides admin: the intermediate page of an action and the one-row-at-a-time call its actions share."""

from django.contrib import messages
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from config.errors import DomainError

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
