"""Members API: scoped reads start from members.selectors; each write is one members.services call.

A clerk cannot list members: they see their stores' customers by id and find anyone else by an
exact phone, card or external id (`lookup`), which is how a walk-in customer is served.
"""

import csv

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from config.api.errors import error_responses
from config.api.renderers import CSVRenderer
from config.csv import csv_attachment, csv_cell
from config.errors import NotFound
from config.roles import is_hq
from integrations.authentication import actor
from integrations.choices import Scope
from integrations.permissions import key_channel_only
from integrations.throttling import ApiKeyRateThrottle
from members.api.serializers import (
    DuplicateGroupSerializer,
    MemberDetailSerializer,
    MemberLookupQuerySerializer,
    MemberMergeInputSerializer,
    MemberMergeSerializer,
    MemberSerializer,
    MemberUpsertSerializer,
    PointsAdjustSerializer,
    PointsEarnSerializer,
    PointsEntrySerializer,
    PointsLedgerSerializer,
    PointsRedeemSerializer,
    PointsResultSerializer,
    SegmentDetailSerializer,
    SegmentSerializer,
)
from members.errors import PointsRefused
from members.filtersets import MemberFilterSet, PointsEntryFilterSet, SegmentFilterSet
from members.models import Member, PointsEntry, Segment
from members.policies import member_lookup_for, member_register_require, members_visible_to
from members.selectors import duplicate_candidates, segment_members
from members.services import (
    SEGMENT_EXPORT_COLUMNS,
    member_merge,
    member_upsert,
    points_adjust,
    points_earn,
    points_redeem,
    segment_create,
    segment_export,
)
from members.throttling import MemberLookupThrottle

READ_ERRORS = error_responses(400, 403)
DETAIL_ERRORS = error_responses(403, 404)
POINTS_ERRORS = error_responses(400, 403, 404, 409)
ID_PARAM = OpenApiParameter("id", int, OpenApiParameter.PATH, description="Member id.")


class IsHQ(permissions.BasePermission):
    """HQ admins only: listing every member, merges, adjustments and segments."""

    message = gettext_lazy("Only HQ admins may do this; look a customer up by phone or card instead.")

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and is_hq(request.user))


def _live_member(pk) -> Member:
    """A member that exists and was not merged away: points are earned and spent on the survivor."""
    member = get_object_or_404(Member.objects.all(), pk=pk)
    if member.is_merged:
        raise PointsRefused(
            _("Member %(id)s was merged into %(into)s; use that member.")
            % {"id": member.pk, "into": member.merged_into_id},
            fields={"member": [_("Merged.")]},
        )
    return member


def _points_answer(member: Member, entry, *, replayed: bool) -> Response:
    balance = Member.objects.values_list("points_balance", flat=True).get(pk=member.pk)
    answer = PointsResultSerializer({"entry": entry, "balance": balance, "replayed": replayed})
    created = entry is not None and not replayed
    return Response(answer.data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@extend_schema_view(
    list=extend_schema(
        summary="List members (HQ only)",
        description=(
            "Every live member, newest first, filtered by city, tier code, home store id, consent or "
            "an exact mobile in any format. Store staff and partners get 403: they use `lookup`."
        ),
        responses={200: MemberSerializer, **READ_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One member you may see",
        description="Identities, points balance, tier, home store and consent. HQ: any member; "
        "store staff: their stores' customers (others are 404: use `lookup`).",
        responses={200: MemberDetailSerializer, **DETAIL_ERRORS},
        filters=False,
    ),
)
class MemberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = MemberDetailSerializer
    filterset_class = MemberFilterSet
    # API keys: the members their channel sees (members.selectors.members_visible_to), found by an
    # exact value, upserted, earning and redeeming points on the key's own channel. No browsing.
    key_scopes = {
        "retrieve": Scope.MEMBERS_READ,
        "lookup": Scope.MEMBERS_READ,
        "points": Scope.MEMBERS_READ,
        "upsert": Scope.MEMBERS_WRITE,
        "earn_points": Scope.MEMBERS_WRITE,
        "redeem_points": Scope.MEMBERS_WRITE,
    }

    def get_permissions(self):
        if self.action == "list":
            return [IsHQ()]
        return super().get_permissions()

    def get_serializer_class(self):
        return MemberSerializer if self.action == "list" else MemberDetailSerializer

    def get_queryset(self):
        if self.action == "points":  # the ledger action lists entries, filtered by their filterset
            return PointsEntry.objects.select_related("channel", "created_by").order_by("-created_at", "-id")
        members = members_visible_to(self.request.user).select_related("tier", "home_store")
        if self.action == "list":
            return members
        return members.select_related("consent_channel").prefetch_related("identities")

    def get_object(self):
        # Not filtered by the list's query parameters: a detail is found by its id alone.
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])

    def _points_member(self, pk) -> Member:
        """The member whose points the caller moves: one they may register and browse (HQ any;
        staff their stores' customers; a key its channel's), else 404; a merged one is a 400."""
        member_register_require(self.request.user)
        member = get_object_or_404(Member.objects.all(), pk=pk)
        visible = members_visible_to(self.request.user).filter(pk=member.merged_into_id or member.pk)
        if not visible.exists():
            raise NotFound(_("Member not found."), fields={"member": [_("Not a member you may see.")]})
        return _live_member(member.pk)

    def _detail(self, member: Member, status_code=status.HTTP_200_OK, **context) -> Response:
        member = (
            Member.objects.select_related("tier", "home_store", "consent_channel")
            .prefetch_related("identities")
            .get(pk=member.pk)
        )
        serializer = MemberDetailSerializer(member, context={**self.get_serializer_context(), **context})
        return Response(serializer.data, status=status_code)

    @extend_schema(
        summary="Find a member by exact mobile, card or external id",
        description=(
            "HQ and store managers and clerks may look any member up by an exact value (mobile in "
            "any format, loyalty card, Tmall/JD buyer id, WeChat openid...): how a clerk finds a "
            "walk-in customer. Partners and API keys find only the members they may see; guides and "
            "accounts without a role get 403. No prefix or partial search. A merged duplicate's "
            "identity leads to the survivor. Limited per caller (429 with Retry-After)."
        ),
        parameters=[MemberLookupQuerySerializer],
        responses={200: MemberDetailSerializer, **error_responses(400, 403, 404, 429)},
        filters=False,
    )
    @action(
        detail=False,
        filterset_class=None,
        pagination_class=None,
        throttle_classes=[ApiKeyRateThrottle, MemberLookupThrottle],
    )
    def lookup(self, request):
        query = MemberLookupQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        member = member_lookup_for(request.user, query.validated_data["q"])
        if member is None:
            raise NotFound(
                _("No member with mobile, card or external id '%(q)s'.") % {"q": query.validated_data["q"]},
                fields={"q": [_("No such member.")]},
            )
        return self._detail(member, found_by_lookup=True)

    @extend_schema(
        summary="Find or create the member behind a mobile and/or an external identity",
        description=(
            "Found by the identity first, then by the mobile (any format); created when neither is "
            "known, and the identity is linked. 201 when a member was created, else 200. An identity "
            "and a mobile that belong to two different members are a 409 `identity_conflict` (merge "
            "them first); an invalid mobile is a 400 `invalid_phone`. `home_store` must be one of "
            "your stores."
        ),
        request=MemberUpsertSerializer,
        responses={
            200: MemberDetailSerializer,
            201: MemberDetailSerializer,
            **error_responses(400, 403, 409),
        },
        filters=False,
    )
    @action(
        detail=False,
        methods=["post"],
        filterset_class=None,
        pagination_class=None,
        serializer_class=MemberUpsertSerializer,
    )
    def upsert(self, request):
        data = self._valid(MemberUpsertSerializer, request.data)
        result = member_upsert(
            phone=data.get("phone") or None,
            source=data.get("source") or None,
            external_id=data.get("external_id") or None,
            name=data.get("name", ""),
            city=data.get("city", ""),
            home_store=data.get("home_store"),
            actor=request.user,
        )
        # Upserting by a mobile or an identity is finding the member by an exact value; a member the
        # caller may not see answers with its id and what the caller sent, nothing more.
        sent = {name: data[name] for name in ("name", "city") if data.get(name)}
        if result.member.phone and data.get("phone"):
            sent["phone"] = result.member.phone
        return self._detail(
            result.member,
            status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
            found_by_lookup=True,
            sent=sent,
        )

    # --- points ---

    @extend_schema(
        summary="Points balance and ledger of a member you may see",
        description="The balance (the ledger's sum) and a page of the ledger, newest first.",
        parameters=[
            ID_PARAM,
            OpenApiParameter("page", int, description="Page number."),
            OpenApiParameter("page_size", int, description="Entries per page (at most 500)."),
        ],
        responses={200: PointsLedgerSerializer, **error_responses(400, 403, 404)},
        filters=True,
    )
    @action(detail=True, filterset_class=PointsEntryFilterSet, serializer_class=PointsEntrySerializer)
    def points(self, request, pk=None):
        member = get_object_or_404(members_visible_to(request.user), pk=pk)
        # Not get_object(): in this action the queryset and filters are the ledger's.
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset().filter(member=member)))
        response = self.get_paginated_response(PointsEntrySerializer(page, many=True).data)
        response.data = {"balance": member.points_balance, **response.data}
        return response

    @extend_schema(
        summary="Earn points for a paid amount on a channel",
        description=(
            "Points per yuan of the channel's rule (else the all-channels rule), rounded down. "
            "Idempotent by `client_reference`: a retry returns the first entry with 200; the same "
            "client reference with other parameters is a 409 `idempotency_conflict`. 201 when an "
            "entry was written; 200 with `entry` null when the rule gives no points."
        ),
        parameters=[ID_PARAM],
        request=PointsEarnSerializer,
        responses={200: PointsResultSerializer, 201: PointsResultSerializer, **POINTS_ERRORS},
        filters=False,
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="points/earn",
        filterset_class=None,
        pagination_class=None,
        serializer_class=PointsEarnSerializer,
    )
    def earn_points(self, request, pk=None):
        member = self._points_member(pk)
        data = self._valid(PointsEarnSerializer, request.data)
        key_channel_only(request.user, data["channel"], what=_("points"))
        client_reference = data.get("client_reference") or None
        entry = points_earn(
            member=member,
            channel=data["channel"],
            paid_amount=data["paid_amount"],
            reference=data["reference"],
            client_reference=client_reference,
        )
        return _points_answer(member, entry, replayed=getattr(entry, "replayed", False))

    @extend_schema(
        summary="Redeem points on any channel",
        description=(
            "Refused with 409 `insufficient_points` when the balance is too small (also when two "
            "redeems race). Idempotent by `client_reference` like earning."
        ),
        parameters=[ID_PARAM],
        request=PointsRedeemSerializer,
        responses={200: PointsResultSerializer, 201: PointsResultSerializer, **POINTS_ERRORS},
        filters=False,
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="points/redeem",
        filterset_class=None,
        pagination_class=None,
        serializer_class=PointsRedeemSerializer,
    )
    def redeem_points(self, request, pk=None):
        member = self._points_member(pk)
        data = self._valid(PointsRedeemSerializer, request.data)
        key_channel_only(request.user, data["channel"], what=_("points"))
        client_reference = data.get("client_reference") or None
        entry = points_redeem(
            member=member,
            points=data["points"],
            channel=data["channel"],
            reference=data["reference"],
            client_reference=client_reference,
            actor=actor(request.user),
        )
        return _points_answer(member, entry, replayed=getattr(entry, "replayed", False))

    @extend_schema(
        summary="Adjust a member's points (HQ only)",
        description="A correction with a reason; it cannot take the balance below zero (409).",
        parameters=[ID_PARAM],
        request=PointsAdjustSerializer,
        responses={201: PointsResultSerializer, **POINTS_ERRORS},
        filters=False,
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="points/adjust",
        permission_classes=[IsHQ],
        filterset_class=None,
        pagination_class=None,
        serializer_class=PointsAdjustSerializer,
    )
    def adjust_points(self, request, pk=None):
        member = _live_member(pk)
        data = self._valid(PointsAdjustSerializer, request.data)
        entry = points_adjust(member=member, points=data["points"], reason=data["reason"], actor=request.user)
        return _points_answer(member, entry, replayed=getattr(entry, "replayed", False))

    # --- duplicates and merges (HQ) ---

    @extend_schema(
        summary="Merge a duplicate into a survivor (HQ only)",
        description=(
            "Identities, points, orders, guide binding, tickets and list memberships move to the "
            "survivor in one transaction; the merge record says what moved. Merging a member into "
            "itself or into/from an already merged member is a 400 `merge_refused`."
        ),
        request=MemberMergeInputSerializer,
        responses={201: MemberMergeSerializer, **error_responses(400, 403)},
        filters=False,
    )
    @action(
        detail=False,
        methods=["post"],
        permission_classes=[IsHQ],
        filterset_class=None,
        pagination_class=None,
        serializer_class=MemberMergeInputSerializer,
    )
    def merge(self, request):
        data = self._valid(MemberMergeInputSerializer, request.data)
        record = member_merge(
            survivor=data["survivor"], merged=data["merged"], actor=request.user, reason=data["reason"]
        )
        return Response(MemberMergeSerializer(record).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Likely duplicates (HQ only)",
        description="Same mobile in another format, the same external id, or the same name, "
        "birthday and city.",
        responses={200: DuplicateGroupSerializer(many=True), **error_responses(403)},
        filters=False,
    )
    @action(
        detail=False,
        permission_classes=[IsHQ],
        filterset_class=None,
        pagination_class=None,
        serializer_class=DuplicateGroupSerializer,
    )
    def duplicates(self, request):
        return Response(DuplicateGroupSerializer(duplicate_candidates(), many=True).data)

    def _valid(self, serializer_class, data) -> dict:
        serializer = serializer_class(data=data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


# --- segments ---------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List segments (HQ only)", responses={200: SegmentSerializer, **READ_ERRORS}),
    retrieve=extend_schema(
        summary="One segment with its member count (HQ only)",
        responses={200: SegmentDetailSerializer, **error_responses(400, 403, 404)},
        filters=False,
    ),
    create=extend_schema(
        summary="Save a dynamic segment (HQ only)",
        description="The filters are evaluated before saving; a bad filter is a 400 "
        "`segment_invalid` naming every bad filter under `fields.filters`.",
        request=SegmentSerializer,
        responses={201: SegmentDetailSerializer, **error_responses(400, 403)},
    ),
)
class SegmentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Dynamic segments: saved filters over members, evaluated in the database each time."""

    permission_classes = [IsHQ]
    serializer_class = SegmentSerializer
    filterset_class = SegmentFilterSet

    def get_queryset(self):
        return Segment.objects.select_related("created_by")

    def get_object(self):
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])

    def _members(self, segment: Segment):
        return segment_members(segment.filters, members_visible_to(self.request.user))

    def retrieve(self, request, pk=None):
        segment = self.get_object()
        segment.count = self._members(segment).count()
        return Response(SegmentDetailSerializer(segment).data)

    def create(self, request):
        serializer = SegmentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        segment = segment_create(
            name=serializer.validated_data["name"],
            filters=serializer.validated_data["filters"],
            actor=request.user,
        )
        segment.count = self._members(segment).count()
        return Response(SegmentDetailSerializer(segment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Members of a segment, a page at a time (HQ only)",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="Segment id.")],
        responses={200: MemberSerializer(many=True), **error_responses(400, 403, 404)},
        filters=False,
    )
    @action(detail=True, filterset_class=None, serializer_class=MemberSerializer)
    def members(self, request, pk=None):
        members = self._members(self.get_object()).select_related("tier", "home_store")
        page = self.paginate_queryset(members.order_by("-created_at", "-id"))
        context = self.get_serializer_context()
        return self.get_paginated_response(MemberSerializer(page, many=True, context=context).data)

    @extend_schema(
        summary="Export a segment as CSV for a campaign (HQ only)",
        description=(
            "Only members who consented to marketing are in the file; the `X-Left-Out` header says "
            "how many matching members were left out for lack of consent. Columns: "
            + ", ".join(SEGMENT_EXPORT_COLUMNS)
            + "."
        ),
        parameters=[
            OpenApiParameter("id", int, OpenApiParameter.PATH, description="Segment id."),
            OpenApiParameter(
                "X-Left-Out",
                int,
                OpenApiParameter.HEADER,
                response=[200],
                description="Matching members left out: no marketing consent.",
            ),
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV file."),
            **error_responses(400, 403, 404),
        },
        filters=False,
    )
    @action(
        detail=True,
        filterset_class=None,
        pagination_class=None,
        renderer_classes=[renderers.JSONRenderer, CSVRenderer],
    )
    def export(self, request, pk=None):
        segment = self.get_object()
        export = segment_export(filters=segment.filters, queryset=members_visible_to(request.user))
        response = csv_attachment(f"segment-{segment.pk}.csv", bom=False)
        writer = csv.writer(response)
        writer.writerow(SEGMENT_EXPORT_COLUMNS)
        writer.writerows([csv_cell(value) for value in row] for row in export.rows)
        response["X-Left-Out"] = str(export.left_out)
        response["X-Included"] = str(export.included)
        return response
