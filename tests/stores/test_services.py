import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum

from config.roles import SYSTEM
from stores.choices import MovementKind
from stores.errors import InsufficientStock, StockRefused
from stores.models import Stock, StockMovement
from stores.services import (
    stock_adjust,
    stock_receive,
    stock_release,
    stock_reserve,
    stock_return,
    stock_sell,
    stock_transfer,
)
from tests.factories import SKUFactory, StoreFactory, hq_user


def assert_ledger_explains(stock: Stock) -> None:
    stock.refresh_from_db()
    sums = stock.movements.aggregate(on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta"))
    assert stock.on_hand == (sums["on_hand"] or 0)
    assert stock.reserved == (sums["reserved"] or 0)


@pytest.mark.django_db
def test_every_change_is_a_ledger_row_and_on_hand_equals_their_sum():
    store, sku, user = StoreFactory(), SKUFactory(), hq_user()
    stock_receive(location=store, sku=sku, quantity=10, reason="Opening delivery", actor=user)
    stock_reserve(location=store, sku=sku, quantity=3, reference="O-1")
    stock_sell(location=store, sku=sku, quantity=2, reference="O-1")
    stock_release(location=store, sku=sku, quantity=1, reference="O-1")
    stock_sell(location=store, sku=sku, quantity=1, reference="walk-in", reserved=False)
    stock_return(location=store, sku=sku, quantity=1, reference="T-9")
    stock_adjust(location=store, sku=sku, delta=-2, reason="Count: two units damaged", actor=SYSTEM)
    stock = Stock.objects.get(location=store, sku=sku)
    assert (stock.on_hand, stock.reserved, stock.available) == (6, 0, 6)
    assert stock.movements.count() == 7
    assert_ledger_explains(stock)
    first = stock.movements.order_by("id").first()
    assert (first.kind, first.created_by, first.reason) == (MovementKind.RECEIPT, user, "Opening delivery")


@pytest.mark.django_db
def test_stock_that_would_go_negative_is_refused_and_nothing_is_written():
    store, sku = StoreFactory(), SKUFactory()
    stock_receive(location=store, sku=sku, quantity=2, reason="Delivery", actor=SYSTEM)
    with pytest.raises(InsufficientStock) as exc:
        stock_adjust(location=store, sku=sku, delta=-3, reason="Count", actor=SYSTEM)
    assert "2 on hand" in exc.value.message
    stock = Stock.objects.get(location=store, sku=sku)
    assert stock.on_hand == 2
    assert stock.movements.count() == 1


@pytest.mark.django_db
def test_reservation_cannot_exceed_available_units():
    store, sku = StoreFactory(), SKUFactory()
    stock_receive(location=store, sku=sku, quantity=5, reason="Delivery", actor=SYSTEM)
    stock_reserve(location=store, sku=sku, quantity=4, reference="O-1")
    with pytest.raises(InsufficientStock):
        stock_reserve(location=store, sku=sku, quantity=2, reference="O-2")
    with pytest.raises(InsufficientStock):
        stock_adjust(
            location=store, sku=sku, delta=-2, reason="would leave reserved above on hand", actor=SYSTEM
        )
    with pytest.raises(InsufficientStock):
        stock_release(location=store, sku=sku, quantity=5, reference="O-1")
    assert_ledger_explains(Stock.objects.get(location=store, sku=sku))


@pytest.mark.django_db
def test_no_stock_row_means_nothing_to_sell():
    with pytest.raises(InsufficientStock):
        stock_sell(location=StoreFactory(), sku=SKUFactory(), quantity=1, reference="O-1", reserved=False)
    assert not Stock.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("quantity", [0, -1, 1.5, True])
def test_quantity_must_be_a_positive_whole_number(quantity):
    with pytest.raises(StockRefused):
        stock_receive(location=StoreFactory(), sku=SKUFactory(), quantity=quantity, reason="x", actor=SYSTEM)
    assert not StockMovement.objects.exists()


@pytest.mark.django_db
def test_change_without_a_reason_is_refused():
    with pytest.raises(StockRefused):
        stock_adjust(location=StoreFactory(), sku=SKUFactory(), delta=5, reason="  ", actor=SYSTEM)
    assert not StockMovement.objects.exists()


@pytest.mark.django_db
def test_transfer_writes_two_movements_or_none():
    a, b, sku = StoreFactory(), StoreFactory(), SKUFactory()
    stock_receive(location=a, sku=sku, quantity=3, reason="Delivery", actor=SYSTEM)
    stock_transfer(source=a, destination=b, sku=sku, quantity=2, reason="Rebalance", actor=SYSTEM)
    assert Stock.objects.get(location=a, sku=sku).on_hand == 1
    assert Stock.objects.get(location=b, sku=sku).on_hand == 2
    with pytest.raises(InsufficientStock):
        stock_transfer(source=a, destination=b, sku=sku, quantity=2, reason="Too many", actor=SYSTEM)
    assert StockMovement.objects.count() == 3
    for stock in Stock.objects.all():
        assert_ledger_explains(stock)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("on_hand", "reserved"),
    [(-1, 0), (1, -1), (1, 2)],
    ids=["negative", "negative-reserved", "over-reserved"],
)
def test_database_constraints_back_the_stock_rules(on_hand, reserved):
    with pytest.raises(IntegrityError), transaction.atomic():
        Stock.objects.create(location=StoreFactory(), sku=SKUFactory(), on_hand=on_hand, reserved=reserved)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_never_oversell():
    store, sku = StoreFactory(), SKUFactory()
    stock_receive(location=store, sku=sku, quantity=10, reason="Flash sale allocation", actor=SYSTEM)
    buyers = 30
    barrier = threading.Barrier(buyers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def buy(n: int) -> None:
        try:
            barrier.wait()
            stock_reserve(location=store, sku=sku, quantity=1, reference=f"O-{n}")
            result = "ok"
        except InsufficientStock:
            result = "sold out"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=buy, args=(n,)) for n in range(buyers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 10
    assert outcomes.count("sold out") == buyers - 10
    stock = Stock.objects.get(location=store, sku=sku)
    assert (stock.on_hand, stock.reserved) == (10, 10)
    assert_ledger_explains(stock)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_receipts_create_one_stock_row():
    store, sku = StoreFactory(), SKUFactory()
    barrier = threading.Barrier(8)

    def receive() -> None:
        try:
            barrier.wait()
            stock_receive(location=store, sku=sku, quantity=1, reason="Delivery", actor=SYSTEM)
        finally:
            connection.close()

    threads = [threading.Thread(target=receive) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stock = Stock.objects.get(location=store, sku=sku)
    assert stock.on_hand == 8
    assert_ledger_explains(stock)
