"""Reads of members: duplicates, the ledger's sum and segments. Who may see which member is
members.policies (`members_visible_to`, `member_lookup_for`); the two names are re-exported here
for callers written before the policy module."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from config.errors import DomainError
from members.choices import IdentitySource, PointsKind
from members.models import ExternalIdentity, Member, PointsEntry
from members.policies import member_lookup, members_visible_to  # noqa: F401 (re-exported)


def points_balance_from_ledger(member: Member) -> int:
    """The ledger's own sum: what `Member.points_balance` must always equal."""
    from django.db.models import Sum

    return member.points_entries.aggregate(total=Sum("points", default=0))["total"]


@dataclass
class DuplicateGroup:
    reason: str
    member_ids: list[int]


def duplicate_candidates(limit: int = 200) -> list[DuplicateGroup]:
    """Likely duplicates: an identity reporting another member's phone (same number, other format),
    one external id under several sources, or the same name + birthday + city. Grouped in SQL."""
    groups: list[DuplicateGroup] = []
    phone_pairs = (
        ExternalIdentity.objects.exclude(reported_phone="")
        .filter(member__merged_into__isnull=True)
        .annotate(
            other=Exists(
                Member.objects.filter(phone=OuterRef("reported_phone"), merged_into__isnull=True).exclude(
                    pk=OuterRef("member_id")
                )
            )
        )
        .filter(other=True)
        .values_list("member_id", "reported_phone")[:limit]
    )
    phone_pairs = list(phone_pairs)
    owners = dict(Member.objects.filter(phone__in=[p for _, p in phone_pairs]).values_list("phone", "pk"))
    for member_id, phone in phone_pairs:
        groups.append(
            DuplicateGroup(_("Same mobile %(phone)s") % {"phone": phone}, sorted({member_id, owners[phone]}))
        )

    shared_ids = (
        ExternalIdentity.objects.filter(member__merged_into__isnull=True)
        .values("external_id")
        .annotate(n=Count("member_id", distinct=True))
        .filter(n__gt=1)
        .values_list("external_id", flat=True)[:limit]
    )
    by_external: dict[str, set[int]] = {}
    for external_id, member_id in ExternalIdentity.objects.filter(
        external_id__in=list(shared_ids)
    ).values_list("external_id", "member_id"):
        by_external.setdefault(external_id, set()).add(member_id)
    for external_id, ids in by_external.items():
        groups.append(DuplicateGroup(_("Same external id %(id)s") % {"id": external_id}, sorted(ids)))

    people = (
        Member.objects.filter(merged_into__isnull=True, birthday__isnull=False)
        .exclude(name="")
        .exclude(city="")
        .values("name", "birthday", "city")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)[:limit]
    )
    keys = list(people)
    if keys:
        q = Q()
        for key in keys:
            q |= Q(name=key["name"], birthday=key["birthday"], city=key["city"])
        by_person: dict[tuple, list[int]] = {}
        for pk, name, birthday, city in Member.objects.filter(q, merged_into__isnull=True).values_list(
            "pk", "name", "birthday", "city"
        ):
            by_person.setdefault((name, birthday, city), []).append(pk)
        for (name, birthday, city), ids in by_person.items():
            groups.append(
                DuplicateGroup(
                    _("Same name, birthday and city: %(who)s") % {"who": f"{name}, {birthday}, {city}"},
                    sorted(ids),
                )
            )
    return groups[:limit]


# --- segments ---------------------------------------------------------------------------------

SEGMENT_FIELDS = {
    "city": "list of cities",
    "tier": "list of tier codes",
    "home_store": "list of store ids",
    "channel_used": "list of channel codes the member earned points on",
    "identity_source": "list of identity sources (tmall, jd, wechat, ...)",
    "spend_min": "total spend at least (yuan)",
    "spend_max": "total spend at most (yuan)",
    "last_purchase_after": "ISO datetime",
    "last_purchase_before": "ISO datetime",
    "points_min": "points balance at least",
    "points_max": "points balance at most",
    "consent": "true / false: marketing consent",
    "bound_guide": "list of guide codes the member is bound to now (open binding, window not ended)",
}


class SegmentInvalid(DomainError):
    code = "segment_invalid"


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _as_decimal(key: str, value) -> Decimal:
    try:
        return Decimal(str(value))
    except Exception:  # noqa: BLE001 - any unparsable value is the same user error
        raise SegmentInvalid(
            _("%(key)s must be a number.") % {"key": key}, fields={key: [_("Not a number.")]}
        ) from None


def _as_datetime(key: str, value) -> datetime:
    parsed = parse_datetime(str(value)) if value else None
    if parsed is None or parsed.tzinfo is None:
        raise SegmentInvalid(
            _("%(key)s must be an ISO datetime with a time zone.") % {"key": key},
            fields={key: [_("Not an aware ISO datetime.")]},
        )
    return parsed


def segment_members(filters: dict, queryset: QuerySet[Member] | None = None) -> QuerySet[Member]:
    """Members matching a saved filter, as one SQL query (never loaded into Python to filter).

    Spend, balance and last purchase are columns kept by the points services, so a segment over
    millions of members is index scans and one COUNT.
    """
    unknown = set(filters) - set(SEGMENT_FIELDS)
    if unknown:
        raise SegmentInvalid(
            _("Unknown segment filters: %(names)s.") % {"names": ", ".join(sorted(unknown))},
            fields={name: [_("Unknown filter.")] for name in sorted(unknown)},
        )
    qs = (queryset if queryset is not None else Member.objects.all()).filter(merged_into__isnull=True)
    f = filters
    if f.get("city"):
        qs = qs.filter(city__in=_as_list(f["city"]))
    if f.get("tier"):
        qs = qs.filter(tier__code__in=_as_list(f["tier"]))
    if f.get("home_store"):
        qs = qs.filter(home_store_id__in=_as_list(f["home_store"]))
    if f.get("channel_used"):
        qs = qs.filter(
            Exists(
                PointsEntry.objects.filter(
                    member_id=OuterRef("pk"),
                    kind=PointsKind.EARN,
                    channel__code__in=_as_list(f["channel_used"]),
                )
            )
        )
    if f.get("identity_source"):
        sources = _as_list(f["identity_source"])
        if set(sources) - set(IdentitySource.values):
            raise SegmentInvalid(_("Unknown identity source."), fields={"identity_source": [_("Unknown.")]})
        qs = qs.filter(Exists(ExternalIdentity.objects.filter(member_id=OuterRef("pk"), source__in=sources)))
    if f.get("spend_min") not in (None, ""):
        qs = qs.filter(total_spend__gte=_as_decimal("spend_min", f["spend_min"]))
    if f.get("spend_max") not in (None, ""):
        qs = qs.filter(total_spend__lte=_as_decimal("spend_max", f["spend_max"]))
    if f.get("last_purchase_after"):
        qs = qs.filter(last_purchase_at__gte=_as_datetime("last_purchase_after", f["last_purchase_after"]))
    if f.get("last_purchase_before"):
        qs = qs.filter(last_purchase_at__lt=_as_datetime("last_purchase_before", f["last_purchase_before"]))
    if f.get("points_min") not in (None, ""):
        qs = qs.filter(points_balance__gte=int(_as_decimal("points_min", f["points_min"])))
    if f.get("points_max") not in (None, ""):
        qs = qs.filter(points_balance__lte=int(_as_decimal("points_max", f["points_max"])))
    if f.get("consent") not in (None, ""):
        qs = qs.filter(marketing_consent=f["consent"] in (True, "true", "1", 1))
    if f.get("bound_guide"):
        # Bindings are the guides app's table, a flow above members: reached through the member's
        # `bindings` relation, not imported (as members.sql reaches orders).
        binding_model = Member._meta.get_field("bindings").related_model
        codes = [str(code).strip().upper() for code in _as_list(f["bound_guide"])]
        qs = qs.filter(
            Exists(
                binding_model.objects.filter(
                    member_id=OuterRef("pk"),
                    ended_at__isnull=True,
                    ends_at__gt=timezone.now(),
                    guide__code__in=codes,
                )
            )
        )
    return qs
