"""The helpers every portal view shares (pagination, showing a domain error on a form, the role
decorators, the `text` path converter) and the health check. The portal home is portal.views."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.http import JsonResponse
from django.urls import register_converter
from django.utils.translation import gettext as _

from config.errors import DomainError
from config.roles import STAFF_ROLES, is_hq, role_names
from config.sql import databases_answer


class TextConverter:
    """A path segment like `str`, without control characters: a NUL byte in a ticket number or a
    guide's code is a 404 from the resolver, never a query PostgreSQL refuses (a 500)."""

    regex = "[^/\x00-\x1f\x7f]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


TEXT_CONVERTER = "text"  # `<text:code>` in the URLconfs of the pages that look a code up
register_converter(TextConverter, TEXT_CONVERTER)

PAGE_SIZE = 50


def paginate(request, rows, *, per_page: int = PAGE_SIZE, param: str = "page") -> Page:
    """One page of a queryset or list; a bad or too-high page number gives the nearest page."""
    return Paginator(rows, per_page).get_page(request.GET.get(param))


def add_domain_error(form, error: DomainError, *, field_map: dict[str, str] | None = None) -> None:
    """Show a service's refusal on the form: under the fields it names, else above the form.

    The message always reaches the page once: a field message equal to it is shown only there.
    """
    field_map = field_map or {}
    placed: set[str] = set()
    for key, messages in (error.fields or {}).items():
        name = field_map.get(key, key)
        if name in form.fields:
            for message in messages:
                form.add_error(name, str(message))
                placed.add(str(message))
    if error.message not in placed:
        form.add_error(None, error.message)


def health(request):
    databases_answer()
    return JsonResponse({"status": "ok"})


def staff_required(view):
    """HQ and store staff (managers, clerks, partners). Guides without a store role and people
    without a role get 403: store, order and member pages are for people who serve customers."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not (is_hq(request.user) or STAFF_ROLES & role_names(request.user)):
            raise PermissionDenied(_("These pages are for store staff, partners and HQ."))
        return view(request, *args, **kwargs)

    return wrapper


def hq_required(view):
    """Anonymous users go to the login page; signed-in users who are not HQ get 403."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not is_hq(request.user):
            raise PermissionDenied(_("This page is for HQ."))
        return view(request, *args, **kwargs)

    return wrapper
