"""Every write to members and their points goes through here.

Points: `PointsEntry` is the append-only ledger and the truth; `Member.points_balance` is kept
in the same transaction by a conditional UPDATE (`... WHERE points_balance + Δ >= 0`), so two
redeems of the whole balance at once cannot both win, and Σ ledger == balance always holds.
"""

from members.services.identity import (
    UPSERT_ATTEMPTS,
    UpsertResult,
    member_merge,
    member_set_consent,
    member_upsert,
)
from members.services.points import (
    points_adjust,
    points_earn,
    points_expire,
    points_redeem,
    points_refund,
    points_reverse,
    points_rule_for,
    tiers_refresh,
)
from members.services.segments import segment_create, segment_filters_check
from members.services.segments_and_groups import (
    SEGMENT_EXPORT_COLUMNS,
    SegmentExport,
    segment_export,
    static_group_add,
    static_group_create,
    static_group_remove,
)

__all__ = [
    "UpsertResult",
    "UPSERT_ATTEMPTS",
    "member_upsert",
    "member_set_consent",
    "member_merge",
    "points_rule_for",
    "points_earn",
    "points_redeem",
    "points_reverse",
    "points_refund",
    "points_adjust",
    "points_expire",
    "tiers_refresh",
    "SegmentExport",
    "SEGMENT_EXPORT_COLUMNS",
    "segment_export",
    "static_group_create",
    "static_group_add",
    "static_group_remove",
    "segment_filters_check",
    "segment_create",
]
