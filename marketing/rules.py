"""The marketing rules every order reads, kept in memory per process for a few seconds.

Every order and every basket quote asks which promotions run, what a coupon covers and how
points pay. These change a few times a day and are read hundreds of times a second in a flash
sale, where building the queries was a large part of an order's Python time (docs/benchmarks.md,
"Flash sale with a coupon per order"). So each process keeps:

- the promotions that had not ended when it read them, with their scopes (SKUs, categories,
  channels); which of them runs at an instant is decided per order from their windows, so a
  scheduled promotion starts and ends on time;
- each coupon's scope (its SKUs, categories and channels). The coupon's own row (window, value,
  budget) is read with the code on every order, never from here, and the budget is kept by the
  conditional UPDATE in the order's transaction (marketing.sql), never from memory;
- the points payment rules.

A change made in this process (admin, service, import) empties it at once (signals below); other
processes see a change within `settings.MARKETING_RULES_SECONDS` (5 s by default; 0 turns the
memory off, as the tests do, so a rolled-back test never leaves a rule behind).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

_lock = threading.Lock()
_state: dict = {}


def _seconds() -> float:
    return float(getattr(settings, "MARKETING_RULES_SECONDS", 5))


def forget(**_kwargs) -> None:
    """Empty the memory now and again when the writing transaction commits."""
    _state.clear()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(_state.clear)


def _cached(key, load):
    ttl = _seconds()
    if ttl <= 0:
        return load()
    now = time.monotonic()
    hit = _state.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = load()
    with _lock:
        _state[key] = (now + ttl, value)
    return value


class Scope:
    """Which SKUs, categories and channels a promotion or coupon covers (empty: all)."""

    __slots__ = ("skus", "categories", "channels")

    def __init__(self, skus=(), categories=(), channels=()):
        self.skus = frozenset(skus)
        self.categories = frozenset(categories)
        self.channels = frozenset(channels)

    @classmethod
    def of(cls, rule) -> Scope:
        return cls(
            (s.pk for s in rule.skus.all()),
            (c.pk for c in rule.categories.all()),
            (c.pk for c in rule.channels.all()),
        )

    def covers_channel(self, channel) -> bool:
        return not self.channels or channel.pk in self.channels

    def covers(self, sku_id: int, chains) -> bool:
        if not self.skus and not self.categories:
            return True
        return sku_id in self.skus or bool(chains[sku_id] & self.categories)


def _load_promotions(since: datetime):
    from marketing.models import Promotion

    promotions = (
        Promotion.objects.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=since))
        .prefetch_related("skus", "categories", "channels")
        .order_by("valid_from", "id")
    )
    return [(p, Scope.of(p)) for p in promotions]


def promotions_at(at: datetime) -> list:
    """[(promotion, scope)] of every promotion running at `at`, oldest first."""
    now = timezone.now()
    ttl = _seconds()
    if ttl <= 0 or at < now - timedelta(seconds=ttl):  # the past: ask the database
        loaded = _load_promotions(at)
    else:
        # Loaded with a margin: what ended in the last seconds still prices an `at` in them.
        loaded = _cached("promotions", lambda: _load_promotions(now - timedelta(seconds=2 * ttl)))
    return [(p, scope) for p, scope in loaded if p.is_live_at(at)]


def coupon_scope(coupon) -> Scope:
    return _cached(("coupon", coupon.pk), lambda: Scope.of(coupon))


def points_rules() -> dict:
    """{channel id or None: rule}."""
    from marketing.models import PointsTenderRule

    return _cached("points", lambda: {r.channel_id: r for r in PointsTenderRule.objects.all()})


def connect() -> None:
    """Empty the memory on every change to the rules (marketing.apps.ready)."""
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from marketing.models import Coupon, PointsTenderRule, Promotion

    for model in (Promotion, Coupon, PointsTenderRule):
        post_save.connect(forget, sender=model, dispatch_uid=f"rules-save-{model.__name__}")
        post_delete.connect(forget, sender=model, dispatch_uid=f"rules-delete-{model.__name__}")
    for model in (Promotion, Coupon):
        for field in ("skus", "categories", "channels"):
            through = getattr(model, field).through
            m2m_changed.connect(forget, sender=through, dispatch_uid=f"rules-m2m-{model.__name__}-{field}")
