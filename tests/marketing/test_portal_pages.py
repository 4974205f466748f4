"""Marketing and the wallet on the pages: the clerk's tablet (coupon, "check price", giving a
coupon, paying by points, stored value and an external method), the customer's QR pages (claiming
a coupon at a store's or a guide's QR code, applying it to the order), the member's coupons and
wallet with the counter's top-up, the order page's capital flow and the service desk's refunds per
tender. Outcomes are asserted in the database and on the page; hostile input is a form error."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from aftersales.selectors import return_refunds
from guides.models import ScanEvent
from insights.order_timeline import order_timeline
from marketing.choices import CodeStatus, IssuedVia, PromotionKind
from marketing.models import CouponCode, CouponRedemption, WalletEntry
from members.models import Member
from orders.choices import DeliveryMethod, OrderStatus, PaymentKind
from orders.models import LineDiscount, Order, Payment
from tests.factories import GuideFactory, MemberFactory, PartnerFactory, UserFactory, clerk_at, hq_user
from tests.marketing.helpers import D, assert_ledgers_add_up, paid, refunded

pytestmark = pytest.mark.django_db

HOSTILE = {
    "nul": "1\x002",
    "10**12": str(10**12),
    "1e400": "1e400",
    "300 chars": "9" * 300,
    "percent": "%",
    "full-width digits": "１２３",
}


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()  # the public pages count submissions per address in the cache
    yield
    cache.clear()


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def new_order_url(store):
    return reverse("orders:new", args=[store.code])


def tablet_post(member_phone="", *, step="check", sku="TV-55", quantity="1", **fields):
    data = {
        "member": member_phone,
        "client_reference": "tablet-ref-1",
        "delivery_method": DeliveryMethod.CARRY_OUT,
        "step": step,
        "lines-TOTAL_FORMS": "5",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "5",
        "lines-0-sku": sku,
        "lines-0-quantity": quantity,
    }
    for i in range(1, 5):
        data[f"lines-{i}-sku"] = ""
        data[f"lines-{i}-quantity"] = "1"
    data.update(fields)
    return data


@pytest.fixture
def counter(shop, world):
    """Store A's clerk, a member with a 30-off coupon, 5000 points and 200.00 stored value, a TV on
    A's shelf; points pay at 100 a yuan, at most half an order."""
    world.stock(world.a, world.tv, 3)
    shop.points_rule(points_per_yuan=100, cap_percent="50")
    member = shop.member(
        points=5000, wallet="200.00", phone="13900139000", name="Wang Fang", home_store=world.a
    )
    coupon = shop.coupon("C30", value="30")
    code = shop.give(coupon, member)
    clerk = clerk_at(world.a)
    return {"member": member, "coupon": coupon, "code": code, "clerk": clerk, "client": signed_in(clerk)}


# --- the clerk's tablet ----------------------------------------------------------------------------


def test_check_price_shows_the_breakdown_and_writes_nothing(counter, world, shop):
    shop.threshold(threshold="1000", amount="100", name="Spend 1000 save 100")
    client, code = counter["client"], counter["code"]
    page = client.post(new_order_url(world.a), tablet_post("13900139000", coupon=code.lower()))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Price check" in html
    assert "2999.00" in html  # subtotal
    assert "Spend 1000 save 100" in html and "−100.00" in html
    assert "Coupon C30" in html and "−30.00" in html
    assert "2869.00" in html  # total
    # The member's usable codes are offered as choices.
    assert f'<option value="{code}" selected>' in html
    # Nothing placed, nothing used.
    assert Order.objects.count() == 0
    assert CouponCode.objects.get(code=code).status == CodeStatus.HELD
    assert CouponRedemption.objects.count() == 0


def test_check_price_refuses_a_code_that_is_not_the_members(counter, world, shop):
    other = MemberFactory(phone="13900139001")
    stranger_code = shop.give(counter["coupon"], other)
    page = counter["client"].post(new_order_url(world.a), tablet_post("13900139000", coupon=stranger_code))
    html = page.content.decode()
    assert page.status_code == 200
    assert "not one of this member&#x27;s coupons" in html
    assert "Price check" not in html
    assert CouponCode.objects.get(code=stranger_code).status == CodeStatus.HELD


def test_a_coupon_without_a_member_is_a_form_error(counter, world):
    page = counter["client"].post(new_order_url(world.a), tablet_post("", coupon=counter["code"]))
    assert page.status_code == 200
    assert "Coupons belong to a member" in page.content.decode()


def test_placing_the_order_redeems_the_coupon_and_stores_the_discount(counter, world):
    client, code = counter["client"], counter["code"]
    response = client.post(new_order_url(world.a), tablet_post("13900139000", step="place", coupon=code))
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:pay", args=[order.number])
    assert (order.subtotal, order.discount_total, order.total) == (D("2999.00"), D("30.00"), D("2969.00"))
    discount = LineDiscount.objects.get(line__order=order)
    assert (discount.label, discount.amount, discount.code.code) == ("Coupon C30", D("30.00"), code)
    assert CouponCode.objects.get(code=code).status == CodeStatus.REDEEMED


def test_the_clerk_gives_the_member_a_coupon_at_the_tablet(counter, world, shop):
    gift = shop.coupon("GIFT10", value="10")
    page = counter["client"].post(
        new_order_url(world.a), tablet_post("13900139000", step="give", give_coupon="GIFT10")
    )
    html = page.content.decode()
    given = CouponCode.objects.get(coupon=gift)
    assert page.status_code == 200
    assert (given.member, given.issued_via, given.store, given.issued_by) == (
        counter["member"],
        IssuedVia.CLERK,
        world.a,
        counter["clerk"],
    )
    assert f"now holds coupon {given.code}" in html
    assert f'<option value="{given.code}"' in html  # offered at once


def test_giving_an_unknown_coupon_is_a_form_error(counter, world):
    before = CouponCode.objects.count()
    page = counter["client"].post(
        new_order_url(world.a), tablet_post("13900139000", step="give", give_coupon="NOPE")
    )
    assert page.status_code == 200
    assert "No coupon has this code." in page.content.decode()
    assert CouponCode.objects.count() == before


@pytest.mark.parametrize("field", ["coupon", "give_coupon", "member"])
@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_tablet_refuses_hostile_input_with_a_form_error(counter, world, field, value):
    # The coupon to give is read by the "Give coupon" button only.
    for step in ("give",) if field == "give_coupon" else ("check", "give", "place"):
        data = tablet_post("13900139000", step=step, coupon=counter["code"])
        data[field] = value
        page = counter["client"].post(new_order_url(world.a), data)
        assert page.status_code == 200, (step, page.status_code)
        assert 'class="errorlist' in page.content.decode() or "form-errors" in page.content.decode()
    assert Order.objects.count() == 0
    assert CouponCode.objects.count() == 1
    assert CouponCode.objects.get().status == CodeStatus.HELD


# --- the pay step ---------------------------------------------------------------------------------------


def placed(counter, world):
    client = counter["client"]
    client.post(new_order_url(world.a), tablet_post("13900139000", step="place", coupon=counter["code"]))
    return Order.objects.get()


def test_pay_page_shows_balances_rate_and_cap(counter, world):
    order = placed(counter, world)
    html = counter["client"].get(reverse("orders:pay", args=[order.number])).content.decode()
    assert "Points balance" in html and "5000" in html
    assert "100 points = 1.00" in html
    # Half of 2969.00 is 1484.50, that is 148450 points; the member has 5000.
    assert "1484.50 (up to 5000 points here)" in html
    assert "Stored value balance" in html and "200.00" in html


def test_check_tenders_shows_the_split_and_the_rest_then_pay_by_tenders(counter, world):
    order = placed(counter, world)
    client, url = counter["client"], reverse("orders:pay", args=[order.number])
    body = {"points": "3000", "stored_value": "50.00", "amount": "2969.00", "method": "card", "reference": ""}
    page = client.post(url, {**body, "step": "plan"})
    html = page.content.decode()
    assert page.status_code == 200
    assert "How it is paid" in html
    assert "30.00" in html and "3000 points" in html and "50.00" in html and "2889.00" in html
    assert 'value="2889.00"' in html  # the external amount is now what is left
    assert not Payment.objects.filter(order=order).exists()

    response = client.post(url, {**body, "amount": "2889.00", "step": "pay"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status != OrderStatus.CREATED
    assert paid(order) == {"points": D("30.00"), "stored_value": D("50.00"), "card": D("2889.00")}
    assert Payment.objects.get(order=order, method="points").points == 3000
    member = Member.objects.get(pk=counter["member"].pk)
    assert member.points_balance < 5000  # 3000 spent (and some earned on the money paid)
    assert WalletEntry.objects.get(wallet__member=member, kind="spend").amount == D("-50.00")
    detail = client.get(response["Location"]).content.decode()
    assert "Paid by: Points 30.00 (3000 points), Stored value 50.00, Bank card 2889.00." in detail
    assert_ledgers_add_up()


def test_paying_more_points_than_the_cap_is_a_form_error(counter, world, shop):
    order = placed(counter, world)
    shop.points_rule(points_per_yuan=100, cap_percent="1", channel=order.channel)
    page = counter["client"].post(
        reverse("orders:pay", args=[order.number]),
        {"points": "5000", "stored_value": "", "amount": "", "method": "card", "step": "pay"},
    )
    assert page.status_code == 200
    assert "Points may pay at most 29.69" in page.content.decode()
    assert not Payment.objects.filter(order=order).exists()
    assert Member.objects.get(pk=counter["member"].pk).points_balance == 5000


@pytest.mark.parametrize(
    "field,value",
    [
        *[(f, v) for f in ("points", "stored_value", "amount", "method") for v in HOSTILE.values()],
        # A reference is the terminal's text: anything short and printable ("%", "１２３") is one.
        ("reference", HOSTILE["nul"]),
        ("reference", HOSTILE["300 chars"]),
    ],
)
def test_pay_refuses_hostile_input_with_a_form_error(counter, world, field, value):
    order = placed(counter, world)
    url = reverse("orders:pay", args=[order.number])
    for step in ("plan", "pay"):
        body = {"points": "100", "stored_value": "1.00", "amount": "2967.00", "method": "card", "step": step}
        body[field] = value
        page = counter["client"].post(url, body)
        assert page.status_code == 200, (step, page.status_code)
        assert 'class="errorlist' in page.content.decode()
    assert not Payment.objects.filter(order=order).exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.CREATED
    assert Member.objects.get(pk=counter["member"].pk).points_balance == 5000
    assert WalletEntry.objects.filter(kind="spend").count() == 0


def test_a_walk_in_from_another_store_pays_with_their_points(counter, world, shop):
    """A member of store C found by exact mobile at A's counter: A's clerk serves them, balances too."""
    walk_in = shop.member(points=1000, phone="13900139777", name="Walk In", home_store=world.c)
    client = counter["client"]
    page = client.post(new_order_url(world.a), tablet_post("13900139777")).content.decode()
    assert "Points: 1000" in page
    client.post(new_order_url(world.a), tablet_post("13900139777", step="place"))
    order = Order.objects.get(member=walk_in)
    url = reverse("orders:pay", args=[order.number])
    assert "Points balance" in client.get(url).content.decode()
    client.post(url, {"points": "1000", "amount": "2989.00", "method": "cash", "step": "pay"})
    assert paid(order) == {"points": D("10.00"), "cash": D("2989.00")}


# --- the customer's QR pages -----------------------------------------------------------------------


def test_a_customer_claims_the_coupon_of_a_stores_qr_code_and_orders_with_it(shop, world):
    world.stock(world.a, world.tv, 1)
    shop.coupon("QR20", value="20", claimable=True)
    client = Client()
    url = reverse("orders_public:store", args=["A"])
    page = client.get(url, {"coupon": "QR20"}).content.decode()
    assert "Coupon for you: Coupon QR20" in page
    page = client.post(url + "?coupon=QR20", {"action": "claim", "coupon": "QR20", "phone": "139 0013 9555"})
    code = CouponCode.objects.get()
    assert page.status_code == 200
    assert (code.member.phone, code.issued_via, code.store, code.issued_by) == (
        "13900139555",
        IssuedVia.STORE_QR,
        world.a,
        None,
    )
    assert f"Your coupon code: {code.code}" in page.content.decode()
    assert f'value="{code.code}"' in page.content.decode()  # typed in the order form already

    data = {
        "phone": "13900139555",
        "address": "1 Chang'an Ave",
        "coupon": code.code,
        "client_reference": "qr-ref-1",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "5",
        "lines-0-sku": "TV-55",
        "lines-0-quantity": "1",
    }
    response = client.post(url, data)
    order = Order.objects.get()
    assert response.status_code == 302
    assert (order.discount_total, order.total) == (D("20.00"), D("2979.00"))
    code.refresh_from_db()
    assert (code.status, code.order_number) == (CodeStatus.REDEEMED, order.number)


def test_a_store_qr_offers_only_a_live_coupon(shop, world):
    shop.coupon("OLD", value="5", valid_from=shop_ago(days=3), valid_to=shop_ago(days=1), claimable=True)
    client = Client()
    url = reverse("orders_public:store", args=["A"])
    assert "Coupon for you" not in client.get(url, {"coupon": "OLD"}).content.decode()
    assert "Coupon for you" not in client.get(url, {"coupon": "NOSUCH"}).content.decode()
    page = client.post(url, {"action": "claim", "coupon": "OLD", "phone": "13900139555"})
    assert page.status_code == 200
    assert CouponCode.objects.count() == 0 and Member.objects.count() == 0


def test_a_coupon_hq_did_not_make_claimable_cannot_be_claimed_by_knowing_its_code(shop, world):
    """A campaign's or the counter's coupon is not for anyone who learns its code: the QR pages
    do not offer it, a claim for it writes nothing, and the service refuses a QR give too."""
    from config.roles import SYSTEM
    from marketing.errors import CouponRefused
    from marketing.services import code_give

    coupon = shop.coupon("CAMPAIGN50", value="50")
    client = Client()
    url = reverse("orders_public:store", args=["A"])
    assert "Coupon for you" not in client.get(url, {"coupon": "CAMPAIGN50"}).content.decode()
    page = client.post(url, {"action": "claim", "coupon": "CAMPAIGN50", "phone": "13900139555"})
    assert page.status_code == 200
    assert CouponCode.objects.count() == 0 and Member.objects.count() == 0
    member = shop.member()
    with pytest.raises(CouponRefused):
        code_give(coupon=coupon, member=member, via=IssuedVia.STORE_QR, actor=SYSTEM, store=world.a)
    assert CouponCode.objects.count() == 0


def shop_ago(**kwargs):
    from tests.marketing.helpers import ago

    return ago(**kwargs)


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_store_qr_claim_refuses_hostile_input(shop, world, value):
    shop.coupon("QR20", value="20", claimable=True)
    client = Client()
    url = reverse("orders_public:store", args=["A"])
    for body in (
        {"action": "claim", "coupon": "QR20", "phone": value},
        {"action": "claim", "coupon": value, "phone": "13900139555"},
    ):
        page = client.post(url, body)
        assert page.status_code == 200
    assert CouponCode.objects.count() == 0
    assert Member.objects.count() == 0


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_store_qr_order_refuses_a_hostile_coupon(world, value):
    world.stock(world.a, world.tv, 1)
    data = {
        "phone": "13900139555",
        "address": "1 Chang'an Ave",
        "coupon": value,
        "client_reference": "qr-ref-1",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "5",
        "lines-0-sku": "TV-55",
        "lines-0-quantity": "1",
    }
    page = Client().post(reverse("orders_public:store", args=["A"]), data)
    assert page.status_code == 200
    assert 'class="errorlist' in page.content.decode()
    assert Order.objects.count() == 0 and Member.objects.count() == 0


def test_a_customer_claims_the_coupon_of_a_guides_qr_code(shop, world):
    shop.coupon("G15", value="15", claimable=True)
    guide = GuideFactory(store=world.a)
    client = Client()
    url = reverse("guides_public:landing", args=[guide.code])
    page = client.get(url, {"coupon": "G15"})
    html = page.content.decode()
    assert "Coupon for you: Coupon G15" in html
    scan = html.split('name="scan" value="', 1)[1].split('"', 1)[0]
    response = client.post(url, {"scan": scan, "coupon": "G15", "phone": "13900139666"})
    assert response.status_code == 302
    code = CouponCode.objects.get()
    assert (code.member.phone, code.issued_via, code.guide, code.store) == (
        "13900139666",
        IssuedVia.GUIDE_QR,
        guide,
        world.a,
    )
    store_page = client.get(response["Location"]).content.decode()
    assert code.code in store_page  # said, and typed in the order form
    # The same page sent again (a double tap) gives no second code.
    client.post(url, {"scan": scan, "coupon": "G15", "phone": "13900139666"})
    assert CouponCode.objects.count() == 1


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_guide_qr_claim_refuses_a_hostile_coupon(shop, world, value):
    guide = GuideFactory(store=world.a)
    client = Client()
    url = reverse("guides_public:landing", args=[guide.code])
    html = client.get(url).content.decode()
    scan = html.split('name="scan" value="', 1)[1].split('"', 1)[0]
    response = client.post(url, {"scan": scan, "coupon": value, "phone": "13900139666"})
    assert CouponCode.objects.count() == 0
    if value in (str(10**12), "1e400"):  # a code no coupon has: nothing on offer, the binding stands
        assert response.status_code == 302
        return
    assert response.status_code == 200
    assert 'class="errorlist' in response.content.decode() or "form-errors" in response.content.decode()
    assert Member.objects.count() == 0
    assert not ScanEvent.objects.filter(member__isnull=False).exists()


# --- the member's coupons and wallet ---------------------------------------------------------------------


def wallet_url(member):
    return reverse("portal:member_wallet", args=[member.pk])


def test_store_staff_see_the_members_coupons_and_balances_and_top_up(counter, world, shop):
    member, client = counter["member"], counter["client"]
    used = shop.give(shop.coupon("USED5", value="5"), member)
    shop.pay(shop.order(member=member, coupons=[used]))
    html = client.get(wallet_url(member)).content.decode()
    assert counter["code"] in html and used in html
    assert "Held" in html and "Redeemed" in html
    assert "200.00" in html and str(Member.objects.get(pk=member.pk).points_balance) in html
    member_page = client.get(reverse("members:detail", args=[member.pk])).content.decode()
    assert wallet_url(member) in member_page and 'id="stored-value">200.00<' in member_page

    response = client.post(
        wallet_url(member),
        {"amount": "88.80", "method": "wechat", "reference": "T-1", "client_reference": "portal-topup-abc"},
    )
    assert response.status_code == 302
    entry = WalletEntry.objects.get(kind="top_up", client_reference="portal-topup-abc")
    assert (entry.amount, entry.method, entry.created_by) == (D("88.80"), "wechat", counter["clerk"])
    assert "288.80" in client.get(wallet_url(member)).content.decode()
    # The same form sent again tops up once.
    client.post(
        wallet_url(member),
        {"amount": "88.80", "method": "wechat", "reference": "T-1", "client_reference": "portal-topup-abc"},
    )
    assert WalletEntry.objects.filter(kind="top_up").count() == 2  # the opening 200.00 and this one
    assert_ledgers_add_up()


@pytest.mark.parametrize("field", ["amount", "method", "reference", "client_reference"])
@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_top_up_refuses_hostile_input_with_a_form_error(counter, field, value):
    body = {"amount": "10.00", "method": "cash", "reference": "", "client_reference": "portal-topup-x"}
    body[field] = value
    page = counter["client"].post(wallet_url(counter["member"]), body)
    if field == "reference" and value in ("%", "１２３", str(10**12), "1e400"):
        assert page.status_code == 302  # a reference may say anything short and printable
        return
    if field == "client_reference" and value in (str(10**12), "1e400"):
        assert page.status_code == 302  # the form's own token: any short plain one will do
        return
    assert page.status_code == 200
    html = page.content.decode()
    assert 'class="errorlist' in html or "This form is out of date" in html
    assert WalletEntry.objects.filter(kind="top_up").count() == 1  # the opening balance only


def test_a_top_up_by_points_or_the_wallet_is_refused(counter):
    page = counter["client"].post(
        wallet_url(counter["member"]),
        {"amount": "10.00", "method": "stored_value", "client_reference": "portal-topup-y"},
    )
    assert page.status_code == 200 and 'class="errorlist' in page.content.decode()
    assert WalletEntry.objects.filter(kind="top_up").count() == 1


def test_a_partner_sees_the_wallet_but_may_not_top_up(counter, world):
    partner = PartnerFactory()
    world.a.partner = partner
    world.a.save(update_fields=["partner"])
    from tests.factories import partner_user

    client = signed_in(partner_user(partner))
    page = client.get(wallet_url(counter["member"]))
    assert page.status_code == 200
    assert "Top up stored value" not in page.content.decode()
    response = client.post(
        wallet_url(counter["member"]),
        {"amount": "10.00", "method": "cash", "client_reference": "portal-topup-z"},
    )
    assert response.status_code == 403
    assert WalletEntry.objects.filter(kind="top_up").count() == 1


def test_a_guide_account_cannot_see_another_members_coupons_or_wallet(counter, world):
    """A self-registered guide is a stranger to every member but their fans' names (docs/security.md)."""
    guide_user = UserFactory()
    GuideFactory(user=guide_user, store=None)
    client = signed_in(guide_user)
    member = counter["member"]
    for url in (wallet_url(member), reverse("members:detail", args=[member.pk])):
        response = client.get(url)
        assert response.status_code in (403, 404), url
        body = response.content.decode()
        assert counter["code"] not in body and "200.00" not in body and "13900139000" not in body
    response = client.post(
        wallet_url(member), {"amount": "10.00", "method": "cash", "client_reference": "portal-topup-g"}
    )
    assert response.status_code in (403, 404)
    assert WalletEntry.objects.filter(kind="top_up").count() == 1


def test_another_stores_clerk_cannot_see_the_wallet(counter, world):
    client = signed_in(clerk_at(world.c))
    assert client.get(wallet_url(counter["member"])).status_code == 404
    response = client.post(
        wallet_url(counter["member"]),
        {"amount": "10.00", "method": "cash", "client_reference": "portal-topup-c"},
    )
    assert response.status_code == 404
    assert WalletEntry.objects.filter(kind="top_up").count() == 1


def test_wallet_page_queries_do_not_grow_with_codes(counter, shop, django_assert_max_num_queries):
    member = counter["member"]
    for n in range(8):
        shop.give(shop.coupon(f"MANY{n}", value="1"), member)
    with django_assert_max_num_queries(20):
        page = counter["client"].get(wallet_url(member))
    assert page.content.decode().count("MANY") == 8


# --- the order page and the service desk --------------------------------------------------------------


def test_the_capital_flow_shows_discounts_and_every_tender_paid_and_refunded(shop, world):
    shop.points_rule()
    member = shop.member(points=2000, wallet="100.00")
    code = shop.give(shop.coupon("T50", value="50"), member)
    order = shop.order(member=member, lines=[(world.tv, 2)], coupons=[code])
    shop.pay(order, points=1000, stored_value="40.00")
    shop.deliver(order)
    ticket = shop.return_units(order.lines.get(), quantity=1)

    capital = [e for e in order_timeline(order) if e.flow == "capital"]
    texts = [(e.kind, e.what, e.detail) for e in capital]
    discounts = [t for t in texts if t[0] == "discount"]
    assert [what for _k, what, _d in discounts] == ["Discount Coupon T50 −50.00 on TV-55"]
    payments = [(what, detail) for kind, what, detail in texts if kind == "payment"]
    assert ("Payment 10.00 by Points", "1000 points") in payments
    assert ("Payment 40.00 by Stored value", "") in payments
    assert any(what.startswith("Payment 5898.00 by Bank card") for what, _d in payments)
    back = refunded(order)
    assert set(back) == {"points", "stored_value", "card"}
    for method, amount in back.items():
        label = {"points": "Points", "stored_value": "Stored value", "card": "Bank card"}[method]
        assert any(what == f"Refund -{amount} by {label}" for what, _d in payments), (method, payments)
    points_back = Payment.objects.get(order=order, kind=PaymentKind.REFUND, method="points").points
    assert (f"Refund -{back['points']} by Points", f"{points_back} points") in payments

    hq = signed_in(hq_user())
    page = hq.get(reverse("orders:detail", args=[order.number]) + "?flow=capital").content.decode()
    assert "Discount Coupon T50 −50.00 on TV-55" in page
    assert "1000 points" in page

    rows = return_refunds(ticket)
    assert [(r.method, r.amount) for r in rows] == [(m, back[m]) for m in ("points", "stored_value", "card")]
    ticket_page = hq.get(reverse("aftersales:detail", args=[ticket.number])).content.decode()
    for method, label in (("points", "Points"), ("stored_value", "Stored value"), ("card", "Bank card")):
        assert f"−{back[method]}</span> to {label}" in ticket_page
    assert f"{points_back} points back" in ticket_page


def test_two_returns_each_show_their_own_refunds(shop, world):
    shop.points_rule()
    member = shop.member(points=2000, wallet="100.00")
    order = shop.order(member=member, lines=[(world.tv, 2)])
    shop.pay(order, points=1000, stored_value="40.00")
    shop.deliver(order)
    line = order.lines.get()
    first = shop.return_units(line, quantity=1)
    second = shop.return_units(line, quantity=1)
    one, two = return_refunds(first), return_refunds(second)
    assert not {r.pk for r in one} & {r.pk for r in two}
    assert sum((r.amount for r in one + two), Decimal(0)) == order.total
    assert {r.pk for r in one + two} == set(
        Payment.objects.filter(order=order, kind=PaymentKind.REFUND).values_list("pk", flat=True)
    )


def test_the_order_page_timeline_has_no_discount_rows_without_discounts(shop, world):
    order = shop.order()
    assert not [e for e in order_timeline(order) if e.kind == "discount"]


def test_promotion_discounts_show_in_the_capital_flow(shop, world):
    shop.promo(PromotionKind.PERCENT_OFF, name="Ten off TVs", percent=D("10"), skus=[world.tv])
    order = shop.order()
    whats = [e.what for e in order_timeline(order) if e.kind == "discount"]
    assert whats == ["Discount Ten off TVs −299.90 on TV-55"]
