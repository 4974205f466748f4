"""The order's 360° timeline: the five flows (order, information, logistics, service, capital) of
one order on one list, in time order.

Every source is loaded once (a query per kind of row, never per row); `order_sources` returns the
loaded rows so the order page can show its detail tables from the same lists.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import prefetch_related_objects
from django.utils.translation import gettext as _

from aftersales.models import Ticket, TicketStatusChange
from config.dates import SHANGHAI
from guides.choices import EntryKind
from guides.models import CommissionEntry
from insights.sql import accrual_releases
from insights.timeline import Timeline, TimelineEntry, in_time_order, who
from orders.choices import DeliveryMethod, OrderStatus, PaymentKind, PaymentMethod
from orders.models import LineDiscount, Order, OrderLine, Payment, RevenueShare
from stores.models import StockMovement

ENTRY_KINDS = dict(EntryKind.choices)


@dataclass
class OrderSources:
    """Every row the order's page and timeline show, one query per kind."""

    lines: list
    history: list
    decisions: list
    assignments: list
    payments: list
    shares: list
    units: list = field(default_factory=list)
    tickets: list = field(default_factory=list)
    ticket_changes: list = field(default_factory=list)
    movements: list = field(default_factory=list)
    commissions: list = field(default_factory=list)
    discounts: list = field(default_factory=list)


def order_sources(order: Order) -> OrderSources:
    """Load each source of the order's five flows once."""
    if order.guide_id or order.binding_id:  # one query for the guide, the binding and its store
        attributed = Order.objects.select_related("guide", "binding__store").only(
            "guide", "binding", "binding__started_at", "binding__store__name"
        )
        attributed = attributed.get(pk=order.pk)
        order.guide, order.binding = attributed.guide, attributed.binding
    lines = list(OrderLine.objects.filter(order=order).select_related("sku", "price__channel").order_by("id"))
    units = []
    if any(line.sku.serial_tracked for line in lines):  # serials only exist for serial-tracked goods
        prefetch_related_objects(lines, "units")
        units = [unit for line in lines for unit in line.units.all()]
    tickets = list(
        Ticket.objects.filter(order=order)
        .select_related("line__sku", "opened_by")
        .order_by("opened_at", "id")
    )
    ticket_changes = (
        list(
            TicketStatusChange.objects.filter(ticket__in=tickets)
            .select_related("ticket", "store", "changed_by")
            .order_by("changed_at", "id")
        )
        if tickets
        else []
    )
    references = [order.number, *(ticket.number for ticket in tickets)]
    return OrderSources(
        lines=lines,
        units=units,
        history=list(order.status_changes.select_related("changed_by")),
        decisions=list(order.routing_decisions.select_related("location")),
        assignments=list(
            order.assignments.select_related("store", "responded_by").order_by("offered_at", "id")
        ),
        payments=list(Payment.objects.filter(order=order).select_related("created_by")),
        shares=list(
            RevenueShare.objects.filter(line__order=order)
            .select_related("store", "line__sku")
            .order_by("line_id", "id")
        ),
        tickets=tickets,
        ticket_changes=ticket_changes,
        movements=list(
            StockMovement.objects.filter(reference__in=references)
            .select_related("stock__location", "stock__sku", "created_by")
            .order_by("created_at", "id")
        ),
        commissions=order_commission_rows(order),
        discounts=list(LineDiscount.objects.filter(line__order=order).order_by("line_id", "id"))
        if order.discount_total
        else [],
    )


def order_commission_rows(order: Order) -> list[dict]:
    """The guides' ledger rows of this order (one query), plus the release rows that released its
    accruals (one more)."""
    rows = list(
        CommissionEntry.objects.filter(order=order)
        .values(
            "id",
            "kind",
            "created_at",
            "held_change",
            "payable_change",
            "note",
            "guide__name",
            "guide__code",
            "created_by__email",
            "created_by__username",
            "accrual_id",
        )
        .order_by("created_at", "id")
    )
    accruals = [row["id"] for row in rows if row["kind"] == EntryKind.ACCRUAL]
    return rows + _releases_of_accruals(accruals, rows)


def _releases_of_accruals(accrual_ids: list[int], rows: list[dict]) -> list[dict]:
    """The release row that released each of these accruals (insights.sql.accrual_releases, one
    query). What it released of this order is the accrual's held amount net of its held clawbacks."""
    found = accrual_releases(accrual_ids)
    held = {row["id"]: row.get("held_change") or Decimal(0) for row in rows if row["id"] in accrual_ids}
    for row in rows:
        if row.get("kind") == EntryKind.CLAWBACK and row.get("accrual_id") in held:
            held[row["accrual_id"]] += row.get("held_change") or Decimal(0)
    by_id = {row["id"]: row for row in rows}
    released = []
    for accrual_id, at in found:
        if not held.get(accrual_id):
            continue
        accrual = by_id[accrual_id]
        released.append(
            {
                **{k: v for k, v in accrual.items() if k.startswith("guide__")},
                "kind": EntryKind.RELEASE.value,
                "created_at": at,
                "held_change": -held[accrual_id],
                "payable_change": held[accrual_id],
                "note": _("released with the guide's other lines whose return window closed"),
            }
        )
    return released


def order_timeline(order: Order, sources: OrderSources | None = None) -> Timeline:
    """The order's five flows in time order (see the module docstring)."""
    sources = sources or order_sources(order)
    entries = [
        *_information(order, sources),
        *_order_flow(sources),
        *_logistics(order, sources),
        *_service(sources),
        *_capital(order, sources),
    ]
    return in_time_order(entries)


def _information(order: Order, sources: OrderSources) -> list[TimelineEntry]:
    at, placed_by = order.created_at, who(order.placed_by)
    entries = [
        TimelineEntry(
            at,
            "information",
            _("Placed on %(channel)s (%(origin)s), total %(total)s")
            % {"channel": order.channel.name, "origin": order.get_origin_display(), "total": order.total},
            placed_by,
            kind="placed",
        )
    ]
    if order.member_id:
        member = order.member
        entries.append(
            TimelineEntry(
                at,
                "information",
                _("Member: %(name)s %(phone)s")
                % {"name": member.name or _("(no name)"), "phone": member.phone or ""},
                placed_by,
                kind="member",
            )
        )
    for line in sources.lines:
        price = line.price
        if price is None:
            source = _("price given by the channel")
        elif price.channel_id:
            source = _("%(channel)s price") % {"channel": price.channel.name}
        else:
            source = _("all-channel price")
        entries.append(
            TimelineEntry(
                at,
                "information",
                _("Price applied: %(sku)s %(qty)s × %(price)s (%(source)s)")
                % {"sku": line.sku.code, "qty": line.quantity, "price": line.unit_price, "source": source},
                placed_by,
                detail=_("discount %(discount)s") % {"discount": line.discount} if line.discount else "",
                kind="price",
            )
        )
    if order.guide_id:
        what = _("Attributed to guide %(name)s (%(code)s)") % {
            "name": order.guide.name,
            "code": order.guide.code,
        }
        if order.binding_id:
            binding = order.binding
            what += " · " + _("bound since %(day)s%(store)s") % {
                "day": binding.started_at.date().isoformat(),
                "store": f" · {binding.store.name}" if binding.store_id else "",
            }
        entries.append(
            TimelineEntry(
                at, "information", what, placed_by, detail=order.attribution_reason, kind="attribution"
            )
        )
    elif order.attribution_reason:
        entries.append(
            TimelineEntry(
                at,
                "information",
                _("Not attributed to a guide"),
                placed_by,
                detail=order.attribution_reason,
                kind="attribution",
            )
        )
    return entries


def _order_flow(sources: OrderSources) -> list[TimelineEntry]:
    return [
        TimelineEntry(
            change.changed_at,
            "order",
            (
                _("%(from)s → %(to)s")
                % {"from": change.get_from_status_display(), "to": change.get_to_status_display()}
                if change.from_status
                else change.get_to_status_display()
            ),
            who(change.changed_by),
            detail=change.reason,
            kind="status",
        )
        for change in sources.history
    ]


def _logistics(order: Order, sources: OrderSources) -> list[TimelineEntry]:
    entries = []
    for decision in sources.decisions:
        target = decision.location.name if decision.location_id else _("nobody")
        entries.append(
            TimelineEntry(
                decision.decided_at,
                "logistics",
                _("Routing attempt %(n)s → %(store)s") % {"n": decision.attempt, "store": target},
                detail=decision.reason,
                kind="routing",
            )
        )
    for assignment in sources.assignments:
        entries.append(
            TimelineEntry(
                assignment.offered_at,
                "logistics",
                _("Offered to %(store)s, answer by %(by)s")
                % {"store": assignment.store.name, "by": _local(assignment.respond_by)},
                kind="offer",
            )
        )
        if assignment.responded_at:
            entries.append(
                TimelineEntry(
                    assignment.responded_at,
                    "logistics",
                    _("%(store)s: %(status)s")
                    % {"store": assignment.store.name, "status": assignment.get_status_display()},
                    who(assignment.responded_by),
                    detail=assignment.reason,
                    kind="answer",
                )
            )
    for movement in sources.movements:
        stock = movement.stock
        change = movement.on_hand_delta or movement.reserved_delta
        entries.append(
            TimelineEntry(
                movement.created_at,
                "logistics",
                _("Stock %(kind)s: %(sku)s %(change)+d at %(store)s")
                % {
                    "kind": movement.get_kind_display().lower(),
                    "sku": stock.sku.code,
                    "change": change,
                    "store": stock.location.name,
                },
                who(movement.created_by),
                detail=movement.reason if movement.reference == order.number else movement.reference,
                kind="stock",
            )
        )
    for unit in sources.units:
        entries.append(
            TimelineEntry(
                unit.sold_at,
                "logistics",
                _("Serial %(serial)s left with the order") % {"serial": unit.serial},
                kind="serial",
            )
        )
        if unit.returned_at:
            entries.append(
                TimelineEntry(
                    unit.returned_at,
                    "logistics",
                    _("Serial %(serial)s came back") % {"serial": unit.serial},
                    kind="serial",
                )
            )
    if order.tracking_number:
        shipped = [c.changed_at for c in sources.history if c.to_status == "shipped"]
        if shipped:
            entries.append(
                TimelineEntry(
                    shipped[-1],
                    "logistics",
                    _("Shipped with tracking number %(number)s") % {"number": order.tracking_number},
                    kind="shipment",
                )
            )
    pickups = [
        c for c in sources.history if c.to_status in (OrderStatus.READY_FOR_PICKUP, OrderStatus.COMPLETED)
    ]
    store = order.fulfilling_location.name if pickups and order.fulfilling_location_id else ""
    for change in pickups:
        if change.to_status == OrderStatus.READY_FOR_PICKUP:
            what = _("Ready for pickup at %(store)s") % {"store": store}
        elif change.to_status == OrderStatus.COMPLETED and order.delivery_method == DeliveryMethod.PICKUP:
            what = _("Collected at %(store)s") % {"store": store}
        elif change.to_status == OrderStatus.COMPLETED and order.delivery_method == DeliveryMethod.CARRY_OUT:
            what = _("Carried out of %(store)s") % {"store": store}
        else:
            continue
        entries.append(
            TimelineEntry(change.changed_at, "logistics", what, who(change.changed_by), kind="pickup")
        )
    return entries


def _service(sources: OrderSources) -> list[TimelineEntry]:
    entries = [
        TimelineEntry(
            ticket.opened_at,
            "service",
            _("%(kind)s ticket %(number)s opened for %(sku)s")
            % {"kind": ticket.get_kind_display(), "number": ticket.number, "sku": ticket.line.sku.code},
            who(ticket.opened_by),
            detail=ticket.eligibility,
            kind="ticket",
        )
        for ticket in sources.tickets
    ]
    entries += [
        TimelineEntry(
            change.changed_at,
            "service",
            _("Ticket %(number)s: %(to)s")
            % {"number": change.ticket.number, "to": change.get_to_status_display()},
            who(change.changed_by),
            detail=" · ".join(
                part for part in (change.store.name if change.store_id else "", change.note) if part
            ),
            kind="ticket_status",
        )
        for change in sources.ticket_changes
    ]
    return entries


def _capital(order: Order, sources: OrderSources) -> list[TimelineEntry]:
    skus = {line.pk: line.sku.code for line in sources.lines}
    placed_by = who(order.placed_by) if order.placed_by_id else ""
    entries = [
        TimelineEntry(
            order.created_at,
            "capital",
            _("Discount %(label)s −%(amount)s on %(sku)s")
            % {"label": discount.label, "amount": discount.amount, "sku": skus.get(discount.line_id, "")},
            placed_by,
            detail=(
                _("needs a basket of %(threshold)s") % {"threshold": discount.threshold}
                if discount.threshold
                else ""
            ),
            kind="discount",
        )
        for discount in sources.discounts
    ]
    entries += [
        TimelineEntry(
            payment.created_at,
            "capital",
            _("%(kind)s %(amount)s by %(method)s")
            % {
                "kind": payment.get_kind_display(),
                "amount": f"-{payment.amount}" if payment.kind == PaymentKind.REFUND else payment.amount,
                "method": payment.get_method_display(),
            },
            who(payment.created_by),
            detail=" · ".join(
                part
                for part in (
                    _("%(points)s points") % {"points": payment.points}
                    if payment.method == PaymentMethod.POINTS and payment.points
                    else "",
                    payment.external_reference or "",
                )
                if part
            ),
            kind="payment",
        )
        for payment in sources.payments
    ]
    for share in sources.shares:
        party = share.get_party_display()
        entries.append(
            TimelineEntry(
                share.created_at,
                "capital",
                _("Revenue split: %(party)s %(amount)s on %(sku)s")
                % {"party": party, "amount": share.amount, "sku": share.line.sku.code},
                detail=" · ".join(
                    part
                    for part in (
                        share.store.name if share.store_id else "",
                        _("reversal") if share.reverses_id else "",
                    )
                    if part
                ),
                kind="share",
            )
        )
    for row in sources.commissions:
        held, payable = row.get("held_change") or Decimal(0), row.get("payable_change") or Decimal(0)
        guide = row.get("guide__name") or ""
        kind = row.get("kind", "")
        entries.append(
            TimelineEntry(
                row["created_at"],
                "capital",
                _("Commission %(kind)s: held %(held)s, payable %(payable)s%(guide)s")
                % {
                    "kind": str(ENTRY_KINDS.get(kind, kind)).lower(),
                    "held": f"{held:+}",
                    "payable": f"{payable:+}",
                    "guide": _(" for guide %(name)s") % {"name": guide} if guide else "",
                },
                row.get("created_by__email") or row.get("created_by__username") or "",
                detail=row.get("note", ""),
                kind="commission",
            )
        )
    return entries


def _local(at: datetime) -> str:
    """Asia/Shanghai wall-clock time for text inside an entry (the page shows `at` in the same zone)."""
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
