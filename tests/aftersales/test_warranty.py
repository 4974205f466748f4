"""Warranty policy versions: validation, audit, one version per category at a time, the nearest
category's policy, and changes that apply only to lines delivered after them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from aftersales.errors import PolicyRefused
from aftersales.models import WarrantyPolicy, WarrantyPolicyChange
from aftersales.warranty import (
    category_parents,
    day_end,
    eligibility,
    lines_delivered,
    policies_in_force,
    policy_end,
    policy_for,
    policy_set,
)
from catalog.services import price_set
from config.roles import SYSTEM
from orders.models import OrderLine
from tests.aftersales.helpers import delivered_line
from tests.factories import CategoryFactory, ProductFactory, SKUFactory, hq_user

BRAND = dict(return_days=15, exchange_days=30, repair_days=30, warranty_months=12, no_fault_return_days=7)


def windows(**changes):
    return {**BRAND, **changes}


def brand_promise() -> WarrantyPolicy:
    return WarrantyPolicy.objects.get(code="brand-promise")


def test_a_new_default_ends_the_one_in_force_and_both_steps_are_audited(db):
    hq = hq_user()
    old = brand_promise()
    start = timezone.now() + timedelta(hours=1)

    new = policy_set(
        code="brand-2027", name="Brand 2027", valid_from=start, actor=hq, **windows(return_days=20)
    )

    old.refresh_from_db()
    assert old.valid_to == start and new.valid_from == start and new.valid_to is None
    assert (new.category, new.return_days, new.created_by) == (None, 20, hq)
    set_row = WarrantyPolicyChange.objects.get(policy=new)
    assert (set_row.action, set_row.changed_by) == ("set", hq)
    assert (
        set_row.detail["before"]["code"] == "brand-promise" and set_row.detail["before"]["valid_to"] is None
    )
    assert set_row.detail["after"]["return_days"] == 20
    ended = WarrantyPolicyChange.objects.get(policy=old)
    assert (ended.action, ended.changed_by, ended.detail["replaced_by"]) == ("ended", hq, new.pk)
    assert ended.detail["after"]["valid_to"] == start.isoformat()
    # before it starts the brand promise is in force; from then the new default
    assert policy_for(None, policies_in_force(start - timedelta(seconds=1))) == old
    assert policy_for(None, policies_in_force(start)) == new


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (windows(exchange_days=10), "exchange_days"),  # shorter than the return window
        (windows(repair_days=20), "repair_days"),  # shorter than the exchange window
        (windows(no_fault_return_days=20), "no_fault_return_days"),  # longer than the return window
        (windows(return_days=150, exchange_days=150, repair_days=150), None),  # fine: inside the ranges
        (windows(return_days=400, exchange_days=400, repair_days=400), "return_days"),
        (windows(return_days=-1), "return_days"),
        (windows(warranty_months=121), "warranty_months"),
        (windows(repair_days=4000), "repair_days"),
        (windows(return_days="15"), "return_days"),
        (windows(return_days=True), "return_days"),
    ],
)
def test_windows_must_nest_and_stay_in_range(db, changes, field):
    before = (WarrantyPolicy.objects.count(), WarrantyPolicyChange.objects.count())
    if field is None:
        assert policy_set(code="long", name="Long", actor=SYSTEM, **changes).return_days == 150
        return
    with pytest.raises(PolicyRefused) as refused:
        policy_set(code="bad", name="Bad", actor=SYSTEM, **changes)
    assert field in refused.value.fields
    assert refused.value.code == "policy_refused"
    assert (WarrantyPolicy.objects.count(), WarrantyPolicyChange.objects.count()) == before
    assert brand_promise().valid_to is None


def test_code_name_and_start_are_checked(db):
    with pytest.raises(PolicyRefused) as refused:
        policy_set(code=" ", name="", actor=SYSTEM, **BRAND)
    assert set(refused.value.fields) == {"code", "name"}
    with pytest.raises(PolicyRefused) as refused:
        policy_set(code="not a slug!", name="X", actor=SYSTEM, **BRAND)
    assert "code" in refused.value.fields
    with pytest.raises(PolicyRefused) as refused:
        policy_set(
            code="late", name="Late", valid_from=timezone.now() - timedelta(days=1), actor=SYSTEM, **BRAND
        )
    assert "valid_from" in refused.value.fields
    with pytest.raises(PolicyRefused) as refused:
        policy_set(
            code="naive", name="Naive", valid_from=timezone.now().replace(tzinfo=None), actor=SYSTEM, **BRAND
        )
    assert "valid_from" in refused.value.fields
    assert not WarrantyPolicy.objects.filter(code__in=["late", "naive", "not a slug!"]).exists()


def test_two_versions_of_one_scope_never_overlap(db):
    now = timezone.now()
    later = policy_set(code="v2", name="V2", valid_from=now + timedelta(days=10), actor=SYSTEM, **BRAND)

    # between now and the scheduled version: the brand promise (ends then) and v2 overlap it
    with pytest.raises(PolicyRefused) as refused:
        policy_set(code="v3", name="V3", valid_from=now + timedelta(days=5), actor=SYSTEM, **BRAND)
    assert "valid_from" in refused.value.fields
    assert "the default already has a policy" in refused.value.message

    # after it starts, v2 is the open version and is ended where v3 starts
    v3 = policy_set(code="v3", name="V3", valid_from=now + timedelta(days=20), actor=SYSTEM, **BRAND)
    later.refresh_from_db()
    assert later.valid_to == v3.valid_from
    # another category is another scope
    tv = CategoryFactory(code="tv")
    assert policy_set(
        code="tv", name="TV", category=tv, valid_from=now + timedelta(days=5), actor=SYSTEM, **BRAND
    ).pk


def test_policy_end_closes_the_window_and_is_audited(db):
    hq = hq_user()
    tv = CategoryFactory(code="tv")
    policy = policy_set(code="tv", name="TV", category=tv, actor=SYSTEM, **BRAND)
    at = timezone.now() + timedelta(days=3)

    policy_end(policy=policy, at=at, actor=hq)

    policy.refresh_from_db()
    assert policy.valid_to == at
    row = WarrantyPolicyChange.objects.filter(policy=policy).first()
    assert (row.action, row.changed_by, row.detail["before"]["valid_to"]) == ("ended", hq, None)
    assert row.detail["after"]["valid_to"] == at.isoformat()
    with pytest.raises(PolicyRefused):
        policy_end(policy=policy, at=at + timedelta(days=1), actor=SYSTEM)  # after its end
    with pytest.raises(PolicyRefused):
        policy_end(policy=policy, at=timezone.now() - timedelta(days=1), actor=SYSTEM)  # in the past
    assert WarrantyPolicyChange.objects.filter(policy=policy, action="ended").count() == 1


def test_the_default_policy_ends_only_when_a_successor_starts(db):
    default = WarrantyPolicy.objects.get(category__isnull=True, valid_to__isnull=True)
    at = timezone.now() + timedelta(days=3)

    with pytest.raises(PolicyRefused) as refused:
        policy_end(policy=default, at=at, actor=SYSTEM)
    assert "successor" in refused.value.message
    default.refresh_from_db()
    assert default.valid_to is None

    successor = policy_set(
        code="brand-2027", name="Brand 2027", valid_from=at + timedelta(days=1), actor=SYSTEM, **BRAND
    )
    default.refresh_from_db()
    assert default.valid_to == successor.valid_from  # setting the successor ends it, with no gap
    with pytest.raises(PolicyRefused):
        policy_end(
            policy=default, at=at, actor=SYSTEM
        )  # ending it earlier would leave a day without a default


# --- which policy a line gets ----------------------------------------------------------------------


@pytest.fixture
def tree(world):
    """appliances > tv > oled, and a sibling audio; an OLED TV SKU with a price."""
    appliances = CategoryFactory(code="appliances")
    tv = CategoryFactory(code="tv", parent=appliances)
    oled = CategoryFactory(code="oled", parent=tv)
    audio = CategoryFactory(code="audio", parent=appliances)
    sku = SKUFactory(code="OLED-65", product=ProductFactory(category=oled))
    price_set(
        sku=sku, channel=None, amount="8999.00", valid_from=timezone.now() - timedelta(days=1), actor=SYSTEM
    )
    return {"appliances": appliances, "tv": tv, "oled": oled, "audio": audio, "sku": sku}


def test_the_nearest_category_with_a_policy_wins_over_farther_ones_and_the_default(world, tree):
    policy_set(
        code="appliances",
        name="Appliances",
        category=tree["appliances"],
        actor=SYSTEM,
        **windows(return_days=20, exchange_days=40, repair_days=40),
    )
    assert delivered_line(world, at=timezone.now(), sku=tree["sku"]).warranty_policy.code == "appliances"

    policy_set(
        code="tv",
        name="TV",
        category=tree["tv"],
        actor=SYSTEM,
        **windows(return_days=25, exchange_days=45, repair_days=45),
    )
    policy_set(
        code="audio",
        name="Audio",
        category=tree["audio"],
        actor=SYSTEM,
        **windows(return_days=3, no_fault_return_days=3),
    )
    line = delivered_line(world, at=timezone.now(), sku=tree["sku"])
    assert line.warranty_policy.code == "tv"
    assert line.returnable_until == day_end(line.order.delivered_at, 25)

    # a SKU in a category without a policy of its own, or an ancestor's, gets the default
    assert delivered_line(world, at=timezone.now()).warranty_policy.code == "brand-promise"


def test_policy_for_walks_the_ancestors_in_memory(tree, django_assert_num_queries):
    now = timezone.now()
    policy_set(
        code="appliances",
        name="Appliances",
        category=tree["appliances"],
        actor=SYSTEM,
        **windows(return_days=20, exchange_days=40, repair_days=40),
    )
    policies = policies_in_force(now + timedelta(seconds=1))
    parents = category_parents()
    with django_assert_num_queries(0):
        assert policy_for(tree["oled"], policies, parents=parents).code == "appliances"
        assert policy_for(tree["audio"].pk, policies, parents=parents).code == "appliances"
        assert policy_for(None, policies, parents=parents).code == "brand-promise"
    # with only defaults in force the tree is not even needed
    defaults = [brand_promise()]
    with django_assert_num_queries(0):
        assert policy_for(tree["oled"], defaults).code == "brand-promise"


@pytest.mark.parametrize("lines", [1, 6])
def test_lines_delivered_costs_the_same_queries_for_any_number_of_lines(
    world, tree, lines, django_assert_num_queries
):
    policy_set(
        code="tv",
        name="TV",
        category=tree["tv"],
        actor=SYSTEM,
        **windows(return_days=25, exchange_days=45, repair_days=45),
    )
    made = [
        delivered_line(world, at=timezone.now(), sku=tree["sku"] if n % 2 else world.tv) for n in range(lines)
    ]
    loaded = list(OrderLine.objects.filter(pk__in=[m.pk for m in made]).select_related("sku__product"))
    at = timezone.now()
    # policies in force, the category tree, the update
    with django_assert_num_queries(3):
        lines_delivered(lines=loaded, delivered_at=at)
    codes = set(
        OrderLine.objects.filter(pk__in=[m.pk for m in made]).values_list("warranty_policy__code", flat=True)
    )
    assert codes == ({"brand-promise", "tv"} if lines > 1 else {"brand-promise"})


def test_a_change_applies_to_lines_delivered_after_it_takes_effect(world):
    before = delivered_line(world, at=timezone.now())
    shorter = policy_set(
        code="brand-10", name="Brand 10", actor=SYSTEM, **windows(return_days=10, no_fault_return_days=7)
    )
    after = delivered_line(world, at=timezone.now())

    assert before.warranty_policy.code == "brand-promise"
    assert after.warranty_policy == shorter
    day_14 = before.order.delivered_at + timedelta(days=14)
    assert eligibility(line=before, kind="return", fault=True, at=day_14).allowed
    refused = eligibility(
        line=after, kind="return", fault=True, at=after.order.delivered_at + timedelta(days=14)
    )
    assert not refused.allowed
    assert refused.reason.startswith("Day 14 after delivery: the 10-day return window has closed")
    # the stored deadline (and so the commission hold) follows each line's own policy
    assert before.returnable_until > after.returnable_until


def test_ending_a_category_policy_hands_new_deliveries_back_to_the_default(world, tree):
    tv = policy_set(
        code="tv",
        name="TV",
        category=tree["tv"],
        actor=SYSTEM,
        **windows(return_days=25, exchange_days=45, repair_days=45),
    )
    kept = delivered_line(world, at=timezone.now(), sku=tree["sku"])
    policy_end(policy=tv, actor=hq_user())
    later = delivered_line(world, at=timezone.now() + timedelta(seconds=1), sku=tree["sku"])

    assert kept.warranty_policy == tv
    assert later.warranty_policy.code == "brand-promise"
