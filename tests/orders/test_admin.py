"""HQ's admin for orders: read-only order pages with every flow on them, cancel through
order_cancel with refusals shown, ledgers that cannot be edited, revenue rules that refuse a
split over 100 % on the form, and constant query counts."""

import html
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.roles import SYSTEM
from orders.admin import HQ_CANCEL_REASON
from orders.choices import OrderStatus, PaymentKind
from orders.fulfilment import assignment_accept, assignment_reject, order_ship
from orders.models import (
    Order,
    OrderStatusChange,
    Payment,
    RevenueRule,
    RevenueShare,
    RoutingDecision,
    StoreAssignment,
)
from orders.services import LineRequest, order_cancel, order_create, order_pay
from stores.models import Stock, StockMovement
from tests.factories import ChannelFactory, MemberFactory, UserFactory, hq_user
from tests.world import north

pytestmark = pytest.mark.django_db


def page(response) -> str:
    return html.unescape(response.content.decode())


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def paid_order(world, *, lines=None, km_north=1.0, member=None):
    """An online order near store A, paid, so offered to A with the stock reserved there."""
    lat, lng = north(km_north)
    order = order_create(
        channel=world.mall,
        lines=lines or [LineRequest(world.tv, 1)],
        delivery_method="ship",
        address="1 Chang'an Ave",
        latitude=lat,
        longitude=lng,
        member=member,
        actor=SYSTEM,
    )
    order_pay(order=order, amount=order.total, method="wechat", actor=SYSTEM)
    order.refresh_from_db()
    return order


def shipped_order(world):
    order = paid_order(world)
    assignment_accept(order=order, store=order.fulfilling_location, actor=SYSTEM)
    return order_ship(order=order, store=order.fulfilling_location, tracking_number="SF1", actor=SYSTEM)


def cancel(client, orders, url="/admin/orders/order/"):
    data = {"action": "cancel_orders", "_selected_action": [o.pk for o in orders], "index": 0}
    return client.post(url, data, follow=True)


def stock_of(store, sku):
    return Stock.objects.values_list("on_hand", "reserved").get(location=store, sku=sku)


# --- Lists and pages


def test_order_list_shows_the_orders_with_a_constant_number_of_queries(hq_client, world):
    world.stock(world.a, world.tv, 50)
    for _ in range(2):
        paid_order(world, member=MemberFactory())
    few = queries(hq_client, "/admin/orders/order/")
    for _ in range(10):
        paid_order(world, member=MemberFactory())

    assert queries(hq_client, "/admin/orders/order/") == few
    text = page(hq_client.get("/admin/orders/order/"))
    for order in Order.objects.all():
        assert order.number in text
    assert "Store A" in text and "Own mall" in text


def test_order_list_finds_an_order_by_number_reference_and_member_phone(hq_client, world):
    world.stock(world.a, world.tv, 5)
    member = MemberFactory(phone="13800138000")
    target = paid_order(world, member=member)
    Order.objects.filter(pk=target.pk).update(external_reference="TM-123")
    paid_order(world, member=MemberFactory())

    for term in (target.number, "TM-123", "13800138000"):
        rows = hq_client.get("/admin/orders/order/", {"q": term}).context["cl"].result_list
        assert [o.pk for o in rows] == [target.pk], term


def test_order_page_shows_every_flow_with_a_constant_number_of_queries(hq_client, world):
    world.stock(world.a, world.tv, 5)
    world.stock(world.a, world.phone, 5)
    world.stock(world.b, world.tv, 5)
    world.stock(world.b, world.phone, 5)
    small = paid_order(world)
    # A bigger order: two lines, rejected by A and re-routed to B, then cancelled with a refund.
    big = paid_order(
        world, lines=[LineRequest(world.tv, 2), LineRequest(world.phone, 1)], member=MemberFactory()
    )
    assignment_reject(order=big, store=world.a, reason="Display unit only", actor=SYSTEM)
    order_cancel(order=big, reason="Customer changed their mind", actor=SYSTEM)
    assert big.routing_decisions.count() == 2 and big.payments.count() == 2

    hq_client.get(f"/admin/orders/order/{small.pk}/change/")  # warm per-request caches
    assert queries(hq_client, f"/admin/orders/order/{big.pk}/change/") == queries(
        hq_client, f"/admin/orders/order/{small.pk}/change/"
    )

    text = page(hq_client.get(f"/admin/orders/order/{big.pk}/change/"))
    assert big.number in text
    assert "TV-55" in text and "PHONE-1" in text  # lines
    assert "Payments and refunds" in text and "Refund" in text
    assert "Status history" in text and "Customer changed their mind" in text
    assert "Routing decisions" in text and "Store A rejected: Display unit only" in text
    assert "Store assignments" in text and "Rejected" in text
    assert "Fulfilling store's fee" in text and "Brand" in text  # the revenue split, reversals too
    assert "-" + str(RevenueShare.objects.filter(line__order=big, amount__gt=0).first().amount) in text


def test_order_page_has_no_field_to_edit_and_orders_cannot_be_added_changed_or_deleted(hq_client, world):
    world.stock(world.a, world.tv, 5)
    order = paid_order(world)
    url = f"/admin/orders/order/{order.pk}/change/"

    text = page(hq_client.get(url))
    for field in (
        "status",
        "total",
        "subtotal",
        "fulfilling_location",
        "lines-0-quantity",
        "payments-0-amount",
    ):
        assert f'name="{field}"' not in text, field
    assert hq_client.post(url, {"status": "completed", "total": "1.00"}).status_code == 403
    assert hq_client.get("/admin/orders/order/add/").status_code == 403
    assert hq_client.post(f"/admin/orders/order/{order.pk}/delete/", {"post": "yes"}).status_code == 403
    order.refresh_from_db()
    assert (order.status, order.total) == (OrderStatus.ALLOCATED, Decimal("2999.00"))


@pytest.mark.parametrize(
    ("model", "name"),
    [
        (Payment, "payment"),
        (RevenueShare, "revenueshare"),
        (RoutingDecision, "routingdecision"),
        (StoreAssignment, "storeassignment"),
        (OrderStatusChange, "orderstatuschange"),
    ],
)
def test_ledgers_are_view_only(hq_client, world, model, name):
    world.stock(world.a, world.tv, 5)
    paid_order(world)
    row = model.objects.order_by("pk").first()
    before = model.objects.values().get(pk=row.pk)
    base = f"/admin/orders/{name}/"

    assert queries(hq_client, base) > 0  # the list renders
    text = page(hq_client.get(f"{base}{row.pk}/change/"))
    for field in model._meta.concrete_fields:
        assert f'name="{field.name}"' not in text, field.name
    assert 'name="_save"' not in text
    assert hq_client.get(f"{base}add/").status_code == 403
    assert hq_client.post(f"{base}{row.pk}/change/", {"amount": "1"}).status_code == 403
    assert hq_client.post(f"{base}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert model.objects.values().get(pk=row.pk) == before


@pytest.mark.parametrize(
    "url",
    [
        "/admin/orders/payment/",
        "/admin/orders/revenueshare/",
        "/admin/orders/routingdecision/",
        "/admin/orders/storeassignment/",
        "/admin/orders/orderstatuschange/",
        "/admin/orders/revenuerule/",
    ],
)
def test_ledger_lists_run_a_constant_number_of_queries(hq_client, world, url):
    world.stock(world.a, world.tv, 50)
    world.stock(world.b, world.tv, 50)

    def grow(n):
        for _ in range(n):
            order = paid_order(world)
            assignment_reject(order=order, store=order.fulfilling_location, reason="No staff", actor=SYSTEM)
            order_cancel(order=order, reason="Changed mind", actor=hq_user())

    grow(1)
    hq_client.get(url)
    few = queries(hq_client, url)
    grow(5)
    ChannelFactory(code="jd", name="JD")
    assert queries(hq_client, url) == few


# --- Cancel


def test_cancel_action_cancels_through_the_service(hq_client, hq, world):
    world.stock(world.a, world.tv, 3)
    order = paid_order(world)
    assert stock_of(world.a, world.tv) == (3, 1)

    response = cancel(hq_client, [order])

    assert "Cancelled 1 order: stock released, payment refunded." in page(response)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert stock_of(world.a, world.tv) == (3, 0)
    assert StockMovement.objects.filter(reference=order.number, kind="release").count() == 1
    refund = Payment.objects.get(order=order, kind=PaymentKind.REFUND)
    assert refund.amount == order.total and refund.reverses.kind == PaymentKind.PAYMENT
    assert refund.created_by == hq
    last = order.status_changes.order_by("-id").first()
    assert (last.to_status, last.reason, last.changed_by) == (OrderStatus.CANCELLED, HQ_CANCEL_REASON, hq)
    assert sum(RevenueShare.objects.filter(line__order=order).values_list("amount", flat=True)) == 0
    assert order.assignments.get().status == "withdrawn"


def test_cancel_refusal_is_shown_and_changes_nothing(hq_client, world):
    world.stock(world.a, world.tv, 3)
    shipped = shipped_order(world)
    open_order = paid_order(world)
    movements = StockMovement.objects.count()
    payments = Payment.objects.count()

    response = cancel(hq_client, [shipped, open_order])

    text = page(response)
    assert f"Order {shipped.number} was not cancelled" in text
    assert "from “Shipped” to “Cancelled”" in text
    assert "Cancelled 1 order" in text
    shipped.refresh_from_db()
    assert shipped.status == OrderStatus.SHIPPED
    assert not Payment.objects.filter(order=shipped, kind=PaymentKind.REFUND).exists()
    assert not shipped.status_changes.filter(to_status=OrderStatus.CANCELLED).exists()
    # Only the open order's release and refund were written.
    assert StockMovement.objects.count() == movements + 1
    assert Payment.objects.count() == payments + 1
    assert stock_of(world.a, world.tv) == (2, 0)


def test_cancel_from_the_order_page(hq_client, world):
    world.stock(world.a, world.tv, 3)
    order = paid_order(world)
    url = f"/admin/orders/order/{order.pk}/change/"

    assert "cancel_orders" in page(hq_client.get(url))
    response = hq_client.post(
        url, {"CHANGE_FORM-action": "cancel_orders", "_selected_action": [order.pk], "index": 0}, follow=True
    )

    assert "Cancelled 1 order" in page(response)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED


def test_cancel_is_not_offered_to_staff_without_the_hq_role(client, world):
    world.stock(world.a, world.tv, 3)
    order = paid_order(world)
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_order", "change_order"]))
    client.force_login(staff)

    response = client.get("/admin/orders/order/")
    assert response.status_code == 200
    assert "cancel_orders" not in response.content.decode()
    cancel(client, [order])
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED


# --- Revenue rules


def test_revenue_rule_over_the_whole_line_is_refused_on_the_form(hq_client, world):
    rule = RevenueRule.objects.get(channel=world.mall)
    url = f"/admin/orders/revenuerule/{rule.pk}/change/"

    response = hq_client.post(
        url,
        {
            "channel": world.mall.pk,
            "fulfilling_fee_percent": "60",
            "fulfilling_fee_fixed": "0",
            "origin_share_percent": "50",
        },
    )

    assert response.status_code == 200
    assert (
        "fee (60%) and the origin store's share (50%) add up to 110%: together they can take at most"
        in page(response)
    )
    rule.refresh_from_db()
    assert (rule.fulfilling_fee_percent, rule.origin_share_percent) == (Decimal("8.00"), Decimal("5.00"))


def test_revenue_rule_refuses_a_negative_fee(hq_client):
    channel = ChannelFactory(code="tmall", name="Tmall")

    response = hq_client.post(
        "/admin/orders/revenuerule/add/",
        {
            "channel": channel.pk,
            "fulfilling_fee_percent": "-1",
            "fulfilling_fee_fixed": "0",
            "origin_share_percent": "5",
        },
    )

    assert "Cannot be negative." in page(response)
    assert not RevenueRule.objects.filter(channel=channel).exists()


def test_hq_sets_the_split_for_a_channel(hq_client, world):
    channel = ChannelFactory(code="jd", name="JD")

    response = hq_client.post(
        "/admin/orders/revenuerule/add/",
        {
            "channel": channel.pk,
            "fulfilling_fee_percent": "6.5",
            "fulfilling_fee_fixed": "2",
            "origin_share_percent": "3",
        },
        follow=True,
    )

    assert "was added successfully" in page(response)
    rule = RevenueRule.objects.get(channel=channel)
    assert (rule.fulfilling_fee_percent, rule.fulfilling_fee_fixed, rule.origin_share_percent) == (
        Decimal("6.50"),
        Decimal("2.00"),
        Decimal("3.00"),
    )
    assert "90.50" in page(hq_client.get("/admin/orders/revenuerule/"))  # what the brand keeps
