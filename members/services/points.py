"""Members: points (the ledger and its conditional balance UPDATE), expiry and tiers."""

import math
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Channel
from config.errors import Conflict
from config.money import quantize_money
from integrations.authentication import actor as person_of
from members.choices import PointsKind
from members.errors import (
    InsufficientPoints,
    PointsRefused,
)
from members.models import Member, PointsEntry, PointsRule, Tier


def points_rule_for(channel: Channel | None) -> PointsRule | None:
    """The channel's own rule, else the all-channels rule."""
    rules = (
        PointsRule.objects.filter(Q(channel=channel) | Q(channel__isnull=True))
        if channel
        else PointsRule.objects.filter(channel__isnull=True)
    )
    return rules.order_by(F("channel_id").asc(nulls_last=True)).first()


def _replayed(
    client_reference: str | None,
    *,
    member: Member,
    kind: str,
    channel: Channel | None = None,
    points: int | None = None,
    paid_amount: Decimal | None = None,
    reference: str | None = None,
) -> PointsEntry | None:
    """Idempotency by client reference: a retry that repeats its request exactly gets the first
    entry back (marked `replayed`); anything else under a used reference is a Conflict."""
    if not client_reference:
        return None
    entry = PointsEntry.objects.filter(client_reference=client_reference).first()
    if entry is None:
        return None
    same = (
        entry.member_id == member.pk
        and entry.kind == kind
        and (channel is None or entry.channel_id == channel.pk)
        and (points is None or entry.points == points)
        and (paid_amount is None or entry.paid_amount == quantize_money(paid_amount))
        and (reference is None or entry.reference == reference)
    )
    if not same:
        raise Conflict(
            _("Client reference %(ref)s was already used for a different points request.")
            % {"ref": client_reference},
            code="idempotency_conflict",
            fields={"client_reference": [_("Already used with other parameters.")]},
        )
    entry.replayed = True
    return entry


def _apply(
    entry: PointsEntry, *, spend_delta: Decimal = Decimal(0), purchase_at: datetime | None = None
) -> PointsEntry:
    """Insert a ledger row and move the cached balance with it; refuse a negative balance."""
    member_filter = Member.objects.filter(pk=entry.member_id, merged_into__isnull=True)
    if entry.points < 0:
        member_filter = member_filter.filter(points_balance__gte=-entry.points)
    updates = {"points_balance": F("points_balance") + entry.points, "updated_at": timezone.now()}
    if spend_delta:
        updates["total_spend"] = F("total_spend") + spend_delta
    if purchase_at:
        updates["last_purchase_at"] = purchase_at
    if not member_filter.update(**updates):
        member = Member.objects.get(pk=entry.member_id)
        if member.is_merged:
            raise PointsRefused(
                _("Member %(id)s was merged into %(into)s; use that member.")
                % {"id": member.pk, "into": member.merged_into_id},
                fields={"member": [_("Merged.")]},
            )
        raise InsufficientPoints(
            _("Member has %(balance)s points; %(wanted)s cannot be taken.")
            % {"balance": member.points_balance, "wanted": -entry.points},
            fields={"points": [_("More than the balance.")]},
        )
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError:  # the same client reference at the same moment: the other one won
        raise Conflict(
            _("This points request is being processed already."),
            code="idempotency_conflict",
            fields={"client_reference": [_("Already used.")]},
        ) from None
    return entry


@transaction.atomic
def points_earn(
    *,
    member: Member,
    channel: Channel,
    paid_amount: Decimal,
    reference: str,
    client_reference: str | None = None,
    at: datetime | None = None,
) -> PointsEntry | None:
    """Points for a paid amount on a channel: the rule's points per yuan, rounded down."""
    paid_amount = quantize_money(paid_amount)
    if paid_amount <= 0:
        raise PointsRefused(
            _("The paid amount must be above zero."), fields={"paid_amount": [_("Must be above zero.")]}
        )
    replay = _replayed(
        client_reference,
        member=member,
        kind=PointsKind.EARN,
        channel=channel,
        paid_amount=paid_amount,
        reference=reference,
    )
    if replay is not None:
        return replay
    rule = points_rule_for(channel)
    points = math.floor(paid_amount * rule.points_per_yuan) if rule else 0
    at = at or timezone.now()
    if points <= 0:
        # No points, but the spend still counts towards the tier: a zero-point rule is a choice.
        Member.objects.filter(pk=member.pk).update(
            total_spend=F("total_spend") + paid_amount, last_purchase_at=at, updated_at=timezone.now()
        )
        return None
    entry = PointsEntry(
        member_id=member.pk,
        kind=PointsKind.EARN,
        points=points,
        channel=channel,
        paid_amount=paid_amount,
        reference=reference,
        client_reference=client_reference,
        expires_at=at + timedelta(days=rule.life_days),
        reason=_("%(rate)s points per yuan on %(channel)s")
        % {"rate": rule.points_per_yuan, "channel": channel.name},
    )
    entry.full_clean(exclude=["member", "channel", "reverses"])
    return _apply(entry, spend_delta=paid_amount, purchase_at=at)


@transaction.atomic
def points_redeem(
    *,
    member: Member,
    points: int,
    channel: Channel | None,
    reference: str = "",
    client_reference: str | None = None,
    actor,
) -> PointsEntry:
    """Spend points on any channel; refused if the balance is too small, even under concurrency."""
    user = person_of(actor)
    if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
        raise PointsRefused(
            _("Redeem a whole number of points above zero."), fields={"points": [_("Must be above zero.")]}
        )
    replay = _replayed(
        client_reference,
        member=member,
        kind=PointsKind.REDEEM,
        channel=channel,
        points=-points,
        reference=reference,
    )
    if replay is not None:
        return replay
    entry = PointsEntry(
        member_id=member.pk,
        kind=PointsKind.REDEEM,
        points=-points,
        channel=channel,
        reference=reference,
        client_reference=client_reference,
        created_by=user,
    )
    return _apply(entry)


@transaction.atomic
def points_reverse(
    *, earned: PointsEntry, refunded_amount: Decimal | None = None, reference: str, user=None
) -> PointsEntry | None:
    """Take back the points of a refunded (part of a) purchase, in proportion to the refund.

    The balance never goes negative: if the member already spent the points, what cannot be
    taken back is recorded in the reason and written off.
    """
    earned = PointsEntry.objects.select_for_update().get(pk=earned.pk)
    if earned.kind != PointsKind.EARN:
        raise PointsRefused(
            _("Only earned points can be reversed."), fields={"earned": [_("Not an earn entry.")]}
        )
    already = -(earned.reversed_by.aggregate(total=Sum("points"))["total"] or 0)
    refunded_amount = quantize_money(refunded_amount if refunded_amount is not None else earned.paid_amount)
    if refunded_amount <= 0 or refunded_amount > earned.paid_amount:
        raise PointsRefused(
            _("The refund must be above zero and at most the %(paid)s paid.") % {"paid": earned.paid_amount},
            fields={"refunded_amount": [_("Out of range.")]},
        )
    wanted = min(math.floor(earned.points * refunded_amount / earned.paid_amount), earned.points - already)
    balance = Member.objects.select_for_update().get(pk=earned.member_id).points_balance
    taken = min(wanted, balance)
    reason = _("Refund of %(amount)s on %(ref)s") % {"amount": refunded_amount, "ref": earned.reference}
    if taken < wanted:
        reason += _("; %(short)s points already spent, written off") % {"short": wanted - taken}
    Member.objects.filter(pk=earned.member_id).update(total_spend=F("total_spend") - refunded_amount)
    if taken <= 0:
        return None
    entry = PointsEntry(
        member_id=earned.member_id,
        kind=PointsKind.REVERSE,
        points=-taken,
        channel=earned.channel,
        paid_amount=-refunded_amount,
        reference=reference,
        reverses=earned,
        reason=reason,
        created_by=user,
    )
    return _apply(entry)


@transaction.atomic
def points_refund(*, member_id: int, points: int, reference: str, reason: str = "", user=None) -> PointsEntry:
    """Points that paid an order come back when it is refunded (cancelled or returned)."""
    if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
        raise PointsRefused(
            _("Refund a whole number of points above zero."), fields={"points": [_("Out of range.")]}
        )
    entry = PointsEntry(
        member_id=member_id,
        kind=PointsKind.REFUND,
        points=points,
        reference=reference,
        reason=reason[:255],
        created_by=user,
    )
    return _apply(entry)


@transaction.atomic
def points_adjust(*, member: Member, points: int, reason: str, actor) -> PointsEntry:
    """HQ's correction, always with a reason; cannot take the balance below zero."""
    user = person_of(actor)
    if not isinstance(points, int) or isinstance(points, bool) or points == 0:
        raise PointsRefused(_("An adjustment must change the balance."), fields={"points": [_("Zero.")]})
    if not reason or not reason.strip():
        raise PointsRefused(
            _("Say why the points change."), fields={"reason": [_("This field is required.")]}
        )
    entry = PointsEntry(
        member_id=member.pk, kind=PointsKind.ADJUST, points=points, reason=reason.strip(), created_by=user
    )
    return _apply(entry)


def points_expire(*, at: datetime | None = None) -> int:
    """Expire points past their life, oldest first (FIFO), set-based: one aggregate query.

    Spending uses the oldest points first, so what must have expired by `at` is what was
    earned in lots that expired, less everything spent since; less what already expired.
    """
    at = at or timezone.now()
    debit_kinds = [PointsKind.REDEEM, PointsKind.REVERSE]
    rows = (
        PointsEntry.objects.values("member_id")
        .annotate(
            expired_lots=Sum("points", filter=Q(kind=PointsKind.EARN, expires_at__lte=at), default=0),
            spent=Sum(
                "points", filter=Q(kind__in=debit_kinds) | Q(kind=PointsKind.ADJUST, points__lt=0), default=0
            ),
            already=Sum("points", filter=Q(kind=PointsKind.EXPIRE), default=0),
        )
        .filter(expired_lots__gt=0)
    )
    count = 0
    for row in rows.iterator(chunk_size=2000):
        due = max(0, row["expired_lots"] + row["spent"]) + row["already"]  # spent/already are negative sums
        if due <= 0:
            continue
        with transaction.atomic():
            balance = (
                Member.objects.select_for_update()
                .values_list("points_balance", flat=True)
                .get(pk=row["member_id"])
            )
            due = min(due, balance)
            if due <= 0:
                continue
            _apply(
                PointsEntry(
                    member_id=row["member_id"],
                    kind=PointsKind.EXPIRE,
                    points=-due,
                    reason=_("Expired at %(at)s") % {"at": at.date().isoformat()},
                )
            )
        count += 1
    return count


def tiers_refresh(*, at: datetime | None = None) -> int:
    """Set every member's tier from their 12-month spend (paid minus refunded): one UPDATE."""
    at = at or timezone.now()
    spend = (
        PointsEntry.objects.filter(
            member_id=OuterRef(OuterRef("pk")), created_at__gt=at - timedelta(days=365), created_at__lte=at
        )
        .values("member_id")
        .annotate(total=Sum("paid_amount"))
        .values("total")
    )
    tier = (
        Tier.objects.filter(min_spend_12m__lte=Coalesce(Subquery(spend), Value(Decimal(0))))
        .order_by("-min_spend_12m")
        .values("pk")[:1]
    )
    return Member.objects.filter(merged_into__isnull=True).update(tier_id=Subquery(tier))
