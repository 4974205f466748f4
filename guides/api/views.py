"""Guides API: a guide's public card and binding by scan for the brand's own mini-program or app;
guides, fans, the commission ledger and statements scoped by guides.selectors (a guide sees their
own, a partner their partner's, HQ everything); statement approval and payout and commission
rules for HQ. Every write is one call into guides.services, guides.commission or
guides.settlement, whose refusals leave as the one error shape ({"code", "message", "fields"})."""

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from config.api.errors import ErrorSerializer, error_responses
from config.api.renderers import CSVRenderer
from config.errors import NotFound
from guides.api.serializers import (
    BindingSerializer,
    CommissionEntrySerializer,
    CommissionRuleInputSerializer,
    CommissionRuleSerializer,
    GuideCardSerializer,
    GuideLookupQuerySerializer,
    GuideSerializer,
    ScanBindingSerializer,
    ScanInputSerializer,
    StatementPaySerializer,
    StatementSerializer,
)
from guides.choices import GuideStatus
from guides.commission import commission_rule_set
from guides.errors import GuideSuspended
from guides.filtersets import (
    BindingFilterSet,
    CommissionEntryFilterSet,
    GuideFilterSet,
    ShanghaiDateFilter,
    StatementFilterSet,
)
from guides.models import Binding, CommissionRule, Guide, ScanEvent
from guides.policies import (
    bindings_visible_to,
    commission_rules_managed_by,
    entries_visible_to,
    guides_visible_to,
    statements_visible_to,
)
from guides.services import scan_bind, scan_open
from guides.settlement import STATEMENT_ROW_KEYS, statement_approve, statement_pay
from guides.views import statement_csv_response
from integrations.choices import Scope
from integrations.permissions import reads

CODE_PARAM = OpenApiParameter("code", str, OpenApiParameter.PATH, description="Guide code.")
ID_PARAM = OpenApiParameter("id", int, OpenApiParameter.PATH, description="Statement id.")
MOVE_CONFLICT = "`illegal_transition`: the statement's status does not allow this move (both states named)."


def _errors(*status_codes: int, conflict: str = "") -> dict:
    responses = error_responses(*status_codes)
    if conflict:
        responses[409] = OpenApiResponse(ErrorSerializer, description=conflict)
    return responses


def _code(value: str) -> str:
    # Codes are printed in capitals; a customer may type them in any case.
    return (value or "").strip().upper()


class IsHQ(permissions.BasePermission):
    """Statement approval and payout, commission rules: as guides.policies says (HQ people)."""

    message = gettext_lazy("Only HQ admins may do this.")

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated) and commission_rules_managed_by(
            request.user
        )


# --- guides -----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List the guides you may see",
        description=(
            "HQ sees every guide; a partner the guides of their partner (directly or through a store "
            "they run); a guide only themselves; anyone else none. Filter by q (exact code or part of "
            "the name), status, store, partner and level (codes)."
        ),
        responses={200: GuideSerializer, **error_responses(400, 403)},
    ),
    retrieve=extend_schema(
        summary="One guide you may see, by code",
        description="A guide you may not see, or an unknown code, is a 404.",
        parameters=[CODE_PARAM],
        responses={200: GuideSerializer, **error_responses(403, 404)},
        filters=False,
    ),
)
class GuideViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_field = "code"
    lookup_value_regex = "[0-9A-Za-z]+"
    serializer_class = GuideSerializer
    filterset_class = GuideFilterSet
    key_scopes = {**reads(Scope.GUIDES_READ, "lookup"), "scans": Scope.GUIDES_WRITE}

    def get_queryset(self):
        return guides_visible_to(self.request.user).select_related("store", "partner", "level")

    def get_object(self):
        # Found by its code alone: a detail ignores the list's query parameters.
        return get_object_or_404(self.get_queryset(), code=_code(self.kwargs["code"]))

    @extend_schema(
        summary="A guide's public card by code (active guides only)",
        description=(
            "For the brand's own mini-program or app, after the customer scanned a guide's QR code: "
            "code, name, store and level. Any logged-in client. An unknown code, or a suspended "
            "guide's, is a 404 (a suspended guide's code binds nobody)."
        ),
        parameters=[GuideLookupQuerySerializer],
        responses={200: GuideCardSerializer, **error_responses(400, 403, 404)},
        filters=False,
    )
    @action(detail=False, filterset_class=None, pagination_class=None, serializer_class=GuideCardSerializer)
    def lookup(self, request):
        query = GuideLookupQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        code = _code(query.validated_data["code"])
        guide = (
            Guide.objects.select_related("store", "level")
            .filter(code=code, status=GuideStatus.ACTIVE)
            .first()
        )
        if guide is None:
            raise NotFound(
                _("No active guide with code %(code)s.") % {"code": code},
                fields={"code": [_("Unknown code, or the guide is suspended.")]},
            )
        return Response(GuideCardSerializer(guide).data)

    @extend_schema(
        summary="Bind a customer by a scan of the guide's code",
        description=(
            "For the brand's own mini-program or app: records the scan (with the caller's "
            "User-Agent), finds or registers the member by mobile and binds them to the guide. Last "
            "scan wins: another guide's open binding is ended (`rebound`); a re-scan of the same "
            "guide extends the window (`extended`); else `bound`. 201 with the binding. An invalid "
            "mobile is a 400 `invalid_phone` (nothing written); a suspended guide is a 409 "
            "`guide_suspended`: the scan is recorded, nobody is bound. An API key with `guides:write` "
            "or signed-in store staff, partners and HQ (guides and accounts without a role: 403); "
            "the guide need not be one you may see."
        ),
        parameters=[CODE_PARAM],
        request=ScanInputSerializer,
        responses={
            201: ScanBindingSerializer,
            **_errors(400, 403, 404, conflict="`guide_suspended`: the guide's code binds nobody."),
        },
        filters=False,
    )
    @action(
        detail=True,
        methods=["post"],
        filterset_class=None,
        pagination_class=None,
        serializer_class=ScanInputSerializer,
    )
    def scans(self, request, code=None):
        guide = get_object_or_404(Guide.objects.all(), code=_code(code))
        serializer = ScanInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # One transaction: a refused mobile leaves no scan behind either.
        with transaction.atomic():
            scan = scan_open(guide=guide, user_agent=request.headers.get("User-Agent", ""))
            binding = scan_bind(scan=scan, phone=data["phone"], name=data["name"])
        if binding is None:  # the guide is (or was just) suspended: the scan says so, nobody bound
            raise GuideSuspended(
                _("Guide %(code)s is suspended; their code binds nobody.") % {"code": guide.code},
                fields={"code": [_("Suspended.")]},
            )
        scan = ScanEvent.objects.get(pk=scan.pk)
        binding = Binding.objects.select_related("guide").get(pk=binding.pk)
        answer = ScanBindingSerializer({"scan": scan, "binding": binding})
        return Response(answer.data, status=status.HTTP_201_CREATED)


# --- fans -------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List the fans (bindings) you may see",
        description=(
            "Bindings of the guides you may see, latest scan first; the mobile is masked except for "
            "HQ. Filter by state (`active`: open and inside the window; `expired`: ran out or taken "
            "over), guide (code), started_from / started_to (dates, China time, both included)."
        ),
        responses={200: BindingSerializer, **error_responses(400, 403)},
    ),
    retrieve=extend_schema(
        summary="One binding you may see",
        description="Another guide's or partner's binding is a 404.",
        responses={200: BindingSerializer, **error_responses(403, 404)},
        filters=False,
    ),
)
class BindingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = BindingSerializer
    key_scopes = reads(Scope.GUIDES_READ)
    filterset_class = BindingFilterSet

    def get_queryset(self):
        return bindings_visible_to(self.request.user).select_related("guide", "store", "member")

    def get_object(self):
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])


# --- the ledger -------------------------------------------------------------------------------


class LedgerFilterSet(CommissionEntryFilterSet):
    """The portal's ledger filters, plus a date range (China days, both ends included)."""

    @classmethod
    def get_filters(cls):
        filters = super().get_filters()
        # `from` and `to` are Python keywords, so they cannot be declared as attributes.
        filters["from"] = ShanghaiDateFilter(
            field_name="created_at", lookup_expr="gte", label=gettext_lazy("Booked from (date)")
        )
        filters["to"] = ShanghaiDateFilter(
            field_name="created_at", lookup_expr="lt", label=gettext_lazy("Booked until (date, included)")
        )
        return filters


@extend_schema_view(
    list=extend_schema(
        summary="The commission ledger you may see",
        description=(
            "Append-only rows, newest first: accruals (held while the return window is open), "
            "releases to payable, clawbacks, rewards. A guide sees their own rows; a partner the rows "
            "of their stores and guides and their rewards; HQ all. Filter by kind, guide, partner, "
            "order (number), month (YYYY-MM) and from / to (dates, China time, both included)."
        ),
        responses={200: CommissionEntrySerializer, **error_responses(400, 403)},
    ),
    retrieve=extend_schema(
        summary="One ledger row you may see",
        description="Another guide's or partner's row is a 404.",
        responses={200: CommissionEntrySerializer, **error_responses(403, 404)},
        filters=False,
    ),
)
class CommissionEntryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = CommissionEntrySerializer
    key_scopes = reads(Scope.COMMISSIONS_READ)
    filterset_class = LedgerFilterSet

    def get_queryset(self):
        return entries_visible_to(self.request.user).select_related("guide", "partner", "store", "order")

    def get_object(self):
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])


# --- statements -------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="The settlement statements you may see",
        description=(
            "Monthly statements, newest month first. A guide sees their own; a partner their "
            "partner's and their guides'; HQ all. Filter by party (guide/partner), status, period "
            "(YYYY-MM), guide and partner (codes)."
        ),
        responses={200: StatementSerializer, **error_responses(400, 403)},
    ),
    retrieve=extend_schema(
        summary="One statement you may see",
        description="Another guide's or partner's statement is a 404.",
        parameters=[ID_PARAM],
        responses={200: StatementSerializer, **error_responses(403, 404)},
        filters=False,
    ),
)
class StatementViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = StatementSerializer
    key_scopes = reads(Scope.COMMISSIONS_READ, "csv_export")
    filterset_class = StatementFilterSet

    def get_queryset(self):
        return statements_visible_to(self.request.user).select_related(
            "guide", "partner", "approved_by", "paid_by"
        )

    def get_object(self):
        # Found by its id alone: a detail or an action ignores the list's query parameters.
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])

    def _detail(self, statement) -> Response:
        statement = self.get_queryset().get(pk=statement.pk)
        return Response(StatementSerializer(statement).data)

    @extend_schema(
        summary="A statement's ledger rows as CSV",
        description=(
            "One row per ledger entry on the statement, oldest first, dates in China time. Columns: "
            + ", ".join(STATEMENT_ROW_KEYS)
            + "."
        ),
        parameters=[ID_PARAM],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV file."),
            **error_responses(403, 404),
        },
        filters=False,
    )
    @action(
        detail=True,
        url_path="csv",
        filterset_class=None,
        pagination_class=None,
        renderer_classes=[renderers.JSONRenderer, CSVRenderer],
    )
    def csv_export(self, request, pk=None):
        # The portal's and HQ's download, without the byte-order mark spreadsheets need.
        return statement_csv_response(self.get_object(), bom=False)

    @extend_schema(
        summary="Approve a draft statement (HQ only)",
        description=(
            "Its entries and total are frozen from then on; later entries go to the next statement. "
            "A statement with no entries is a 400 `statement_refused`."
        ),
        parameters=[ID_PARAM],
        request=None,
        responses={200: StatementSerializer, **_errors(400, 403, 404, conflict=MOVE_CONFLICT)},
        filters=False,
    )
    @action(
        detail=True, methods=["post"], permission_classes=[IsHQ], filterset_class=None, pagination_class=None
    )
    def approve(self, request, pk=None):
        return self._detail(statement_approve(statement=self.get_object(), user=request.user))

    @extend_schema(
        summary="Record the payout of an approved statement (HQ only)",
        description="With the bank transfer or wallet payout reference.",
        parameters=[ID_PARAM],
        request=StatementPaySerializer,
        responses={200: StatementSerializer, **_errors(400, 403, 404, conflict=MOVE_CONFLICT)},
        filters=False,
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsHQ],
        filterset_class=None,
        pagination_class=None,
        serializer_class=StatementPaySerializer,
    )
    def pay(self, request, pk=None):
        statement = self.get_object()
        serializer = StatementPaySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reference = serializer.validated_data["payment_reference"]
        return self._detail(
            statement_pay(statement=statement, user=request.user, payment_reference=reference)
        )


# --- commission rules -------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="Commission rules (HQ only)",
        description=(
            "Every rule, the latest start first; empty channel, category or level mean any. The "
            "most specific rule in force when an order is paid sets the guide's commission."
        ),
        responses={200: CommissionRuleSerializer, **error_responses(400, 403)},
    ),
    retrieve=extend_schema(
        summary="One commission rule (HQ only)",
        responses={200: CommissionRuleSerializer, **error_responses(403, 404)},
        filters=False,
    ),
    create=extend_schema(
        summary="Start a commission rule (HQ only)",
        description=(
            "Starts at `valid_from` (default now) and ends the rule of the same channel, category and "
            "level in force then; both moves are audited. Rules are never edited. A bad rate or a "
            "start that would rewrite commission already booked is a 400 `commission_rule_refused`."
        ),
        request=CommissionRuleInputSerializer,
        responses={201: CommissionRuleSerializer, **error_responses(400, 403)},
        filters=False,
    ),
)
class CommissionRuleViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    permission_classes = [IsHQ]
    serializer_class = CommissionRuleSerializer

    def get_queryset(self):
        return CommissionRule.objects.select_related("channel", "category", "level", "created_by")

    def get_object(self):
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])

    def create(self, request):
        serializer = CommissionRuleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        rule = commission_rule_set(
            rate_percent=data["rate_percent"],
            fixed_per_unit=data["fixed_per_unit"],
            channel=data["channel"],
            category=data["category"],
            level=data["level"],
            valid_from=data["valid_from"],
            actor=request.user,
        )
        rule = self.get_queryset().get(pk=rule.pk)
        return Response(CommissionRuleSerializer(rule).data, status=status.HTTP_201_CREATED)
