"""The portal home: tiles by role and today's queue, pointing each role to its work."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse

from aftersales.choices import TicketStatus
from aftersales.policies import is_desk_user
from config.roles import is_hq
from orders.choices import OrderStatus
from portal.queue import QueueCounts, queue_by_store, queue_totals
from stores.policies import stores_visible_to

HOME_STORES = 12


@login_required
def portal_home(request):
    """Tiles by role, today's queue with its counts (store staff and HQ) and the user's stores."""
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
