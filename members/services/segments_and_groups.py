"""Members: segment exports and the stores' hand-kept lists (static groups)."""

from dataclasses import dataclass

from django.db import models, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from members.errors import (
    GroupRefused,
)
from members.models import Member, StaticGroup
from stores.policies import store_actionable_by


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
