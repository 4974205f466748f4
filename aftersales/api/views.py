"""After-sales API: open a ticket against any channel's order line, read its status and steps, list
tickets by channel, and move a ticket through its steps. Every queryset starts from
aftersales.selectors.tickets_visible_to; every write is one call into aftersales.services, whose
refusals leave as the one error shape ({"code", "message", "fields"})."""

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from aftersales.api.serializers import (
    TicketDetailSerializer,
    TicketNoteSerializer,
    TicketOpenSerializer,
    TicketRefuseSerializer,
    TicketResolveSerializer,
    TicketSerializer,
    TicketStoreSerializer,
)
from aftersales.choices import OpenedVia
from aftersales.filtersets import TicketFilterSet
from aftersales.models import Ticket, TicketStatusChange
from aftersales.policies import desk_stores_of, ticket_require, tickets_visible_to
from aftersales.services import (
    ticket_approve,
    ticket_close,
    ticket_inspect,
    ticket_open,
    ticket_receive,
    ticket_refuse,
    ticket_resolve,
)
from aftersales.views import acting_store
from catalog.api.serializers import resolve_by_id_or_code
from config.api.errors import ErrorSerializer, error_responses
from config.api.permissions import IsStaffUser
from config.errors import DomainError
from integrations.choices import Scope
from integrations.permissions import KeyScopes, reads
from stores.policies import stores_visible_to

MOVE_CONFLICT = (
    "`illegal_transition`: the ticket's status does not allow this step (both states named), or "
    "`ticket_refused`."
)
NUMBER_PARAM = OpenApiParameter("number", str, OpenApiParameter.PATH, description="Ticket number.")


def _errors(*status_codes: int, conflict: str = "") -> dict:
    responses = error_responses(*status_codes)
    if conflict:
        responses[409] = OpenApiResponse(ErrorSerializer, description=conflict)
    return responses


def _detail_queryset(queryset):
    """A ticket with everything its detail shows, in a fixed number of queries."""
    return queryset.select_related(
        "order",
        "line__sku",
        "unit",
        "channel",
        "intake_store",
        "handling_store",
        "policy",
        "refund",
        "replacement_order",
    ).prefetch_related(
        Prefetch("status_changes", TicketStatusChange.objects.select_related("store", "changed_by")),
        "photos",
    )


@extend_schema_view(
    list=extend_schema(
        summary="List the service tickets you may see",
        description=(
            "Newest first. HQ sees every ticket; store staff the tickets taken in or handled at their "
            "stores. Filter by channel (id or code: where the product was sold), status (repeat for "
            "several), kind, store (id or code), opened_via, opened_from / opened_to (dates, China "
            "time, both included) and q (ticket number, order number or customer mobile)."
        ),
        responses={200: TicketSerializer, **error_responses(400, 403)},
    ),
    retrieve=extend_schema(
        summary="One ticket by its number: status and steps",
        description="A ticket you may not see, or an unknown number, is a 404.",
        parameters=[NUMBER_PARAM],
        responses={200: TicketDetailSerializer, **error_responses(403, 404)},
        filters=False,
    ),
)
class TicketViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_field = "number"
    lookup_value_regex = "[0-9A-Za-z-]+"
    serializer_class = TicketDetailSerializer
    filterset_class = TicketFilterSet
    permission_classes = [IsStaffUser, KeyScopes]
    # Reading is scoped by tickets_visible_to; who opens and works a ticket is decided by
    # aftersales.policies, asked by each step here (a 403 for a ticket you may only read) and by
    # the services themselves. Channel keys open tickets against their channel's orders and
    # follow them; the desk's steps (receive, inspect, approve...) are for people at a store.
    key_scopes = {**reads(Scope.AFTERSALES_WRITE), "create": Scope.AFTERSALES_WRITE}

    def get_serializer_class(self):
        return TicketSerializer if self.action == "list" else TicketDetailSerializer

    def get_queryset(self):
        tickets = tickets_visible_to(self.request.user)
        if self.action == "list":
            return tickets.select_related(
                "order", "line__sku", "unit", "channel", "intake_store", "handling_store"
            ).order_by("-opened_at", "-id")
        if self.action == "retrieve":
            return _detail_queryset(tickets)
        return tickets

    def get_object(self):
        # Found by its number alone: a detail or a step ignores the list's query parameters. A
        # step needs the policy's "work" (a 403 for a partner or key that may only read it).
        ticket = get_object_or_404(self.get_queryset(), number=self.kwargs["number"])
        if self.action != "retrieve":
            ticket_require(self.request.user, ticket, "work")
        return ticket

    def _valid(self, serializer_class, data) -> dict:
        serializer = serializer_class(data=data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def _detail(self, ticket: Ticket, status_code=status.HTTP_200_OK) -> Response:
        ticket = _detail_queryset(Ticket.objects.all()).get(pk=ticket.pk)
        data = TicketDetailSerializer(ticket, context=self.get_serializer_context()).data
        return Response(data, status=status_code)

    def _store(self, ticket: Ticket, wanted: str):
        """The store of a step: the one named (one you work at; HQ: any), else the ticket's."""
        user = self.request.user
        wanted = (wanted or "").strip()
        if wanted:
            store = resolve_by_id_or_code(stores_visible_to(user), [wanted]).get(wanted)
            if store is None:
                raise DomainError(
                    _("No store '%(store)s' that you work at.") % {"store": wanted},
                    fields={"store": [_("Unknown store, or not one of yours.")]},
                )
            return store
        return acting_store(user, ticket, list(desk_stores_of(user)))

    # --- intake ---

    @extend_schema(
        summary="Open a service ticket",
        description=(
            "Against one line of any channel's order: give the order number and the line id, or the "
            "SKU code when the order has one line of it. The warranty policy decides from the delivery "
            "date, the request and the fault flag; a refusal is a 400 `not_eligible` whose message "
            "says why in words (e.g. day 16 after delivery: the 15-day return window has closed; "
            "exchange allowed until day 30). A serial-tracked product needs the serial of a unit sold "
            "on this line and not returned (`serial_refused`). 201 with the ticket."
        ),
        request=TicketOpenSerializer,
        responses={201: TicketDetailSerializer, **_errors(400, 403, 404, conflict=MOVE_CONFLICT)},
        filters=False,
    )
    def create(self, request):
        data = self._valid(TicketOpenSerializer, request.data)
        ticket = ticket_open(
            line=data["line"],
            kind=data["kind"],
            fault=data["fault"],
            quantity=data["quantity"],
            serial=data["serial"].strip(),
            description=data["description"].strip(),
            customer_phone=data["customer_phone"].strip(),
            opened_via=OpenedVia.API,
            intake_store=data.get("intake_store"),
            actor=request.user,
        )
        return self._detail(ticket, status.HTTP_201_CREATED)

    # --- the steps ---

    @extend_schema(
        summary="The unit is received at a store",
        description="The store that received it handles the ticket from now on.",
        parameters=[NUMBER_PARAM],
        request=TicketStoreSerializer,
        responses={200: TicketDetailSerializer, **_errors(400, 403, 404, conflict=MOVE_CONFLICT)},
        filters=False,
    )
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def receive(self, request, number=None):
        ticket = self.get_object()
        data = self._valid(TicketStoreSerializer, request.data)
        store = self._store(ticket, data["store"])
        if store is None:
            raise DomainError(_("Name the store that received the unit."), fields={"store": [_("Required.")]})
        return self._detail(ticket_receive(ticket=ticket, store=store, actor=request.user))

    @extend_schema(
        summary="The unit is inspected",
        parameters=[NUMBER_PARAM],
        request=TicketNoteSerializer,
        responses={200: TicketDetailSerializer, **_errors(400, 403, 404, conflict=MOVE_CONFLICT)},
        filters=False,
    )
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def inspect(self, request, number=None):
        ticket = self.get_object()
        data = self._valid(TicketNoteSerializer, request.data)
        return self._detail(ticket_inspect(ticket=ticket, actor=request.user, note=data["note"]))

    @extend_schema(
        summary="Approve the request",
        parameters=[NUMBER_PARAM],
        request=TicketNoteSerializer,
        responses={200: TicketDetailSerializer, **_errors(400, 403, 404, conflict=MOVE_CONFLICT)},
        filters=False,
    )
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def approve(self, request, number=None):
        ticket = self.get_object()
        data = self._valid(TicketNoteSerializer, request.data)
        return self._detail(ticket_approve(ticket=ticket, actor=request.user, note=data["note"]))

    @extend_schema(
        summary="Refuse the request, with the reason",
        parameters=[NUMBER_PARAM],
        request=TicketRefuseSerializer,
        responses={200: TicketDetailSerializer, **_errors(400, 403, 404, conflict=MOVE_CONFLICT)},
        filters=False,
    )
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def refuse(self, request, number=None):
        ticket = self.get_object()
        data = self._valid(TicketRefuseSerializer, request.data)
        return self._detail(ticket_refuse(ticket=ticket, reason=data["reason"], actor=request.user))

    @extend_schema(
        summary="Resolve an approved ticket",
        description=(
            "A return: the payment refunded, the unit back in the store's stock, the line's points, "
            "guide commission and revenue shares reversed, in one transaction. An exchange: a "
            "replacement reserved and shipped. A repair: done, with the repair note."
        ),
        parameters=[NUMBER_PARAM],
        request=TicketResolveSerializer,
        responses={200: TicketDetailSerializer, **_errors(400, 403, 404, conflict=MOVE_CONFLICT)},
        filters=False,
    )
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def resolve(self, request, number=None):
        ticket = self.get_object()
        data = self._valid(TicketResolveSerializer, request.data)
        store = self._store(ticket, data["store"])
        replacement = data["replacement_serial"].strip()
        ticket = ticket_resolve(
            ticket=ticket,
            actor=request.user,
            store=store,
            note=data["note"],
            **({"replacement_serial": replacement} if replacement else {}),
        )
        return self._detail(ticket)

    @extend_schema(
        summary="Close the ticket",
        parameters=[NUMBER_PARAM],
        request=None,
        responses={200: TicketDetailSerializer, **_errors(403, 404, conflict=MOVE_CONFLICT)},
        filters=False,
    )
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def close(self, request, number=None):
        ticket = self.get_object()
        return self._detail(ticket_close(ticket=ticket, actor=request.user))
