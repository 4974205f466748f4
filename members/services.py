"""Every write to members and their points goes through here.

Points: `PointsEntry` is the append-only ledger and the truth; `Member.points_balance` is kept
in the same transaction by a conditional UPDATE (`... WHERE points_balance + Δ >= 0`), so two
redeems of the whole balance at once cannot both win, and Σ ledger == balance always holds.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, models, transaction
from django.db.models import F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Channel
from config.errors import Conflict
from config.money import quantize_money
from integrations.authentication import actor as person_of
from members.choices import IdentitySource, PointsKind
from members.errors import (
    GroupRefused,
    IdentityConflict,
    InsufficientPoints,
    MergeRefused,
    PointsRefused,
)
from members.models import ExternalIdentity, Member, MemberMerge, PointsEntry, PointsRule, StaticGroup, Tier
from members.phones import normalise_phone
from members.policies import member_register_require
from stores.policies import store_actionable_by

# --- identity ---------------------------------------------------------------------------------


@dataclass
class UpsertResult:
    member: Member
    created: bool
    identity_created: bool


# Attempts at an upsert that raced another one for the same phone or identity: each retry reads
# what the winner committed (a unique violation is only reported once the other side committed).
UPSERT_ATTEMPTS = 3


@transaction.atomic
def member_upsert(
    *,
    phone: str | None = None,
    source: IdentitySource | str | None = None,
    external_id: str | None = None,
    name: str = "",
    city: str = "",
    home_store=None,
    actor,
) -> UpsertResult:
    """Find or create the one member behind a phone and/or an external identity, and link them.

    Found by identity first, then by phone. If the identity belongs to one member and the phone
    to another, that is a duplicate for HQ to merge, not something to guess: IdentityConflict.
    `actor` (pages and API): refused unless members.policies lets them register members; the
    public flows (a customer's own sign-up, a guide's scan) pass SYSTEM.
    """
    member_register_require(actor)
    normalised = normalise_phone(phone) if phone else None
    if bool(source) != bool(external_id):
        raise IdentityConflict(
            _("Give both the identity's source and its external id."),
            fields={"external_id" if source else "source": [_("This field is required.")]},
        )
    if not normalised and not external_id:
        raise IdentityConflict(
            _("Give a mobile number or an external identity."),
            fields={"phone": [_("This field is required.")]},
        )
    if source and source not in IdentitySource.values:
        raise IdentityConflict(
            _("Unknown identity source %(s)s.") % {"s": source}, fields={"source": [_("Unknown.")]}
        )
    for attempt in range(UPSERT_ATTEMPTS):
        try:
            with transaction.atomic():
                return _upsert_once(
                    phone=normalised,
                    source=source,
                    external_id=external_id,
                    name=name,
                    city=city,
                    home_store=home_store,
                )
        except IntegrityError:
            # Another request made the same member, phone or identity a moment ago: everything this
            # attempt wrote is rolled back to the savepoint, and the next one finds the winner's rows.
            if attempt == UPSERT_ATTEMPTS - 1:
                raise IdentityConflict(
                    _("This mobile or identity was just registered by another request; try again."),
                    fields={"phone": [_("Registered a moment ago by another request.")]},
                ) from None
    raise AssertionError("unreachable")


def _upsert_once(*, phone, source, external_id, name, city, home_store) -> UpsertResult:
    """One attempt of member_upsert, inside its savepoint: any unique violation (a concurrent
    request won) propagates as IntegrityError so the caller retries on the committed rows."""
    identity = (
        ExternalIdentity.objects.select_related("member")
        .filter(source=source, external_id=external_id)
        .first()
        if external_id
        else None
    )
    by_phone = Member.objects.filter(phone=phone).first() if phone else None
    if identity and by_phone and identity.member_id != by_phone.pk:
        raise IdentityConflict(
            _(
                "%(identity)s belongs to member %(a)s but mobile %(phone)s belongs to member %(b)s; "
                "merge them first."
            )
            % {"identity": identity, "a": identity.member_id, "phone": phone, "b": by_phone.pk},
            fields={"phone": [_("Belongs to another member.")]},
        )

    member = identity.member if identity else by_phone
    created = False
    if member is None:
        member = Member(phone=phone, name=name, city=city, home_store=home_store)
        # The phone's uniqueness is the database's to enforce: a race is an IntegrityError, retried.
        member.full_clean(validate_unique=False)
        member.save()
        created = True
    elif member.is_merged:
        member = Member.objects.get(pk=member.merged_into_id)

    changed = []
    if phone and not member.phone:
        member.phone = phone
        changed.append("phone")
    for field, value in (("name", name), ("city", city), ("home_store", home_store)):
        if value and not getattr(member, field):
            setattr(member, field, value)
            changed.append(field)
    if changed:
        member.save(update_fields=[*changed, "updated_at"])

    identity_created = False
    if external_id and identity is None:
        ExternalIdentity.objects.create(
            member=member, source=source, external_id=external_id, reported_phone=phone or ""
        )
        identity_created = True
    return UpsertResult(member=member, created=created, identity_created=identity_created)


@transaction.atomic
def member_set_consent(
    *, member: Member, consent: bool, channel: Channel | None, at: datetime | None = None
) -> Member:
    """Record marketing consent given or withdrawn, with when and through which channel."""
    member.marketing_consent = consent
    member.consent_changed_at = at or timezone.now()
    member.consent_channel = channel
    member.save(update_fields=["marketing_consent", "consent_changed_at", "consent_channel", "updated_at"])
    return member


def _member_relations():
    """Every foreign key that points at Member, from any app: what a merge must move.

    Later apps (orders, guide bindings, tickets) are covered without this module knowing them.
    """
    skip = {(Member, "merged_into"), (MemberMerge, "survivor"), (MemberMerge, "merged")}
    for rel in Member._meta.related_objects:
        if rel.many_to_many or rel.one_to_one:
            continue
        if (rel.related_model, rel.field.name) in skip:
            continue
        yield rel.related_model, rel.field.name


@transaction.atomic
def member_merge(*, survivor: Member, merged: Member, actor, reason: str = "") -> MemberMerge:
    """Merge a duplicate into a survivor: everything that points at it moves, in one transaction."""
    user = person_of(actor)
    if survivor.pk == merged.pk:
        raise MergeRefused(
            _("A member cannot be merged into itself."), fields={"merged": [_("Same member.")]}
        )
    # Lock both rows in id order so two merges cannot deadlock.
    locked = {
        m.pk: m
        for m in Member.objects.select_for_update().filter(pk__in=[survivor.pk, merged.pk]).order_by("pk")
    }
    survivor, merged = locked[survivor.pk], locked[merged.pk]
    for member, role in ((survivor, "survivor"), (merged, "merged")):
        if member.is_merged:
            raise MergeRefused(
                _("Member %(id)s was already merged into member %(into)s.")
                % {"id": member.pk, "into": member.merged_into_id},
                fields={role: [_("Already merged.")]},
            )

    moved: dict[str, object] = {}
    for model, field in _member_relations():
        ids = list(model.objects.filter(**{field: merged}).values_list("pk", flat=True))
        if ids:
            model.objects.filter(pk__in=ids).update(**{field: survivor})
            moved[f"{model._meta.label_lower}.{field}"] = ids
    # Static groups (M2M): add the survivor where the duplicate was listed, then drop the duplicate.
    through = Member.static_groups.through
    group_ids = list(through.objects.filter(member=merged).values_list("staticgroup_id", flat=True))
    if group_ids:
        already = set(
            through.objects.filter(member=survivor, staticgroup_id__in=group_ids).values_list(
                "staticgroup_id", flat=True
            )
        )
        through.objects.bulk_create(
            [through(member=survivor, staticgroup_id=g) for g in group_ids if g not in already]
        )
        through.objects.filter(member=merged).delete()
        moved["static_groups"] = group_ids

    merged_phone = merged.phone or ""
    Member.objects.filter(pk=merged.pk).update(
        merged_into=survivor,
        phone=None,
        points_balance=0,
        total_spend=Decimal(0),
        marketing_consent=False,
        updated_at=timezone.now(),
    )
    Member.objects.filter(pk=survivor.pk).update(
        points_balance=F("points_balance") + merged.points_balance,
        total_spend=F("total_spend") + merged.total_spend,
        last_purchase_at=_latest(survivor.last_purchase_at, merged.last_purchase_at),
        updated_at=timezone.now(),
    )
    fills = {}
    if not survivor.phone and merged_phone:
        fills["phone"] = merged_phone
    for field in ("name", "city", "birthday", "gender", "home_store_id"):
        if not getattr(survivor, field) and getattr(merged, field):
            fills[field] = getattr(merged, field)
    if fills:
        Member.objects.filter(pk=survivor.pk).update(**fills)
    moved["points_balance"] = merged.points_balance
    record = MemberMerge.objects.create(
        survivor=survivor,
        merged=merged,
        merged_phone=merged_phone,
        moved=moved,
        reason=reason,
        merged_by=user,
    )
    return record


def _latest(a, b):
    return max((x for x in (a, b) if x is not None), default=None)


# --- points -----------------------------------------------------------------------------------


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


# --- segments and groups ----------------------------------------------------------------------


@dataclass
class SegmentExport:
    rows: list[tuple]
    included: int
    left_out: int


SEGMENT_EXPORT_COLUMNS = ("member_id", "phone", "name", "city", "tier", "points_balance", "total_spend")


def segment_export(*, filters: dict, queryset=None) -> SegmentExport:
    """A campaign list: only members who consented to marketing; says how many were left out."""
    from members.selectors import segment_members

    matching = segment_members(filters, queryset)
    consenting = matching.filter(marketing_consent=True)
    counts = matching.aggregate(
        total=models.Count("pk"), consenting=models.Count("pk", filter=Q(marketing_consent=True))
    )
    rows = list(
        consenting.order_by("pk").values_list(
            "pk", "phone", "name", "city", "tier__code", "points_balance", "total_spend"
        )
    )
    return SegmentExport(
        rows=rows, included=counts["consenting"], left_out=counts["total"] - counts["consenting"]
    )


def _check_group_editor(*, group: StaticGroup, user) -> None:
    if not store_actionable_by(user, group.store, "manage"):
        raise GroupRefused(
            _("Only a manager of %(store)s can edit its list %(group)s.")
            % {"store": group.store.name, "group": group.name},
            fields={"group": [_("Not your store's list.")]},
        )


@transaction.atomic
def static_group_create(*, name: str, store, user) -> StaticGroup:
    """A new hand-kept list for a store (that store's managers or HQ)."""
    group = StaticGroup(name=(name or "").strip(), store=store)
    _check_group_editor(group=group, user=user)
    if StaticGroup.objects.filter(store=store, name=group.name).exists():
        raise GroupRefused(
            _("%(store)s already has a list with this name (%(name)s). Pick another name.")
            % {"store": store.name, "name": group.name},
            fields={"name": [_("Already used in this store.")]},
        )
    group.full_clean()
    group.save()
    return group


@transaction.atomic
def static_group_add(*, group: StaticGroup, member: Member, user) -> None:
    """Put a member on a store's hand-kept list (that store's managers only)."""
    _check_group_editor(group=group, user=user)
    if member.is_merged:
        raise GroupRefused(
            _("That member was merged; add the surviving member."), fields={"member": [_("Merged.")]}
        )
    group.members.add(member)


@transaction.atomic
def static_group_remove(*, group: StaticGroup, member: Member, user) -> None:
    """Take a member off a store's hand-kept list (that store's managers only)."""
    _check_group_editor(group=group, user=user)
    group.members.remove(member)


# --- segments (appended for the API and the admin) ---------------------------------------------

_CONSENT_VALUES = (True, False, 1, 0, "true", "false", "1", "0")


def segment_filters_check(filters) -> None:
    """Refuse a segment filter that cannot be evaluated, naming every bad filter at once.

    Each filter is evaluated on its own (`segment_members({key: value}).exists()`), so a bad value
    the selector only notices in the database (a store id that is not a number) is caught too.
    """
    from django.core.exceptions import ValidationError
    from django.db import DatabaseError

    from members.selectors import SegmentInvalid, segment_members

    if not isinstance(filters, dict):
        raise SegmentInvalid(
            _("A segment's filters are an object of filter name -> value."),
            fields={"filters": [_("Not an object.")]},
        )
    problems: list[str] = []
    for key, value in filters.items():
        try:
            if key == "consent" and value not in (None, "") and value not in _CONSENT_VALUES:
                raise SegmentInvalid(
                    _("consent must be true or false."), fields={key: [_("Not true/false.")]}
                )
            with transaction.atomic():  # a database refusal must not break the caller's transaction
                segment_members({key: value}).exists()
        except SegmentInvalid as exc:
            problems.extend(f"{name}: {message}" for name, msgs in exc.fields.items() for message in msgs)
        except (ValueError, TypeError, ArithmeticError, ValidationError, DatabaseError):
            problems.append(f"{key}: {_('Not a valid value for this filter.')}")
    if problems:
        raise SegmentInvalid(
            _("The segment's filters are not valid: %(problems)s") % {"problems": "; ".join(problems)},
            fields={"filters": problems},
        )


@transaction.atomic
def segment_create(*, name: str, filters: dict, actor):
    """Save a dynamic segment after checking that its filters evaluate."""
    user = person_of(actor)
    from members.models import Segment

    segment_filters_check(filters)
    segment = Segment(name=(name or "").strip(), filters=filters, created_by=user)
    segment.full_clean()
    segment.save()
    return segment
