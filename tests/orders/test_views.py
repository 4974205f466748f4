"""Order pages: the store queue (accept, reject, ship, ready, collect) and its store boundary, the
order page, the list, the clerk's endless-aisle order with payment, the store's QR code and the
public page a customer reaches by scanning it. Outcomes are asserted in the database."""

import io
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from PIL import Image

from config.roles import SYSTEM
from members.models import Member
from orders import views
from orders.choices import AssignmentStatus, DeliveryMethod, OrderStatus, Origin, PaymentKind, ShareParty
from orders.fulfilment import assignment_accept, order_ready_for_pickup
from orders.models import Order, Payment, RevenueShare, StoreAssignment
from orders.services import LineRequest, order_create, order_pay
from portal import store_order
from stores.choices import StoreStatus
from stores.models import Stock, StockMovement
from tests.factories import MemberFactory, PartnerFactory, UserFactory, clerk_at
from tests.helpers import login_into
from tests.world import north

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()  # the public page counts submissions per address in the cache
    yield
    cache.clear()


def ship_order(world, *, km_north=1.0, lines=None, paid=True, **kwargs):
    lat, lng = north(km_north)
    order = order_create(
        channel=kwargs.pop("channel", world.mall),
        lines=lines or [LineRequest(world.tv, 1)],
        delivery_method=DeliveryMethod.SHIP,
        address="1 Chang'an Ave",
        latitude=lat,
        longitude=lng,
        **({"actor": SYSTEM} | kwargs),
    )
    if paid:
        order_pay(order=order, amount=order.total, method="wechat", actor=SYSTEM)
        order.refresh_from_db()
    return order


def pickup_order(world, store):
    order = order_create(
        channel=world.mall,
        lines=[LineRequest(world.tv, 1)],
        delivery_method=DeliveryMethod.PICKUP,
        pickup_store=store,
        actor=SYSTEM,
    )
    order_pay(order=order, amount=order.total, method="alipay", actor=SYSTEM)
    order.refresh_from_db()
    return order


def stock_of(store, sku):
    row = Stock.objects.filter(location=store, sku=sku).first()
    return (row.on_hand, row.reserved) if row else (0, 0)


def queue_url(store):
    return reverse("orders:queue", args=[store.code])


def post_action(client, store, order, action, **data):
    return client.post(queue_url(store), {"order": order.number, "action": action, **data})


# --- the store queue -------------------------------------------------------------------------


def test_queue_shows_only_own_stores_offers_and_another_stores_queue_is_404(client, world):
    world.stock(world.a, world.tv, 1)
    world.stock(world.c, world.tv, 1)
    for_a = ship_order(world, km_north=0.5)
    for_c = ship_order(world, km_north=25)
    assert (for_a.fulfilling_location, for_c.fulfilling_location) == (world.a, world.c)
    login_into(client, clerk_at(world.a))

    response = client.get(queue_url(world.a))
    body = response.content.decode()
    assert response.status_code == 200
    assert for_a.number in body
    assert for_c.number not in body
    assert [o.order.number for o in response.context["offers"]] == [for_a.number]
    assert response.context["offer_count"] == 1
    assert "left to answer" in body

    assert client.get(queue_url(world.c)).status_code == 404
    assert post_action(client, world.c, for_c, "accept").status_code == 404
    assert StoreAssignment.objects.get(order=for_c).status == AssignmentStatus.OFFERED


def test_accept_through_the_queue_moves_the_order_to_the_accepted_list(client, world):
    world.stock(world.a, world.tv, 1)
    order = ship_order(world, km_north=0.5)
    clerk = clerk_at(world.a)
    login_into(client, clerk)

    response = post_action(client, world.a, order, "accept")
    assert response.status_code == 302 and response["Location"] == queue_url(world.a)
    order.refresh_from_db()
    assignment = order.assignments.get()
    assert order.status == OrderStatus.ACCEPTED
    assert (assignment.status, assignment.responded_by) == (AssignmentStatus.ACCEPTED, clerk)

    page = client.get(queue_url(world.a))
    assert "accepted" in page.content.decode()
    assert [o.number for o in page.context["to_ship"]] == [order.number]
    assert page.context["offers"] == []


def test_reject_with_a_reason_moves_the_order_and_its_reservation_to_the_next_store(client, world):
    world.stock(world.a, world.tv, 1)
    world.stock(world.b, world.tv, 1)
    order = ship_order(world, km_north=4)  # 1 km from B, 4 km from A
    assert order.fulfilling_location == world.b
    login_into(client, clerk_at(world.b))

    response = post_action(client, world.b, order, "reject", reason="No courier today")
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.fulfilling_location == world.a
    assert order.status == OrderStatus.ALLOCATED
    assert stock_of(world.b, world.tv) == (1, 0)
    assert stock_of(world.a, world.tv) == (1, 1)
    rejected = order.assignments.get(store=world.b)
    assert (rejected.status, rejected.reason) == (AssignmentStatus.REJECTED, "No courier today")
    page = client.get(queue_url(world.b))
    assert page.context["offers"] == []
    assert "rejected. It goes on to the next store" in page.content.decode()


def test_reject_without_a_reason_shows_the_message_and_changes_nothing(client, world):
    world.stock(world.a, world.tv, 1)
    order = ship_order(world, km_north=0.5)
    login_into(client, clerk_at(world.a))

    response = post_action(client, world.a, order, "reject", reason="  ")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Say why the store rejects the order." in body
    assert "Nothing was changed" in body
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED
    assert order.assignments.get().status == AssignmentStatus.OFFERED
    assert stock_of(world.a, world.tv) == (1, 1)


def test_ship_with_a_tracking_number_sells_the_reserved_stock(client, world):
    world.stock(world.a, world.tv, 3)
    order = ship_order(world, km_north=0.5)
    assignment_accept(order=order, store=world.a, actor=SYSTEM)
    login_into(client, clerk_at(world.a))

    response = post_action(client, world.a, order, "ship", tracking_number="")
    assert "Give the carrier&#x27;s tracking number." in response.content.decode()
    assert stock_of(world.a, world.tv) == (3, 1)

    response = post_action(client, world.a, order, "ship", tracking_number=" SF1234 ")
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.tracking_number) == (OrderStatus.SHIPPED, "SF1234")
    assert stock_of(world.a, world.tv) == (2, 0)
    assert StockMovement.objects.filter(reference=order.number, kind="sale").count() == 1


def test_ready_for_pickup_then_collect_with_the_right_code_only(client, world):
    world.stock(world.b, world.tv, 1)
    order = pickup_order(world, world.b)
    assignment_accept(order=order, store=world.b, actor=SYSTEM)
    login_into(client, clerk_at(world.b))

    page = client.get(queue_url(world.b))
    assert [o.number for o in page.context["to_prepare"]] == [order.number]
    assert "Ready for pickup" in page.content.decode()
    assert post_action(client, world.b, order, "ready").status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.READY_FOR_PICKUP
    code = order.pickup_code
    assert len(code) == 6
    assert code not in client.get(queue_url(world.b)).content.decode()  # the customer has it, not the page

    wrong = "000000" if code != "000000" else "111111"
    response = post_action(client, world.b, order, "collect", pickup_code=wrong)
    body = response.content.decode()
    assert response.status_code == 200
    assert "That pickup code does not match this order." in body
    assert "Ask the customer for the code" in body
    order.refresh_from_db()
    assert order.status == OrderStatus.READY_FOR_PICKUP
    assert stock_of(world.b, world.tv) == (1, 1)

    assert post_action(client, world.b, order, "collect", pickup_code=code).status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert stock_of(world.b, world.tv) == (0, 0)


def test_queue_action_on_an_order_offered_elsewhere_is_refused(client, world):
    world.stock(world.a, world.tv, 1)
    world.stock(world.b, world.tv, 1)
    order = ship_order(world, km_north=4)  # offered to B
    hq = UserFactory(roles=["HQ admin"])
    login_into(client, hq)
    response = post_action(client, world.a, order, "accept")
    assert response.status_code == 200
    assert "is not waiting for Store A" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED


@pytest.mark.parametrize("orders", [1, 8])
def test_queue_query_count_is_flat(client, world, django_assert_max_num_queries, orders):
    world.stock(world.a, world.tv, 100)
    world.stock(world.a, world.phone, 100)
    lines = [LineRequest(world.tv, 1), LineRequest(world.phone, 1)]
    for _ in range(orders):
        ship_order(world, km_north=0.5, lines=lines)
        assignment_accept(order=ship_order(world, km_north=0.5, lines=lines), store=world.a, actor=SYSTEM)
        accepted = pickup_order(world, world.a)
        assignment_accept(order=accepted, store=world.a, actor=SYSTEM)
        order_ready_for_pickup(order=accepted, store=world.a, actor=SYSTEM)
    login_into(client, clerk_at(world.a))
    # session, user, groups, store, offers + lines, to fulfil + lines, pickups + lines
    with django_assert_max_num_queries(10):
        response = client.get(queue_url(world.a))
    assert response.context["offer_count"] == orders
    assert response.context["fulfil_count"] == orders
    assert response.context["pickup_count"] == orders


def test_queue_over_its_limit_costs_the_same_queries_and_counts_every_order(
    client, world, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(views, "QUEUE_LIMIT", 2)
    world.stock(world.a, world.tv, 100)

    def add_to_every_list(orders):
        for _ in range(orders):
            ship_order(world, km_north=0.5)
            assignment_accept(order=ship_order(world, km_north=0.5), store=world.a, actor=SYSTEM)
            accepted = pickup_order(world, world.a)
            assignment_accept(order=accepted, store=world.a, actor=SYSTEM)
            order_ready_for_pickup(order=accepted, store=world.a, actor=SYSTEM)

    add_to_every_list(1)
    login_into(client, clerk_at(world.a))
    client.get(queue_url(world.a))  # the session's first touches
    with django_assert_max_num_queries(10) as under_the_limit:
        client.get(queue_url(world.a))
    add_to_every_list(2)  # 3 in each list, over the limit of 2
    with django_assert_max_num_queries(10) as over_the_limit:
        response = client.get(queue_url(world.a))
    assert len(over_the_limit.captured_queries) == len(under_the_limit.captured_queries)
    assert [len(response.context[name]) for name in ("offers", "to_ship", "pickups")] == [2, 2, 2]
    assert [response.context[name] for name in ("offer_count", "fulfil_count", "pickup_count")] == [3, 3, 3]


# --- order page and list -----------------------------------------------------------------------


def test_order_page_shows_lines_routing_payment_and_shares_to_its_stores_clerk(client, world):
    world.stock(world.a, world.tv, 1)
    world.stock(world.b, world.tv, 1)
    member = MemberFactory(name="Han Meimei")
    order = ship_order(world, km_north=4, member=member)
    login_into(client, clerk_at(world.b))

    response = client.get(reverse("orders:detail", args=[order.number]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "TV-55" in body and "2999.00" in body
    assert "Han Meimei" in body
    assert "Nearest store with every line" in body  # the routing reason
    assert "Store A" in body and "4.0 km" in body  # a candidate with its distance
    assert "WeChat Pay" in body
    assert "Fulfilling store&#x27;s fee" in body and "239.92" in body  # 8 % of 2999.00
    assert "Waiting for the store" in body  # the assignment
    assert "Cancel the order" in body


def test_order_page_is_404_for_another_stores_clerk(client, world):
    world.stock(world.a, world.tv, 1)
    order = ship_order(world, km_north=0.5)
    login_into(client, clerk_at(world.c))
    assert client.get(reverse("orders:detail", args=[order.number])).status_code == 404
    assert client.post(reverse("orders:detail", args=[order.number]), {"reason": "x"}).status_code == 404
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED


def test_cancel_from_the_order_page_releases_the_stock_and_refunds(client, world):
    world.stock(world.a, world.tv, 1)
    order = ship_order(world, km_north=0.5)
    login_into(client, clerk_at(world.a))
    url = reverse("orders:detail", args=[order.number])

    response = client.post(url, {"reason": ""})
    assert "This field is required." in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED

    response = client.post(url, {"reason": "Customer changed their mind"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert stock_of(world.a, world.tv) == (1, 0)
    assert Payment.objects.filter(order=order, kind=PaymentKind.REFUND).count() == 1
    page = client.get(url).content.decode()
    assert "Customer changed their mind" in page
    assert "Cancel the order" not in page


def test_cancelling_an_order_that_has_shipped_says_so_and_changes_nothing(client, world):
    world.stock(world.a, world.tv, 1)
    order = ship_order(world, km_north=0.5)
    login_into(client, clerk_at(world.a))
    assignment_accept(order=order, store=world.a, actor=SYSTEM)
    post_action(client, world.a, order, "ship", tracking_number="SF9")
    response = client.post(reverse("orders:detail", args=[order.number]), {"reason": "Too late"}, follow=True)
    assert "can no longer be cancelled" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    assert not Payment.objects.filter(order=order, kind=PaymentKind.REFUND).exists()


def test_a_partner_user_who_sees_the_order_cannot_cancel_it(client, world):
    world.stock(world.a, world.tv, 1)
    order = ship_order(world, km_north=0.5)
    partner = PartnerFactory()
    world.a.partner = partner
    world.a.save()
    user = UserFactory(roles=["Partner"])
    partner.users.add(user)
    login_into(client, user)
    url = reverse("orders:detail", args=[order.number])
    assert "Cancel the order" not in client.get(url).content.decode()
    assert client.post(url, {"reason": "no"}).status_code == 403
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED


@pytest.mark.parametrize("rows", [1, 6])
def test_order_page_query_count_is_flat(client, world, django_assert_max_num_queries, rows):
    world.stock(world.a, world.tv, 100)
    world.stock(world.a, world.phone, 100)
    order = ship_order(world, km_north=0.5, lines=[LineRequest(world.tv, rows), LineRequest(world.phone, 1)])
    login_into(client, clerk_at(world.a))
    # session, user, groups, order, staff check, lines, history, decisions, candidate names,
    # assignments, payments, shares, tickets, stock movements, commission entries (the timeline)
    with django_assert_max_num_queries(15):
        response = client.get(reverse("orders:detail", args=[order.number]))
    assert response.status_code == 200


def test_order_list_is_scoped_newest_first_and_filters_by_status(
    client, world, django_assert_max_num_queries
):
    world.stock(world.a, world.tv, 5)
    world.stock(world.c, world.tv, 5)
    first = ship_order(world, km_north=0.5)
    second = ship_order(world, km_north=0.5, paid=False)
    elsewhere = ship_order(world, km_north=25)
    login_into(client, clerk_at(world.a))

    # session, user, groups, count, page
    with django_assert_max_num_queries(5):
        response = client.get(reverse("orders:list"))
    numbers = [o.number for o in response.context["page_obj"]]
    assert numbers == [second.number, first.number]
    assert elsewhere.number not in response.content.decode()

    response = client.get(reverse("orders:list"), {"status": "created"})
    assert [o.number for o in response.context["page_obj"]] == [second.number]


# --- the clerk's order (endless aisle) ---------------------------------------------------------


def clerk_form(**overrides):
    data = {
        "lines-TOTAL_FORMS": "5",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "5",
        "member": "",
        "delivery_method": DeliveryMethod.SHIP,
        "address": "",
        "city": "",
        "latitude": "",
        "longitude": "",
        "recipient_name": "",
        "recipient_phone": "",
        "client_reference": "ref-1",
        "step": "place",
    }
    for i in range(5):
        data[f"lines-{i}-sku"] = ""
        data[f"lines-{i}-quantity"] = "1"
    data.update(overrides)
    return data


def test_clerk_orders_home_delivery_of_a_sku_this_store_lacks_credited_to_store_and_clerk(client, world):
    world.stock(world.b, world.tv, 2)  # A has none; B is 5 km away
    member = MemberFactory(phone="13800138000", name="Li Lei")
    clerk = clerk_at(world.a)
    login_into(client, clerk)
    url = reverse("orders:new", args=[world.a.code])

    response = client.post(
        url,
        clerk_form(
            **{"lines-0-sku": "tv-55", "member": "138 0013 8000", "address": "2 Wangfujing St"},
            use_store_location="on",
        ),
    )
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:pay", args=[order.number])
    assert order.origin_store == world.a
    assert order.placed_by == clerk
    assert order.fulfilling_location == world.b
    assert (order.origin, order.channel, order.member) == (Origin.IN_STORE, world.stores_channel, member)
    assert (order.latitude, order.longitude) == (world.a.latitude, world.a.longitude)
    assert (order.recipient_name, order.recipient_phone) == ("Li Lei", "13800138000")
    assert stock_of(world.b, world.tv) == (2, 1)

    page = client.get(response["Location"])
    assert 'value="2999.00"' in page.content.decode()  # the amount is prefilled with the total
    response = client.post(response["Location"], {"amount": "2999.00", "method": "cash", "reference": ""})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED
    assert order.assignments.get().store == world.b
    origin_share = RevenueShare.objects.get(line__order=order, party=ShareParty.ORIGIN_STORE)
    assert (origin_share.store, origin_share.amount) == (world.a, Decimal("149.95"))
    assert Payment.objects.get(order=order).created_by == clerk
    assert "Paid." in client.get(response["Location"]).content.decode()


def test_a_resent_clerk_form_makes_one_order(client, world):
    world.stock(world.b, world.tv, 2)
    login_into(client, clerk_at(world.a))
    url = reverse("orders:new", args=[world.a.code])
    data = clerk_form(**{"lines-0-sku": "TV-55", "address": "2 Wangfujing St"}, use_store_location="on")
    first = client.post(url, data)
    second = client.post(url, data)
    assert first["Location"] == second["Location"]
    assert Order.objects.count() == 1
    assert stock_of(world.b, world.tv) == (2, 1)


def test_check_step_shows_stock_here_nearby_and_in_the_warehouse_and_writes_nothing(client, world):
    world.stock(world.a, world.tv, 1)
    world.stock(world.b, world.tv, 4)
    world.stock(world.w, world.tv, 70)
    login_into(client, clerk_at(world.a))
    response = client.post(
        reverse("orders:new", args=[world.a.code]),
        clerk_form(**{"lines-0-sku": "TV-55", "lines-0-quantity": "2", "step": "check"}),
    )
    body = response.content.decode()
    info = response.context["checked"][0]
    assert (info.available_here, info.enough_here) == (1, False)
    assert [(row.location.code, row.available) for row in info.nearby] == [("B", 4)]
    assert [(row.location.code, row.available) for row in info.warehouses] == [("W", 70)]
    assert "Central warehouse" in body and "Store B" in body and "5.0 km" in body
    assert "5998.00" in body  # the price on the store channel times the quantity
    assert "Carry out is not offered" in body  # A has only 1 of the 2
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "line, error",
    [
        ({"lines-0-sku": "TV-55", "lines-0-quantity": "0"}, "At least 1."),
        ({"lines-0-sku": "NO-SUCH-SKU", "lines-0-quantity": "1"}, "No SKU has the code or barcode"),
        ({}, "Add at least one SKU."),
    ],
)
def test_bad_input_on_the_clerk_form_shows_errors_and_writes_nothing(client, world, line, error):
    world.stock(world.a, world.tv, 5)
    members = Member.objects.count()
    login_into(client, clerk_at(world.a))
    response = client.post(
        reverse("orders:new", args=[world.a.code]),
        clerk_form(**line, delivery_method=DeliveryMethod.CARRY_OUT),
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Order.objects.exists()
    assert stock_of(world.a, world.tv) == (5, 0)
    assert Member.objects.count() == members


def test_a_refusal_of_the_service_shows_under_the_field_and_writes_nothing(client, world):
    world.stock(world.b, world.tv, 5)
    login_into(client, clerk_at(world.a))
    response = client.post(
        reverse("orders:new", args=[world.a.code]),
        clerk_form(**{"lines-0-sku": "TV-55", "address": "somewhere"}),  # no coordinates
    )
    body = response.content.decode()
    assert "Shipping needs an address with its coordinates." in body
    assert "Give the address&#x27;s latitude (-90 to 90)." in body
    assert not Order.objects.exists()
    assert not StockMovement.objects.filter(kind="reservation").exists()


def test_unknown_member_number_offers_to_register_and_writes_nothing(client, world):
    world.stock(world.a, world.tv, 5)
    login_into(client, clerk_at(world.a))
    response = client.post(
        reverse("orders:new", args=[world.a.code]),
        clerk_form(**{"lines-0-sku": "TV-55", "member": "13912345678", "delivery_method": "carry_out"}),
    )
    body = response.content.decode()
    assert "No member has this mobile or card number." in body
    assert f"{reverse('members:register')}?phone=13912345678" in body
    assert not Order.objects.exists()


def test_carry_out_order_is_complete_when_paid(client, world):
    world.stock(world.a, world.phone, 2)
    login_into(client, clerk_at(world.a))
    response = client.post(
        reverse("orders:new", args=[world.a.code]),
        clerk_form(**{"lines-0-sku": "PHONE-1", "delivery_method": "carry_out"}),
    )
    order = Order.objects.get()
    assert (order.fulfilling_location, order.delivery_method) == (world.a, DeliveryMethod.CARRY_OUT)
    response = client.post(response["Location"], {"amount": "1999.00", "method": "wechat"})
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert stock_of(world.a, world.phone) == (1, 0)
    # Paying again is not offered: the payment page sends the clerk to the order.
    again = client.post(reverse("orders:pay", args=[order.number]), {"amount": "1999.00", "method": "cash"})
    assert again["Location"] == reverse("orders:detail", args=[order.number])
    assert Payment.objects.filter(order=order).count() == 1


def test_a_wrong_amount_is_refused_on_the_payment_page(client, world):
    world.stock(world.a, world.phone, 2)
    login_into(client, clerk_at(world.a))
    response = client.post(
        reverse("orders:new", args=[world.a.code]),
        clerk_form(**{"lines-0-sku": "PHONE-1", "delivery_method": "carry_out"}),
    )
    response = client.post(response["Location"], {"amount": "1000.00", "method": "wechat"})
    assert "does not settle it" in response.content.decode()
    assert not Payment.objects.exists()
    assert Order.objects.get().status == OrderStatus.CREATED


def test_clerk_order_page_is_only_for_the_stores_staff(client, world):
    login_into(client, clerk_at(world.b))
    assert client.get(reverse("orders:new", args=[world.a.code])).status_code == 404
    assert client.get(reverse("orders:new", args=[world.b.code])).status_code == 200
    # A partner user sees the store they run but does not sell at its counter.
    partner = PartnerFactory()
    world.b.partner = partner
    world.b.save()
    partner_user = UserFactory(roles=["Partner"])
    partner.users.add(partner_user)
    login_into(client, partner_user)
    assert client.get(reverse("orders:queue", args=[world.b.code])).status_code == 200
    assert client.get(reverse("orders:new", args=[world.b.code])).status_code == 403


# --- the store's QR code ------------------------------------------------------------------------


def test_qr_png_and_svg_encode_the_public_page_and_the_card_shows_its_url(client, world):
    login_into(client, clerk_at(world.a))
    png = client.get(reverse("orders:qr_png", args=[world.a.code]))
    assert png["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(png.content))
    assert image.format == "PNG" and image.size[0] == image.size[1] >= 200

    svg = client.get(reverse("orders:qr_svg", args=[world.a.code]))
    assert svg["Content-Type"] == "image/svg+xml"
    assert b"<svg" in svg.content

    card = client.get(reverse("orders:qr_card", args=[world.a.code])).content.decode()
    assert "http://testserver/s/A/" in card
    assert "Store A" in card
    assert reverse("orders:qr_svg", args=[world.a.code]) in card
    assert "@media print" in card


def test_qr_of_another_store_is_404(client, world):
    login_into(client, clerk_at(world.a))
    assert client.get(reverse("orders:qr_png", args=[world.b.code])).status_code == 404
    assert client.get(reverse("orders:qr_card", args=[world.b.code])).status_code == 404


# --- the public page behind the QR code ---------------------------------------------------------


def public_form(**overrides):
    data = {
        "lines-TOTAL_FORMS": "5",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "5",
        "phone": "139 1234 5678",
        "name": "Wang Fang",
        "address": "3 Dongdan St",
        "city": "Beijing",
        "latitude": "",
        "longitude": "",
        "client_reference": "qr-ref-1",
        "lines-0-sku": "TV-55",
        "lines-0-quantity": "1",
    }
    for i in range(1, 5):
        data[f"lines-{i}-sku"] = ""
        data[f"lines-{i}-quantity"] = "1"
    data.update(overrides)
    return data


def store_page(store):
    return reverse("orders_public:store", args=[store.code])


def test_public_page_creates_an_order_credited_to_the_store_with_a_new_member(client, world):
    world.stock(world.a, world.tv, 1)
    page = client.get(store_page(world.a))
    assert page.status_code == 200
    assert "Store A" in page.content.decode() and "navigator.geolocation" in page.content.decode()

    response = client.post(store_page(world.a), public_form())
    order = Order.objects.get()
    assert response["Location"] == reverse("orders_public:ordered", args=[world.a.code, order.number])
    member = Member.objects.get(phone="13912345678")
    assert (member.name, member.home_store) == ("Wang Fang", world.a)
    assert (order.origin, order.channel) == (Origin.QR_SCAN, world.stores_channel)
    assert order.origin_store == world.a
    assert (order.member, order.delivery_method, order.placed_by) == (member, DeliveryMethod.SHIP, None)
    # No position shared by the phone: the store's own location stands in.
    assert (order.latitude, order.longitude) == (world.a.latitude, world.a.longitude)
    assert order.fulfilling_location == world.a
    assert stock_of(world.a, world.tv) == (1, 1)

    confirmation = client.get(response["Location"]).content.decode()
    assert order.number in confirmation
    assert "2999.00" in confirmation and "TV-55" in confirmation
    assert "Pay at the counter or by the link sent to your phone." in confirmation


def test_public_order_finds_the_existing_member_and_uses_the_phones_position(client, world):
    world.stock(world.b, world.tv, 1)
    member = MemberFactory(phone="13912345678", name="Wang Fang")
    lat, lng = north(5.2)
    client.post(
        store_page(world.a),
        public_form(phone="+86 139-1234-5678", latitude=f"{lat}1234", longitude=str(lng)),
    )
    order = Order.objects.get()
    assert order.member == member
    assert Member.objects.count() == 1
    assert order.latitude == lat  # rounded to six places
    assert order.fulfilling_location == world.b
    assert order.origin_store == world.a


def test_public_page_with_an_invalid_phone_shows_the_message_and_writes_nothing(client, world):
    world.stock(world.a, world.tv, 1)
    response = client.post(store_page(world.a), public_form(phone="12345"))
    assert response.status_code == 200
    assert "is not a mainland China mobile number" in response.content.decode()
    assert not Order.objects.exists() and not Member.objects.exists()
    assert stock_of(world.a, world.tv) == (1, 0)


def test_public_page_in_chinese_shows_errors_in_chinese(client, world):
    response = client.post(
        store_page(world.a),
        public_form(**{"lines-0-sku": "NOPE"}, phone="12345"),
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    body = response.content.decode()
    assert '<html lang="zh-hans">' in body
    assert "没有编码或条码为“NOPE”的 SKU" in body
    assert "12345 不是中国大陆手机号" in body
    assert not Order.objects.exists() and not Member.objects.exists()


def test_public_order_out_of_stock_writes_no_member_and_no_order(client, world):
    response = client.post(store_page(world.a), public_form())
    assert "no warehouse has every line in stock" in response.content.decode()
    assert not Order.objects.exists() and not Member.objects.exists()


def test_confirmation_page_is_404_from_another_session(client, world):
    world.stock(world.a, world.tv, 1)
    response = client.post(store_page(world.a), public_form())
    assert client.get(response["Location"]).status_code == 200
    assert Client().get(response["Location"]).status_code == 404
    number = Order.objects.get().number
    # Nor under another store's address.
    assert client.get(reverse("orders_public:ordered", args=[world.b.code, number])).status_code == 404


def test_closed_store_and_warehouse_have_no_public_page(client, world):
    world.c.status = StoreStatus.CLOSED
    world.c.save()
    world.stock(world.c, world.tv, 1)
    assert client.get(store_page(world.c)).status_code == 404
    assert client.post(store_page(world.c), public_form()).status_code == 404
    assert client.get(store_page(world.w)).status_code == 404
    assert not Order.objects.exists()


def test_public_page_needs_csrf(world):
    world.stock(world.a, world.tv, 1)
    response = Client(enforce_csrf_checks=True).post(store_page(world.a), public_form())
    assert response.status_code == 403
    assert not Order.objects.exists()


def test_too_many_submissions_from_one_address_are_refused(client, world, monkeypatch):
    monkeypatch.setattr(store_order, "ATTEMPTS_PER_WINDOW", 1)
    world.stock(world.a, world.tv, 5)
    client.post(store_page(world.a), public_form())
    response = client.post(store_page(world.a), public_form(client_reference="qr-ref-2"))
    assert response.status_code == 429
    assert "Too many orders from this connection" in response.content.decode()
    assert Order.objects.count() == 1
