"""The store's side of an order: the offer it accepts or rejects, re-routing on a reject or a
time-out, shipping, pickup. Reservations move with the order from store to store."""

import hmac
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import DomainError, IllegalTransition
from integrations.outbox import order_event
from orders.choices import AssignmentStatus, DeliveryMethod, OrderStatus
from orders.errors import AssignmentRefused, OrderRefused, PickupCodeWrong
from orders.models import Order, OrderLine, RevenueRule, RevenueShare, RoutingDecision, StoreAssignment
from orders.policies import SYSTEM, order_require, person_of
from orders.routing import route_candidates
from orders.services import (
    cancel_as,
    clip,
    order_delivered,
    reserve_at_first_candidate,
    revenue_split,
    route_reason,
    share_reversals,
    sold_units_record,
)
from orders.states import order_transition
from stores.choices import StoreKind
from stores.models import Store
from stores.services import stock_release, stock_sell


def _lock(order: Order) -> Order:
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("fulfilling_location", "origin_store")
        .get(pk=order.pk)
    )


def sell_reserved(*, order: Order, lines: list[OrderLine], user=None) -> None:
    """The reserved units leave the fulfilling location (shipped, collected or carried out)."""
    for line in sorted(lines, key=lambda line: line.sku_id):
        stock_sell(
            location=order.fulfilling_location,
            sku=line.sku,
            quantity=line.quantity,
            reference=order.number,
            user=user,
        )


def offer_to_store(*, order: Order, user=None) -> StoreAssignment:
    """Offer a paid order to its fulfilling location. Warehouses always fulfil: accepted at once."""
    store = order.fulfilling_location
    now = timezone.now()
    if store.kind == StoreKind.WAREHOUSE:
        assignment = StoreAssignment.objects.create(
            order=order,
            store=store,
            status=AssignmentStatus.ACCEPTED,
            respond_by=now,
            responded_at=now,
            reason=_("Warehouses fulfil every order they are given"),
        )
        order_transition(order=order, to=OrderStatus.ACCEPTED, user=user, reason=assignment.reason)
        order_event("order.routed", order, store=store.pk)
        order_event("order.accepted", order, store=store.pk)
        return assignment
    assignment = StoreAssignment.objects.create(
        order=order, store=store, respond_by=now + timedelta(minutes=settings.ORDERS_ACCEPT_MINUTES)
    )
    order_transition(
        order=order,
        to=OrderStatus.ALLOCATED,
        user=user,
        reason=_("Offered to %(store)s") % {"store": store.name},
    )
    order_event("order.routed", order, store=store.pk, respond_by=assignment.respond_by.isoformat())
    return assignment


def withdraw_offer(*, order: Order, user=None, reason: str = "") -> None:
    order.assignments.filter(status=AssignmentStatus.OFFERED).update(
        status=AssignmentStatus.WITHDRAWN, responded_at=timezone.now(), responded_by=user, reason=reason[:255]
    )


def _open_assignment(order: Order, store: Store | None) -> StoreAssignment:
    assignment = order.assignments.filter(status=AssignmentStatus.OFFERED).first()
    if assignment is None or store is None or assignment.store_id != store.pk:
        raise AssignmentRefused(
            _("Order %(number)s is not waiting for %(store)s.")
            % {"number": order.number, "store": store.name if store else "—"},
            fields={"order": [_("Not offered to this store.")]},
        )
    return assignment


@transaction.atomic
def assignment_accept(*, order: Order, store: Store, actor) -> Order:
    """The store takes the order on: it will ship it or prepare it for pickup."""
    user = person_of(actor)
    order = _lock(order)
    order_require(actor, order, "accept")
    assignment = _open_assignment(order, store)
    assignment.status = AssignmentStatus.ACCEPTED
    assignment.responded_at = timezone.now()
    assignment.responded_by = user
    assignment.save(update_fields=["status", "responded_at", "responded_by"])
    order = order_transition(
        order=order, to=OrderStatus.ACCEPTED, user=user, reason=_("Accepted by %(s)s") % {"s": store.name}
    )
    order_event("order.accepted", order, store=store.pk)
    return order


@transaction.atomic
def assignment_reject(*, order: Order, store: Store, reason: str, actor) -> Order:
    """The store cannot fulfil: the order and its reservation move to the next candidate."""
    user = person_of(actor)
    reason = reject_reason_clean(reason)
    order = _lock(order)
    order_require(actor, order, "reject")
    assignment = _open_assignment(order, store)
    assignment.status = AssignmentStatus.REJECTED
    assignment.responded_at = timezone.now()
    assignment.responded_by = user
    assignment.reason = reason
    assignment.save(update_fields=["status", "responded_at", "responded_by", "reason"])
    return reroute(
        order=order,
        user=user,
        why=_("%(store)s rejected: %(reason)s") % {"store": store.name, "reason": reason},
    )


# A store's reason for rejecting an offer is kept whole on the offer and quoted in the routing
# decision and, when nobody is left, the cancellation ("<store> rejected: <reason>; <route>"),
# whose columns hold 255 characters: the reason is bounded so the sentence fits beside the store's
# name, and what the system composes around it is clipped to the column (orders.services.clip).
REJECT_REASON_MAX_LENGTH = 100


def reject_reason_clean(reason) -> str:
    """The reason as stored, or a refusal naming the field (empty, too long, control characters)."""
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise DomainError(
            _("Say why the store rejects the order."), fields={"reason": [_("This field is required.")]}
        )
    if len(reason) > REJECT_REASON_MAX_LENGTH or not reason.isprintable():
        message = _("Say why in at most %(n)s characters, on one line.") % {"n": REJECT_REASON_MAX_LENGTH}
        raise DomainError(message, fields={"reason": [message]})
    return reason


def assignments_expire(*, now: datetime | None = None) -> int:
    """Offers nobody answered in time move on to the next candidate (run every few minutes)."""
    now = now or timezone.now()
    expired = 0
    for assignment_id, order_id in StoreAssignment.objects.filter(
        status=AssignmentStatus.OFFERED, respond_by__lt=now
    ).values_list("pk", "order_id"):
        with transaction.atomic():
            order = _lock(Order(pk=order_id))
            updated = StoreAssignment.objects.filter(
                pk=assignment_id, status=AssignmentStatus.OFFERED
            ).update(status=AssignmentStatus.EXPIRED, responded_at=now, reason=_("No answer in time"))
            if updated:
                store = Store.objects.get(assignments__pk=assignment_id)
                reroute(order=order, why=_("%(store)s did not answer in time") % {"store": store.name})
                expired += 1
    return expired


def reroute(*, order: Order, why: str, user=None) -> Order:
    """Release the stock where the order was, route again without the stores that passed on it,
    reserve at the next candidate (or the warehouse), re-split the revenue and offer it there.
    With no location left, or for a pickup order (it stays with the customer's store), the order
    is cancelled and refunded."""
    if order.delivery_method != DeliveryMethod.SHIP:
        return cancel_as(order=order, reason=clip(why), actor=SYSTEM, user=user)
    lines = list(order.lines.select_related("sku"))
    previous = order.fulfilling_location
    for line in sorted(lines, key=lambda line: line.sku_id):
        stock_release(
            location=previous, sku=line.sku, quantity=line.quantity, reference=order.number, user=user
        )
    passed = tuple(
        order.assignments.exclude(status=AssignmentStatus.ACCEPTED).values_list("store_id", flat=True)
    )
    prefer = (order.origin_store_id,) if order.origin_store_id else ()
    route = route_candidates(
        latitude=order.latitude,
        longitude=order.longitude,
        lines={line.sku_id: line.quantity for line in lines},
        prefer_store_ids=prefer,
        exclude_store_ids=passed,
    )
    choices = route.candidates or route.warehouses
    chosen = reserve_at_first_candidate(candidates=choices, lines=lines, number=order.number, user=user)
    attempt = order.routing_decisions.count() + 1
    if chosen is None:
        # Nobody else can serve it: record why, and give the customer their money back.
        reason = clip(_("%(why)s; no other store or warehouse has every line") % {"why": why})
        RoutingDecision.objects.create(
            order=order, attempt=attempt, location=None, candidates=[], reason=reason
        )
        order.fulfilling_location = None  # the stock was released above
        order.save(update_fields=["fulfilling_location"])
        return cancel_as(order=order, reason=reason, actor=SYSTEM, user=user)
    RoutingDecision.objects.create(
        order=order,
        attempt=attempt,
        location=chosen.store,
        candidates=[c.as_record() for c in choices],
        reason=clip(f"{why}; {route_reason(chosen)}"),
    )
    order.fulfilling_location = chosen.store
    order.save(update_fields=["fulfilling_location"])
    if order.paid_at:  # the fulfilling store's fee moves with the order: reverse, then split anew
        rule = RevenueRule.objects.filter(channel_id=order.channel_id).first()
        RevenueShare.objects.bulk_create(
            share_reversals(order=order)
            + [
                share
                for line in lines
                for share in revenue_split(
                    line=line, rule=rule, fulfilling_store=chosen.store, origin_store=order.origin_store
                )
            ]
        )
    offer_to_store(order=order, user=user)
    return order


@transaction.atomic
def order_ship(
    *,
    order: Order,
    store: Store,
    tracking_number: str,
    actor,
    serials: dict | None = None,
) -> Order:
    """The fulfilling store hands the parcel to the carrier: reserved units become a sale.

    `serials` ({line id: [serial, ...]}) names every unit of the serial-tracked lines.
    """
    user = person_of(actor)
    order = _lock(order)
    order_require(actor, order, "ship")
    _check_store(order, store)
    if order.delivery_method != DeliveryMethod.SHIP:
        raise OrderRefused(_("This order is picked up, not shipped."), fields={"order": [_("Pickup order.")]})
    if not (tracking_number or "").strip():
        raise OrderRefused(
            _("Give the carrier's tracking number."),
            fields={"tracking_number": [_("This field is required.")]},
        )
    order.tracking_number = tracking_number.strip()[:64]
    order_transition(order=order, to=OrderStatus.SHIPPED, user=user, extra_fields=["tracking_number"])
    lines = list(order.lines.select_related("sku"))
    sold_units_record(order=order, lines=lines, serials=serials)
    sell_reserved(order=order, lines=lines, user=user)
    order_event("order.shipped", order, tracking_number=order.tracking_number)
    return order


@transaction.atomic
def order_ready_for_pickup(*, order: Order, store: Store, actor) -> Order:
    """The store has put the goods aside: the customer gets a pickup code."""
    user = person_of(actor)
    order = _lock(order)
    order_require(actor, order, "ready")
    _check_store(order, store)
    if order.delivery_method != DeliveryMethod.PICKUP:
        raise OrderRefused(
            _("This order is shipped, not picked up."), fields={"order": [_("Shipping order.")]}
        )
    order.pickup_code = f"{secrets.randbelow(10**6):06d}"
    return order_transition(
        order=order, to=OrderStatus.READY_FOR_PICKUP, user=user, extra_fields=["pickup_code"]
    )


@transaction.atomic
def order_collect(
    *,
    order: Order,
    store: Store,
    pickup_code: str,
    actor,
    serials: dict | None = None,
) -> Order:
    """The customer shows the pickup code; the clerk checks it and hands the goods over.

    `serials` ({line id: [serial, ...]}) names every unit of the serial-tracked lines.
    """
    user = person_of(actor)
    order = _lock(order)
    order_require(actor, order, "collect")
    _check_store(order, store)
    if order.status != OrderStatus.READY_FOR_PICKUP:
        raise OrderRefused(
            _("Order %(number)s is %(status)s, not ready for pickup.")
            % {"number": order.number, "status": OrderStatus(order.status).label},
            fields={"order": [_("Not ready.")]},
        )
    if not hmac.compare_digest((pickup_code or "").strip(), order.pickup_code):
        raise PickupCodeWrong(
            _("That pickup code does not match this order."), fields={"pickup_code": [_("Wrong code.")]}
        )
    lines = list(order.lines.select_related("sku__product__category"))
    sold_units_record(order=order, lines=lines, serials=serials)
    sell_reserved(order=order, lines=lines, user=user)
    return order_delivered(order=order, lines=lines, user=user, reason=_("Collected in store"))


@transaction.atomic
def order_complete(*, order: Order, actor) -> Order:
    """The carrier delivered a shipped order."""
    user = person_of(actor)
    order = _lock(order)
    order_require(actor, order, "complete")
    if order.status != OrderStatus.SHIPPED:
        raise IllegalTransition(
            current=OrderStatus(order.status).label,
            wanted=OrderStatus.COMPLETED.label,
            what=f"order {order.number}",
        )
    lines = list(order.lines.select_related("sku__product__category"))
    return order_delivered(order=order, lines=lines, user=user, reason=_("Delivered"))


def _check_store(order: Order, store: Store | None) -> None:
    if store is None or order.fulfilling_location_id != store.pk:
        raise AssignmentRefused(
            _("Order %(number)s is fulfilled by another location.") % {"number": order.number},
            fields={"order": [_("Not this store's order.")]},
        )
