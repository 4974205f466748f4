"""Every service that acts for someone takes `actor` as a required keyword (docs/security.md): a page,
endpoint or command that forgets it fails with TypeError, it never acts as the product."""

import inspect

import pytest

from aftersales import services as aftersales_services
from aftersales import warranty
from catalog import services as catalog_services
from config.errors import Forbidden
from guides import commission, settlement
from guides import services as guides_services
from guides.models import Guide
from integrations import services as integrations_services
from marketing import services as marketing_services
from members import services as members_services
from orders import fulfilment
from orders import services as orders_services
from stores import services as stores_services
from tests.factories import (
    GuideFactory,
    PartnerFactory,
    StoreFactory,
    UserFactory,
    clerk_at,
    hq_user,
    partner_user,
)

ACTING = [
    (orders_services, ["order_create", "order_pay", "order_cancel"]),
    (
        fulfilment,
        [
            "assignment_accept",
            "assignment_reject",
            "order_ship",
            "order_ready_for_pickup",
            "order_collect",
            "order_complete",
        ],
    ),
    (stores_services, ["stock_receive", "stock_adjust", "stock_transfer"]),
    (
        aftersales_services,
        [
            "ticket_open",
            "ticket_receive",
            "ticket_inspect",
            "ticket_approve",
            "ticket_refuse",
            "ticket_resolve",
            "ticket_close",
        ],
    ),
    (warranty, ["policy_set", "policy_end"]),
    (catalog_services, ["price_set", "price_end", "sku_set_unified", "category_set_unified"]),
    (members_services, ["member_upsert", "member_merge", "points_redeem", "points_adjust", "segment_create"]),
    (guides_services, ["guide_suspend", "guide_reinstate", "attribution_window_set"]),
    (commission, ["commission_rule_set", "commission_rule_end"]),
    (settlement, ["partner_rewards_compute"]),
    (integrations_services, ["api_key_create", "api_key_revoke"]),
    (
        marketing_services,
        [
            "promotion_set",
            "promotion_end",
            "coupon_define",
            "code_give",
            "wallet_top_up",
            "campaign_create",
            "campaign_send",
        ],
    ),
]


@pytest.mark.parametrize(
    "function",
    [getattr(module, name) for module, names in ACTING for name in names],
    ids=lambda f: f"{f.__module__}.{f.__name__}",
)
def test_the_actor_is_a_required_keyword(function):
    parameter = inspect.signature(function).parameters.get("actor")
    assert parameter is not None, "takes no actor"
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default is inspect.Parameter.empty, "actor has a default"


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["partner", "clerk", "guide", "nobody"])
def test_only_hq_people_suspend_guides_and_nothing_changes_otherwise(who):
    store = StoreFactory()
    guide = GuideFactory(store=store)
    actor = {
        "partner": lambda: partner_user(PartnerFactory()),
        "clerk": lambda: clerk_at(store),
        "guide": lambda: guide.user,
        "nobody": UserFactory,
    }[who]()
    with pytest.raises(Forbidden):
        guides_services.guide_suspend(guide=guide, reason="Test", actor=actor)
    with pytest.raises(Forbidden):
        guides_services.attribution_window_set(days=7, actor=actor)
    assert Guide.objects.get(pk=guide.pk).status == guide.status
    suspended = guides_services.guide_suspend(guide=guide, reason="Test", actor=hq_user())
    assert suspended.status != guide.status


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["partner", "clerk", "guide", "nobody"])
def test_only_hq_sets_promotions_coupons_and_campaigns(who):
    from django.utils import timezone

    from marketing.models import Campaign, Coupon, Promotion

    store = StoreFactory()
    actor = {
        "partner": lambda: partner_user(PartnerFactory()),
        "clerk": lambda: clerk_at(store),
        "guide": lambda: GuideFactory(store=store).user,
        "nobody": UserFactory,
    }[who]()
    now = timezone.now()
    with pytest.raises(Forbidden):
        marketing_services.promotion_set(
            code="p", name="P", kind="spend_threshold", threshold=300, amount=50, valid_from=now, actor=actor
        )
    with pytest.raises(Forbidden):
        marketing_services.coupon_define(
            code="c", name="C", kind="amount", value=10, valid_from=now, actor=actor
        )
    with pytest.raises(Forbidden):
        marketing_services.campaign_create(name="X", message="Hi", actor=actor)
    assert not Promotion.objects.exists() and not Coupon.objects.exists() and not Campaign.objects.exists()
    marketing_services.coupon_define(
        code="c", name="C", kind="amount", value=10, valid_from=now, actor=hq_user()
    )
    assert Coupon.objects.filter(code="c").exists()
