"""Reads of guides, scans, bindings, attributed orders, commission entries and statements.

Every portal view and API viewset starts from one of the `*_visible_to(user)` selectors:
- HQ sees everything;
- a guide sees only their own guide and what hangs off it;
- a partner user sees the guides of their partner (directly, or through a store the partner
  runs) and what hangs off them, plus their partner's own entries and statements;
- anyone else (a clerk or manager who is not a guide, a customer) sees nothing.
A user can be several of these at once (a partner who is also a guide): the sets are joined.
Scoping is done with subqueries (`IN (SELECT ...)`), never joins, so rows are never duplicated.
"""

from datetime import datetime

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from config.dates import last_day_before
from config.roles import is_hq
from guides.models import Binding, CommissionEntry, Guide, ScanEvent, Statement
from integrations.authentication import api_key_of
from orders.models import Order
from stores.models import Partner, Store


def guide_for_user(user) -> Guide | None:
    """The user's own guide account (with store, partner and level), or None."""
    if not user.is_authenticated or api_key_of(user) is not None:
        return None
    return Guide.objects.select_related("store", "partner", "level").filter(user=user).first()


def partners_of_user(user) -> QuerySet[Partner]:
    """The partners the user logs in for."""
    if not user.is_authenticated:
        return Partner.objects.none()
    key = api_key_of(user)
    if key is not None:  # a partner's key speaks for its partner; a channel's for none
        return Partner.objects.filter(pk=key.partner_id)
    return Partner.objects.filter(users=user)


def _partner_ids(user):
    return partners_of_user(user).values("pk")


def guides_visible_to(user) -> QuerySet[Guide]:
    """HQ: all. Guide: themselves. Partner: guides whose partner, or whose store's partner, is theirs."""
    if not user.is_authenticated:
        return Guide.objects.none()
    if is_hq(user):
        return Guide.objects.all()
    partners = _partner_ids(user)
    if api_key_of(user) is not None:  # a partner's key: its guides; a channel's key: none
        return Guide.objects.filter(
            Q(partner__in=partners) | Q(store__in=Store.objects.filter(partner__in=partners).values("pk"))
        )
    return Guide.objects.filter(
        Q(user=user)
        | Q(partner__in=partners)
        | Q(store__in=Store.objects.filter(partner__in=partners).values("pk"))
    )


def _visible_guide_ids(user):
    return guides_visible_to(user).values("pk")


def bindings_visible_to(user) -> QuerySet[Binding]:
    """Bindings (fans) of the guides the user may see."""
    if not user.is_authenticated:
        return Binding.objects.none()
    if is_hq(user):
        return Binding.objects.all()
    return Binding.objects.filter(guide__in=_visible_guide_ids(user))


def scans_visible_to(user) -> QuerySet[ScanEvent]:
    """Scans of the visible guides' codes; a partner also sees scans of their stores' own codes."""
    if not user.is_authenticated:
        return ScanEvent.objects.none()
    if is_hq(user):
        return ScanEvent.objects.all()
    stores = Store.objects.filter(partner__in=_partner_ids(user)).values("pk")
    return ScanEvent.objects.filter(
        Q(guide__in=_visible_guide_ids(user)) | Q(guide__isnull=True, store__in=stores)
    )


def attributed_orders_visible_to(user) -> QuerySet[Order]:
    """Orders attributed to a guide the user may see."""
    if not user.is_authenticated:
        return Order.objects.none()
    if is_hq(user):
        return Order.objects.filter(guide__isnull=False)
    return Order.objects.filter(guide__in=_visible_guide_ids(user))


def entries_visible_to(user) -> QuerySet[CommissionEntry]:
    """Commission ledger rows: a guide's own; a partner's (stamped with their partner); HQ all."""
    if not user.is_authenticated:
        return CommissionEntry.objects.none()
    if is_hq(user):
        return CommissionEntry.objects.all()
    if api_key_of(user) is not None:  # a partner's key: entries stamped with its partner
        return CommissionEntry.objects.filter(partner__in=_partner_ids(user))
    own = Guide.objects.filter(user=user).values("pk")
    return CommissionEntry.objects.filter(Q(guide__in=own) | Q(partner__in=_partner_ids(user)))


def statements_visible_to(user) -> QuerySet[Statement]:
    """A guide's own statements; a partner's statements and their guides' statements; HQ all."""
    if not user.is_authenticated:
        return Statement.objects.none()
    if is_hq(user):
        return Statement.objects.all()
    return Statement.objects.filter(Q(guide__in=_visible_guide_ids(user)) | Q(partner__in=_partner_ids(user)))


def bindings_in_effect(member, at: datetime | None = None) -> QuerySet[Binding]:
    """The member's bindings in effect at `at` (default: the open ones now), latest scan first.

    In effect = started by then and not ended by then. Normally at most one; after a member
    merge the survivor may hold two open bindings, and the order (last scan, then id) decides."""
    qs = Binding.objects.filter(member=member)
    if at is None:
        qs = qs.filter(ended_at__isnull=True)
    else:
        qs = qs.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=at), started_at__lte=at)
    return qs.order_by("-last_scan_at", "-id")


def current_binding(member, at: datetime | None = None) -> Binding | None:
    """The member's binding (open, latest scan wins), with its guide; None if never bound."""
    return bindings_in_effect(member, at).select_related("guide").first()


def member_bindings(member) -> list[Binding]:
    """All the member's bindings, open ones first, then the most recently ended; with guide
    and store (one query). Each is marked `active` (open and its window not over)."""
    now = timezone.now()
    bindings = list(
        Binding.objects.filter(member=member)
        .select_related("guide", "store")
        .order_by(F("ended_at").desc(nulls_first=True), "-last_scan_at", "-id")
    )
    bindings_mark(bindings, now)
    return bindings


def binding_is_active(binding: Binding, now: datetime | None = None) -> bool:
    """Open and inside the brand default window (what "active fan" means on lists)."""
    return binding.ended_at is None and binding.ends_at > (now or timezone.now())


def active_binding_q(now: datetime | None = None) -> Q:
    """binding_is_active as a filter."""
    return Q(ended_at__isnull=True, ends_at__gt=now or timezone.now())


def bindings_mark(bindings, now: datetime | None = None) -> None:
    """Mark each binding `active` and give it `last_day`: the window's last Shanghai day, included
    (`ends_at` is the exclusive midnight after it)."""
    now = now or timezone.now()
    for binding in bindings:
        binding.active = binding_is_active(binding, now)
        binding.last_day = last_day_before(binding.ends_at)
