"""HQ's marketing pages (/hq/marketing/) and the marketing admin: lists, the forms that create
promotions, coupons and campaigns through marketing.services (a refusal is a form error and writes
nothing), the campaign preview, and that nobody but HQ opens any of it."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from catalog.models import SKU
from config.roles import SYSTEM
from marketing.choices import AuditAction, CampaignStatus, CouponKind, IssuedVia, PromotionKind
from marketing.models import (
    Campaign,
    CampaignRecipient,
    Coupon,
    CouponCode,
    CouponRedemption,
    Promotion,
    PromotionChange,
    Wallet,
    WalletEntry,
)
from marketing.services import campaign_create, code_give, coupon_define, promotion_set, wallet_top_up
from orders.choices import DeliveryMethod
from orders.services import LineRequest, order_create
from tests.factories import (
    GuideFactory,
    MemberFactory,
    PartnerFactory,
    StoreFactory,
    UserFactory,
    clerk_at,
    manager_at,
    partner_user,
)
from tests.helpers import login
from tests.world import north

pytestmark = pytest.mark.django_db

D = Decimal
HOSTILE = {
    "nul": "a\x00b",
    "10**12": str(10**12),
    "1e400": "1e400",
    "300 chars": "x" * 300,
    "percent": "%",
    "full-width digits": "１２３",
}
NUMBERS = ("nul", "10**12", "1e400", "300 chars", "percent", "full-width digits")


def ago(**kwargs):
    return timezone.now() - timezone.timedelta(**kwargs)


def page(response) -> str:
    return response.content.decode()


def rows_of_marketing() -> tuple:
    return (
        Promotion.objects.count(),
        PromotionChange.objects.count(),
        Coupon.objects.count(),
        Campaign.objects.count(),
        CouponCode.objects.count(),
    )


def refused_on_the_form(response) -> bool:
    return response.status_code == 200 and ("errorlist" in page(response) or "form-errors" in page(response))


# --- promotions ---------------------------------------------------------------------------------------

PROMOTION_URL = "/hq/marketing/promotions/new/"


def promotion_data(**overrides):
    data = {
        "code": "autumn-tv",
        "name": "Autumn TV",
        "kind": PromotionKind.PERCENT_OFF,
        "percent": "10",
        "amount": "",
        "threshold": "",
        "nth": "",
        "skus": "TV-55",
        "categories": "",
        "valid_from": "",
        "valid_to": "",
    }
    return data | overrides


def test_the_promotion_form_saves_a_version_and_its_audit_row(hq_client, hq, world):
    response = hq_client.post(PROMOTION_URL, promotion_data(skus="tv-55, PHONE-1"))

    assert response.status_code == 302 and response["Location"] == "/hq/marketing/"
    promotion = Promotion.objects.get()
    assert (promotion.code, promotion.kind, promotion.percent) == ("autumn-tv", "percent_off", D("10.00"))
    assert set(promotion.skus.all()) == {world.tv, world.phone}
    assert not promotion.channels.exists()
    assert promotion.created_by == hq
    change = PromotionChange.objects.get()
    assert (change.promotion, change.action, change.changed_by) == (promotion, AuditAction.CREATED, hq)
    listed = hq_client.get("/hq/marketing/")
    assert 'data-code="autumn-tv"' in page(listed) and "TV-55" in page(listed)


def test_a_threshold_promotion_for_one_channel_is_saved(hq_client, world):
    data = promotion_data(
        kind=PromotionKind.SPEND_THRESHOLD,
        percent="",
        threshold="300",
        amount="50",
        skus="",
        channels=["mall"],
        valid_to="2031-01-01T00:00",
    )

    assert hq_client.post(PROMOTION_URL, data).status_code == 302

    promotion = Promotion.objects.get()
    assert (promotion.threshold, promotion.amount) == (D("300.00"), D("50.00"))
    assert list(promotion.channels.all()) == [world.mall]
    assert timezone.localtime(promotion.valid_to).year == 2031


def test_a_promotion_on_a_unified_sku_for_one_channel_is_refused_under_channels(hq_client, world):
    SKU.objects.filter(pk=world.tv.pk).update(unified=True)

    response = hq_client.post(PROMOTION_URL, promotion_data(channels=["mall"]))

    assert refused_on_the_form(response)
    assert "Leave empty: every channel." in page(response)
    assert response.context["form"].errors["channels"]
    assert rows_of_marketing() == (0, 0, 0, 0, 0)


def test_a_new_version_closes_the_open_one_through_the_form(hq_client, world):
    promotion_set(
        code="autumn-tv",
        name="Autumn TV",
        kind=PromotionKind.PERCENT_OFF,
        percent=D("5"),
        skus=[world.tv],
        valid_from=ago(days=2),
        actor=SYSTEM,
    )

    hq_client.post(PROMOTION_URL, promotion_data(percent="15"))

    old, new = Promotion.objects.order_by("valid_from")
    assert old.valid_to == new.valid_from and new.percent == D("15.00")
    assert PromotionChange.objects.filter(promotion=old, action=AuditAction.ENDED).exists()


@pytest.mark.parametrize(
    ("field", "label"),
    [(f, v) for f in ("percent", "amount", "threshold", "nth") for v in NUMBERS]
    + [("code", v) for v in ("nul", "300 chars", "percent", "full-width digits")]  # "1e400" is a code
    + [("name", v) for v in ("nul", "300 chars")]
    + [("skus", v) for v in ("nul", "300 chars", "percent", "full-width digits", "10**12")]
    + [("valid_from", v) for v in NUMBERS]
    + [("kind", v) for v in NUMBERS],
)
def test_the_promotion_form_refuses_a_hostile_value_in_one_field(hq_client, world, field, label):
    response = hq_client.post(PROMOTION_URL, promotion_data(**{field: HOSTILE[label]}))

    assert refused_on_the_form(response), response.status_code
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert rows_of_marketing() == (0, 0, 0, 0, 0)


@pytest.mark.parametrize("label", list(HOSTILE))
@pytest.mark.parametrize("url", [PROMOTION_URL, "/hq/marketing/coupons/new/", "/hq/marketing/campaigns/new/"])
def test_every_form_refuses_a_hostile_value_in_every_field(hq_client, world, url, label):
    names = {
        PROMOTION_URL: promotion_data(),
        "/hq/marketing/coupons/new/": coupon_data(),
        "/hq/marketing/campaigns/new/": campaign_data(),
    }[url]
    data = dict.fromkeys(names, HOSTILE[label])
    if "campaigns" in url:
        data["action"] = "create"

    response = hq_client.post(url, data)

    assert refused_on_the_form(response), response.status_code
    assert rows_of_marketing() == (0, 0, 0, 0, 0)


# --- coupons ------------------------------------------------------------------------------------------

COUPON_URL = "/hq/marketing/coupons/new/"


def coupon_data(**overrides):
    data = {
        "code": "WELCOME30",
        "name": "Welcome 30",
        "kind": CouponKind.AMOUNT,
        "value": "30",
        "min_spend": "300",
        "per_member_limit": "1",
        "budget_count": "100",
        "budget_amount": "",
        "skus": "",
        "categories": "",
        "valid_from": "",
        "valid_to": "",
    }
    return data | overrides


def test_the_coupon_form_defines_a_coupon(hq_client, hq, world):
    response = hq_client.post(COUPON_URL, coupon_data(channels=["mall"], budget_amount="3000"))

    assert response.status_code == 302 and response["Location"] == "/hq/marketing/coupons/"
    coupon = Coupon.objects.get()
    assert (coupon.code, coupon.value, coupon.min_spend, coupon.budget_count, coupon.budget_amount) == (
        "WELCOME30",
        D("30.00"),
        D("300.00"),
        100,
        D("3000.00"),
    )
    assert list(coupon.channels.all()) == [world.mall] and coupon.created_by == hq


def test_the_coupon_form_refuses_a_code_in_use_and_a_value_above_the_minimum_spend(hq_client, world):
    hq_client.post(COUPON_URL, coupon_data())

    again = hq_client.post(COUPON_URL, coupon_data(name="Another"))
    too_much = hq_client.post(COUPON_URL, coupon_data(code="BIG", value="500"))

    assert refused_on_the_form(again) and again.context["form"].errors["code"]
    assert refused_on_the_form(too_much) and too_much.context["form"].errors["value"]
    assert Coupon.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "label"),
    [
        (f, v)
        for f in ("value", "min_spend", "per_member_limit", "budget_count", "budget_amount")
        for v in NUMBERS
    ]
    + [("code", v) for v in ("nul", "300 chars", "percent", "full-width digits")]
    + [("valid_to", v) for v in NUMBERS],
)
def test_the_coupon_form_refuses_a_hostile_value_in_one_field(hq_client, world, field, label):
    response = hq_client.post(COUPON_URL, coupon_data(**{field: HOSTILE[label]}))

    assert refused_on_the_form(response)
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert not Coupon.objects.exists()


def test_the_coupon_list_shows_issued_redeemed_and_the_budget_left(hq_client, world):
    coupon = coupon_define(
        code="WELCOME30",
        name="Welcome 30",
        kind=CouponKind.AMOUNT,
        value=D("30"),
        budget_count=10,
        budget_amount=D("1000"),
        valid_from=ago(hours=1),
        actor=SYSTEM,
    )
    members = [MemberFactory() for _ in range(3)]
    codes = [code_give(coupon=coupon, member=m, via=IssuedVia.HQ, actor=SYSTEM).code for m in members]
    world.stock(world.a, world.tv, 1)
    lat, lng = north(0.1)
    order_create(
        channel=world.mall,
        lines=[LineRequest(sku=world.tv, quantity=1)],
        delivery_method=DeliveryMethod.SHIP,
        member=members[0],
        coupons=[codes[0]],
        address="1 Chang'an Avenue",
        latitude=lat,
        longitude=lng,
        actor=SYSTEM,
    )

    response = hq_client.get("/hq/marketing/coupons/", {"status": "live"})

    text = page(response)
    row = text[text.index('data-code="WELCOME30"') :].split("</tr>")[0]
    assert 'data-label="Issued"><span class="cell">3</span></td>' in row  # issued
    # redeemed, and what it cost
    assert 'data-label="Redeemed"><span class="cell">1<br>' in row and "¥30.00" in row
    assert "9 uses" in row and "¥970.00" in row  # budget left
    assert 'data-code="WELCOME30"' not in page(hq_client.get("/hq/marketing/coupons/", {"status": "ended"}))


# --- promotions list ----------------------------------------------------------------------------------


def test_the_promotion_list_filters_live_ended_and_kind(hq_client, world):
    def promo(code, kind=PromotionKind.PERCENT_OFF, start=None, end=None):
        extra = {"percent": D("10"), "skus": [world.tv]}
        if kind == PromotionKind.SPEND_THRESHOLD:
            extra = {"threshold": D("300"), "amount": D("50")}
        promotion_set(
            code=code,
            name=code,
            kind=kind,
            valid_from=start or ago(days=1),
            valid_to=end,
            actor=SYSTEM,
            **extra,
        )

    promo("live-one")
    promo("live-basket", kind=PromotionKind.SPEND_THRESHOLD)
    promo("ended-one", start=ago(days=5), end=ago(days=3))
    promo("coming-one", start=timezone.now() + timezone.timedelta(days=3))

    def codes(**query):
        text = page(hq_client.get("/hq/marketing/", query))
        return {
            c for c in ("live-one", "live-basket", "ended-one", "coming-one") if f'data-code="{c}"' in text
        }

    assert codes() == {"live-one", "live-basket", "ended-one", "coming-one"}
    assert codes(status="live") == {"live-one", "live-basket"}
    assert codes(status="ended") == {"ended-one"}
    assert codes(status="upcoming") == {"coming-one"}
    assert codes(status="live", kind=PromotionKind.SPEND_THRESHOLD) == {"live-basket"}
    assert codes(q="ENDED") == {"ended-one"}
    bad = hq_client.get("/hq/marketing/", {"status": "x\x00", "kind": "%"})
    assert bad.status_code == 400 and "errorlist" in page(bad)


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_lists_take_as_many_queries_for_many_rows_as_for_a_few(hq_client, world):
    def add(n, offset):
        for i in range(offset, offset + n):
            promotion_set(
                code=f"p{i}",
                name=f"P {i}",
                kind=PromotionKind.PERCENT_OFF,
                percent=D("5"),
                skus=[world.tv],
                channels=[world.mall],
                valid_from=ago(days=1),
                actor=SYSTEM,
            )
            coupon_define(
                code=f"c{i}",
                name=f"C {i}",
                kind=CouponKind.AMOUNT,
                value=D("5"),
                valid_from=ago(days=1),
                actor=SYSTEM,
            )
            campaign_create(
                name=f"Campaign {i}", message="Hello", near_store=world.a, radius_km="5", actor=SYSTEM
            )

    add(2, 0)
    few = [
        _queries(hq_client, url)
        for url in ("/hq/marketing/", "/hq/marketing/coupons/", "/hq/marketing/campaigns/")
    ]
    add(8, 2)
    many = [
        _queries(hq_client, url)
        for url in ("/hq/marketing/", "/hq/marketing/coupons/", "/hq/marketing/campaigns/")
    ]

    assert many == few


# --- campaigns ----------------------------------------------------------------------------------------

CAMPAIGN_URL = "/hq/marketing/campaigns/new/"


def campaign_data(**overrides):
    data = {
        "name": "Autumn",
        "segment": "",
        "near_store": "",
        "radius_km": "",
        "city": "",
        "coupon": "",
        "message": "Autumn sale",
    }
    return data | overrides


@pytest.fixture
def audience(world):
    far = StoreFactory(code="SH", city="Shanghai", latitude=D("31.2304"), longitude=D("121.4737"))
    return {
        "a": MemberFactory(name="Near A", home_store=world.a, marketing_consent=True),
        "b": MemberFactory(name="Near B", home_store=world.b, marketing_consent=True),
        "sh": MemberFactory(name="Far away", home_store=far, city="Shanghai", marketing_consent=True),
        "no": MemberFactory(name="Said no", home_store=world.a, marketing_consent=False),
    }


def test_the_preview_shows_who_the_campaign_reaches_and_saves_nothing(hq_client, world, audience):
    coupon = coupon_define(
        code="AUT30",
        name="Autumn 30",
        kind=CouponKind.AMOUNT,
        value=D("30"),
        valid_from=ago(hours=1),
        actor=SYSTEM,
    )

    response = hq_client.post(
        CAMPAIGN_URL,
        campaign_data(near_store="a", radius_km="10", coupon=str(coupon.pk), action="preview"),
    )

    text = page(response)
    assert response.status_code == 200
    assert 'data-figure="recipients">2<' in text
    assert 'data-figure="cost">¥60.00<' in text
    assert "Near A" in text and "Near B" in text and "Far away" not in text and "Said no" not in text
    assert not Campaign.objects.exists() and not CouponCode.objects.exists()


def test_saving_a_campaign_makes_a_draft_whose_page_previews_it(hq_client, hq, world, audience):
    response = hq_client.post(CAMPAIGN_URL, campaign_data(city="Shanghai", action="create"))

    campaign = Campaign.objects.get()
    assert response["Location"] == f"/hq/marketing/campaigns/{campaign.pk}/"
    assert (campaign.status, campaign.city, campaign.created_by) == (CampaignStatus.DRAFT, "Shanghai", hq)
    detail = page(hq_client.get(response["Location"]))
    assert 'data-figure="recipients">1<' in detail and "Far away" in detail
    assert f'action="/hq/marketing/campaigns/{campaign.pk}/send/"' in detail
    assert not CampaignRecipient.objects.exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"near_store": "A", "radius_km": ""}, "radius_km"),  # a store without a distance
        ({"message": "", "coupon": ""}, "message"),  # neither a coupon nor a message
        ({"near_store": "NOPE", "radius_km": "5"}, "near_store"),
        ({"radius_km": "0"}, "radius_km"),
        ({"segment": "999999"}, "segment"),
    ],
)
@pytest.mark.parametrize("action", ["preview", "create"])
def test_a_refused_campaign_shows_why_under_the_field_and_saves_nothing(
    hq_client, world, data, field, action
):
    response = hq_client.post(CAMPAIGN_URL, campaign_data(**data, action=action))

    assert refused_on_the_form(response)
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert "preview" not in response.context
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    ("field", "label"),
    [("radius_km", v) for v in NUMBERS]
    + [("near_store", v) for v in ("nul", "300 chars", "percent", "full-width digits")]
    + [("segment", v) for v in NUMBERS]
    + [("coupon", v) for v in NUMBERS]
    + [("city", v) for v in ("nul", "300 chars")]
    + [("name", v) for v in ("nul", "300 chars")]
    + [("message", "nul")],
)
def test_the_campaign_form_refuses_a_hostile_value_in_one_field(hq_client, world, field, label):
    data = campaign_data(near_store="A", radius_km="5", action="create") | {field: HOSTILE[label]}

    response = hq_client.post(CAMPAIGN_URL, data)

    assert refused_on_the_form(response)
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert not Campaign.objects.exists()


def test_the_campaign_list_shows_status_and_recipients(hq_client, world, audience):
    from marketing.services import campaign_send

    draft = campaign_create(name="Draft one", message="Hi", actor=SYSTEM)
    sent = campaign_create(name="Sent one", message="Hi", actor=SYSTEM)
    campaign_send(campaign=sent, actor=SYSTEM)

    text = page(hq_client.get("/hq/marketing/campaigns/"))
    sent_row = text[text.index(f'data-pk="{sent.pk}"') :].split("</tr>")[0]
    draft_row = text[text.index(f'data-pk="{draft.pk}"') :].split("</tr>")[0]

    assert "Sent" in sent_row and 'data-label="Recipients"><span class="cell">3</span></td>' in sent_row
    assert "Draft" in draft_row and 'data-label="Recipients"><span class="cell">0</span></td>' in draft_row
    only_sent = page(hq_client.get("/hq/marketing/campaigns/", {"status": "sent"}))
    assert f'data-pk="{sent.pk}"' in only_sent and f'data-pk="{draft.pk}"' not in only_sent


def test_hq_menu_has_marketing_and_nobody_else_sees_it(hq_client, world):
    store = StoreFactory()
    assert 'href="/hq/marketing/"' in page(hq_client.get("/portal/"))
    assert 'href="/hq/marketing/"' not in page(login(clerk_at(store)).get("/portal/"))


# --- nobody but HQ ------------------------------------------------------------------------------------


def marketing_urls(campaign) -> list[str]:
    return [
        "/hq/marketing/",
        PROMOTION_URL,
        "/hq/marketing/coupons/",
        COUPON_URL,
        "/hq/marketing/campaigns/",
        CAMPAIGN_URL,
        reverse("marketing_hq:campaign", kwargs={"pk": campaign.pk}),
        reverse("marketing_hq:campaign_send", kwargs={"pk": campaign.pk}),
        reverse("marketing_hq:campaign_report", kwargs={"pk": campaign.pk}),
        reverse("marketing_hq:campaign_report_csv", kwargs={"pk": campaign.pk}),
    ]


ADMIN_MODELS = (
    "promotion",
    "promotionchange",
    "coupon",
    "couponcode",
    "couponredemption",
    "campaign",
    "pointstenderrule",
    "wallet",
    "walletentry",
)


@pytest.fixture
def outsiders(world):
    partner = PartnerFactory()
    store = StoreFactory(partner=partner)
    return {
        "guide": GuideFactory(store=store).user,
        "clerk": clerk_at(store),
        "manager": manager_at(store),
        "partner": partner_user(partner),
        "no role": UserFactory(),
    }


@pytest.mark.parametrize("who", ["guide", "clerk", "manager", "partner", "no role"])
def test_marketing_pages_and_admin_refuse_everyone_but_hq(world, outsiders, who):
    campaign = campaign_create(name="Secret", message="Hi", actor=SYSTEM)
    MemberFactory(marketing_consent=True)
    client = login(outsiders[who])
    before = (rows_of_marketing(), CampaignRecipient.objects.count())
    for url in marketing_urls(campaign):
        for method in ("get", "post"):
            data = campaign_data(action="create") if method == "post" else {}
            response = getattr(client, method)(url, data)
            assert response.status_code in (403, 404, 405), (url, method, response.status_code)
            assert "Secret" not in page(response)
    for model in ADMIN_MODELS:
        for url in (f"/admin/marketing/{model}/", f"/admin/marketing/{model}/add/"):
            response = client.get(url)
            assert response.status_code in (403, 404) or response["Location"].startswith("/admin/login/"), url
    assert (rows_of_marketing(), CampaignRecipient.objects.count()) == before
    assert Campaign.objects.get().status == CampaignStatus.DRAFT


def test_a_staff_account_with_every_marketing_permission_but_not_hq_is_refused_in_the_admin(world):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(content_type__app_label="marketing"))
    client = login(staff)

    assert "/admin/marketing/" not in page(client.get("/admin/"))
    for model in ADMIN_MODELS:
        assert client.get(f"/admin/marketing/{model}/").status_code == 403, model
        assert client.get(f"/admin/marketing/{model}/add/").status_code == 403, model
    client.post("/admin/marketing/coupon/add/", {"code": "X", "name": "X", "kind": "amount", "value": "5"})
    assert not Coupon.objects.exists()


# --- the admin ----------------------------------------------------------------------------------------


def split(when) -> dict:
    local = timezone.localtime(when)
    return {"0": local.strftime("%Y-%m-%d"), "1": local.strftime("%H:%M:%S")}


def admin_datetime(name, when) -> dict:
    return {f"{name}_{k}": v for k, v in split(when).items()}


def test_the_admin_adds_a_promotion_through_the_service_with_its_audit_row(hq_client, hq, world):
    data = {
        "code": "admin-tv",
        "name": "Admin TV",
        "kind": PromotionKind.AMOUNT_OFF,
        "amount": "100",
        "skus": [world.tv.pk],
        **admin_datetime("valid_from", ago(minutes=5)),
        "valid_to_0": "",
        "valid_to_1": "",
    }

    response = hq_client.post("/admin/marketing/promotion/add/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    promotion = Promotion.objects.get()
    assert (promotion.amount, promotion.created_by, list(promotion.skus.all())) == (
        D("100.00"),
        hq,
        [world.tv],
    )
    change = PromotionChange.objects.get()
    assert (change.action, change.changed_by) == (AuditAction.CREATED, hq)
    view = page(hq_client.get(f"/admin/marketing/promotion/{promotion.pk}/change/"))
    assert "Audit trail" in view and "Created" in view


def test_the_admin_refuses_a_one_channel_promotion_on_a_unified_sku_on_the_form(hq_client, world):
    SKU.objects.filter(pk=world.tv.pk).update(unified=True)
    data = {
        "code": "admin-tv",
        "name": "Admin TV",
        "kind": PromotionKind.PERCENT_OFF,
        "percent": "10",
        "skus": [world.tv.pk],
        "channels": [world.mall.pk],
        **admin_datetime("valid_from", ago(minutes=5)),
    }

    response = hq_client.post("/admin/marketing/promotion/add/", data)

    assert response.status_code == 200
    assert "Leave empty: every channel." in page(response)
    assert rows_of_marketing() == (0, 0, 0, 0, 0)


def test_the_admin_ends_a_promotion_with_an_audit_row(hq_client, hq, world):
    promotion = promotion_set(
        code="p",
        name="P",
        kind=PromotionKind.PERCENT_OFF,
        percent=D("5"),
        skus=[world.tv],
        valid_from=ago(days=1),
        actor=SYSTEM,
    )

    hq_client.post(
        "/admin/marketing/promotion/",
        {"action": "end_now", "_selected_action": [promotion.pk], "index": 0},
    )

    promotion.refresh_from_db()
    assert promotion.valid_to is not None and promotion.valid_to <= timezone.now()
    assert PromotionChange.objects.filter(
        promotion=promotion, action=AuditAction.ENDED, changed_by=hq
    ).exists()


def test_the_admin_defines_a_coupon_through_the_service_and_refuses_a_bad_one(hq_client, hq, world):
    base = {
        "code": "ADM10",
        "name": "Admin 10",
        "kind": CouponKind.AMOUNT,
        "value": "10",
        "min_spend": "0",
        "per_member_limit": "1",
        **admin_datetime("valid_from", ago(minutes=5)),
    }

    refused = hq_client.post(
        "/admin/marketing/coupon/add/", base | {"kind": CouponKind.PERCENT, "value": "150"}
    )
    saved = hq_client.post("/admin/marketing/coupon/add/", base)

    assert refused.status_code == 200 and not refused.context["adminform"].form.is_valid()
    assert saved.status_code == 302
    coupon = Coupon.objects.get()
    assert (coupon.code, coupon.value, coupon.created_by) == ("ADM10", D("10.00"), hq)


def test_the_admin_finds_a_code_by_its_code_and_lists_codes_redemptions_and_wallets_read_only(
    hq_client, world
):
    coupon = coupon_define(
        code="C1", name="C1", kind=CouponKind.AMOUNT, value=D("5"), valid_from=ago(hours=1), actor=SYSTEM
    )
    one, two = MemberFactory(), MemberFactory()
    first = code_give(coupon=coupon, member=one, via=IssuedVia.HQ, actor=SYSTEM)
    code_give(coupon=coupon, member=two, via=IssuedVia.HQ, actor=SYSTEM)
    wallet_top_up(member=one, amount=D("200"), method="card", actor=SYSTEM)

    found = hq_client.get("/admin/marketing/couponcode/", {"q": first.code})

    assert [c.pk for c in found.context["cl"].result_list] == [first.pk]
    for model in ("couponcode", "couponredemption", "wallet", "walletentry", "promotionchange"):
        assert hq_client.get(f"/admin/marketing/{model}/add/").status_code == 403, model
    wallet = Wallet.objects.get(member=one)
    view = hq_client.get(f"/admin/marketing/wallet/{wallet.pk}/change/")
    assert view.status_code == 200 and "200.00" in page(view) and "Ledger" in page(view)
    hq_client.post(f"/admin/marketing/wallet/{wallet.pk}/change/", {"balance": "9999"})
    hq_client.post(f"/admin/marketing/couponcode/{first.pk}/delete/", {"post": "yes"})
    assert Wallet.objects.get(pk=wallet.pk).balance == D("200.00") and WalletEntry.objects.count() == 1
    assert CouponCode.objects.count() == 2 and not CouponRedemption.objects.exists()


def test_the_admin_points_rate_is_a_multiple_of_100(hq_client, world):
    refused = hq_client.post(
        "/admin/marketing/pointstenderrule/add/", {"points_per_yuan": "150", "cap_percent": "50"}
    )
    saved = hq_client.post(
        "/admin/marketing/pointstenderrule/add/", {"points_per_yuan": "200", "cap_percent": "50"}
    )

    assert refused.status_code == 200 and "multiple of 100" in page(refused)
    assert saved.status_code == 302
