from datetime import datetime, timedelta
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from members.models import PointsRule, Tier
from members.services import points_earn
from tests.factories import ChannelFactory, MemberFactory

SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.django_db
def test_daily_job_expires_old_points_and_sets_tiers():
    PointsRule.objects.create(channel=None, points_per_yuan=Decimal("1"), life_days=30)
    Tier.objects.create(code="silver", name="Silver", min_spend_12m=Decimal("0"))
    gold = Tier.objects.create(code="gold", name="Gold", min_spend_12m=Decimal("1000"))
    member = MemberFactory()
    t0 = datetime(2026, 3, 1, 10, tzinfo=SH)
    points_earn(member=member, channel=ChannelFactory(), paid_amount=Decimal("1500"), reference="O-1", at=t0)
    member.points_entries.update(created_at=t0)

    out = StringIO()
    call_command("members_daily", at=(t0 + timedelta(days=31)).isoformat(), stdout=out)

    member.refresh_from_db()
    assert member.points_balance == 0
    assert member.tier == gold
    assert "points expired for 1 members" in out.getvalue()


def test_daily_job_refuses_a_naive_datetime():
    with pytest.raises(SystemExit):
        call_command("members_daily", at="2026-03-01T00:00", stderr=StringIO())
