"""A store clerk's day on a tablet, in both orientations: look a member up, order a TV this store
lacks for home delivery (another store gets it), that store's clerk accepts it, and a return for a
delivered order is opened at the service desk."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from aftersales.choices import TicketKind, TicketStatus
from aftersales.models import Ticket
from orders.choices import AssignmentStatus, OrderStatus, Origin
from orders.models import Order
from tests.aftersales.helpers import delivered_line
from tests.browser.conftest import TABLETS
from tests.factories import MemberFactory, clerk_at
from tests.world import World

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(transactional_db):
    return World()


@TABLETS
def test_clerk_orders_a_tv_from_another_store_and_that_store_accepts_it(open_screen, world, viewport):
    world.stock(world.b, world.tv, 2)  # none at A; B is 5 km north of A
    member = MemberFactory(phone="13800138000", name="Li Lei")
    clerk_at(world.a, email="clerk.a@example.com")
    clerk_at(world.b, email="clerk.b@example.com")
    screen = open_screen(viewport)
    page = screen.page
    screen.login("clerk.a@example.com")

    # The member, by the number the customer reads out.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Members", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Find a member")
    page.get_by_role("main").get_by_label(re.compile("mobile", re.IGNORECASE)).first.fill("138 0013 8000")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Li Lei")
    expect(page.get_by_role("main").get_by_text("13800138000").first).to_be_visible()
    screen.check("1-member")

    # The order: the TV is not here, Store B has two.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Order queue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Order queue · Store A")
    page.get_by_role("link", name="New order").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New order at Store A")
    page.get_by_label("Member's mobile or card").fill("13800138000")
    page.get_by_label("Line 1: SKU").fill("TV-55")
    page.get_by_role("button", name="Check stock and prices").click()
    stock = page.locator("section", has=page.get_by_role("heading", name="Stock and prices"))
    expect(stock.get_by_role("heading", name=re.compile("^TV-55"))).to_be_visible()
    expect(stock.get_by_text("not enough here")).to_be_visible()
    expect(stock.get_by_role("row", name=re.compile(r"Store B.*5\.0 km.*2"))).to_be_visible()
    expect(stock.get_by_text("Estimated total: 2999.00")).to_be_visible()
    expect(page.get_by_text("Li Lei · 13800138000")).to_be_visible()
    screen.check("2-stock-check")

    page.get_by_label("Ship to address").check()
    page.get_by_label("Delivery address").fill("2 Wangfujing St")
    page.get_by_label("Use the store's location").check()
    page.get_by_role("button", name="Place order").click()

    order = Order.objects.get()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Payment for order {order.number}")
    expect(page.get_by_text("fulfilled by Store B")).to_be_visible()
    expect(page.get_by_label("Amount")).to_have_value("2999.00")
    page.get_by_label("Cash").check()
    screen.check("3-payment")
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Paid. Order {order.number} went to Store B, which prepares it."
    )
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order.number}")
    screen.check("4-order")
    order.refresh_from_db()
    assert (order.status, order.origin, order.origin_store, order.member) == (
        OrderStatus.ALLOCATED,
        Origin.IN_STORE,
        world.a,
        member,
    )
    assert order.fulfilling_location == world.b
    assert order.assignments.get().status == AssignmentStatus.OFFERED

    # Store B's clerk finds the offer in their queue and accepts it.
    screen.logout()
    screen.login("clerk.b@example.com")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Order queue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Order queue · Store B")
    offer = page.locator("article", has=page.get_by_role("heading", name=order.number))
    expect(offer).to_contain_text("Ship to address")
    expect(offer).to_contain_text("Li Lei")
    expect(offer).to_contain_text("2999.00")
    screen.check("5-queue-offer")
    offer.get_by_role("button", name="Accept").click()
    expect(page.get_by_role("status")).to_contain_text(f"Order {order.number} accepted.")
    accepted = page.locator("article", has=page.get_by_role("heading", name=order.number))
    expect(accepted.get_by_role("button", name="Shipped")).to_be_visible()
    expect(page.get_by_text("No offers waiting.")).to_be_visible()
    screen.check("6-queue-accepted")
    order.refresh_from_db()
    assert order.status == OrderStatus.ACCEPTED
    assert order.assignments.get().status == AssignmentStatus.ACCEPTED


@TABLETS
def test_clerk_opens_a_return_for_a_delivered_order_at_the_service_desk(open_screen, world, viewport):
    member = MemberFactory(phone="13700137000", name="Han Meimei")
    line = delivered_line(world, at=timezone.now() - timedelta(days=3))
    line.order.member = member
    line.order.save(update_fields=["member"])
    clerk_at(world.b, email="clerk.b@example.com")  # any store takes returns, whoever sold it
    screen = open_screen(viewport)
    page = screen.page
    screen.login("clerk.b@example.com")

    screen.goto("/portal/service/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Service desk")
    page.get_by_label("Customer's mobile, order number or serial number").fill("137 0013 7000")
    page.get_by_role("button", name="Find the purchase").click()
    expect(page.get_by_role("heading", level=2, name=re.compile("1 purchase line for"))).to_be_visible()
    found = page.locator("section", has=page.get_by_role("heading", name=re.compile("TV-55")))
    expect(found).to_contain_text(f"Order {line.order.number}")
    expect(found).to_contain_text("fulfilled by Store A")
    expect(found).to_contain_text("Han Meimei")
    screen.check("1-found")
    found.get_by_role("link", name="Open a ticket").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Open a service ticket")
    page.get_by_label("Return", exact=True).check()
    page.get_by_label("What is wrong").fill("The screen flickers.")
    expect(page.get_by_label("Customer's mobile")).to_have_value("13700137000")
    screen.check("2-ticket-form")
    page.get_by_role("button", name="Open the ticket").click()

    ticket = Ticket.objects.get()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Return ticket {ticket.number}")
    expect(page.get_by_role("status")).to_contain_text(f"Ticket {ticket.number} opened.")
    screen.check("3-ticket")
    assert (ticket.kind, ticket.status, ticket.line, ticket.member) == (
        TicketKind.RETURN,
        TicketStatus.OPENED,
        line,
        member,
    )
    assert (ticket.intake_store, ticket.description) == (world.b, "The screen flickers.")


@TABLETS
def test_clerk_switches_the_queue_to_chinese_and_back(open_screen, world, viewport):
    world.stock(world.a, world.tv, 1)
    world.pay(world.ship_order(store=world.a))  # an offer waiting at store A
    clerk_at(world.a, email="clerk.a@example.com")
    screen = open_screen(viewport)
    page = screen.page
    screen.login("clerk.a@example.com")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Order queue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Order queue · Store A")

    page.get_by_role("button", name="简体中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_role("link", name="订单队列").first).to_be_visible()  # the nav and the breadcrumbs
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Store A")
    screen.check("zh-queue")  # Chinese labels fit the tablet too

    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Order queue · Store A")
