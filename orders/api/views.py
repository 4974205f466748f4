"""Orders API: every queryset starts from orders.policies.orders_visible_to (a clerk's store
boundary); every workflow endpoint is one call into orders.services or orders.fulfilment with
`actor=request.user`, and the service asks orders.policies whether the actor may act, exactly as
the portal's pages do (a partner sees its stores' orders but does not act: 403)."""

import hashlib
from contextlib import nullcontext

from django.db import transaction
from django.db.models import Prefetch
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from catalog.api.serializers import resolve_by_id_or_code
from config.api.errors import ErrorSerializer, error_responses
from config.errors import NotFound
from config.roles import SYSTEM
from integrations.authentication import actor, api_key_of, owner_of
from integrations.choices import Scope
from integrations.permissions import reads
from members.errors import InvalidPhone
from members.policies import member_visible
from members.services import member_upsert
from orders.api.serializers import (
    CollectInputSerializer,
    OrderCreatedSerializer,
    OrderCreateSerializer,
    OrderDetailSerializer,
    OrderSerializer,
    PayInputSerializer,
    PaymentResultSerializer,
    PaymentSerializer,
    QueueQuerySerializer,
    QueueSerializer,
    ReasonInputSerializer,
    RejectInputSerializer,
    ShipInputSerializer,
    fingerprint_payload,
)
from orders.errors import IdempotencyConflict
from orders.filtersets import OrderFilterSet
from orders.fulfilment import (
    assignment_accept,
    assignment_reject,
    order_collect,
    order_complete,
    order_ready_for_pickup,
    order_ship,
)
from orders.models import (
    LineDiscount,
    Order,
    OrderLine,
    OrderStatusChange,
    Payment,
    RevenueShare,
    RoutingDecision,
    StoreAssignment,
)
from orders.policies import acting_store, orders_visible_to
from orders.selectors import store_queue
from orders.services import LineRequest, order_cancel, order_create, order_pay, request_fingerprint
from stores.policies import stores_visible_to

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
ORDER_KEY_LENGTH = Order._meta.get_field("idempotency_key").max_length  # "<owner>:<key>"


def _errors(*status_codes: int, conflict: str = "") -> dict:
    responses = error_responses(*status_codes)
    if conflict:
        responses[409] = OpenApiResponse(ErrorSerializer, description=conflict)
    return responses


READ_ERRORS = error_responses(400, 403)
DETAIL_ERRORS = error_responses(403, 404)
MOVE_CONFLICT = "`illegal_transition`: the order's status does not allow this move (both states named)."
NUMBER_PARAM = OpenApiParameter("number", str, OpenApiParameter.PATH, description="Order number.")
IDEMPOTENCY_PARAM = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Makes the request safe to retry (printable, at most 255 characters, unique per API key or "
        "user): a retry with the same key and body returns the first order; the same key with another "
        "body is a 409."
    ),
)
REPLAYED_PARAM = OpenApiParameter(
    REPLAYED_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description="`true` when nothing new was written: the answer is the first request's result.",
)


def _detail_queryset(queryset):
    """An order with everything its detail shows, in a fixed number of queries."""
    return queryset.select_related(
        "channel", "origin_store", "fulfilling_location", "placed_by"
    ).prefetch_related(
        Prefetch(
            "lines",
            OrderLine.objects.select_related("sku").prefetch_related(
                Prefetch("shares", RevenueShare.objects.select_related("store")), _discounts()
            ),
        ),
        Prefetch("payments", Payment.objects.select_related("created_by")),
        Prefetch("status_changes", OrderStatusChange.objects.select_related("changed_by")),
        Prefetch("routing_decisions", RoutingDecision.objects.select_related("location")),
        Prefetch("assignments", StoreAssignment.objects.select_related("store", "responded_by")),
    )


def _discounts() -> Prefetch:
    return Prefetch("discounts", LineDiscount.objects.select_related("promotion", "code"))


def _with_discounts(lines: list[OrderLine], discounts: list) -> None:
    """Just-written lines, given the discounts just written with them (nothing read back)."""
    found: dict[int, list] = {line.pk: [] for line in lines}
    for row in discounts:
        found[row.line.pk].append(row)
    for line in lines:
        line._prefetched_objects_cache = {
            **getattr(line, "_prefetched_objects_cache", {}),
            "discounts": found[line.pk],
        }


def _list_queryset(queryset):
    return queryset.select_related("channel", "origin_store", "fulfilling_location").prefetch_related(
        Prefetch("lines", OrderLine.objects.select_related("sku"))
    )


@extend_schema_view(
    list=extend_schema(
        summary="List the orders you may see",
        description=(
            "Newest first. HQ sees every order; store staff the orders placed at or fulfilled by their "
            "stores. Filter by channel (id or code), store id (placed at or fulfilled by), status "
            "(repeat for several), created_after / created_before (ISO 8601) and member id."
        ),
        responses={200: OrderSerializer, **READ_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One order by its number",
        description=(
            "Lines, payments, status history, routing decisions, the latest store offer and the revenue "
            "shares. An order you may not see is a 404. The pickup code is shown to HQ only."
        ),
        parameters=[NUMBER_PARAM],
        responses={200: OrderDetailSerializer, **DETAIL_ERRORS},
        filters=False,
    ),
)
class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_field = "number"
    lookup_value_regex = "[0-9A-Za-z-]+"
    serializer_class = OrderDetailSerializer
    filterset_class = OrderFilterSet
    # API keys: a channel's key reads and places its channel's orders, pays and cancels them; the
    # store's side (queue, accept, ship, collect...) is for people at the store.
    key_scopes = {
        **reads(Scope.ORDERS_READ),
        "create": Scope.ORDERS_WRITE,
        "pay": Scope.ORDERS_WRITE,
        "cancel": Scope.ORDERS_WRITE,
    }

    def get_serializer_class(self):
        return OrderSerializer if self.action == "list" else OrderDetailSerializer

    def get_queryset(self):
        orders = orders_visible_to(self.request.user)
        if self.action == "list":
            return _list_queryset(orders)
        if self.action == "retrieve":
            return _detail_queryset(orders)
        return orders

    def get_object(self):
        # Found by its number alone: a detail or an action ignores the list's query parameters.
        return get_object_or_404(self.get_queryset(), number=self.kwargs["number"])

    def _detail(self, order: Order, status_code=status.HTTP_200_OK, replayed=False) -> Response:
        order = _detail_queryset(Order.objects.all()).get(pk=order.pk)
        headers = {REPLAYED_HEADER: "true"} if replayed else None
        data = OrderDetailSerializer(order, context=self.get_serializer_context()).data
        return Response(data, status=status_code, headers=headers)

    def _valid(self, serializer_class, data) -> dict:
        serializer = serializer_class(data=data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    # --- intake ---

    @extend_schema(
        summary="Create an order (idempotent)",
        description=(
            "Priced from the live price list, routed to a store within its service radius (or the "
            "warehouse) and its stock reserved, all at once or not at all. A retry with the same "
            "`Idempotency-Key` header, or the same channel and `external_reference`, and the same body "
            "returns the first order with 201 and the header `Idempotent-Replayed: true`; the same key "
            "or reference with another body is a 409 `idempotency_conflict`. Give a `member` id, or a "
            "`member_phone` to find or register the customer. 400: unknown SKU or channel (named in "
            "`fields`), quantity not above zero, `price_mismatch`, a merged member, missing or bad "
            "coordinates for shipping. 409 `no_fulfilment_location`: nobody can deliver every line."
        ),
        parameters=[IDEMPOTENCY_PARAM, REPLAYED_PARAM],
        request=OrderCreateSerializer,
        responses={
            201: OrderCreatedSerializer,
            **_errors(
                400,
                403,
                404,
                conflict="`idempotency_conflict` (key or reference reused with another body) or "
                "`no_fulfilment_location` (no store or warehouse has every line).",
            ),
        },
        filters=False,
    )
    def create(self, request):
        data = self._valid(OrderCreateSerializer, request.data)
        self._key_may_place(data)
        key = self._idempotency_key(request)
        fingerprint = request_fingerprint(fingerprint_payload(data))
        # A member registered for an order that is refused is rolled back with it; without one,
        # order_create's own transaction is the only one (no savepoints on the hot path).
        with transaction.atomic() if data.get("member_phone") else nullcontext():
            member = data.get("member")
            if data.get("member_phone"):
                member = self._member_by_phone(data["member_phone"])
            order = order_create(
                channel=data["channel"],
                lines=[
                    LineRequest(sku=line["sku"], quantity=line["quantity"], unit_price=line.get("unit_price"))
                    for line in data["lines"]
                ],
                delivery_method=data["delivery_method"],
                origin=data["origin"],
                member=member,
                origin_store=data.get("origin_store"),
                pickup_store=data.get("pickup_store"),
                placed_by=actor(request.user),
                actor=request.user,
                recipient_name=data["recipient_name"],
                recipient_phone=data["recipient_phone"],
                address=data["address"],
                city=data["city"],
                latitude=data.get("latitude"),
                longitude=data.get("longitude"),
                external_reference=data["external_reference"],
                idempotency_key=key,
                fingerprint=fingerprint,
                coupons=data["coupons"],
            )
            replayed = getattr(order, "replayed", False)
            if replayed and not self._may_see(order):
                # Another caller's order under the same channel reference: say nothing about it.
                raise IdempotencyConflict(
                    _("This external reference was already used on this channel."),
                    fields={"external_reference": [_("Already used.")]},
                )
        fresh = getattr(order, "fresh", None)
        if fresh is not None:
            # Just written, every relation in hand: answer without reading the order back.
            relations = dict(fresh)
            discounts = relations.pop("discounts", [])
            order._prefetched_objects_cache = relations
            _with_discounts(relations["lines"], discounts)
            created = order
        else:
            created = (
                Order.objects.select_related("channel", "origin_store", "fulfilling_location")
                .prefetch_related(
                    Prefetch("lines", OrderLine.objects.select_related("sku").prefetch_related(_discounts())),
                    Prefetch("routing_decisions", RoutingDecision.objects.select_related("location")),
                )
                .get(pk=order.pk)
            )
        return Response(
            OrderCreatedSerializer.represent(created),
            status=status.HTTP_201_CREATED,
            headers={REPLAYED_HEADER: "true"} if replayed else None,
        )

    def _idempotency_key(self, request) -> str | None:
        """The order's key: the header (its length and characters are checked once, by
        integrations.idempotency) scoped by user or API key, so two clients that pick the same key
        never see each other's orders. A key too long for the column is kept as its sha256."""
        key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if not key:
            return None
        owner = owner_of(request) if api_key_of(request.user) else request.user.pk
        scoped = f"{owner}:{key}"
        if len(scoped) > ORDER_KEY_LENGTH:
            scoped = f"{owner}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
        return scoped

    def _key_may_place(self, data) -> None:
        """An API key orders for members it may see (or by phone); its channel is checked by
        order_create's policy (orders.policies.order_placeable_by)."""
        key = api_key_of(self.request.user)
        if key is None:
            return
        member = data.get("member")
        if member is not None and not member_visible(self.request.user, member):
            raise NotFound(_("No such member."), fields={"member": [_("Unknown member.")]})

    def _member_by_phone(self, phone: str):
        try:
            # Part of the order's intake, which order_create refuses for a caller who may not place
            # it (and this transaction rolls the member back with it): the product registers them.
            return member_upsert(phone=phone, actor=SYSTEM).member
        except InvalidPhone as exc:
            exc.fields = {"member_phone": exc.fields.get("phone", [exc.message])}
            raise

    def _may_see(self, order: Order) -> bool:
        user = self.request.user
        mine = user.pk is not None and order.placed_by_id == user.pk
        return mine or orders_visible_to(user).filter(pk=order.pk).exists()

    # --- the store's queue ---

    @extend_schema(
        summary="A store's queue: offers to answer, orders to fulfil, pickups waiting",
        description="For a store you work at (HQ: any store); another store is a 404.",
        parameters=[QueueQuerySerializer],
        responses={200: QueueSerializer, **error_responses(400, 403, 404)},
        filters=False,
    )
    @action(detail=False, filterset_class=None, pagination_class=None, serializer_class=QueueSerializer)
    def queue(self, request):
        wanted = self._valid(QueueQuerySerializer, request.query_params)["store"].strip()
        store = resolve_by_id_or_code(stores_visible_to(request.user), [wanted]).get(wanted)
        if store is None:
            raise NotFound(
                _("No store '%(store)s' that you work at.") % {"store": wanted},
                fields={"store": [_("Unknown store, or not one of yours.")]},
            )
        queue = store_queue(store=store)
        lines = Prefetch("lines", OrderLine.objects.select_related("sku"))
        answer = {
            "store": store,
            "offers": queue["offers"]
            .select_related("order__origin_store", "order__fulfilling_location")
            .prefetch_related(Prefetch("order__lines", OrderLine.objects.select_related("sku"))),
            "to_fulfil": queue["to_fulfil"]
            .select_related("origin_store", "fulfilling_location")
            .prefetch_related(lines),
            "pickups": queue["pickups"]
            .select_related("origin_store", "fulfilling_location")
            .prefetch_related(lines),
        }
        return Response(QueueSerializer(answer, context=self.get_serializer_context()).data)

    # --- capital flow ---

    @extend_schema(
        summary="Pay the order's total, by tenders",
        description=(
            "The member's `points` (at HQ's rate, at most the channel's cap of the order) and "
            "`stored_value` (from their wallet) pay first; `amount` is what is left, paid by `method` "
            "(0.00 and no method when points and stored value pay it all). 201 with the external "
            "payment, every tender written (`tenders`) and the order (now paid and offered to its "
            "store). A retry with the same `external_reference` returns the first payment with 200 and "
            "`Idempotent-Replayed: true`. A second payment, an amount other than what is left or a "
            "reference used elsewhere is a 409 `payment_refused`; points above the balance or the cap, "
            "stored value above the balance, a rest without a method: 400 `tender_refused`; the wallet "
            "spent meanwhile: 409 `insufficient_balance`. A carried-out order leaves at once: its "
            "serial-tracked lines need `serials`, one per unit (400 `serials_refused` otherwise)."
        ),
        parameters=[NUMBER_PARAM, REPLAYED_PARAM],
        request=PayInputSerializer,
        responses={
            200: PaymentResultSerializer,
            201: PaymentResultSerializer,
            **_errors(400, 403, 404, conflict="`payment_refused`: already paid, or not the order total."),
        },
        filters=False,
    )
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def pay(self, request, number=None):
        order = self.get_object()
        data = self._valid(PayInputSerializer, request.data)
        payment = order_pay(
            order=order,
            amount=data["amount"],
            method=data.get("method") or "",
            external_reference=data.get("external_reference") or None,
            actor=request.user,
            serials=data.get("serials"),
            points=data["points"],
            stored_value=data["stored_value"],
        )
        replayed = getattr(payment, "replayed", False)
        order = _detail_queryset(Order.objects.all()).get(pk=order.pk)
        context = self.get_serializer_context()
        answer = {
            "payment": PaymentSerializer(payment, context=context).data if payment is not None else None,
            "tenders": PaymentSerializer(getattr(payment, "tenders", []), many=True, context=context).data,
            "order": OrderDetailSerializer(order, context=context).data,
        }
        return Response(
            answer,
            status=status.HTTP_200_OK if replayed else status.HTTP_201_CREATED,
            headers={REPLAYED_HEADER: "true"} if replayed else None,
        )

    @extend_schema(
        summary="Cancel the order",
        description="Before the goods leave: stock released, payment refunded, points and revenue "
        "shares reversed, the store's offer withdrawn.",
        parameters=[NUMBER_PARAM],
        request=ReasonInputSerializer,
        responses={200: OrderDetailSerializer, **_errors(400, 403, 404, conflict=MOVE_CONFLICT)},
        filters=False,
    )
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def cancel(self, request, number=None):
        order = self.get_object()
        data = self._valid(ReasonInputSerializer, request.data)
        return self._detail(order_cancel(order=order, reason=data["reason"], actor=request.user))

    # --- the store's side ---

    @extend_schema(
        summary="Accept the store's offer",
        description="By staff of the store the order is offered to (or HQ); anyone else gets a 404. "
        "An order not waiting for that store is a 409 `assignment_refused`.",
        parameters=[NUMBER_PARAM],
        request=None,
        responses={
            200: OrderDetailSerializer,
            **_errors(403, 404, conflict="`assignment_refused`: the order is not waiting for this store."),
        },
        filters=False,
    )
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def accept(self, request, number=None):
        order = self.get_object()
        store = acting_store(order, "accept")
        return self._detail(assignment_accept(order=order, store=store, actor=request.user))

    @extend_schema(
        summary="Reject the store's offer",
        description="The order and its stock reservation move to the next store within reach, or to "
        "the warehouse; with nobody left it is cancelled and refunded.",
        parameters=[NUMBER_PARAM],
        request=ReasonInputSerializer,
        responses={
            200: OrderDetailSerializer,
            **_errors(
                400, 403, 404, conflict="`assignment_refused`: the order is not waiting for this store."
            ),
        },
        filters=False,
    )
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def reject(self, request, number=None):
        order = self.get_object()
        data = self._valid(RejectInputSerializer, request.data)
        store = acting_store(order, "reject")
        return self._detail(
            assignment_reject(order=order, store=store, reason=data["reason"], actor=request.user)
        )

    @extend_schema(
        summary="Ship the order",
        description="By the fulfilling store's staff (or HQ): the reserved units become a sale. A "
        "serial-tracked line needs `serials`, one per unit: missing, repeated or still-sold serials "
        "are a 400 `serials_refused`.",
        parameters=[NUMBER_PARAM],
        request=ShipInputSerializer,
        responses={200: OrderDetailSerializer, **_errors(400, 403, 404, conflict=MOVE_CONFLICT)},
        filters=False,
    )
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def ship(self, request, number=None):
        order = self.get_object()
        data = self._valid(ShipInputSerializer, request.data)
        return self._detail(
            order_ship(
                order=order,
                store=order.fulfilling_location,
                tracking_number=data["tracking_number"],
                actor=request.user,
                serials=data.get("serials"),
            )
        )

    @extend_schema(
        summary="Goods put aside for pickup",
        description="By the pickup store's staff (or HQ): the customer gets a pickup code.",
        parameters=[NUMBER_PARAM],
        request=None,
        responses={200: OrderDetailSerializer, **_errors(400, 403, 404, conflict=MOVE_CONFLICT)},
        filters=False,
    )
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def ready(self, request, number=None):
        order = self.get_object()
        return self._detail(
            order_ready_for_pickup(order=order, store=order.fulfilling_location, actor=request.user)
        )

    @extend_schema(
        summary="The customer collects the order",
        description="The clerk types the code the customer shows; a wrong code is a 400 "
        "`pickup_code_wrong`. The reserved units become a sale. A serial-tracked line needs "
        "`serials`, one per unit (400 `serials_refused` otherwise).",
        parameters=[NUMBER_PARAM],
        request=CollectInputSerializer,
        responses={200: OrderDetailSerializer, **_errors(400, 403, 404, conflict=MOVE_CONFLICT)},
        filters=False,
    )
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def collect(self, request, number=None):
        order = self.get_object()
        data = self._valid(CollectInputSerializer, request.data)
        return self._detail(
            order_collect(
                order=order,
                store=order.fulfilling_location,
                pickup_code=data["pickup_code"],
                actor=request.user,
                serials=data.get("serials"),
            )
        )

    @extend_schema(
        summary="The carrier delivered the order",
        description="By the fulfilling store's staff (or HQ).",
        parameters=[NUMBER_PARAM],
        request=None,
        responses={200: OrderDetailSerializer, **_errors(403, 404, conflict=MOVE_CONFLICT)},
        filters=False,
    )
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def complete(self, request, number=None):
        order = self.get_object()
        return self._detail(order_complete(order=order, actor=request.user))
