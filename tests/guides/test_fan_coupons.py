"""A guide hands a fan a coupon from the portal's fan page (guides.services.fan_coupon_give):
only their own fans with an open binding inside its window, only coupons HQ offers at QR codes
(what a fan could claim anyway), attributed to the guide; everyone else is refused and nothing is
written, and hostile input is a form error."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from config.roles import SYSTEM
from guides.choices import GuideStatus
from marketing.choices import CodeStatus, CouponKind, IssuedVia
from marketing.models import CouponCode
from marketing.services import coupon_define
from tests.factories import GuideFactory, MemberFactory, StoreFactory, UserFactory, clerk_at
from tests.guides.pages import bind
from tests.helpers import login

pytestmark = pytest.mark.django_db

D = Decimal


def coupon(code, *, claimable=True, **fields):
    fields.setdefault("valid_from", timezone.now() - timezone.timedelta(hours=1))
    return coupon_define(
        code=code,
        name=f"Coupon {code}",
        kind=CouponKind.AMOUNT,
        value=D("20"),
        claimable=claimable,
        actor=SYSTEM,
        **fields,
    )


@pytest.fixture
def scene():
    store = StoreFactory()
    guide = GuideFactory(store=store)
    other = GuideFactory(store=store)
    fan = MemberFactory(home_store=store)
    binding = bind(guide, fan, started_at=timezone.now() - timezone.timedelta(days=1))
    others_fan = bind(other, MemberFactory(), started_at=timezone.now() - timezone.timedelta(days=1))
    return {
        "guide": guide,
        "other": other,
        "fan": fan,
        "binding": binding,
        "others_binding": others_fan,
        "offered": coupon("FANS20"),
        "vip": coupon("VIP500", claimable=False),
    }


def give(user, binding, coupon_pk):
    return login(user).post(reverse("guides:fan_coupon", kwargs={"pk": binding.pk}), {"coupon": coupon_pk})


def test_a_guide_gives_their_fan_an_offered_coupon_attributed_to_them(scene):
    page = login(scene["guide"].user).get(reverse("guides:fan", kwargs={"pk": scene["binding"].pk}))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Coupon FANS20" in body and "Coupon VIP500" not in body  # only what HQ offers through guides

    response = give(scene["guide"].user, scene["binding"], scene["offered"].pk)

    assert response.status_code == 302
    code = CouponCode.objects.get()
    assert (code.member, code.coupon, code.guide, code.issued_via, code.status) == (
        scene["fan"],
        scene["offered"],
        scene["guide"],
        IssuedVia.GUIDE,
        CodeStatus.HELD,
    )
    page = login(scene["guide"].user).get(response["Location"])
    assert code.code in page.content.decode()


def test_a_coupon_hq_does_not_offer_through_guides_is_refused_and_nothing_written(scene):
    response = give(scene["guide"].user, scene["binding"], scene["vip"].pk)

    assert response.status_code == 400
    assert "errorlist" in response.content.decode()
    assert not CouponCode.objects.exists()


@pytest.mark.parametrize("how", ["ended", "expired", "suspended"])
def test_a_fan_no_longer_bound_or_a_suspended_guide_gives_nothing(scene, how):
    binding = scene["binding"]
    if how == "ended":
        type(binding).objects.filter(pk=binding.pk).update(ended_at=timezone.now())
    elif how == "expired":
        type(binding).objects.filter(pk=binding.pk).update(
            ends_at=timezone.now() - timezone.timedelta(minutes=1)
        )
    else:
        type(scene["guide"]).objects.filter(pk=scene["guide"].pk).update(status=GuideStatus.SUSPENDED)

    response = give(scene["guide"].user, binding, scene["offered"].pk)

    assert response.status_code == 400
    assert not CouponCode.objects.exists()


def test_nobody_else_gives_coupons_to_a_guides_fans(scene, hq):
    clerk = clerk_at(scene["binding"].store)
    for user, binding in [
        (scene["other"].user, scene["binding"]),  # another guide of the same store
        (scene["guide"].user, scene["others_binding"]),  # a fan of another guide
        (hq, scene["binding"]),  # HQ sees the fan, but is not the guide
        (clerk, scene["binding"]),
        (UserFactory(), scene["binding"]),
    ]:
        response = give(user, binding, scene["offered"].pk)
        assert response.status_code in (403, 404) or "guides/portal/join.html" in [
            t.name for t in response.templates or []
        ], (user, response.status_code)
    assert not CouponCode.objects.exists()


@pytest.mark.parametrize("hostile", ["a\x00b", str(10**12), "1e400", "x" * 300, "%", "１２３", ""])
def test_hostile_coupon_values_are_a_form_error_and_nothing_written(scene, hostile):
    response = give(scene["guide"].user, scene["binding"], hostile)

    assert response.status_code == 400
    assert "errorlist" in response.content.decode()
    assert not CouponCode.objects.exists()
