"""Demo marketing for `manage.py seed_demo`: promotions running now, coupons with budgets, a campaign
sent to consenting members, codes handed out at the demo flagship, members with stored value,
and the points payment rule.

It runs after the members and guides demos and before the orders demo, so demo orders are priced
with the promotions, redeem some of these codes and pay some of their totals with points and
stored value (orders/demo.py). Everything goes through marketing.services, as HQ, the demo clerk
or the product (SYSTEM) would: the promotions' audit rows, the codes' issue counts, the
campaign's recipients and its `campaign.message` events, the wallets' ledgers are the services'
own. Choices are drawn from the seeded rng; codes are random.
"""

import random
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from catalog.models import Category
from config.roles import SYSTEM
from marketing.choices import CouponKind, IssuedVia, PromotionKind
from marketing.models import Campaign, CouponCode, PointsTenderRule, Promotion, Wallet
from marketing.services import (
    campaign_create,
    campaign_send,
    code_give,
    coupon_define,
    promotion_set,
    wallet_top_up,
)
from members.demo import MEMBERS_PER_SCALE, demo_people
from members.models import Member, Segment

# (code, name, percent off, category): a catalogue promotion, on every channel.
CATALOGUE_PROMOTION = (
    "audio-week",
    "Audio week: 10% off headphones and speakers",
    Decimal("10"),
    "accessory-audio",
)
# (code, name, threshold, amount off, category): an order promotion, 满300减50 on accessories.
THRESHOLD_PROMOTION = (
    "accessories-300-50",
    "满300减50 on accessories",
    Decimal("300"),
    Decimal("50"),
    "accessory",
)
# The campaign's coupon: Double-12, 50 off an order of 500 or more, in every channel.
CAMPAIGN_COUPON = {
    "code": "double12-50",
    "name": "Double-12: 50 off 500",
    "kind": CouponKind.AMOUNT,
    "value": Decimal("50"),
    "min_spend": Decimal("500"),
}
CAMPAIGN_SEGMENT = "Beijing gold and black members"
CAMPAIGN_NAME = "Double-12 for Beijing gold and black members"
CAMPAIGN_MESSAGE = (
    "Double-12 at LeTV: 50 yuan off any order of 500 or more, online and in every store, until the "
    "end of the month; your code is in the LeTV app."
)
# The flagship's welcome coupon: handed out at the clerk's tablet or claimed at the store's QR code.
STORE_COUPON = {
    "code": "flagship-welcome-100",
    "name": "Flagship welcome: 100 off 2,000",
    "kind": CouponKind.AMOUNT,
    "value": Decimal("100"),
    "min_spend": Decimal("2000"),
    "claimable": True,
}
STORE_CODES_PER_SCALE = {"small": 12, "medium": 120, "large": 400}
WALLETS_PER_SCALE = {"small": 40, "medium": 400, "large": 2_000}
TOP_UPS = (Decimal("200"), Decimal("500"), Decimal("1000"), Decimal("2000"), Decimal("5000"))
TOP_UP_METHODS = ("cash", "wechat", "alipay", "card")
POINTS_PER_YUAN, POINTS_CAP_PERCENT = 100, Decimal("50")


def loaded_scale() -> str | None:
    """The scale already loaded, if the demo's catalogue promotion is there (the marker), else None."""
    if not Promotion.objects.filter(code=CATALOGUE_PROMOTION[0]).exists():
        return None
    members = Member.objects.count()
    return min(MEMBERS_PER_SCALE, key=lambda scale: abs(MEMBERS_PER_SCALE[scale] - members))


def seed(*, scale: str, rng: random.Random, log: Callable[[str], None] = print) -> dict[str, int]:
    """Create the demo promotions, coupons, campaign, codes, wallets and the points payment rule;
    returns the number of rows created per kind."""
    people = demo_people()
    hq = people.hq
    now = timezone.now()
    starts, ends = now - timedelta(days=3), now + timedelta(days=28)
    categories = {c.code: c for c in Category.objects.filter(code__in=["accessory", "accessory-audio"])}
    counts: dict[str, int] = {}

    # Promotions: one on the shelf (a category's price, every channel), one on the basket.
    code, name, percent, category = CATALOGUE_PROMOTION
    promotion_set(
        code=code,
        name=name,
        kind=PromotionKind.PERCENT_OFF,
        percent=percent,
        categories=[categories[category]] if category in categories else [],
        skus=[],
        valid_from=starts,
        valid_to=ends,
        actor=hq,
    )
    code, name, threshold, amount, category = THRESHOLD_PROMOTION
    promotion_set(
        code=code,
        name=name,
        kind=PromotionKind.SPEND_THRESHOLD,
        threshold=threshold,
        amount=amount,
        categories=[categories[category]] if category in categories else [],
        valid_from=starts,
        valid_to=ends,
        actor=hq,
    )
    counts["promotions"] = 2

    # Paying with points: 100 points a yuan, at most half an order, on every channel.
    PointsTenderRule.objects.create(
        channel=None, points_per_yuan=POINTS_PER_YUAN, cap_percent=POINTS_CAP_PERCENT
    )
    counts["points payment rule"] = 1

    # The campaign: a segment's consenting members get a Double-12 code and a message each.
    members = Member.objects.count()
    campaign_coupon = coupon_define(
        **CAMPAIGN_COUPON,
        valid_from=starts,
        valid_to=ends,
        budget_count=max(100, members // 10),
        budget_amount=CAMPAIGN_COUPON["value"] * max(100, members // 10),
        actor=hq,
    )
    segment = Segment.objects.filter(name=CAMPAIGN_SEGMENT).first()
    campaign = campaign_create(
        name=CAMPAIGN_NAME,
        segment=segment,
        city="" if segment is not None else "Beijing",
        coupon=campaign_coupon,
        message=CAMPAIGN_MESSAGE,
        actor=SYSTEM,
    )
    counts["campaign codes sent"] = campaign_send(campaign=campaign, actor=SYSTEM)
    counts["coupons"] = 1

    # The flagship's welcome coupon: given at the clerk's tablet, or claimed at the store's QR code.
    store = people.store
    store_coupon = coupon_define(
        **STORE_COUPON,
        valid_from=starts,
        valid_to=ends,
        budget_count=STORE_CODES_PER_SCALE[scale] * 2,
        actor=hq,
    )
    counts["coupons"] += 1
    locals_ = list(
        Member.objects.filter(home_store=store, merged_into__isnull=True, phone__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    given = 0
    for member_id in rng.sample(locals_, min(len(locals_), STORE_CODES_PER_SCALE[scale])):
        member = Member.objects.get(pk=member_id)
        if rng.random() < 0.5:
            code_give(
                coupon=store_coupon, member=member, via=IssuedVia.CLERK, actor=people.clerk, store=store
            )
        else:
            code_give(coupon=store_coupon, member=member, via=IssuedVia.STORE_QR, actor=SYSTEM, store=store)
        given += 1
    counts["codes given at the flagship"] = given

    # Stored value: members of the flagship first (topped up at its counter), then campaign members.
    holders = list(
        CouponCode.objects.filter(campaign=campaign).order_by("member_id").values_list("member_id", flat=True)
    )
    wanted = WALLETS_PER_SCALE[scale]
    chosen = rng.sample(locals_, min(len(locals_), wanted // 2))
    chosen += [pk for pk in rng.sample(holders, min(len(holders), wanted)) if pk not in chosen]
    for n, member_id in enumerate(chosen[:wanted], start=1):
        wallet_top_up(
            member=Member.objects.get(pk=member_id),
            amount=rng.choice(TOP_UPS),
            method=rng.choice(TOP_UP_METHODS),
            actor=people.clerk,
            reference=f"Counter top-up at {store.code}",
            client_reference=f"DEMO-TOPUP-{n:06d}",
        )
    counts["wallets topped up"] = Wallet.objects.count()
    log(f"  campaign {Campaign.objects.get(pk=campaign.pk).recipients:,} recipients")
    return counts
