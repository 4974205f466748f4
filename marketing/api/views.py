"""Marketing API: a member's coupons and wallet, and stored-value top-ups. The member is found
through members.policies.members_visible_to (another's id is a 404), their coupons and balances
are shown only when marketing.policies.wallet_visible_to says so (personal data), and a top-up is
one call into marketing.services.wallet_top_up, which asks its own policy."""

from django.db import IntegrityError
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from config.api.errors import ErrorSerializer, error_responses
from config.errors import Conflict, NotFound
from integrations.choices import Scope
from marketing.api.serializers import (
    RECENT_ENTRIES,
    CouponCodeSerializer,
    TopUpInputSerializer,
    TopUpResultSerializer,
    WalletSerializer,
)
from marketing.errors import TenderRefused
from marketing.models import WalletEntry
from marketing.policies import wallet_visible_to
from marketing.services import codes_of, wallet_balance, wallet_top_up
from members.models import Member
from members.policies import members_visible_to

ID_PARAM = OpenApiParameter("id", int, OpenApiParameter.PATH, description="Member id.")


class TopUpConflict(Conflict):
    code = "idempotency_conflict"


class MemberWalletViewSet(viewsets.GenericViewSet):
    """/members/{id}/coupons/, /members/{id}/wallet/ and /members/{id}/wallet/top-ups/."""

    serializer_class = CouponCodeSerializer
    filterset_class = None
    key_scopes = {"coupons": Scope.MEMBERS_READ, "wallet": Scope.MEMBERS_READ, "top_up": Scope.MEMBERS_WRITE}

    def _member(self, pk) -> Member:
        """A member whose coupons and balances the caller may see; anyone else's is a 404."""
        member = get_object_or_404(members_visible_to(self.request.user), pk=pk)
        if not wallet_visible_to(self.request.user, member):
            raise NotFound(_("Member not found."), fields={"member": [_("Not a member you may see.")]})
        return member

    @extend_schema(
        summary="A member's coupon codes",
        description=(
            "Every code the member holds, newest first: the coupon, what it takes off (`kind` "
            "`amount`: yuan off; `percent`: percent off the eligible lines), its minimum spend and "
            "window, and whether it was used (`redeemed`; a cancelled order gives it back). For "
            "those who may see the member's personal data: HQ, their stores' staff and partner, a "
            "channel's key for its channel's members (`members:read`); anyone else gets a 404."
        ),
        parameters=[ID_PARAM],
        responses={200: CouponCodeSerializer(many=True), **error_responses(400, 403, 404)},
        filters=False,
        operation_id="members_coupons_list",
    )
    def coupons(self, request, pk=None):
        member = self._member(pk)
        page = self.paginate_queryset(codes_of(member).order_by("-issued_at", "-id"))
        return self.get_paginated_response(CouponCodeSerializer(page, many=True).data)

    @extend_schema(
        summary="A member's points and stored value",
        description=(
            f"The points balance, the stored-value balance and the newest {RECENT_ENTRIES} stored-value "
            "entries (top-ups, orders paid, refunds), newest first. Who may see it: as for the member's "
            "coupons; anyone else gets a 404."
        ),
        parameters=[ID_PARAM],
        responses={200: WalletSerializer, **error_responses(403, 404)},
        filters=False,
        operation_id="members_wallet_retrieve",
    )
    def wallet(self, request, pk=None):
        member = self._member(pk)
        entries = WalletEntry.objects.filter(wallet__member=member).order_by("-created_at", "-id")
        answer = {
            "member": member.pk,
            "points_balance": member.points_balance,
            "stored_value": wallet_balance(member),
            "entries": entries[:RECENT_ENTRIES],
        }
        return Response(WalletSerializer(answer).data)

    @extend_schema(
        summary="Top up a member's stored value",
        description=(
            "Money taken at the counter or by the brand's app, paid by cash, card, WeChat Pay or "
            "Alipay (never by the wallet itself or by points). HQ, store managers and clerks for the "
            "members they may see; a channel's key with `members:write` for its channel's members. "
            "Idempotent by `client_reference`: a retry returns the first top-up with 200 and "
            "`replayed: true`; the same client reference with another member or amount is a 409 "
            "`idempotency_conflict`. 400 `tender_refused`: not an amount above zero, or not a way "
            "to top up."
        ),
        parameters=[ID_PARAM],
        request=TopUpInputSerializer,
        responses={
            200: TopUpResultSerializer,
            201: TopUpResultSerializer,
            **error_responses(400, 403, 404),
            409: OpenApiResponse(
                ErrorSerializer,
                description="`idempotency_conflict`: the client reference was used for another top-up.",
            ),
        },
        filters=False,
        operation_id="members_wallet_top_ups_create",
    )
    def top_up(self, request, pk=None):
        member = self._member(pk)
        serializer = TopUpInputSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        arguments = {
            "member": member,
            "amount": data["amount"],
            "method": data["method"],
            "actor": request.user,
            "reference": data["reference"],
            "client_reference": data.get("client_reference") or None,
        }
        try:
            try:
                entry = wallet_top_up(**arguments)
            except IntegrityError:
                # The same client reference committed by a concurrent retry a moment ago: this
                # attempt rolled back whole, and running it again finds the first top-up.
                entry = wallet_top_up(**arguments)
        except TenderRefused as exc:
            if exc.code == TopUpConflict.code:  # a conflict of state, not bad input: 409 as elsewhere
                raise TopUpConflict(exc.message, fields=exc.fields) from None
            raise
        replayed = getattr(entry, "replayed", False)
        answer = TopUpResultSerializer(
            {"entry": entry, "stored_value": wallet_balance(member), "replayed": replayed}
        )
        return Response(answer.data, status=status.HTTP_200_OK if replayed else status.HTTP_201_CREATED)
