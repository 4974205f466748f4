"""Serial numbers of the units that leave: shipped, collected or carried out, one serial per unit of
each serial-tracked line, refused (with nothing written) when missing, repeated or still sold;
through the services, the API and the store's pages."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalog.services import price_set
from config.roles import SYSTEM
from orders.choices import DeliveryMethod, OrderStatus, Origin
from orders.errors import OrderRefused
from orders.fulfilment import assignment_accept, order_collect, order_ready_for_pickup, order_ship
from orders.models import Order, OrderStatusChange, Payment, SoldUnit
from orders.services import LineRequest, order_create, order_pay
from stores.models import Stock
from tests.factories import SKUFactory, clerk_at
from tests.world import north

pytestmark = pytest.mark.django_db


@pytest.fixture
def oled(world):
    """A serial-tracked TV with a price."""
    sku = SKUFactory(code="OLED-65", serial_tracked=True)
    price_set(
        sku=sku,
        channel=None,
        amount=Decimal("8999.00"),
        valid_from=timezone.now() - timedelta(days=1),
        actor=SYSTEM,
    )
    return sku


def accepted_ship_order(world, lines: list[tuple]) -> Order:
    """Paid and accepted by store A, ready to ship."""
    for sku, quantity in lines:
        world.stock(world.a, sku, quantity)
    lat, lng = north(0.5)
    order = order_create(
        channel=world.mall,
        lines=[LineRequest(sku=sku, quantity=quantity) for sku, quantity in lines],
        delivery_method=DeliveryMethod.SHIP,
        address="1 Chang'an Ave",
        latitude=lat,
        longitude=lng,
        actor=SYSTEM,
    )
    order_pay(order=order, amount=order.total, method="wechat", actor=SYSTEM)
    assignment_accept(order=order, store=world.a, actor=SYSTEM)
    return Order.objects.get(pk=order.pk)


def line_of(order, sku):
    return order.lines.get(sku=sku)


def stock_of(store, sku):
    row = Stock.objects.get(location=store, sku=sku)
    return row.on_hand, row.reserved


def ship(order, store, serials=None):
    return order_ship(order=order, store=store, tracking_number="SF1", serials=serials, actor=SYSTEM)


# --- services ------------------------------------------------------------------------------------


def test_shipping_records_one_unit_per_serial_and_ignores_serials_of_untracked_lines(world, oled):
    order = accepted_ship_order(world, [(oled, 2), (world.phone, 1)])
    tv, phone = line_of(order, oled), line_of(order, world.phone)

    ship(order, world.a, {str(tv.pk): [" sn-001 ", "SN-002"], phone.pk: ["IGNORED"]})

    units = list(
        SoldUnit.objects.order_by("serial").values_list("line_id", "sku_id", "serial", "returned_at")
    )
    assert units == [(tv.pk, oled.pk, "SN-001", None), (tv.pk, oled.pk, "SN-002", None)]
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED
    assert stock_of(world.a, oled) == (0, 0)


@pytest.mark.parametrize(
    "given",
    [None, [], ["SN-1"], ["SN-1", " "], ["SN-1", "SN-2", "SN-3"]],
    ids=["none", "empty", "one-short", "blank", "one-too-many"],
)
def test_missing_or_extra_serials_refuse_the_shipment_and_write_nothing(world, oled, given):
    order = accepted_ship_order(world, [(oled, 2)])
    tv = line_of(order, oled)
    history = OrderStatusChange.objects.filter(order=order).count()

    with pytest.raises(OrderRefused) as refused:
        ship(order, world.a, {tv.pk: given} if given is not None else None)

    assert refused.value.code == "serials_refused"
    assert "OLED-65 needs 2 serial numbers, one per unit" in refused.value.fields[f"serials[{tv.pk}]"][-1]
    order.refresh_from_db()
    assert (order.status, order.tracking_number) == (OrderStatus.ACCEPTED, "")
    assert OrderStatusChange.objects.filter(order=order).count() == history
    assert not SoldUnit.objects.exists()
    assert stock_of(world.a, oled) == (2, 2)  # still reserved, nothing sold


def test_a_serial_given_twice_is_refused(world, oled):
    order = accepted_ship_order(world, [(oled, 2)])
    tv = line_of(order, oled)
    with pytest.raises(OrderRefused) as refused:
        ship(order, world.a, {tv.pk: ["SN-1", "sn-1"]})
    assert refused.value.fields[f"serials[{tv.pk}]"] == ["Given twice: SN-1."]
    assert not SoldUnit.objects.exists()


def test_a_serial_sold_and_not_returned_is_refused_until_it_comes_back(world, oled):
    first = accepted_ship_order(world, [(oled, 1)])
    ship(first, world.a, {line_of(first, oled).pk: ["SN-7"]})
    second = accepted_ship_order(world, [(oled, 1)])
    line = line_of(second, oled)

    with pytest.raises(OrderRefused) as refused:
        ship(second, world.a, {line.pk: ["sn-7"]})
    assert refused.value.fields[f"serials[{line.pk}]"] == [
        f"Serial SN-7 was sold on order {first.number} and not returned."
    ]
    assert SoldUnit.objects.count() == 1

    SoldUnit.objects.filter(serial="SN-7").update(returned_at=timezone.now())  # the unit came back
    ship(second, world.a, {line.pk: ["SN-7"]})
    assert SoldUnit.objects.filter(serial="SN-7", returned_at__isnull=True).get().line == line


def test_the_same_serial_on_another_sku_is_another_unit(world, oled):
    other = SKUFactory(code="OLED-77", serial_tracked=True)
    price_set(
        sku=other,
        channel=None,
        amount=Decimal("9999.00"),
        valid_from=timezone.now() - timedelta(days=1),
        actor=SYSTEM,
    )
    order = accepted_ship_order(world, [(oled, 1), (other, 1)])
    ship(order, world.a, {line_of(order, oled).pk: ["SN-1"], line_of(order, other).pk: ["SN-1"]})
    assert SoldUnit.objects.filter(serial="SN-1").count() == 2


@pytest.mark.parametrize(
    ("serials", "field", "message"),
    [
        ({"999999": ["SN-1"]}, "serials[999999]", "Not a line of order"),
        ({"abc": ["SN-1"]}, "serials[abc]", "Not a line of order"),
        ("SN-1", "serials", "A mapping of line ids"),
    ],
)
def test_serials_for_lines_not_on_the_order_are_refused(world, oled, serials, field, message):
    order = accepted_ship_order(world, [(oled, 1)])
    with pytest.raises(OrderRefused) as refused:
        ship(order, world.a, serials)
    assert message in refused.value.fields[field][0]
    assert not SoldUnit.objects.exists()


@pytest.mark.parametrize("bad", ["SN 1", "X" * 65, "SN\x001"])
def test_a_serial_with_spaces_or_too_long_is_refused(world, oled, bad):
    order = accepted_ship_order(world, [(oled, 1)])
    tv = line_of(order, oled)
    with pytest.raises(OrderRefused) as refused:
        ship(order, world.a, {tv.pk: [bad]})
    assert "is not a serial number" in refused.value.fields[f"serials[{tv.pk}]"][0]


def test_a_serial_tracked_pickup_needs_serials_when_collected(world, oled):
    world.stock(world.b, oled, 1)
    order = order_create(
        channel=world.mall,
        lines=[LineRequest(oled, 1)],
        delivery_method=DeliveryMethod.PICKUP,
        pickup_store=world.b,
        actor=SYSTEM,
    )
    order_pay(order=order, amount=order.total, method="alipay", actor=SYSTEM)
    assignment_accept(order=order, store=world.b, actor=SYSTEM)
    ready = order_ready_for_pickup(order=order, store=world.b, actor=SYSTEM)
    line = line_of(order, oled)

    with pytest.raises(OrderRefused):
        order_collect(order=order, store=world.b, pickup_code=ready.pickup_code, actor=SYSTEM)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.READY_FOR_PICKUP

    order_collect(
        order=order, store=world.b, pickup_code=ready.pickup_code, serials={line.pk: ["PK-1"]}, actor=SYSTEM
    )
    assert list(line.units.values_list("serial", flat=True)) == ["PK-1"]
    assert Order.objects.get(pk=order.pk).status == OrderStatus.COMPLETED


def carry_out_order(world, sku, quantity=1):
    world.stock(world.a, sku, quantity)
    return order_create(
        channel=world.stores_channel,
        lines=[LineRequest(sku, quantity)],
        delivery_method=DeliveryMethod.CARRY_OUT,
        origin=Origin.IN_STORE,
        origin_store=world.a,
        actor=SYSTEM,
    )


def test_a_carried_out_serial_tracked_unit_needs_its_serial_with_the_payment(world, oled):
    order = carry_out_order(world, oled)
    line = line_of(order, oled)

    with pytest.raises(OrderRefused) as refused:
        order_pay(order=order, amount=order.total, method="cash", actor=SYSTEM)
    assert f"serials[{line.pk}]" in refused.value.fields
    assert not Payment.objects.filter(order=order).exists()
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CREATED
    assert stock_of(world.a, oled) == (1, 1)

    order_pay(order=order, amount=order.total, method="cash", serials={line.pk: ["CO-1"]}, actor=SYSTEM)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.COMPLETED
    assert list(line.units.values_list("serial", flat=True)) == ["CO-1"]
    assert stock_of(world.a, oled) == (0, 0)


def test_untracked_lines_need_no_serials_and_cost_no_query(world, django_assert_num_queries):
    from orders.services import sold_units_record

    order = accepted_ship_order(world, [(world.tv, 2)])
    lines = list(order.lines.select_related("sku"))
    with django_assert_num_queries(0):
        assert sold_units_record(order=order, lines=lines, serials=None) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_shipments_of_one_serial_at_once_sell_it_once(world, oled):
    """The partial unique index decides when both pass the check before either commits."""
    orders = [accepted_ship_order(world, [(oled, 1)]) for _ in range(2)]
    barrier = threading.Barrier(2)
    outcomes = []

    def run(order):
        try:
            barrier.wait()
            ship(order, world.a, {line_of(order, oled).pk: ["RACE-1"]})
            outcomes.append("shipped")
        except OrderRefused as error:
            outcomes.append(error.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(order,)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["serials_refused", "shipped"]
    assert SoldUnit.objects.filter(serial="RACE-1").count() == 1


# --- API -----------------------------------------------------------------------------------------

URL = "/api/v1/orders/"


def api(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client, url, data):
    return client.post(url, data, content_type="application/json")


def test_api_ship_takes_serials_and_refuses_missing_ones_with_a_400(world, oled):
    order = accepted_ship_order(world, [(oled, 2)])
    tv = line_of(order, oled)
    clerk = api(clerk_at(world.a))
    url = f"{URL}{order.number}/ship/"

    missing = post(clerk, url, {"tracking_number": "SF1", "serials": {str(tv.pk): ["SN-1"]}})
    assert missing.status_code == 400
    body = missing.json()
    assert body["code"] == "serials_refused"
    assert body["fields"][f"serials[{tv.pk}]"] == ["OLED-65 needs 2 serial numbers, one per unit; 1 given."]
    assert not SoldUnit.objects.exists()

    bad_shape = post(clerk, url, {"tracking_number": "SF1", "serials": {str(tv.pk): "SN-1"}})
    assert bad_shape.status_code == 400 and "serials" in bad_shape.json()["fields"]

    shipped = post(clerk, url, {"tracking_number": "SF1", "serials": {str(tv.pk): ["SN-1", "SN-2"]}})
    assert shipped.status_code == 200, shipped.content
    assert shipped.json()["status"] == "shipped"
    assert sorted(tv.units.values_list("serial", flat=True)) == ["SN-1", "SN-2"]


def test_api_collect_and_carry_out_payment_take_serials(world, oled, hq):
    client = api(hq)
    world.stock(world.b, oled, 1)
    pickup = order_create(
        channel=world.mall,
        lines=[LineRequest(oled, 1)],
        delivery_method=DeliveryMethod.PICKUP,
        pickup_store=world.b,
        actor=SYSTEM,
    )
    order_pay(order=pickup, amount=pickup.total, method="alipay", actor=SYSTEM)
    assignment_accept(order=pickup, store=world.b, actor=SYSTEM)
    ready = order_ready_for_pickup(order=pickup, store=world.b, actor=SYSTEM)
    line = line_of(pickup, oled)
    collected = post(
        client,
        f"{URL}{pickup.number}/collect/",
        {"pickup_code": ready.pickup_code, "serials": {str(line.pk): ["PK-9"]}},
    )
    assert collected.status_code == 200, collected.content
    assert line.units.get().serial == "PK-9"

    carry = carry_out_order(world, oled)
    carry_line = line_of(carry, oled)
    refused = post(client, f"{URL}{carry.number}/pay/", {"amount": str(carry.total), "method": "cash"})
    assert (refused.status_code, refused.json()["code"]) == (400, "serials_refused")
    assert not Payment.objects.filter(order=carry).exists()
    paid = post(
        client,
        f"{URL}{carry.number}/pay/",
        {"amount": str(carry.total), "method": "cash", "serials": {str(carry_line.pk): ["CO-9"]}},
    )
    assert paid.status_code == 201, paid.content
    assert carry_line.units.get().serial == "CO-9"


# --- the store's pages ---------------------------------------------------------------------------


def test_the_queue_asks_for_a_serial_per_unit_and_ships_with_them(client, world, oled):
    order = accepted_ship_order(world, [(oled, 2), (world.phone, 1)])
    tv = line_of(order, oled)
    client.force_login(clerk_at(world.a))
    url = reverse("orders:queue", args=[world.a.code])

    page = client.get(url).content.decode()
    assert f'name="serial-{tv.pk}-0"' in page and f'name="serial-{tv.pk}-1"' in page
    assert f'name="serial-{line_of(order, world.phone).pk}-0"' not in page

    response = client.post(
        url, {"order": order.number, "action": "ship", "tracking_number": "SF9", f"serial-{tv.pk}-0": "Q-1"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "OLED-65 needs 2 serial numbers, one per unit; 1 given." in body
    assert 'value="Q-1"' in body  # what was typed is kept
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ACCEPTED
    assert not SoldUnit.objects.exists()

    response = client.post(
        url,
        {
            "order": order.number,
            "action": "ship",
            "tracking_number": "SF9",
            f"serial-{tv.pk}-0": "Q-1",
            f"serial-{tv.pk}-1": "Q-2",
        },
    )
    assert response.status_code == 302
    assert sorted(tv.units.values_list("serial", flat=True)) == ["Q-1", "Q-2"]
    detail = client.get(reverse("orders:detail", args=[order.number])).content.decode()
    assert "Q-1" in detail and "Q-2" in detail


def test_the_queue_with_serial_inputs_stays_flat_in_queries(
    client, world, oled, django_assert_max_num_queries
):
    for _ in range(3):
        accepted_ship_order(world, [(oled, 2)])
    client.force_login(clerk_at(world.a))
    with django_assert_max_num_queries(10):  # the same pin as the queue without serials
        assert client.get(reverse("orders:queue", args=[world.a.code])).status_code == 200


def test_the_counter_payment_of_a_carried_out_unit_takes_its_serial(client, world, oled):
    order = carry_out_order(world, oled)
    line = line_of(order, oled)
    client.force_login(clerk_at(world.a))
    url = reverse("orders:pay", args=[order.number])

    assert f'name="serial-{line.pk}-0"' in client.get(url).content.decode()
    refused = client.post(url, {"amount": str(order.total), "method": "cash"})
    assert refused.status_code == 200
    assert "OLED-65 needs 1 serial number, one per unit; 0 given." in refused.content.decode()
    assert not Payment.objects.filter(order=order).exists()

    paid = client.post(url, {"amount": str(order.total), "method": "cash", f"serial-{line.pk}-0": "ct-1"})
    assert paid.status_code == 302
    assert line.units.get().serial == "CT-1"
    assert Order.objects.get(pk=order.pk).status == OrderStatus.COMPLETED
