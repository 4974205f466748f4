"""One search box for the store tablet: a member's mobile or card number, a SKU's code or barcode
(typed or scanned with the camera), an order number, a serial number or a service ticket number.

What it finds; the page (portal.search) opens one hit straight away (a scanned barcode lands on the
stock lookup), shows several grouped by kind, and for none says what to do next (`next_steps`).
Every kind is looked up exactly (no prefix or partial matches: a mobile number opens one customer,
it never lists customers), and through the selector that scopes it: a clerk finds orders, serials
and tickets of their stores' business only (`orders_visible_to`, `tickets_visible_to`). Members are
found by the exact mobile or card as on the members page (`member_lookup`), by the same people that
page lets in. The catalog is not scoped. At most six queries, whatever the query.
"""

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext as _

from aftersales.policies import is_desk_user, tickets_visible_to
from config.roles import is_hq
from members.phones import masked_phone, normalise_phone_or_blank
from members.policies import member_lookup_allowed, member_lookup_for, member_registrable_by
from orders.models import SoldUnit
from orders.policies import orders_visible_to
from stores.selectors import sku_find

MAX_QUERY = 64  # longer than any phone, barcode, order, serial or ticket number
SERIALS_SHOWN = 10


@dataclass
class Hit:
    """One thing found: what it is, how the page names it, and where it leads."""

    kind: str
    title: str
    detail: str
    url: str
    actions: list = field(default_factory=list)  # (label, url): what else to do with it


@dataclass
class SearchResults:
    query: str
    members: list[Hit] = field(default_factory=list)
    skus: list[Hit] = field(default_factory=list)
    orders: list[Hit] = field(default_factory=list)
    serials: list[Hit] = field(default_factory=list)
    tickets: list[Hit] = field(default_factory=list)

    @property
    def hits(self) -> list[Hit]:
        return [*self.members, *self.skus, *self.orders, *self.serials, *self.tickets]

    @property
    def groups(self) -> list[tuple[str, str, list[Hit]]]:
        """(id, heading, hits) of the kinds that found something, in the page's order."""
        groups = [
            ("members", _("Members"), self.members),
            ("skus", _("SKUs"), self.skus),
            ("orders", _("Orders"), self.orders),
            ("serials", _("Serial numbers"), self.serials),
            ("tickets", _("Service tickets"), self.tickets),
        ]
        return [group for group in groups if group[2]]


def _with_query(url: str, **params) -> str:
    return f"{url}?{urlencode(params)}"


def _members(user, query: str) -> list[Hit]:
    member = member_lookup_for(user, query)
    if member is None:
        return []
    url = _with_query(reverse("members:detail", args=[member.pk]), via="lookup", q=query)
    return [
        Hit("member", member.name or masked_phone(member.phone or ""), masked_phone(member.phone or ""), url)
    ]


def _skus(query: str) -> list[Hit]:
    sku = sku_find(query)
    if sku is None:
        return []
    detail = f"{sku.product.name} · {sku.barcode}" if sku.barcode else sku.product.name
    return [Hit("sku", sku.code, detail, _with_query(reverse("stores:lookup_start"), q=sku.code))]


def _orders(user, number: str) -> list[Hit]:
    hits = []
    for order in orders_visible_to(user).filter(number=number).select_related("channel", "member"):
        detail = f"{order.channel.name} · {order.get_status_display()} · {order.total}"
        hits.append(Hit("order", order.number, detail, reverse("orders:detail", args=[order.number])))
    return hits


def _serials(user, serial: str, *, desk: bool) -> list[Hit]:
    units = SoldUnit.objects.filter(serial=serial, line__order__in=orders_visible_to(user).values("pk"))
    hits = []
    for unit in units.select_related("sku__product", "line__order").order_by("-sold_at", "-id")[
        :SERIALS_SHOWN
    ]:
        order = unit.line.order
        detail = _("%(sku)s · %(product)s · order %(number)s") % {
            "sku": unit.sku.code,
            "product": unit.sku.product.name,
            "number": order.number,
        }
        if unit.returned_at:
            detail += " · " + _("returned")
        actions = []
        if desk:
            actions.append(
                (_("Return, exchange or repair"), _with_query(reverse("aftersales:desk"), q=unit.serial))
            )
        hits.append(
            Hit("serial", unit.serial, detail, reverse("orders:detail", args=[order.number]), actions)
        )
    return hits


def _tickets(user, number: str) -> list[Hit]:
    hits = []
    for ticket in tickets_visible_to(user).filter(number=number).select_related("line__sku"):
        detail = f"{ticket.get_kind_display()} · {ticket.get_status_display()} · {ticket.line.sku.code}"
        hits.append(Hit("ticket", ticket.number, detail, reverse("aftersales:detail", args=[ticket.number])))
    return hits


def portal_search(user, query: str) -> SearchResults:
    """Everything the user may see that the query names exactly."""
    query = (query or "").strip()[:MAX_QUERY]
    results = SearchResults(query)
    if not query:
        return results
    desk = is_desk_user(user)
    upper = query.upper()  # order, serial and ticket numbers are stored upper-case
    if member_lookup_allowed(user):
        results.members = _members(user, query)
    results.skus = _skus(query)
    results.orders = _orders(user, upper)
    results.serials = _serials(user, upper, desk=desk)
    if desk:  # the ticket page is the service desk's
        results.tickets = _tickets(user, upper)
    return results


def next_steps(user, query: str) -> list[tuple[str, str]]:
    """What a clerk can do when nothing matched: (text, url or "")."""
    steps = []
    phone = normalise_phone_or_blank(query)
    if phone and member_registrable_by(user):
        steps.append(
            (
                _("No member has this mobile number yet: register the customer."),
                _with_query(reverse("members:register"), phone=phone),
            )
        )
    steps.append(
        (
            _(
                "Check the number and type it again. A barcode's digits are printed under its stripes; "
                "an order number is on the receipt or the customer's order message."
            ),
            "",
        )
    )
    if is_desk_user(user):
        steps.append(
            (
                _("Bought online or at another store? Find the purchase at the service desk."),
                _with_query(reverse("aftersales:desk"), q=query),
            )
        )
    if not is_hq(user):  # a hint on the page, not an access decision (the policies scoped the hits)
        steps.append((_("Orders, serial numbers and tickets of other stores are not shown here."), ""))
    return steps
