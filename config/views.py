"""Project-wide pages (the portal home that points each role to its work, health) and the helpers
every portal view shares: pagination and showing a domain error on a form."""

from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import register_converter, reverse
from django.utils.translation import gettext as _

from aftersales.choices import TicketStatus
from config.errors import DomainError
from config.roles import STAFF_ROLES, is_hq, role_names
from orders.choices import OrderStatus


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
HOME_STORES = 12


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


@login_required
def portal_home(request):
    """Tiles by role, today's queue with its counts (store staff and HQ) and the user's stores."""
    from aftersales.policies import is_desk_user
    from config.portal import QueueCounts, queue_by_store, queue_totals
    from stores.policies import stores_visible_to

    visible = stores_visible_to(request.user)
    stores = list(visible.select_related("partner").order_by("name")[: HOME_STORES + 1])
    more = len(stores) > HOME_STORES
    stores = stores[:HOME_STORES]
    context = {"stores": stores, "store_total": visible.count() if more else len(stores)}
    # Store staff with no store yet get the "ask HQ" message below, not a queue of zeros.
    if is_desk_user(request.user):
        by_store = queue_by_store([store.pk for store in stores])
        for store in stores:
            store.queue = by_store.get(store.pk, QueueCounts())
        context["queue"] = queue_totals(request.user)
        context["queue_links"] = _queue_links(request.user, stores if context["store_total"] == 1 else [])
    return render(request, "portal/home.html", context)


def _queue_links(user, only_store: list) -> dict[str, str]:
    """Where each count of today's queue leads: HQ to the filtered lists, a one-store user to that
    store's queue and tickets, anyone else to the per-store counts below (one link per store)."""
    if is_hq(user):
        open_statuses = [status for status in TicketStatus.values if status != TicketStatus.CLOSED]
        return {
            "offers": f"{reverse('orders:list')}?{urlencode({'status': OrderStatus.ALLOCATED})}",
            "pickups": f"{reverse('orders:list')}?{urlencode({'status': OrderStatus.READY_FOR_PICKUP})}",
            "tickets": f"{reverse('aftersales_hq:queue')}?{urlencode({'status': open_statuses}, doseq=True)}",
        }
    if only_store:
        code = only_store[0].code
        return {
            "offers": reverse("orders:queue", args=[code]) + "#offers",
            "pickups": reverse("orders:queue", args=[code]) + "#pickups",
            "tickets": reverse("aftersales:store", args=[code]),
        }
    return dict.fromkeys(("offers", "pickups", "tickets"), "#store-queue")


def health(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
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
