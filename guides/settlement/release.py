"""Settlement: release of held commission once the line's return window has closed."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from config.money import quantize_money
from guides import sql
from guides.choices import EntryKind
from guides.models import CommissionEntry


# Runs that write statements or releases take turns (PostgreSQL): two at once would both see
# "no release yet" or "no draft yet" and the second would fail on the unique constraints.
# Refunds take the same key shared (guides.commission.wait_for_settlement): a release run waits
# for the clawbacks under way and a clawback waits for a release run, so a clawback is booked
# "held" only if no release has been (or is being) written for its accrual.
def _one_run_at_a_time() -> None:
    sql.settlement_take_turn()


@transaction.atomic
def commission_release(*, now: datetime | None = None) -> int:
    """Release to payable the commission of every line whose return window closed by `now`
    (one row per guide, partner and store); returns the accruals released (0 on a re-run)."""
    now = now or timezone.now()
    _one_run_at_a_time()
    sql.due_collect(now=now)
    released = sql.release_write(now=now, period=None)
    sql.due_drop()
    return released


def releases_of(accrual: CommissionEntry):
    """The release row that released `accrual` (a queryset: empty while it is held)."""
    return CommissionEntry.objects.filter(pk__in=sql.release_ids_of(accrual.pk))


def released_accruals(release: CommissionEntry) -> list[dict]:
    """The accruals a release row released, oldest first: id, order number, SKU code, guide
    code, the base still paid (net of refunds) and the commission released (net of clawbacks)."""
    if release.kind != EntryKind.RELEASE:
        return []
    return _released_lines([release.pk]).get(release.pk, [])


def _released_lines(release_ids: list[int]) -> dict[int, list[dict]]:
    """Release row id -> its accruals as in released_accruals, in one query."""
    lines: dict[int, list[dict]] = {}
    for release_id, accrual_id, number, sku_code, guide_code, base, held in sql.released_lines(release_ids):
        lines.setdefault(release_id, []).append(
            {
                "accrual_id": accrual_id,
                "order": number or "",
                "sku": sku_code or "",
                "guide": guide_code or "",
                "base_amount": quantize_money(base),
                "change": quantize_money(held),
            }
        )
    return lines
