"""Reads of guides, scans, bindings, attributed orders, commission entries and statements.

Every portal view and API viewset starts from one of the `*_visible_to(actor)` functions of
guides.policies (who sees what), re-exported here."""

from datetime import datetime

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from config.dates import last_day_before
from guides.models import Binding, Guide
from guides.policies import (
    attributed_orders_visible_to,
    bindings_visible_to,
    entries_visible_to,
    guides_visible_to,
    partners_of_user,
    scans_visible_to,
    statements_visible_to,
)
from integrations.authentication import api_key_of

__all__ = [
    "active_binding_q",
    "attributed_orders_visible_to",
    "binding_is_active",
    "bindings_in_effect",
    "bindings_mark",
    "bindings_visible_to",
    "current_binding",
    "entries_visible_to",
    "guide_for_user",
    "guides_visible_to",
    "member_bindings",
    "partners_of_user",
    "scans_visible_to",
    "statements_visible_to",
]


def guide_for_user(user) -> Guide | None:
    """The user's own guide account (with store, partner and level), or None."""
    if not user.is_authenticated or api_key_of(user) is not None:
        return None
    return Guide.objects.select_related("store", "partner", "level").filter(user=user).first()


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
