"""The order page (`orders:detail`): lines, routing, offers, payments, revenue split and the five
flows on one timeline (insights.order_timeline), and the cancel form. It reads later apps than
orders (after-sales tickets, guides' commission), so it is served from the surface; its URL keeps
the orders namespace (portal/order_urls.py).

The order is one of orders_visible_to(user) (else 404); paying and cancelling have one rule
(orders.policies), and the cancel goes through orders.services with `actor=request.user`."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from config.errors import DomainError
from config.views import add_domain_error, staff_required
from insights.order_timeline import order_sources, order_timeline
from insights.timeline import flow_from, flow_links
from orders.forms import CancelForm
from orders.models import Order
from orders.policies import order_actionable_by
from orders.services import CANCELLABLE, order_cancel
from orders.views import _order_or_404
from stores.models import Store


@require_http_methods(["GET", "POST"])
@staff_required
def order_detail(request, number):
    order = _order_or_404(request, number)
    # Paying and cancelling have one rule (orders.policies): HQ and the staff of the order's stores.
    may_act = order_actionable_by(request.user, order, "cancel")
    cancel_form = None
    if may_act and order.status in CANCELLABLE:
        cancel_form = CancelForm(request.POST or None)
        if request.method == "POST" and cancel_form.is_valid():
            try:
                order_cancel(order=order, reason=cancel_form.cleaned_data["reason"], actor=request.user)
            except DomainError as error:
                add_domain_error(cancel_form, error)
            else:
                messages.success(
                    request,
                    _("Order %(number)s cancelled: its stock is released and any payment refunded.")
                    % {"number": order.number},
                )
                return redirect("orders:detail", number=order.number)
    elif request.method == "POST":
        if not may_act:
            raise PermissionDenied(_("Only HQ and the staff of the order's stores can cancel it."))
        messages.error(
            request,
            _("Order %(number)s is “%(status)s” now and can no longer be cancelled. Nothing was changed.")
            % {"number": order.number, "status": order.get_status_display()},
        )
        return redirect("orders:detail", number=order.number)
    return render(
        request,
        "orders/detail.html",
        {
            **_order_context(order, flow=flow_from(request)),
            "flow_links": flow_links(request, flow_from(request)),
            "cancel_form": cancel_form,
            "may_act": may_act,
        },
    )


def _order_context(order: Order, flow: str | None = None) -> dict:
    """Everything the order page shows, one query per kind of row (insights.order_timeline loads them)."""
    sources = order_sources(order)
    decisions = sources.decisions
    codes = {c.get("store") for d in decisions for c in d.candidates if isinstance(c, dict)}
    names = dict(Store.objects.filter(code__in=codes).values_list("code", "name")) if codes else {}
    for decision in decisions:
        decision.rows = [
            {**c, "name": names.get(c.get("store"), "")} for c in decision.candidates if isinstance(c, dict)
        ]
    timeline = order_timeline(order, sources)
    return {
        "order": order,
        "lines": sources.lines,
        "show_serials": bool(sources.units) or any(line.sku.serial_tracked for line in sources.lines),
        "history": sources.history,
        "decisions": decisions,
        "assignments": sources.assignments,
        "payments": sources.payments,
        "shares": sources.shares,
        "timeline": timeline.of_flow(flow),
        "timeline_count": len(timeline),
        "flow": flow,
    }
