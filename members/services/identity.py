"""Members: identity (upsert by mobile and external identity, consent, merges)."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Channel
from integrations.authentication import actor as person_of
from members.choices import IdentitySource
from members.errors import (
    IdentityConflict,
    MergeRefused,
)
from members.models import ExternalIdentity, Member, MemberMerge
from members.phones import normalise_phone
from members.policies import member_register_require


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
