"""A clerk's tablet (768x1024, portrait) with marketing and the wallet: the member's coupon and the
price check, points and a card at the counter, then one of the two units comes back at the service
desk and the ticket says what went back to each tender. Asserted on the page and in the database."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from aftersales.models import Ticket
from config.roles import SYSTEM
from marketing.choices import CodeStatus, CouponKind, IssuedVia
from marketing.models import CouponCode, PointsTenderRule
from marketing.services import code_give, coupon_define
from members.models import Member
from members.services import points_adjust
from orders.choices import OrderStatus, PaymentKind
from orders.models import LineDiscount, Order, Payment
from tests.browser.conftest import TABLET_PORTRAIT
from tests.factories import MemberFactory, clerk_at
from tests.world import World

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(transactional_db):
    return World()


def test_clerk_applies_a_coupon_and_points_then_a_return_goes_back_to_each_tender(open_screen, world):
    world.stock(world.a, world.tv, 2)
    PointsTenderRule.objects.create(channel=None, points_per_yuan=100, cap_percent=Decimal("50"))
    member = MemberFactory(phone="13600136000", name="Zhao Lei", home_store=world.a)
    points_adjust(member=member, points=60000, reason="Opening balance", actor=SYSTEM)
    coupon = coupon_define(
        code="WELCOME100",
        name="Welcome 100",
        kind=CouponKind.AMOUNT,
        value=Decimal("100"),
        valid_from=timezone.now() - timedelta(hours=1),
        actor=SYSTEM,
    )
    code = code_give(coupon=coupon, member=member, via=IssuedVia.HQ, actor=SYSTEM).code
    clerk_at(world.a, email="clerk.a@example.com")
    screen = open_screen(TABLET_PORTRAIT)
    page = screen.page
    screen.login("clerk.a@example.com")

    # The member and two TVs; the member's coupon is offered once they are found.
    screen.goto("/portal/orders/new/A/")
    expect(page.get_by_role("heading", level=1)).to_have_text("New order at Store A")
    page.get_by_label("Member's mobile or card").fill("13600136000")
    page.get_by_label("Line 1: SKU").fill("TV-55")
    page.get_by_label("Line 1: quantity").fill("2")
    page.get_by_role("button", name="Check stock and prices").click()
    expect(page.get_by_text("Zhao Lei · 13600136000")).to_be_visible()
    page.get_by_label("Coupon code").select_option(code)

    # "Check price": the breakdown, and nothing placed or used.
    page.get_by_role("button", name="Check stock and prices").click()
    check = page.locator("#price-check")
    expect(check.get_by_role("row", name=re.compile(r"Subtotal\s+5998\.00"))).to_be_visible()
    expect(check.get_by_role("row", name=re.compile(r"Coupon: Welcome 100.*−100\.00"))).to_be_visible()
    expect(check.get_by_role("row", name=re.compile(r"Total\s+5898\.00"))).to_be_visible()
    screen.check("1-price-check")
    assert Order.objects.count() == 0
    assert CouponCode.objects.get(code=code).status == CodeStatus.HELD

    page.get_by_label("Carry out").check()
    page.get_by_role("button", name="Place order").click()
    order = Order.objects.get()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Payment for order {order.number}")
    assert (order.subtotal, order.discount_total, order.total) == (
        Decimal("5998.00"),
        Decimal("100.00"),
        Decimal("5898.00"),
    )
    assert LineDiscount.objects.get(line__order=order).label == "Welcome 100"

    # The pay step: balances, the rate and the cap; 50000 points, the rest by card.
    balances = page.locator("#tender-balances")
    expect(balances).to_contain_text("60000")
    expect(balances).to_contain_text("100 points = 1.00")
    expect(balances).to_contain_text("2949.00 (up to 60000 points here)")
    page.get_by_label("Points to spend").fill("50000")
    page.get_by_label("Bank card").check()
    page.get_by_role("button", name="Check tenders").click()
    plan = page.locator("#tender-plan")
    expect(plan.get_by_role("row", name=re.compile(r"Points\s+500\.00\s+50000 points"))).to_be_visible()
    expect(plan.get_by_role("row", name=re.compile(r"Bank card\s+5398\.00"))).to_be_visible()
    expect(page.get_by_label("Amount", exact=True)).to_have_value("5398.00")
    screen.check("2-tenders")
    assert not Payment.objects.filter(order=order).exists()

    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Paid by: Points 500.00 (50000 points), Bank card 5398.00."
    )
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order.number}")
    page.get_by_role("link", name="Capital", exact=True).click()
    expect(page.get_by_text("Discount Welcome 100 −100.00 on TV-55")).to_be_visible()
    expect(page.get_by_text("Payment 500.00 by Points")).to_be_visible()
    screen.check("3-order-capital")
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    payments = {p.method: (p.amount, p.points) for p in order.payments.filter(kind=PaymentKind.PAYMENT)}
    assert payments == {"points": (Decimal("500.00"), 50000), "card": (Decimal("5398.00"), None)}
    assert CouponCode.objects.get(code=code).status == CodeStatus.REDEEMED
    assert Member.objects.get(pk=member.pk).points_balance == 10000

    # One of the two TVs comes back at the service desk.
    screen.goto("/portal/service/")
    page.get_by_label("Customer's mobile, order number or serial number").fill(order.number)
    page.get_by_role("button", name="Find the purchase").click()
    found = page.locator("section", has=page.get_by_role("heading", name=re.compile("TV-55")))
    found.get_by_role("link", name="Open a ticket").click()
    page.get_by_label("Return", exact=True).check()
    page.get_by_label("Quantity").fill("1")
    page.get_by_label("What is wrong").fill("Changed their mind.")
    page.get_by_role("button", name="Open the ticket").click()
    ticket = Ticket.objects.get()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Return ticket {ticket.number}")
    for button in ("Unit received", "Inspected", "Approve", "Refund the customer"):
        page.get_by_role("button", name=button).click()
        expect(page.get_by_role("status")).to_contain_text(f"Ticket {ticket.number}")

    # What went back to each tender: half the order's net (2949.00), in proportion to what each paid.
    refunds = page.locator("#refund-tenders")
    expect(refunds.get_by_role("listitem")).to_have_count(2)
    expect(refunds.get_by_role("listitem").nth(0)).to_have_text(
        re.compile(r"−250\.00 to Points \(25000 points back\)")
    )
    expect(refunds.get_by_role("listitem").nth(1)).to_have_text(re.compile(r"−2699\.00 to Bank card"))
    screen.check("4-return-refunds")
    back = {
        p.method: (p.amount, p.points, p.reverses.method)
        for p in Payment.objects.filter(order=order, kind=PaymentKind.REFUND).select_related("reverses")
    }
    assert back == {
        "points": (Decimal("250.00"), 25000, "points"),
        "card": (Decimal("2699.00"), None, "card"),
    }
    assert Member.objects.get(pk=member.pk).points_balance == 35000
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTLY_RETURNED

    # The member's coupons and wallet: the code used on this order, the points, a top-up.
    screen.goto(f"/portal/wallet/{member.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Coupons and stored value")
    expect(page.get_by_role("row", name=re.compile(f"{code}.*Redeemed.*{order.number}"))).to_be_visible()
    expect(page.locator("#wallet-balances")).to_contain_text("35000")
    page.get_by_label("Amount to top up").fill("300.00")
    page.get_by_label("WeChat Pay").check()
    page.get_by_role("button", name="Top up").click()
    expect(page.get_by_role("status")).to_contain_text("300.00 topped up. Stored value now: 300.00.")
    screen.check("5-member-wallet")
    assert Member.objects.get(pk=member.pk).wallet.balance == Decimal("300.00")
