"""The marketing API: the basket quote (POST /quote/), coupons on order create and tenders on order
pay, a member's coupons and wallet, and stored-value top-ups - the same rules as the services, in
the one error shape, hostile input refused field by field, nothing written by a quote or a refusal."""

import json
from decimal import Decimal

import pytest
from django.test import Client

from config.roles import SYSTEM
from integrations.choices import Scope
from integrations.models import OutboxEvent
from integrations.services import api_key_create
from marketing.choices import CodeStatus
from marketing.models import Coupon, CouponCode, CouponRedemption, Wallet, WalletEntry
from members.models import Member, PointsEntry
from orders.choices import PaymentKind
from orders.models import LineDiscount, Order, Payment
from stores.models import Stock
from tests.factories import GuideFactory, MemberFactory, UserFactory, clerk_at, partner_user
from tests.helpers import assert_error, login
from tests.world import north

pytestmark = pytest.mark.django_db

D = Decimal
QUOTE = "/api/v1/quote/"
ORDERS = "/api/v1/orders/"

HOSTILE = {
    "nul": "a\x00b",
    "10**12": 10**12,
    "1e400": "1e400",  # sent as the bare JSON number 1e400 (see raw_json)
    "300 chars": "x" * 300,
    "percent": "%",
    "full-width digits": "１２３",
}


def raw_json(body: dict) -> str:
    """JSON with "1e400" written as the bare number 1e400 (Python's json cannot write it)."""
    return json.dumps(body).replace('"1e400"', "1e400")


def post(client, url, body, **headers):
    return client.post(url, raw_json(body), content_type="application/json", headers=headers)


def key_client(channel, scopes=None) -> Client:
    _key, plaintext = api_key_create(
        name=f"key {channel.code}", channel=channel, scopes=scopes or Scope.values, actor=SYSTEM
    )
    return Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")


def nothing_written():
    """What a quote or a refused request must leave as it was."""
    return (
        Order.objects.count(),
        LineDiscount.objects.count(),
        Payment.objects.count(),
        list(CouponCode.objects.order_by("pk").values_list("status", "order_number")),
        list(Coupon.objects.order_by("pk").values_list("redeemed_count", "redeemed_amount")),
        CouponRedemption.objects.count(),
        list(Wallet.objects.order_by("pk").values_list("balance", flat=True)),
        WalletEntry.objects.count(),
        list(Member.objects.order_by("pk").values_list("points_balance", flat=True)),
        PointsEntry.objects.count(),
        list(Stock.objects.order_by("pk").values_list("on_hand", "reserved")),
        OutboxEvent.objects.count(),
    )


@pytest.fixture
def basket(shop):
    """A member of store A with 3,598 points and 500.00 of stored value, a 300-off-3000 promotion,
    a 50-off coupon (minimum spend 1,000) they hold, points at 100 a yuan up to 50%, a phone."""
    world = shop.world
    phone = shop.sku("1999.00", code="PHONE-9")
    shop.threshold(threshold="3000", amount="300", code="d12", name="Double 12")
    coupon = shop.coupon(code="welcome-50", value="50", min_spend=D("1000"))
    shop.points_rule(points_per_yuan=100, cap_percent="50")
    member = shop.member(points=3598, wallet="500.00", home_store=world.a, consent_channel=world.mall)
    code = shop.give(coupon, member)
    return {"world": world, "phone": phone, "member": member, "code": code, "coupon": coupon}


def quote_body(b, **overrides):
    body = {
        "channel": "mall",
        "member": b["member"].pk,
        "lines": [{"sku": "TV-55", "quantity": 1}, {"sku": b["phone"].code, "quantity": 1}],
        "coupons": [b["code"]],
        "points": 1000,
        "stored_value": "200.00",
    }
    body.update(overrides)
    return body


# --- the quote --------------------------------------------------------------------------------


def test_a_quote_gives_the_whole_breakdown_and_writes_nothing(hq_client, basket):
    before = nothing_written()

    response = post(hq_client, QUOTE, quote_body(basket))

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["subtotal"], body["discount_total"], body["total"]) == ("4998.00", "350.00", "4648.00")
    tv, phone = body["lines"]
    # 300 off allocated 2999 : 1999 to the cent, then 50 off 2818.99 : 1879.01.
    assert [(d["source"], d["amount"]) for d in tv["discounts"]] == [
        ("promotion", "180.01"),
        ("coupon", "30.00"),
    ]
    assert [(d["source"], d["amount"]) for d in phone["discounts"]] == [
        ("promotion", "119.99"),
        ("coupon", "20.00"),
    ]
    assert (tv["unit_price"], tv["discount"], tv["net"]) == ("2999.00", "210.01", "2788.99")
    assert phone["net"] == "1859.01"
    assert tv["discounts"][0]["promotion"] == "d12" and tv["discounts"][1]["coupon_code"] == basket["code"]
    assert [(a["source"], a["amount"]) for a in body["applied"]] == [
        ("promotion", "300.00"),
        ("coupon", "50.00"),
    ]
    assert body["tenders"] == [
        {"method": "points", "amount": "10.00", "points": 1000},
        {"method": "stored_value", "amount": "200.00", "points": None},
        {"method": "external", "amount": "4438.00", "points": None},
    ]
    assert body["points_cap"] == {
        "points_per_yuan": 100,
        "cap_percent": "50.00",
        "max_amount": "2324.00",
        "max_points": 3598,
        "balance": 3598,
    }
    assert body["wallet_balance"] == "500.00"
    assert nothing_written() == before


def test_the_order_made_from_a_quote_gets_the_same_discounts(hq_client, basket):
    world = basket["world"]
    world.stock(world.a, world.tv, 1)
    world.stock(world.a, basket["phone"], 1)
    quoted = post(hq_client, QUOTE, quote_body(basket, points=0, stored_value="0")).json()
    lat, lng = north(1)

    response = post(
        hq_client,
        ORDERS,
        {
            "channel": "mall",
            "member": basket["member"].pk,
            "lines": [{"sku": "TV-55", "quantity": 1}, {"sku": basket["phone"].code, "quantity": 1}],
            "coupons": [basket["code"].lower()],  # typed in lower case: the same code
            "delivery_method": "ship",
            "address": "1 Chang'an Ave",
            "latitude": str(lat),
            "longitude": str(lng),
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    order = Order.objects.get()
    assert body["total"] == quoted["total"] == str(order.total) == "4648.00"
    for answered, quoted_line in zip(body["lines"], quoted["lines"], strict=True):
        assert answered["line_total"] == quoted_line["net"]
        assert [(d["source"], d["label"], d["amount"]) for d in answered["discounts"]] == [
            (d["source"], d["label"], d["amount"]) for d in quoted_line["discounts"]
        ]
    stored = list(
        LineDiscount.objects.filter(line__order=order)
        .order_by("line_id", "id")
        .values_list("source", "amount")
    )
    assert stored == [
        ("promotion", D("180.01")),
        ("coupon", D("30.00")),
        ("promotion", D("119.99")),
        ("coupon", D("20.00")),
    ]
    code = CouponCode.objects.get(code=basket["code"])
    assert (code.status, code.order_number) == (CodeStatus.REDEEMED, order.number)
    assert OutboxEvent.objects.filter(type="coupon.redeemed", payload__order=order.number).count() == 1
    # The detail shows the same discounts, read back from the rows.
    detail = hq_client.get(f"{ORDERS}{order.number}/").json()
    assert [d["amount"] for line in detail["lines"] for d in line["discounts"]] == [
        "180.01",
        "30.00",
        "119.99",
        "20.00",
    ]


def test_a_quote_without_a_member_prices_and_plans_the_rest_externally(hq_client, basket):
    response = post(hq_client, QUOTE, {"channel": "mall", "lines": [{"sku": "TV-55", "quantity": 2}]})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["member"], body["subtotal"], body["total"]) == (None, "5998.00", "5698.00")
    assert body["tenders"] == [{"method": "external", "amount": "5698.00", "points": None}]
    assert body["points_cap"]["balance"] is None and body["points_cap"]["max_points"] == 284900
    assert body["wallet_balance"] is None


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"points": 300_000}, "tender_refused", "points"),  # more than the balance
        ({"stored_value": "500.01"}, "tender_refused", "stored_value"),
        ({"coupons": ["NOTACODE"]}, "coupon_refused", "coupons"),
        ({"lines": [{"sku": "TV-55", "quantity": 0}]}, "order_refused", "lines[0].quantity"),
        ({"lines": [{"sku": "NOPE", "quantity": 1}]}, "invalid", "lines[0].sku"),
        ({"member": None, "coupons": []}, "tender_refused", "points"),
    ],
)
def test_a_quote_the_rules_refuse_is_a_400_naming_the_field(hq_client, basket, overrides, code, field):
    before = nothing_written()
    response = post(hq_client, QUOTE, quote_body(basket, **overrides))
    assert_error(response, 400, code, field)
    assert nothing_written() == before


def test_a_coupon_whose_minimum_spend_the_basket_misses_is_refused_and_nothing_used(hq_client, basket, shop):
    shop.sku("899.00", code="KETTLE-1")
    before = nothing_written()
    body = quote_body(basket, lines=[{"sku": "KETTLE-1", "quantity": 1}], points=0, stored_value="0")
    response = post(hq_client, QUOTE, body)
    assert_error(response, 400, "coupon_refused", "coupons")
    assert "1000.00" in response.json()["message"]
    assert nothing_written() == before


QUOTE_FIELDS = [
    "channel",
    "member",
    "origin_store",
    "lines[0].sku",
    "lines[0].quantity",
    "coupons",
    "points",
    "stored_value",
]


def _with(body: dict, field: str, value) -> dict:
    body = json.loads(json.dumps(body))
    if field.startswith("lines[0]."):
        body["lines"][0][field.split(".")[1]] = value
    elif field == "coupons":
        body["coupons"] = [value]
    else:
        body[field] = value
    return body


@pytest.mark.parametrize("field", QUOTE_FIELDS)
@pytest.mark.parametrize("hostile", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_values_in_every_quote_field_are_a_400_naming_it(hq_client, basket, field, hostile):
    before = nothing_written()
    response = post(hq_client, QUOTE, _with(quote_body(basket), field, hostile))
    body = assert_error(response, 400, response.json().get("code", "?"), field)
    assert body["code"] in ("invalid", "coupon_refused", "tender_refused", "order_refused"), body
    assert nothing_written() == before


def test_a_channel_key_quotes_its_own_channel_only(basket):
    world = basket["world"]
    mall_key = key_client(world.mall)
    assert post(mall_key, QUOTE, quote_body(basket)).status_code == 200

    before = nothing_written()
    assert_error(post(mall_key, QUOTE, quote_body(basket, channel="stores")), 400, "wrong_channel", "channel")
    other_key = key_client(world.stores_channel)
    assert_error(post(other_key, QUOTE, quote_body(basket)), 400, "wrong_channel", "channel")
    read_only = key_client(world.mall, scopes=[Scope.ORDERS_READ, Scope.MEMBERS_READ])
    assert_error(post(read_only, QUOTE, quote_body(basket)), 403, "scope_missing")
    assert nothing_written() == before


def test_a_quote_for_a_member_the_caller_may_not_see_is_a_404(basket):
    world = basket["world"]
    stranger = MemberFactory(home_store=world.c)  # no order, points or consent on the mall
    body = quote_body(basket, member=stranger.pk, coupons=[], points=0, stored_value="0")
    assert_error(post(key_client(world.mall), QUOTE, body), 404, "not_found", "member")
    clerk = login(clerk_at(world.a))
    assert_error(post(clerk, QUOTE, {**body, "origin_store": "A"}), 404, "not_found", "member")


def test_store_staff_quote_for_their_own_store(basket):
    world = basket["world"]
    clerk = login(clerk_at(world.a))
    assert post(clerk, QUOTE, quote_body(basket, origin_store="A")).status_code == 200
    assert_error(post(clerk, QUOTE, quote_body(basket)), 403, "permission_denied", "origin_store")
    assert_error(post(clerk, QUOTE, quote_body(basket, origin_store="C")), 400, "invalid", "origin_store")


@pytest.mark.parametrize("who", ["guide", "no_role", "partner", "anonymous"])
def test_guides_partners_and_strangers_cannot_quote(basket, who):
    world = basket["world"]
    clients = {
        "guide": lambda: login(GuideFactory(store=world.a).user),
        "no_role": lambda: login(UserFactory()),
        "partner": lambda: login(partner_user(world.a.partner or _partner_of(world.a))),
        "anonymous": Client,
    }
    response = post(clients[who](), QUOTE, quote_body(basket, origin_store="A"))
    assert response.status_code == 403, response.content


def _partner_of(store):
    from tests.factories import PartnerFactory

    store.partner = PartnerFactory()
    store.save()
    return store.partner


# --- order create and pay ---------------------------------------------------------------------


def _order_body(b, **overrides):
    lat, lng = north(1)
    body = {
        "channel": "mall",
        "member": b["member"].pk,
        "lines": [{"sku": "TV-55", "quantity": 1}],
        "coupons": [b["code"]],
        "delivery_method": "ship",
        "address": "1 Chang'an Ave",
        "latitude": str(lat),
        "longitude": str(lng),
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize("hostile", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_coupons_on_order_create_are_a_400_and_no_order(hq_client, basket, hostile):
    basket["world"].stock(basket["world"].a, basket["world"].tv, 1)
    before = nothing_written()
    response = post(hq_client, ORDERS, _order_body(basket, coupons=[hostile]))
    assert_error(response, 400, response.json()["code"], "coupons")
    assert nothing_written() == before


def test_an_order_paid_by_points_stored_value_and_card_shows_its_tenders(hq_client, basket):
    world = basket["world"]
    world.stock(world.a, world.tv, 1)
    order_number = post(hq_client, ORDERS, _order_body(basket)).json()["number"]
    order = Order.objects.get(number=order_number)
    assert order.total == D("2949.00")  # 2999.00 - 50.00 (below the promotion's 3000)

    response = post(
        hq_client,
        f"{ORDERS}{order_number}/pay/",
        {
            "points": 1000,
            "stored_value": "200.00",
            "amount": "2739.00",
            "method": "card",
            "external_reference": "POS-1",
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["payment"]["method"] == "card" and body["payment"]["amount"] == "2739.00"
    assert [(t["method"], t["amount"], t["points"]) for t in body["tenders"]] == [
        ("points", "10.00", 1000),
        ("stored_value", "200.00", None),
        ("card", "2739.00", None),
    ]
    assert body["order"]["status"] in ("paid", "allocated")
    assert body["order"]["tenders"] == [
        {
            "method": "points",
            "paid": "10.00",
            "refunded": "0.00",
            "points_paid": 1000,
            "points_refunded": None,
        },
        {
            "method": "stored_value",
            "paid": "200.00",
            "refunded": "0.00",
            "points_paid": None,
            "points_refunded": None,
        },
        {
            "method": "card",
            "paid": "2739.00",
            "refunded": "0.00",
            "points_paid": None,
            "points_refunded": None,
        },
    ]
    member = Member.objects.get(pk=basket["member"].pk)
    assert PointsEntry.objects.filter(member=member, points=-1000, reference=order_number).count() == 1
    assert Wallet.objects.get(member=member).balance == D("300.00")
    rows = list(
        Payment.objects.filter(order=order, kind=PaymentKind.PAYMENT).values_list(
            "method", "amount", "points"
        )
    )
    assert rows == [
        ("points", D("10.00"), 1000),
        ("stored_value", D("200.00"), None),
        ("card", D("2739.00"), None),
    ]

    cancelled = post(hq_client, f"{ORDERS}{order_number}/cancel/", {"reason": "Changed mind"}).json()
    assert {t["method"]: t["refunded"] for t in cancelled["tenders"]} == {
        "points": "10.00",
        "stored_value": "200.00",
        "card": "2739.00",
    }
    assert Wallet.objects.get(member=member).balance == D("500.00")
    assert CouponCode.objects.get(code=basket["code"]).status == CodeStatus.HELD


def test_points_and_stored_value_may_pay_it_all_without_a_method(hq_client, basket, shop):
    world = basket["world"]
    cheap = shop.sku("40.00", code="CABLE-1")
    world.stock(world.a, cheap, 1)
    number = post(
        hq_client, ORDERS, _order_body(basket, coupons=[], lines=[{"sku": "CABLE-1", "quantity": 1}])
    ).json()["number"]

    response = post(
        hq_client, f"{ORDERS}{number}/pay/", {"points": 2000, "stored_value": "20.00", "amount": "0.00"}
    )

    assert response.status_code == 201, response.content
    assert [(t["method"], t["amount"]) for t in response.json()["tenders"]] == [
        ("points", "20.00"),
        ("stored_value", "20.00"),
    ]
    assert Order.objects.get(number=number).paid_at is not None


@pytest.mark.parametrize("field", ["points", "stored_value", "method"])
@pytest.mark.parametrize("hostile", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_tenders_on_order_pay_are_a_400_and_nothing_paid(hq_client, basket, field, hostile):
    world = basket["world"]
    world.stock(world.a, world.tv, 1)
    number = post(hq_client, ORDERS, _order_body(basket)).json()["number"]
    before = nothing_written()
    body = {"amount": "2949.00", "method": "card", field: hostile}
    response = post(hq_client, f"{ORDERS}{number}/pay/", body)
    assert_error(response, 400, "invalid", field)
    assert nothing_written() == before


def test_pay_keeps_its_old_shape_for_the_whole_total(hq_client, basket):
    world = basket["world"]
    world.stock(world.a, world.tv, 1)
    number = post(hq_client, ORDERS, _order_body(basket, coupons=[])).json()["number"]
    response = post(hq_client, f"{ORDERS}{number}/pay/", {"amount": "2999.00", "method": "wechat"})
    assert response.status_code == 201, response.content
    assert response.json()["payment"]["points"] is None
    assert response.json()["order"]["tenders"][0]["paid"] == "2999.00"


# --- a member's coupons and wallet --------------------------------------------------------------


def test_a_members_coupons_list_their_codes(hq_client, basket, shop):
    other = shop.coupon(code="ten-off", kind="percent", value="10")
    second = shop.give(other, basket["member"])
    shop.give(shop.coupon(code="someone-else"), MemberFactory())

    response = hq_client.get(f"/api/v1/members/{basket['member'].pk}/coupons/")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 2
    assert [(c["code"], c["coupon"], c["kind"], c["value"], c["status"]) for c in body["results"]] == [
        (second, "ten-off", "percent", "10.00", "held"),
        (basket["code"], "welcome-50", "amount", "50.00", "held"),
    ]
    assert (
        body["results"][1]["min_spend"] == "1000.00"
        and body["results"][1]["coupon_name"] == "Coupon welcome-50"
    )


def test_a_members_wallet_shows_balances_and_recent_entries(hq_client, basket, shop):
    shop.top_up(basket["member"], "20.00", reference="R-2")

    response = hq_client.get(f"/api/v1/members/{basket['member'].pk}/wallet/")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["member"], body["points_balance"], body["stored_value"]) == (
        basket["member"].pk,
        3598,
        "520.00",
    )
    assert [(e["kind"], e["amount"], e["reference"]) for e in body["entries"]] == [
        ("top_up", "20.00", "R-2"),
        ("top_up", "500.00", ""),
    ]


def test_a_channel_key_reads_only_its_channels_members_coupons_and_wallet(basket):
    world = basket["world"]
    member = basket["member"]  # consented through the mall
    mall = key_client(world.mall)
    stores = key_client(world.stores_channel)
    for path in ("coupons", "wallet"):
        assert mall.get(f"/api/v1/members/{member.pk}/{path}/").status_code == 200
        assert_error(stores.get(f"/api/v1/members/{member.pk}/{path}/"), 404, "not_found")
    no_scope = key_client(world.mall, scopes=[Scope.ORDERS_READ])
    assert_error(no_scope.get(f"/api/v1/members/{member.pk}/wallet/"), 403, "scope_missing")


@pytest.mark.parametrize("who", ["guide", "no_role", "other_clerk"])
def test_guides_and_others_get_no_coupons_or_wallet(basket, who):
    world = basket["world"]
    user = {
        "guide": lambda: GuideFactory(store=world.a).user,
        "no_role": UserFactory,
        "other_clerk": lambda: clerk_at(world.c),
    }[who]()
    client = login(user)
    member = basket["member"]
    for path in ("coupons", "wallet"):
        response = client.get(f"/api/v1/members/{member.pk}/{path}/")
        assert response.status_code in (403, 404), response.content
        assert basket["code"] not in response.content.decode()
    before = nothing_written()
    response = post(
        client, f"/api/v1/members/{member.pk}/wallet/top-ups/", {"amount": "10.00", "method": "cash"}
    )
    assert response.status_code in (403, 404)
    assert nothing_written() == before


def test_an_unknown_or_hostile_member_id_is_a_404(hq_client):
    for pk in ("999999", "9" * 30, "%25", "abc"):
        assert hq_client.get(f"/api/v1/members/{pk}/wallet/").status_code == 404


# --- top-ups ------------------------------------------------------------------------------------


def test_a_top_up_adds_stored_value_and_a_retry_replays_it(basket):
    world = basket["world"]
    member = basket["member"]
    clerk = clerk_at(world.a)
    client = login(clerk)
    url = f"/api/v1/members/{member.pk}/wallet/top-ups/"
    body = {"amount": "88.50", "method": "wechat", "reference": "A-0042", "client_reference": "topup-1"}

    first = post(client, url, body)

    assert first.status_code == 201, first.content
    entry = WalletEntry.objects.get(client_reference="topup-1")
    assert (entry.kind, entry.amount, entry.method, entry.reference, entry.created_by) == (
        "top_up",
        D("88.50"),
        "wechat",
        "A-0042",
        clerk,
    )
    assert first.json()["stored_value"] == "588.50" and first.json()["replayed"] is False
    assert Wallet.objects.get(member=member).balance == D("588.50")

    again = post(client, url, body)

    assert again.status_code == 200, again.content
    assert again.json()["replayed"] is True and again.json()["entry"]["id"] == entry.pk
    assert WalletEntry.objects.filter(client_reference="topup-1").count() == 1
    assert Wallet.objects.get(member=member).balance == D("588.50")

    before = nothing_written()
    assert_error(
        post(client, url, {**body, "amount": "90.00"}), 409, "idempotency_conflict", "client_reference"
    )
    assert nothing_written() == before


def test_a_top_up_replayed_by_idempotency_key_writes_once(basket):
    member = basket["member"]
    client = key_client(basket["world"].mall)
    url = f"/api/v1/members/{member.pk}/wallet/top-ups/"
    body = {"amount": "10.00", "method": "alipay"}
    first = post(client, url, body, **{"Idempotency-Key": "top-up-77"})
    again = post(client, url, body, **{"Idempotency-Key": "top-up-77"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert WalletEntry.objects.filter(amount=D("10.00")).count() == 1
    assert WalletEntry.objects.get(amount=D("10.00")).created_by is None  # a key writes as nobody


@pytest.mark.parametrize("method", ["stored_value", "points", "marketplace"])
def test_a_top_up_is_not_paid_by_the_wallet_or_points(hq_client, basket, method):
    before = nothing_written()
    response = post(
        hq_client,
        f"/api/v1/members/{basket['member'].pk}/wallet/top-ups/",
        {"amount": "10", "method": method},
    )
    assert_error(response, 400, "invalid", "method")
    assert nothing_written() == before


@pytest.mark.parametrize("field", ["amount", "method", "reference", "client_reference"])
@pytest.mark.parametrize("hostile", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_values_in_every_top_up_field(hq_client, basket, field, hostile):
    """A 400 naming the field, or - for the free-text references - the text kept exactly as sent."""
    url = f"/api/v1/members/{basket['member'].pk}/wallet/top-ups/"
    body = {"amount": "10.00", "method": "cash", field: hostile}
    before = nothing_written()
    response = post(hq_client, url, body)
    if response.status_code == 400:
        assert_error(response, 400, "invalid", field)
        assert nothing_written() == before
        return
    assert field in ("reference", "client_reference"), response.content
    assert response.status_code == 201, response.content
    sent = "inf" if hostile == "1e400" else str(hostile)
    assert WalletEntry.objects.filter(**{field: sent}).count() == 1


def test_a_channel_key_tops_up_only_its_channels_members(basket):
    world = basket["world"]
    member = basket["member"]
    url = f"/api/v1/members/{member.pk}/wallet/top-ups/"
    before = nothing_written()
    assert_error(
        post(key_client(world.stores_channel), url, {"amount": "5", "method": "cash"}), 404, "not_found"
    )
    read_only = key_client(world.mall, scopes=[Scope.MEMBERS_READ])
    assert_error(post(read_only, url, {"amount": "5", "method": "cash"}), 403, "scope_missing")
    assert nothing_written() == before
    assert post(key_client(world.mall), url, {"amount": "5", "method": "cash"}).status_code == 201
