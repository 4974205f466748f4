"""/api/v1/orders/: idempotent intake (Idempotency-Key and channel + external reference), bad input
that writes nothing, scoped lists and details, the store queue, and the order's actions with the
same rules as the services, all in the one error shape."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.roles import SYSTEM
from members.models import Member
from members.services import member_merge
from orders.choices import AssignmentStatus, DeliveryMethod, OrderStatus, Origin, PaymentKind
from orders.models import Order, Payment, RevenueShare, StoreAssignment
from orders.services import LineRequest, order_create, order_pay
from stores.choices import MovementKind
from stores.models import Stock, StockMovement
from tests.factories import MemberFactory, clerk_at
from tests.helpers import assert_error, login
from tests.world import north

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders/"


# --- helpers ----------------------------------------------------------------------------------


def ship_body(km_north=1.0, **overrides) -> dict:
    lat, lng = north(km_north)
    body = {
        "channel": "mall",
        "lines": [{"sku": "TV-55", "quantity": 1}],
        "delivery_method": "ship",
        "recipient_name": "Li Lei",
        "address": "1 Chang'an Ave",
        "latitude": str(lat),
        "longitude": str(lng),
    }
    body.update(overrides)
    return body


def create(client, body, key=None):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(URL, body, content_type="application/json", headers=headers)


def post(client, url, data=None):
    return client.post(url, data or {}, content_type="application/json")


def stock_of(store, sku):
    stock = Stock.objects.get(location=store, sku=sku)
    return stock.on_hand, stock.reserved


def written():
    """What a refused request must leave untouched."""
    return (Order.objects.count(), StockMovement.objects.count(), Member.objects.count())


def ship_order(world, km_north=1.0, channel=None, lines=None, **kwargs) -> Order:
    lat, lng = north(km_north)
    return order_create(
        channel=channel or world.mall,
        lines=lines or [LineRequest(world.tv, 1)],
        delivery_method=DeliveryMethod.SHIP,
        address="1 Chang'an Ave",
        latitude=lat,
        longitude=lng,
        **({"actor": SYSTEM} | kwargs),
    )


def paid_order(world, **kwargs) -> Order:
    order = ship_order(world, **kwargs)
    order_pay(order=order, amount=order.total, method="wechat", actor=SYSTEM)
    order.refresh_from_db()
    return order


# --- access -----------------------------------------------------------------------------------


def test_anonymous_callers_get_403_in_the_error_shape(world):
    assert_error(Client().get(URL), 403, "not_authenticated")
    assert_error(create(Client(), ship_body()), 403, "not_authenticated")
    assert not Order.objects.exists()


# --- intake -----------------------------------------------------------------------------------


def test_create_prices_routes_and_reserves_and_answers_with_the_order(world, hq_client, hq):
    world.stock(world.a, world.tv, 2)

    response = create(hq_client, ship_body(km_north=1))

    assert response.status_code == 201, response.content
    assert "Idempotent-Replayed" not in response.headers
    body = response.json()
    order = Order.objects.get()
    assert body["number"] == order.number
    assert body["status"] == "created"
    assert body["channel"] == "mall"
    assert body["fulfilling_location"]["code"] == "A"
    assert body["total"] == "2999.00"
    assert [(line["sku_code"], line["quantity"], line["unit_price"]) for line in body["lines"]] == [
        ("TV-55", 1, "2999.00")
    ]
    assert body["routing_decisions"][0]["location"]["code"] == "A"
    assert order.placed_by == hq
    assert order.total == Decimal("2999.00")
    assert order.fulfilling_location == world.a
    assert stock_of(world.a, world.tv) == (2, 1)


def test_a_retry_with_the_same_idempotency_key_returns_the_first_order_and_reserves_once(world, hq_client):
    world.stock(world.a, world.tv, 5)
    first = create(hq_client, ship_body(), key="retry-1")
    movements = StockMovement.objects.count()

    replay = create(hq_client, ship_body(), key="retry-1")

    assert first.status_code == replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert Order.objects.count() == 1
    assert StockMovement.objects.count() == movements
    assert stock_of(world.a, world.tv) == (5, 1)


def test_the_same_sku_and_channel_by_id_or_by_code_is_the_same_request(world, hq_client):
    world.stock(world.a, world.tv, 5)
    first = create(hq_client, ship_body(), key="k")

    replay = create(
        hq_client, ship_body(channel=world.mall.pk, lines=[{"sku": world.tv.pk, "quantity": 1}]), key="k"
    )

    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["number"] == first.json()["number"]
    assert Order.objects.count() == 1


def test_the_same_key_with_another_body_is_409_and_writes_nothing(world, hq_client):
    world.stock(world.a, world.tv, 5)
    first = create(hq_client, ship_body(), key="retry-2")
    before = written()

    response = create(hq_client, ship_body(lines=[{"sku": "TV-55", "quantity": 2}]), key="retry-2")

    body = assert_error(response, 409, "idempotency_conflict", "idempotency_key")
    assert first.json()["number"] in body["message"]
    assert written() == before
    assert stock_of(world.a, world.tv) == (5, 1)


def test_two_users_choosing_the_same_key_get_two_orders(world, hq_client):
    world.stock(world.a, world.tv, 5)
    other = login(clerk_at(world.a))

    one = create(hq_client, ship_body(), key="order-1")
    two = create(other, ship_body(origin_store="A"), key="order-1")

    assert one.status_code == two.status_code == 201
    assert "Idempotent-Replayed" not in two.headers
    assert one.json()["number"] != two.json()["number"]
    assert Order.objects.count() == 2
    assert stock_of(world.a, world.tv) == (5, 2)


def test_a_retry_by_channel_and_external_reference_returns_the_first_order(world, hq_client):
    world.stock(world.a, world.tv, 5)
    first = create(hq_client, ship_body(external_reference="TM-1001"))

    replay = create(hq_client, ship_body(external_reference="TM-1001"))  # no key at all

    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert Order.objects.get().external_reference == "TM-1001"
    assert stock_of(world.a, world.tv) == (5, 1)


def test_another_callers_order_is_not_replayed_to_someone_who_cannot_see_it(world):
    # Both clerks place their store's order (people other than HQ place orders only for a store
    # they work at); the reference is the same on one channel.
    world.stock(world.a, world.tv, 5)
    world.stock(world.c, world.tv, 5)
    owner = login(clerk_at(world.a))
    first = create(owner, ship_body(external_reference="TM-9", origin_store="A", origin="in_store"))
    assert first.json()["fulfilling_location"]["code"] == "A"
    before = written()

    response = create(
        login(clerk_at(world.c)), ship_body(external_reference="TM-9", origin_store="C", origin="in_store")
    )

    body = assert_error(response, 409, "idempotency_conflict", "external_reference")
    assert first.json()["number"] not in body["message"]
    assert written() == before


def test_an_external_reference_reused_with_another_body_is_409(world, hq_client):
    world.stock(world.a, world.tv, 5)
    create(hq_client, ship_body(external_reference="TM-1002"))
    before = written()

    response = create(hq_client, ship_body(external_reference="TM-1002", recipient_name="Han Meimei"))

    assert_error(response, 409, "idempotency_conflict", "external_reference")
    assert written() == before


def test_the_same_external_reference_on_another_channel_is_another_order(world, hq_client):
    world.stock(world.a, world.tv, 5)
    create(hq_client, ship_body(external_reference="X-1"))

    response = create(hq_client, ship_body(channel="stores", external_reference="X-1"))

    assert response.status_code == 201
    assert Order.objects.filter(external_reference="X-1").count() == 2


def test_member_phone_finds_or_registers_the_member(world, hq_client):
    world.stock(world.a, world.tv, 5)

    first = create(hq_client, ship_body(member_phone="138 0013 8000"))
    second = create(hq_client, ship_body(member_phone="+86 13800138000"))

    member = Member.objects.get(phone="13800138000")
    assert first.json()["member"] == second.json()["member"] == member.pk
    assert set(Order.objects.values_list("member_id", flat=True)) == {member.pk}


def test_a_clerk_places_an_in_store_carry_out_order_credited_to_the_store(world):
    world.stock(world.a, world.phone, 1)
    clerk = clerk_at(world.a)

    response = create(
        login(clerk),
        {
            "channel": "stores",
            "lines": [{"sku": "PHONE-1", "quantity": 1, "unit_price": "1999.00"}],
            "delivery_method": "carry_out",
            "origin": "in_store",
            "origin_store": "A",
        },
    )

    assert response.status_code == 201, response.content
    order = Order.objects.get(number=response.json()["number"])
    assert (order.origin, order.origin_store, order.placed_by) == (Origin.IN_STORE, world.a, clerk)
    assert order.fulfilling_location == world.a
    assert stock_of(world.a, world.phone) == (1, 1)


# --- bad input: a clear error and nothing written ---------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "code", "field", "named"),
    [
        ({"lines": [{"sku": "NO-SUCH-SKU", "quantity": 1}]}, "invalid", "lines[0].sku", "NO-SUCH-SKU"),
        ({"channel": "nowhere"}, "invalid", "channel", "nowhere"),
        ({"lines": [{"sku": "TV-55", "quantity": 0}]}, "order_refused", "lines[0].quantity", None),
        ({"lines": [{"sku": "TV-55", "quantity": -3}]}, "order_refused", "lines[0].quantity", None),
        ({"lines": [{"sku": "TV-55", "quantity": "many"}]}, "invalid", "lines[0].quantity", None),
        ({"lines": []}, "invalid", "lines", None),
        (
            {"lines": [{"sku": "TV-55", "quantity": 1, "unit_price": "2899.00"}]},
            "price_mismatch",
            "lines[0].unit_price",
            "2899",
        ),
        ({"latitude": "123.0"}, "invalid", "latitude", None),
        ({"longitude": "east"}, "invalid", "longitude", None),
        ({"latitude": None, "longitude": None}, "order_refused", "latitude", None),
        ({"member_phone": "12345"}, "invalid_phone", "member_phone", "12345"),
        ({"delivery_method": "teleport"}, "invalid", "delivery_method", None),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(
    world, hq_client, overrides, code, field, named
):
    world.stock(world.a, world.tv, 5)
    before = written()

    body = assert_error(create(hq_client, ship_body(**overrides), key="bad"), 400, code, field)

    if named:
        assert named in body["message"] + " ".join(body["fields"][field])
    assert written() == before
    assert stock_of(world.a, world.tv) == (5, 0)


def test_an_unknown_sku_on_the_second_line_is_named_with_its_line(world, hq_client):
    world.stock(world.a, world.tv, 5)

    body = assert_error(
        create(
            hq_client, ship_body(lines=[{"sku": "TV-55", "quantity": 1}, {"sku": "GHOST", "quantity": 1}])
        ),
        400,
        "invalid",
        "lines[1].sku",
    )

    assert "GHOST" in body["fields"]["lines[1].sku"][0]
    assert "lines[0].sku" not in body["fields"]


def test_an_address_outside_every_radius_without_warehouse_stock_is_409(world, hq_client):
    world.stock(world.a, world.tv, 5)
    before = written()

    response = create(hq_client, ship_body(km_north=100, member_phone="13900139000"))

    assert_error(response, 409, "no_fulfilment_location", "lines")
    assert written() == before  # neither the order, nor a movement, nor the member registered for it
    assert not Member.objects.filter(phone="13900139000").exists()


def test_a_merged_member_is_refused(world, hq_client):
    world.stock(world.a, world.tv, 5)
    survivor, duplicate = MemberFactory(), MemberFactory()
    member_merge(survivor=survivor, merged=duplicate, actor=SYSTEM)
    before = written()

    body = assert_error(create(hq_client, ship_body(member=duplicate.pk)), 400, "order_refused", "member")

    assert str(survivor.pk) in body["message"]
    assert written() == before


def test_the_member_and_the_skus_are_read_in_one_round_trip_and_an_unknown_one_is_named(world, hq_client):
    world.stock(world.a, world.tv, 5)
    member = MemberFactory()

    with CaptureQueriesContext(connection) as queries:
        response = create(hq_client, ship_body(member=member.pk))

    assert response.status_code == 201 and response.json()["member"] == member.pk
    assert Order.objects.get(number=response.json()["number"]).member_id == member.pk
    reads = [q["sql"] for q in queries.captured_queries if '"members_member"' in q["sql"]]
    if connection.vendor == "postgresql":  # one text with the SKUs' read
        assert len(reads) == 1 and '"catalog_sku"' in reads[0]
    before = written()
    unknown = member.pk + 1000

    body = assert_error(
        create(hq_client, ship_body(member=unknown, lines=[{"sku": "NOPE", "quantity": 1}])),
        400,
        "invalid",
        "member",
    )

    assert body["fields"]["member"] == [f"No member with id {unknown}."]
    assert body["fields"]["lines[0].sku"] == ["No SKU with id or code 'NOPE'."]  # both, in one answer
    assert written() == before


def test_a_clerk_cannot_credit_a_sale_to_another_store(world):
    world.stock(world.b, world.phone, 1)
    clerk = login(clerk_at(world.a))
    before = written()

    body = assert_error(
        create(
            clerk,
            {
                "channel": "stores",
                "lines": [{"sku": "PHONE-1", "quantity": 1}],
                "delivery_method": "carry_out",
                "origin": "in_store",
                "origin_store": "B",
            },
        ),
        400,
        "invalid",
        "origin_store",
    )

    assert "'B'" in body["fields"]["origin_store"][0]
    assert written() == before


def test_an_overlong_idempotency_key_is_refused(world, hq_client):
    world.stock(world.a, world.tv, 5)

    assert_error(create(hq_client, ship_body(), key="k" * 256), 400, "invalid", "Idempotency-Key")

    assert not Order.objects.exists()


# --- list -------------------------------------------------------------------------------------


@pytest.fixture
def three_orders(world):
    """o1: mall, paid, fulfilled by A. o2: own-stores channel, placed at B, carry out.
    o3: mall, unpaid, fulfilled by B, created three days ago."""
    world.stock(world.a, world.tv, 5)
    world.stock(world.b, world.tv, 5)
    world.stock(world.b, world.phone, 5)
    o1 = paid_order(world, km_north=0)
    o2 = order_create(
        channel=world.stores_channel,
        lines=[LineRequest(world.phone, 1)],
        delivery_method=DeliveryMethod.CARRY_OUT,
        origin=Origin.IN_STORE,
        origin_store=world.b,
        actor=SYSTEM,
    )
    o3 = ship_order(world, km_north=5)
    Order.objects.filter(pk=o3.pk).update(created_at=timezone.now() - timedelta(days=3))
    return o1, o2, o3


def numbers(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["number"] for row in response.json()["results"]}


def test_list_filters_by_channel_status_store_and_date(world, hq_client, three_orders):
    o1, o2, o3 = three_orders
    yesterday = (timezone.now() - timedelta(days=1)).isoformat()

    assert numbers(hq_client.get(URL)) == {o1.number, o2.number, o3.number}
    assert numbers(hq_client.get(URL, {"channel": "mall"})) == {o1.number, o3.number}
    assert numbers(hq_client.get(URL, {"channel": world.stores_channel.pk})) == {o2.number}
    assert numbers(hq_client.get(URL, {"status": "created"})) == {o2.number, o3.number}
    assert numbers(hq_client.get(URL, {"status": ["allocated", "created"]})) == {
        o1.number,
        o2.number,
        o3.number,
    }
    assert numbers(hq_client.get(URL, {"store": world.a.pk})) == {o1.number}
    assert numbers(hq_client.get(URL, {"store": world.b.pk})) == {o2.number, o3.number}
    assert numbers(hq_client.get(URL, {"created_after": yesterday})) == {o1.number, o2.number}
    assert numbers(hq_client.get(URL, {"created_before": yesterday})) == {o3.number}


def test_list_refuses_a_bad_filter_value(world, hq_client, three_orders):
    assert_error(hq_client.get(URL, {"status": "lost"}), 400, "invalid", "status")
    assert_error(hq_client.get(URL, {"created_after": "yesterday"}), 400, "invalid", "created_after")


def test_a_clerk_lists_only_orders_of_their_store(world, three_orders):
    o1, o2, o3 = three_orders

    assert numbers(login(clerk_at(world.a)).get(URL)) == {o1.number}
    assert numbers(login(clerk_at(world.b)).get(URL)) == {o2.number, o3.number}
    assert numbers(login(clerk_at(world.c)).get(URL)) == set()


def _list_queries(client) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(URL)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.json()["count"]


def test_list_query_count_does_not_grow_with_the_orders(world, three_orders):
    clerk = login(clerk_at(world.b))
    small, count_small = _list_queries(clerk)
    world.stock(world.b, world.tv, 20)
    world.stock(world.b, world.phone, 20)
    for _ in range(5):
        ship_order(world, km_north=5, lines=[LineRequest(world.tv, 1), LineRequest(world.phone, 1)])
        paid_order(world, km_north=5)
    big, count_big = _list_queries(clerk)

    assert (count_small, count_big) == (2, 12)
    # session, user, roles, count and page (the store boundary is a subquery), lines with SKUs
    assert small == big == 6


def test_list_query_count_for_hq_is_pinned(world, hq_client, three_orders, django_assert_num_queries):
    hq_client.get(URL)  # warm the session
    with django_assert_num_queries(6):  # session, user, roles, count, page, lines + SKUs
        response = hq_client.get(URL)
    assert response.json()["count"] == 3


# --- detail -----------------------------------------------------------------------------------


def test_detail_shows_every_flow_of_a_paid_order(world, hq_client):
    world.stock(world.a, world.tv, 2)
    order = paid_order(world)

    body = hq_client.get(f"{URL}{order.number}/").json()

    assert body["status"] == "allocated"
    assert [line["line_total"] for line in body["lines"]] == ["2999.00"]
    assert [(p["kind"], p["amount"], p["method"]) for p in body["payments"]] == [
        ("payment", "2999.00", "wechat")
    ]
    assert [(c["from_status"], c["to_status"]) for c in body["status_history"]] == [
        (None, "created"),
        ("created", "paid"),
        ("paid", "allocated"),
    ]
    assert body["routing_decisions"][0]["candidates"][0]["store"] == "A"
    assert body["assignment"]["store"]["code"] == "A"
    assert body["assignment"]["status"] == "offered"
    shares = {s["party"]: s["amount"] for s in body["revenue_shares"]}
    assert shares == {"fulfilling_store": "239.92", "brand": "2759.08"}
    assert sum(Decimal(a) for a in shares.values()) == order.total
    assert RevenueShare.objects.filter(line__order=order).count() == 2


def test_detail_is_404_for_another_stores_clerk(world):
    world.stock(world.a, world.tv, 2)
    order = ship_order(world)

    assert_error(login(clerk_at(world.c)).get(f"{URL}{order.number}/"), 404, "not_found")
    assert login(clerk_at(world.a)).get(f"{URL}{order.number}/").json()["number"] == order.number


def test_detail_lookup_ignores_list_filters(world, hq_client):
    world.stock(world.a, world.tv, 2)
    order = ship_order(world)

    response = hq_client.get(f"{URL}{order.number}/", {"status": "paid"})

    assert response.json()["number"] == order.number


# --- store queue ------------------------------------------------------------------------------


def test_a_clerk_sees_only_their_own_stores_queue(world, hq_client):
    world.stock(world.a, world.tv, 2)
    world.stock(world.b, world.tv, 2)
    for_a = paid_order(world, km_north=0)
    for_b = paid_order(world, km_north=5)
    clerk_a = login(clerk_at(world.a))

    mine = clerk_a.get(f"{URL}queue/", {"store": "A"})

    assert mine.status_code == 200, mine.content
    assert [offer["order"]["number"] for offer in mine.json()["offers"]] == [for_a.number]
    assert mine.json()["store"]["code"] == "A"
    assert_error(clerk_a.get(f"{URL}queue/", {"store": "B"}), 404, "not_found", "store")
    assert_error(clerk_a.get(f"{URL}queue/", {"store": world.b.pk}), 404, "not_found", "store")
    theirs = hq_client.get(f"{URL}queue/", {"store": world.b.pk}).json()
    assert [offer["order"]["number"] for offer in theirs["offers"]] == [for_b.number]


def test_queue_query_count_does_not_grow_with_the_orders(world):
    world.stock(world.a, world.tv, 20)
    world.stock(world.a, world.phone, 20)
    clerk_user = clerk_at(world.a)
    clerk = login(clerk_user)

    def queue_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = clerk.get(f"{URL}queue/", {"store": "A"})
        assert response.status_code == 200
        return len(ctx.captured_queries)

    def one_of_each():
        paid_order(world, km_north=0)  # an offer
        accepted = paid_order(
            world, km_north=0, lines=[LineRequest(world.tv, 1), LineRequest(world.phone, 1)]
        )
        post(clerk, f"{URL}{accepted.number}/accept/")  # to fulfil

    one_of_each()
    small = queue_queries()
    for _ in range(4):
        one_of_each()
    big = queue_queries()

    body = clerk.get(f"{URL}queue/", {"store": "A"}).json()
    assert (len(body["offers"]), len(body["to_fulfil"])) == (5, 5)
    assert small == big


def test_queue_needs_a_store(world, hq_client):
    assert_error(hq_client.get(f"{URL}queue/"), 400, "invalid", "store")


# --- actions ----------------------------------------------------------------------------------


def test_pay_via_api_offers_the_order_and_a_replay_returns_the_same_payment(world, hq_client):
    world.stock(world.a, world.tv, 2)
    order = ship_order(world)
    data = {"amount": "2999.00", "method": "alipay", "external_reference": "ALI-77"}

    first = post(hq_client, f"{URL}{order.number}/pay/", data)
    replay = post(hq_client, f"{URL}{order.number}/pay/", data)

    assert first.status_code == 201, first.content
    assert replay.status_code == 200
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["payment"] == first.json()["payment"]
    assert first.json()["order"]["status"] == "allocated"
    payment = Payment.objects.get()
    assert (payment.order, payment.amount, payment.external_reference) == (
        order,
        Decimal("2999.00"),
        "ALI-77",
    )
    assert StoreAssignment.objects.get(order=order).store == world.a


def test_a_second_payment_is_409_and_writes_nothing(world, hq_client):
    world.stock(world.a, world.tv, 2)
    order = paid_order(world)

    response = post(hq_client, f"{URL}{order.number}/pay/", {"amount": "2999.00", "method": "wechat"})

    assert_error(response, 409, "payment_refused")
    assert Payment.objects.filter(order=order).count() == 1


def test_a_payment_other_than_the_total_is_refused(world, hq_client):
    world.stock(world.a, world.tv, 2)
    order = ship_order(world)

    response = post(hq_client, f"{URL}{order.number}/pay/", {"amount": "1.00", "method": "wechat"})

    assert_error(response, 409, "payment_refused", "amount")
    order.refresh_from_db()
    assert order.status == OrderStatus.CREATED
    assert not Payment.objects.exists()


def test_the_offered_stores_clerk_accepts_and_another_store_gets_404(world):
    world.stock(world.a, world.tv, 2)
    order = paid_order(world, km_north=0)

    assert_error(post(login(clerk_at(world.b)), f"{URL}{order.number}/accept/"), 404, "not_found")
    assert StoreAssignment.objects.get(order=order).status == AssignmentStatus.OFFERED

    clerk = clerk_at(world.a)
    response = post(login(clerk), f"{URL}{order.number}/accept/")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "accepted"
    assignment = StoreAssignment.objects.get(order=order)
    assert (assignment.status, assignment.responded_by) == (AssignmentStatus.ACCEPTED, clerk)
    order.refresh_from_db()
    assert order.status == OrderStatus.ACCEPTED


def test_a_reject_moves_the_order_and_its_reservation_to_the_next_store(world):
    world.stock(world.a, world.tv, 2)
    world.stock(world.b, world.tv, 2)
    order = paid_order(world, km_north=1)  # A is nearest, B next
    assert order.fulfilling_location == world.a

    response = post(login(clerk_at(world.a)), f"{URL}{order.number}/reject/", {"reason": "Display unit only"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["fulfilling_location"]["code"] == "B"
    assert body["assignment"]["store"]["code"] == "B"
    assert "Display unit only" in body["routing_decisions"][-1]["reason"]
    assert stock_of(world.a, world.tv) == (2, 0)
    assert stock_of(world.b, world.tv) == (2, 1)
    assert StoreAssignment.objects.get(order=order, store=world.a).status == AssignmentStatus.REJECTED
    assert StoreAssignment.objects.get(order=order, store=world.b).status == AssignmentStatus.OFFERED


def test_a_reject_needs_a_reason(world):
    world.stock(world.a, world.tv, 2)
    order = paid_order(world, km_north=0)

    assert_error(post(login(clerk_at(world.a)), f"{URL}{order.number}/reject/"), 400, "invalid", "reason")
    assert StoreAssignment.objects.get(order=order).status == AssignmentStatus.OFFERED


def test_ship_via_api_turns_the_reservation_into_a_sale(world):
    world.stock(world.a, world.tv, 2)
    order = paid_order(world, km_north=0)
    clerk = login(clerk_at(world.a))
    post(clerk, f"{URL}{order.number}/accept/")

    response = post(clerk, f"{URL}{order.number}/ship/", {"tracking_number": "SF1234567"})

    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["tracking_number"]) == ("shipped", "SF1234567")
    assert stock_of(world.a, world.tv) == (1, 0)
    assert StockMovement.objects.filter(reference=order.number, kind=MovementKind.SALE).count() == 1

    done = post(login(clerk_at(world.a)), f"{URL}{order.number}/complete/")
    assert done.json()["status"] == "completed"


def test_an_illegal_move_is_409_naming_both_states_and_changes_nothing(world, hq_client):
    world.stock(world.a, world.tv, 2)
    order = paid_order(world, km_north=0)  # allocated: not accepted yet
    movements = StockMovement.objects.count()

    body = assert_error(
        post(hq_client, f"{URL}{order.number}/ship/", {"tracking_number": "SF1"}),
        409,
        "illegal_transition",
        "status",
    )

    assert "Allocated to a store" in body["message"] and "Shipped" in body["message"]
    order.refresh_from_db()
    assert (order.status, order.tracking_number) == (OrderStatus.ALLOCATED, "")
    assert StockMovement.objects.count() == movements

    body = assert_error(post(hq_client, f"{URL}{order.number}/complete/"), 409, "illegal_transition")
    assert "Allocated to a store" in body["message"] and "Completed" in body["message"]


def test_accept_or_ship_by_a_store_that_sees_but_does_not_fulfil_the_order_is_403(world):
    world.stock(world.a, world.tv, 2)  # the origin store B has none: A fulfils
    order = paid_order(world, km_north=0, origin_store=world.b, origin=Origin.IN_STORE)
    assert order.fulfilling_location == world.a
    origin_clerk = login(clerk_at(world.b))
    assert origin_clerk.get(f"{URL}{order.number}/").status_code == 200  # sees it: placed there

    # It sees the order (placed there), so a refusal to act is a 403 (docs/security.md), not a 404.
    assert_error(post(origin_clerk, f"{URL}{order.number}/accept/"), 403, "permission_denied", "order")
    assert_error(
        post(origin_clerk, f"{URL}{order.number}/ship/", {"tracking_number": "SF1"}),
        403,
        "permission_denied",
        "order",
    )
    assert StoreAssignment.objects.get(order=order).status == AssignmentStatus.OFFERED


def test_pickup_ready_and_collect_with_the_code_via_api(world, hq_client):
    world.stock(world.b, world.tv, 1)
    order = order_create(
        channel=world.mall,
        lines=[LineRequest(world.tv, 1)],
        delivery_method=DeliveryMethod.PICKUP,
        pickup_store=world.b,
        actor=SYSTEM,
    )
    order_pay(order=order, amount=order.total, method="wechat", actor=SYSTEM)
    clerk = login(clerk_at(world.b))
    post(clerk, f"{URL}{order.number}/accept/")

    ready = post(clerk, f"{URL}{order.number}/ready/")

    assert ready.json()["status"] == "ready_for_pickup"
    assert ready.json()["pickup_code"] is None  # the clerk checks the code, never reads it
    order.refresh_from_db()
    assert hq_client.get(f"{URL}{order.number}/").json()["pickup_code"] == order.pickup_code
    wrong = "000000" if order.pickup_code != "000000" else "111111"
    assert_error(
        post(clerk, f"{URL}{order.number}/collect/", {"pickup_code": wrong}),
        400,
        "pickup_code_wrong",
        "pickup_code",
    )
    assert stock_of(world.b, world.tv) == (1, 1)

    collected = post(clerk, f"{URL}{order.number}/collect/", {"pickup_code": order.pickup_code})

    assert collected.json()["status"] == "completed"
    assert stock_of(world.b, world.tv) == (0, 0)


def test_cancel_via_api_releases_stock_and_refunds(world, hq_client):
    world.stock(world.a, world.tv, 2)
    order = paid_order(world, km_north=0)

    response = post(hq_client, f"{URL}{order.number}/cancel/", {"reason": "Customer changed their mind"})

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert stock_of(world.a, world.tv) == (2, 0)
    refund = Payment.objects.get(order=order, kind=PaymentKind.REFUND)
    assert refund.amount == order.total
    assert StoreAssignment.objects.get(order=order).status == AssignmentStatus.WITHDRAWN

    again = post(hq_client, f"{URL}{order.number}/cancel/", {"reason": "again"})
    body = assert_error(again, 409, "illegal_transition")
    assert "Cancelled" in body["message"]


def test_actions_on_an_order_you_cannot_see_are_404(world):
    world.stock(world.a, world.tv, 2)
    order = ship_order(world, km_north=0)
    stranger = login(clerk_at(world.c))

    assert_error(
        post(stranger, f"{URL}{order.number}/pay/", {"amount": "2999.00", "method": "cash"}), 404, "not_found"
    )
    assert_error(post(stranger, f"{URL}{order.number}/cancel/", {"reason": "x"}), 404, "not_found")
    order.refresh_from_db()
    assert order.status == OrderStatus.CREATED
    assert not Payment.objects.exists()


# --- schema -----------------------------------------------------------------------------------


def test_schema_documents_the_order_paths_and_the_idempotency_header(client, db):
    paths = client.get("/api/v1/schema/?format=json").json()["paths"]

    for path in ("/api/v1/orders/", "/api/v1/orders/{number}/", "/api/v1/orders/queue/"):
        assert path in paths, path
    for name in ("pay", "cancel", "accept", "reject", "ship", "ready", "collect", "complete"):
        assert "post" in paths[f"/api/v1/orders/{{number}}/{name}/"], name
    create_op = paths["/api/v1/orders/"]["post"]
    assert {(p["in"], p["name"]) for p in create_op["parameters"]} >= {("header", "Idempotency-Key")}
    assert "Idempotent-Replayed" in create_op["responses"]["201"]["headers"]
    assert create_op["responses"]["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
