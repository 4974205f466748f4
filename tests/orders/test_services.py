import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from catalog.errors import NoPrice
from catalog.services import price_set
from config.errors import IllegalTransition
from config.roles import SYSTEM
from members.models import PointsEntry, PointsRule
from orders.choices import AssignmentStatus, DeliveryMethod, OrderStatus, Origin, PaymentKind, ShareParty
from orders.errors import (
    AssignmentRefused,
    IdempotencyConflict,
    NoFulfilmentLocation,
    OrderRefused,
    PaymentRefused,
    PickupCodeWrong,
    PriceMismatch,
)
from orders.fulfilment import (
    assignment_accept,
    assignment_reject,
    assignments_expire,
    order_collect,
    order_complete,
    order_ready_for_pickup,
    order_ship,
)
from orders.models import Order, OrderLine, RevenueShare, RoutingDecision
from orders.selectors import orders_visible_to, store_queue, store_revenue
from orders.services import LineRequest, order_cancel, order_create, order_pay, revenue_split
from stores.models import Stock, StockMovement
from tests.factories import MemberFactory, clerk_at
from tests.world import north


def ship_order(world, *, km_north=1.0, lines=None, **kwargs):
    lat, lng = north(km_north)
    return order_create(
        channel=kwargs.pop("channel", world.mall),
        lines=lines or [LineRequest(world.tv, 1)],
        delivery_method=DeliveryMethod.SHIP,
        address="1 Chang'an Ave",
        latitude=lat,
        longitude=lng,
        **({"actor": SYSTEM} | kwargs),
    )


def pay(order):
    return order_pay(order=order, amount=order.total, method="wechat", actor=SYSTEM)


def stock_of(store, sku):
    stock = Stock.objects.get(location=store, sku=sku)
    return stock.on_hand, stock.reserved


# --- routing -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_online_order_goes_to_the_nearest_store_with_every_line_and_reserves_there(world):
    world.stock(world.a, world.tv, 2)
    world.stock(world.b, world.tv, 2)
    order = ship_order(world, km_north=4)  # 4 km from A, 1 km from B
    assert order.fulfilling_location == world.b
    assert stock_of(world.b, world.tv) == (2, 1)
    assert stock_of(world.a, world.tv) == (2, 0)
    decision = RoutingDecision.objects.get(order=order)
    assert [c["store"] for c in decision.candidates] == ["B", "A"]
    assert decision.candidates[0]["distance_km"] == pytest.approx(1.0, abs=0.05)
    assert "Nearest store" in decision.reason


@pytest.mark.django_db
def test_a_store_serves_only_addresses_within_its_own_radius(world):
    world.stock(world.c, world.tv, 5)  # 25 km away with a 10 km radius
    world.stock(world.w, world.tv, 5)
    order = ship_order(world, km_north=12)
    assert order.fulfilling_location == world.w
    assert "warehouse" in order.routing_decisions.get().reason


@pytest.mark.django_db
def test_the_origin_store_is_preferred_over_a_nearer_one(world):
    world.stock(world.a, world.tv, 1)
    world.stock(world.b, world.tv, 1)
    order = ship_order(world, km_north=0.5, origin_store=world.b, origin=Origin.IN_STORE)
    assert order.fulfilling_location == world.b
    assert "Preferred store" in order.routing_decisions.get().reason


@pytest.mark.django_db
def test_a_store_missing_one_line_is_skipped(world):
    world.stock(world.a, world.tv, 1)
    world.stock(world.b, world.tv, 1)
    world.stock(world.b, world.phone, 1)
    order = ship_order(world, km_north=0, lines=[LineRequest(world.tv, 1), LineRequest(world.phone, 1)])
    assert order.fulfilling_location == world.b


@pytest.mark.django_db
def test_nowhere_with_stock_refuses_the_order_and_writes_nothing(world):
    world.stock(world.a, world.tv, 1)
    with pytest.raises(NoFulfilmentLocation):
        ship_order(world, lines=[LineRequest(world.tv, 2)])
    assert not Order.objects.exists()
    assert StockMovement.objects.count() == 1  # the receipt only
    assert stock_of(world.a, world.tv) == (1, 0)


# --- status machine ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_illegal_moves_are_refused_naming_both_states(world):
    world.stock(world.a, world.tv, 1)
    order = ship_order(world)
    with pytest.raises(IllegalTransition) as exc:
        order_complete(order=order, actor=SYSTEM)
    assert "Created" in exc.value.message and "Completed" in exc.value.message
    with pytest.raises(IllegalTransition) as exc:
        order_ship(order=order, store=world.a, tracking_number="SF1", actor=SYSTEM)
    assert "Shipped" in exc.value.message
    with pytest.raises(AssignmentRefused):  # and never by a store that does not fulfil it
        order_ship(order=order, store=world.b, tracking_number="SF1", actor=SYSTEM)
    order.refresh_from_db()
    assert order.status == OrderStatus.CREATED


@pytest.mark.django_db
def test_ship_flow_end_to_end_with_history(world):
    world.stock(world.a, world.tv, 3)
    order = ship_order(world)
    pay(order)
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED
    assert list(store_queue(store=world.a)["offers"].values_list("order_id", flat=True)) == [order.pk]
    assignment_accept(order=order, store=world.a, actor=SYSTEM)
    order_ship(order=order, store=world.a, tracking_number="SF123", actor=SYSTEM)
    order_complete(order=order, actor=SYSTEM)
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert order.tracking_number == "SF123"
    assert stock_of(world.a, world.tv) == (2, 0)
    assert list(order.status_changes.values_list("to_status", flat=True)) == [
        "created",
        "paid",
        "allocated",
        "accepted",
        "shipped",
        "completed",
    ]


@pytest.mark.django_db
def test_pickup_needs_the_right_code(world):
    world.stock(world.b, world.tv, 1)
    order = order_create(
        channel=world.mall,
        lines=[LineRequest(world.tv, 1)],
        delivery_method=DeliveryMethod.PICKUP,
        pickup_store=world.b,
        actor=SYSTEM,
    )
    pay(order)
    assignment_accept(order=order, store=world.b, actor=SYSTEM)
    order = order_ready_for_pickup(order=order, store=world.b, actor=SYSTEM)
    assert len(order.pickup_code) == 6
    with pytest.raises(PickupCodeWrong):
        order_collect(
            order=order,
            store=world.b,
            pickup_code="000000" if order.pickup_code != "000000" else "111111",
            actor=SYSTEM,
        )
    order_collect(order=order, store=world.b, pickup_code=order.pickup_code, actor=SYSTEM)
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert stock_of(world.b, world.tv) == (0, 0)


@pytest.mark.django_db
def test_carry_out_in_store_completes_on_payment(world):
    world.stock(world.a, world.phone, 1)
    clerk = clerk_at(world.a)
    order = order_create(
        channel=world.stores_channel,
        lines=[LineRequest(world.phone, 1)],
        delivery_method=DeliveryMethod.CARRY_OUT,
        origin=Origin.IN_STORE,
        origin_store=world.a,
        placed_by=clerk,
        actor=SYSTEM,
    )
    order_pay(order=order, amount=Decimal("1999.00"), method="cash", actor=clerk)
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert stock_of(world.a, world.phone) == (0, 0)


# --- re-routing --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_reject_moves_the_order_and_its_reservation_to_the_next_store(world):
    world.stock(world.a, world.tv, 1)
    world.stock(world.b, world.tv, 1)
    order = ship_order(world, km_north=1)
    pay(order)
    assignment_reject(order=order, store=world.a, reason="Display unit only", actor=SYSTEM)
    order.refresh_from_db()
    assert order.fulfilling_location == world.b
    assert order.status == OrderStatus.ALLOCATED
    assert stock_of(world.a, world.tv) == (1, 0)
    assert stock_of(world.b, world.tv) == (1, 1)
    second = order.routing_decisions.get(attempt=2)
    assert "Display unit only" in second.reason
    assert order.assignments.get(status=AssignmentStatus.OFFERED).store == world.b
    # The fulfilling store's fee moved with the order; the line's shares still sum to its total.
    line = order.lines.get()
    assert RevenueShare.objects.filter(line=line).aggregate(t=Sum("amount"))["t"] == line.line_total
    assert store_revenue(store=world.a).get(ShareParty.FULFILLING_STORE, 0) == 0
    assert store_revenue(store=world.b)[ShareParty.FULFILLING_STORE] == Decimal("239.92")


@pytest.mark.django_db
def test_no_answer_in_time_re_routes_too(world):
    world.stock(world.a, world.tv, 1)
    world.stock(world.w, world.tv, 1)
    order = ship_order(world, km_north=1)
    pay(order)
    assert assignments_expire(now=timezone.now() + timedelta(minutes=10)) == 0
    assert assignments_expire(now=timezone.now() + timedelta(minutes=31)) == 1
    order.refresh_from_db()
    assert order.fulfilling_location == world.w
    assert order.status == OrderStatus.ACCEPTED  # the warehouse always takes it
    assert order.assignments.get(store=world.a).status == AssignmentStatus.EXPIRED


@pytest.mark.django_db
def test_reject_with_nowhere_left_cancels_and_refunds(world):
    PointsRule.objects.create(channel=None, points_per_yuan=Decimal("1"), life_days=365)
    member = MemberFactory()
    world.stock(world.a, world.tv, 1)
    order = ship_order(world, member=member)
    pay(order)
    assignment_reject(order=order, store=world.a, reason="Damaged", actor=SYSTEM)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.payments.filter(kind=PaymentKind.REFUND).get().amount == order.total
    assert stock_of(world.a, world.tv) == (1, 0)
    member.refresh_from_db()
    assert member.points_balance == 0
    assert RevenueShare.objects.filter(line__order=order).aggregate(t=Sum("amount"))["t"] == 0


# --- store -> online ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_clerk_orders_home_delivery_of_what_this_store_lacks_credited_to_store_and_clerk(world):
    world.stock(world.b, world.tv, 1)
    clerk = clerk_at(world.a)
    member = MemberFactory(home_store=world.a)
    order = ship_order(
        world,
        km_north=3,
        channel=world.stores_channel,
        origin=Origin.IN_STORE,
        origin_store=world.a,
        placed_by=clerk,
        member=member,
    )
    assert order.fulfilling_location == world.b
    pay(order)
    assert (order.origin_store, order.placed_by) == (world.a, clerk)
    assert store_revenue(store=world.a)[ShareParty.ORIGIN_STORE] == Decimal("149.95")  # 5% of 2999.00
    assert store_revenue(store=world.b)[ShareParty.FULFILLING_STORE] == Decimal("239.92")  # 8%
    assert order in orders_visible_to(clerk)


# --- money -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_split_shares_sum_exactly_to_the_line(world):
    from orders.models import RevenueRule

    rule = RevenueRule(
        fulfilling_fee_percent=Decimal("7.5"),
        fulfilling_fee_fixed=Decimal("0.01"),
        origin_share_percent=Decimal("3.33"),
    )
    line = OrderLine(unit_price=Decimal("99.99"), quantity=3, line_total=Decimal("299.97"))
    shares = revenue_split(line=line, rule=rule, fulfilling_store=world.a, origin_store=world.b)
    amounts = {s.party: s.amount for s in shares}
    assert amounts[ShareParty.FULFILLING_STORE] == Decimal("22.51")  # 22.49775 -> 22.50, + 0.01
    assert amounts[ShareParty.ORIGIN_STORE] == Decimal("9.99")  # 9.989001 -> 9.99
    assert sum(amounts.values()) == Decimal("299.97")


@pytest.mark.django_db
def test_lines_are_priced_from_the_price_list_and_totals_add_up(world):
    world.stock(world.a, world.tv, 2)
    world.stock(world.a, world.phone, 1)
    order = ship_order(world, lines=[LineRequest(world.tv, 2), LineRequest(world.phone, 1, Decimal("1999"))])
    assert order.total == order.subtotal == Decimal("7997.00")
    assert {(line.sku_id, line.unit_price) for line in order.lines.all()} == {
        (world.tv.pk, Decimal("2999.00")),
        (world.phone.pk, Decimal("1999.00")),
    }


@pytest.mark.django_db
def test_paying_earns_points_once_and_a_second_payment_is_refused(world):
    PointsRule.objects.create(channel=None, points_per_yuan=Decimal("1"), life_days=365)
    member = MemberFactory()
    world.stock(world.a, world.tv, 1)
    order = ship_order(world, member=member)
    first = order_pay(
        order=order, amount=order.total, method="alipay", external_reference="ALI-1", actor=SYSTEM
    )
    again = order_pay(
        order=order, amount=order.total, method="alipay", external_reference="ALI-1", actor=SYSTEM
    )
    assert first.pk == again.pk
    with pytest.raises(PaymentRefused):
        order_pay(order=order, amount=order.total, method="alipay", external_reference="ALI-2", actor=SYSTEM)
    member.refresh_from_db()
    assert member.points_balance == 2999
    assert PointsEntry.objects.filter(reference=order.number).count() == 1


@pytest.mark.django_db
def test_a_partial_payment_is_refused(world):
    world.stock(world.a, world.tv, 1)
    order = ship_order(world)
    with pytest.raises(PaymentRefused):
        order_pay(order=order, amount=Decimal("100"), method="card", actor=SYSTEM)
    assert not order.payments.exists()


@pytest.mark.django_db
def test_cancel_releases_refunds_and_reverses(world):
    world.stock(world.a, world.tv, 1)
    order = ship_order(world)
    pay(order)
    order_cancel(order=order, reason="Customer changed their mind", actor=SYSTEM)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert stock_of(world.a, world.tv) == (1, 0)
    assert order.assignments.get().status == AssignmentStatus.WITHDRAWN
    assert RevenueShare.objects.filter(line__order=order).aggregate(t=Sum("amount"))["t"] == 0
    with pytest.raises(IllegalTransition):
        order_cancel(order=order, reason="again", actor=SYSTEM)


# --- idempotency and bad input -------------------------------------------------------------------


@pytest.mark.django_db
def test_same_key_returns_the_first_order_and_a_different_body_is_refused(world):
    world.stock(world.a, world.tv, 5)
    first = ship_order(world, idempotency_key="k-1", fingerprint="body-1")
    again = ship_order(world, idempotency_key="k-1", fingerprint="body-1")
    assert again.pk == first.pk and again.replayed
    with pytest.raises(IdempotencyConflict):
        ship_order(world, idempotency_key="k-1", fingerprint="body-2")
    by_ref = ship_order(world, external_reference="TMALL-9", fingerprint="x")
    assert ship_order(world, external_reference="TMALL-9", fingerprint="x").pk == by_ref.pk
    assert Order.objects.count() == 2
    assert stock_of(world.a, world.tv) == (5, 2)


@pytest.mark.django_db
def test_a_retry_gets_the_first_order_even_when_a_new_order_would_now_be_refused(world):
    # A retry is looked for only when the INSERT or a rule refuses: both must still answer with
    # the first order, whatever changed since (here the price, then the last unit sold).
    world.stock(world.a, world.tv, 1)
    first = ship_order(
        world,
        lines=[LineRequest(world.tv, 1, unit_price=Decimal("2999.00"))],
        idempotency_key="k-1",
        external_reference="TMALL-1",
        fingerprint="body-1",
    )
    price_set(sku=world.tv, channel=None, amount=Decimal("2799.00"), valid_from=timezone.now(), actor=SYSTEM)
    for key, reference in (("k-1", None), (None, "TMALL-1"), ("k-2", "TMALL-1")):
        again = ship_order(
            world,
            lines=[LineRequest(world.tv, 1, unit_price=Decimal("2999.00"))],
            idempotency_key=key,
            external_reference=reference,
            fingerprint="body-1",
        )
        assert (again.pk, again.replayed) == (first.pk, True)
    with pytest.raises(PriceMismatch):  # a new order at the old price is refused
        ship_order(
            world, lines=[LineRequest(world.tv, 1, unit_price=Decimal("2999.00"))], idempotency_key="k-3"
        )
    with pytest.raises(IdempotencyConflict):  # the same key with another body: 409, not the price
        ship_order(world, idempotency_key="k-1", fingerprint="body-2")
    assert Order.objects.count() == 1
    assert stock_of(world.a, world.tv) == (1, 1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda w: ship_order(w, lines=[LineRequest(w.tv, 0)]), OrderRefused),
        (lambda w: ship_order(w, lines=[LineRequest(w.tv, 1, Decimal("2500"))]), PriceMismatch),
        (lambda w: ship_order(w, lines=[LineRequest(w.tv, 1), LineRequest(w.tv, 1)]), OrderRefused),
        (
            lambda w: order_create(
                channel=w.mall,
                lines=[LineRequest(w.tv, 1)],
                delivery_method="ship",
                address="x",
                actor=SYSTEM,
            ),
            OrderRefused,
        ),
        (
            lambda w: order_create(
                channel=w.mall, lines=[LineRequest(w.tv, 1)], delivery_method="carry_out", actor=SYSTEM
            ),
            OrderRefused,
        ),
        (lambda w: ship_order(w, km_north=200), NoFulfilmentLocation),
    ],
    ids=[
        "zero-quantity",
        "price-mismatch",
        "duplicate-sku",
        "no-coordinates",
        "carry-out-online",
        "out-of-reach",
    ],
)
def test_bad_orders_are_refused_with_nothing_written_and_no_stock_moved(world, make, error):
    world.stock(world.a, world.tv, 5)
    with pytest.raises(error):
        make(world)
    assert not Order.objects.exists()
    assert stock_of(world.a, world.tv) == (5, 0)
    assert StockMovement.objects.count() == 1


@pytest.mark.django_db
def test_a_sku_without_a_price_on_the_channel_is_refused(world):
    from tests.factories import SKUFactory

    unpriced = SKUFactory()
    with pytest.raises(NoPrice):
        ship_order(world, lines=[LineRequest(unpriced, 1)])
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_an_order_for_a_merged_member_is_refused(world):
    from members.services import member_merge

    survivor, dup = MemberFactory(), MemberFactory()
    member_merge(survivor=survivor, merged=dup, actor=SYSTEM)
    dup.refresh_from_db()
    world.stock(world.a, world.tv, 1)
    with pytest.raises(OrderRefused):
        ship_order(world, member=dup)


# --- scoping and concurrency --------------------------------------------------------------------


@pytest.mark.django_db
def test_a_clerk_never_sees_another_stores_orders(world):
    world.stock(world.a, world.tv, 1)
    world.stock(world.c, world.tv, 1)
    mine = ship_order(world, km_north=0)
    theirs = ship_order(world, km_north=25)
    clerk = clerk_at(world.a)
    assert list(orders_visible_to(clerk)) == [mine]
    assert theirs not in orders_visible_to(clerk)
    assert not store_queue(store=world.c)["offers"].filter(order__fulfilling_location=world.a).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_buyers_for_ten_units_make_exactly_ten_orders(world):
    world.stock(world.a, world.phone, 10)
    buyers = 50
    barrier = threading.Barrier(buyers)
    results = []
    lock = threading.Lock()

    def buy(n):
        try:
            barrier.wait()
            ship_order(world, lines=[LineRequest(world.phone, 1)], external_reference=f"FLASH-{n}")
            outcome = "ordered"
        except NoFulfilmentLocation:
            outcome = "sold out"
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=buy, args=(n,)) for n in range(buyers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("ordered") == 10
    assert results.count("sold out") == 40
    assert Order.objects.count() == 10
    stock = Stock.objects.get(location=world.a, sku=world.phone)
    assert (stock.on_hand, stock.reserved, stock.available) == (10, 10, 0)
    sums = stock.movements.aggregate(on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta"))
    assert (sums["on_hand"], sums["reserved"]) == (10, 10)
