"""Settlement: the yearly partner reward, computed from the ledger."""

from datetime import date, datetime, time
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.dates import SHANGHAI
from config.money import quantize_money
from guides import sql
from guides.choices import EntryKind
from guides.models import CommissionEntry, PartnerReward, PartnerRewardRule
from guides.settlement.base import RewardRefused
from integrations.authentication import actor as person_of


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    start = datetime.combine(date(year, 1, 1), time.min, tzinfo=SHANGHAI)
    return start, datetime.combine(date(year + 1, 1, 1), time.min, tzinfo=SHANGHAI)


def partner_sales(*, year: int, write: bool = False) -> list[tuple[int, Decimal]]:
    """(partner id, attributed sales) for a year, best first; ties by partner code.

    Attributed sales: the paid amounts commission accrued on in the year (Asia/Shanghai), less
    what was refunded of them (the clawbacks' base), per the partner on the entry. `write`: read
    where the rewards are written (inside their transaction)."""
    start, end = _year_bounds(year)
    # SQLite hands sums back as floats: quantize to the money rule.
    return [
        (partner_id, quantize_money(sales))
        for partner_id, sales in sql.partner_sales(start=start, end=end, write=write)
    ]


@transaction.atomic
def partner_rewards_compute(
    *, rule: PartnerRewardRule, actor, now: datetime | None = None
) -> list[PartnerReward]:
    """Reward the year's top N partners by attributed sales with the rule's bonus (a payable
    reward entry each); computed once, after the year has ended (Asia/Shanghai)."""
    user = person_of(actor)
    rule = PartnerRewardRule.objects.select_for_update().get(pk=rule.pk)
    existing = list(rule.rewards.select_related("partner", "entry").order_by("rank"))
    if existing:
        return existing
    now = now or timezone.now()
    if now < _year_bounds(rule.year)[1]:
        raise RewardRefused(
            _("The %(year)s reward is computed after the year has ended.") % {"year": rule.year}
        )
    ranking = partner_sales(year=rule.year, write=True)[: rule.top_n]
    rewards = []
    for rank, (partner_id, sales) in enumerate(ranking, start=1):
        entry = CommissionEntry.objects.create(
            kind=EntryKind.REWARD,
            partner_id=partner_id,
            base_amount=sales,
            payable_change=rule.bonus,
            note=_("Partner reward %(year)s, rank %(rank)s") % {"year": rule.year, "rank": rank},
            created_by=user,
            created_at=now,
        )
        rewards.append(
            PartnerReward(rule=rule, partner_id=partner_id, rank=rank, attributed_sales=sales, entry=entry)
        )
    return PartnerReward.objects.bulk_create(rewards)
