"""The customer's status page (/t/): a ticket number and the mobile it was opened for give the
ticket's status, kind, dates and steps, on a phone, with no login. Nothing else is shown (no
names, stores, products or amounts), and a wrong pair gets the same "not found" as an unknown
number, so the page tells a guesser nothing. Submissions are limited per address."""

from allauth.account.adapter import get_adapter
from django.core.cache import cache
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from aftersales.forms import PublicStatusForm
from aftersales.selectors import ticket_public
from members.phones import normalise_phone_or_blank

ATTEMPTS_PER_WINDOW = 20  # look-ups per client address ...
WINDOW_SECONDS = 10 * 60  # ... per ten minutes: plenty for a customer, little for a guesser


def _too_many_attempts(request) -> bool:
    key = f"aftersales:status-attempts:{get_adapter(request).get_client_ip(request)}"
    cache.add(key, 0, timeout=WINDOW_SECONDS)
    try:
        attempts = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=WINDOW_SECONDS)
        attempts = 1
    return attempts > ATTEMPTS_PER_WINDOW


@never_cache
@require_http_methods(["GET", "POST"])
def ticket_status(request):
    """POST, not GET: the mobile number stays out of URLs, browser history and access logs."""
    form = PublicStatusForm(request.POST or None, initial={"number": request.GET.get("n", "")[:24]})
    ticket, steps, status = None, [], 200
    if request.method == "POST" and form.is_valid():
        if _too_many_attempts(request):
            form.add_error(None, _("Too many look-ups from this connection. Wait ten minutes and try again."))
            status = 429
        else:
            phone = normalise_phone_or_blank(form.cleaned_data["phone"])
            number = form.cleaned_data["number"].strip()
            ticket = ticket_public(number, phone) if phone else None
            if ticket is None:
                form.add_error(
                    None,
                    _(
                        "No ticket matches this number and mobile. Check both: the number is on your "
                        "receipt or message, the mobile is the one you gave the store."
                    ),
                )
            else:
                steps = list(ticket.status_changes.all())  # prefetched, in order, by ticket_public
    return render(
        request,
        "aftersales/public_status.html",
        {"form": form, "ticket": ticket, "steps": steps},
        status=status,
    )
