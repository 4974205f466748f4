"""Stored value: top-ups by external methods only, idempotent; the balance is its ledger's sum and
never goes negative, however many orders pay from one wallet at once."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from config.errors import DomainError, Forbidden
from config.roles import SYSTEM
from marketing.choices import WalletKind
from marketing.errors import TenderRefused
from marketing.models import Wallet, WalletEntry
from marketing.services import wallet_balance, wallet_top_up
from orders.choices import OrderStatus
from orders.models import Payment
from tests.factories import MemberFactory, UserFactory, clerk_at
from tests.marketing.helpers import assert_ledgers_add_up

D = Decimal


@pytest.mark.django_db
def test_a_top_up_by_an_external_method_moves_the_balance_by_its_ledger_row(shop, hq):
    member = MemberFactory()
    entry = wallet_top_up(member=member, amount="200.005", method="wechat", actor=hq, reference="WX-1")
    assert (entry.kind, entry.amount, entry.method, entry.reference, entry.created_by) == (
        WalletKind.TOP_UP,
        D("200.01"),
        "wechat",
        "WX-1",
        hq,
    )
    clerk = clerk_at(shop.world.a)
    wallet_top_up(member=member, amount=D("99.99"), method="cash", actor=clerk)
    assert wallet_balance(member) == D("300.00")
    assert_ledgers_add_up()


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["stored_value", "points", "", "bogus", "wallet"])
def test_stored_value_cannot_be_topped_up_with_itself_or_points(shop, method):
    member = MemberFactory()
    with pytest.raises(TenderRefused) as excinfo:
        wallet_top_up(member=member, amount=D("100"), method=method, actor=SYSTEM)
    assert "method" in excinfo.value.fields
    assert not WalletEntry.objects.exists() and wallet_balance(member) == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "amount", ["0", "-5", "1\x00", 10**12, "1e400", float("inf"), "NaN", "%", "x" * 300, None]
)
def test_a_top_up_of_a_hostile_amount_is_refused_and_writes_nothing(shop, amount):
    member = MemberFactory()
    with pytest.raises(TenderRefused) as excinfo:
        wallet_top_up(member=member, amount=amount, method="card", actor=SYSTEM)
    assert excinfo.value.fields == {"amount": [str(excinfo.value.fields["amount"][0])]}
    assert not WalletEntry.objects.exists() and not Wallet.objects.filter(balance__gt=0).exists()


@pytest.mark.django_db
def test_a_top_up_is_idempotent_by_its_client_reference(shop):
    member = MemberFactory()
    first = wallet_top_up(
        member=member, amount=D("50"), method="card", actor=SYSTEM, client_reference="POS-7"
    )
    again = wallet_top_up(
        member=member, amount=D("50"), method="card", actor=SYSTEM, client_reference="POS-7"
    )
    assert again.pk == first.pk and again.replayed
    assert wallet_balance(member) == D("50") and WalletEntry.objects.count() == 1
    with pytest.raises(TenderRefused) as excinfo:
        wallet_top_up(member=member, amount=D("60"), method="card", actor=SYSTEM, client_reference="POS-7")
    assert excinfo.value.code == "idempotency_conflict"
    with pytest.raises(TenderRefused):  # another member, the same reference
        wallet_top_up(
            member=MemberFactory(), amount=D("50"), method="card", actor=SYSTEM, client_reference="POS-7"
        )
    assert wallet_balance(member) == D("50") and WalletEntry.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["reference", "client_reference"])
@pytest.mark.parametrize("text", ["WX\x001", "R" * 300, 12])
def test_a_hostile_reference_is_refused_and_writes_nothing(shop, field, text):
    with pytest.raises(TenderRefused) as excinfo:
        wallet_top_up(member=MemberFactory(), amount=D("5"), method="card", actor=SYSTEM, **{field: text})
    assert field in excinfo.value.fields
    assert not WalletEntry.objects.exists()


@pytest.mark.django_db
def test_only_staff_and_hq_top_up(shop):
    member = MemberFactory()
    with pytest.raises(Forbidden):
        wallet_top_up(member=member, amount=D("50"), method="card", actor=UserFactory())
    assert not WalletEntry.objects.exists()


@pytest.mark.django_db
def test_an_order_paid_from_the_wallet_writes_a_spend_row_and_a_refused_one_writes_nothing(shop):
    cheap = shop.sku("80")
    member = shop.member(wallet="100")
    first = shop.order(member, lines=[(cheap, 1)])
    shop.pay(first, stored_value="80")
    spend = WalletEntry.objects.get(kind=WalletKind.SPEND)
    assert (spend.amount, spend.order_number) == (D("-80"), first.number)
    assert first.payments.get().method == "stored_value"
    second = shop.order(member, lines=[(cheap, 1)])
    with pytest.raises(TenderRefused) as excinfo:
        shop.pay(second, stored_value="80")
    assert excinfo.value.fields == {"stored_value": ["More than the balance."]}
    second.refresh_from_db()
    assert second.status == OrderStatus.CREATED and not second.payments.exists()
    assert wallet_balance(member) == D("20")
    assert_ledgers_add_up()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_orders_paying_from_one_wallet_at_once_never_take_it_below_zero(shop):
    cheap = shop.sku("80")
    for _attempt in range(5):  # the race is real: both read 100 before either writes
        member = shop.member(wallet="100")
        orders = [shop.order(member, lines=[(cheap, 1)]) for _ in range(2)]
        barrier = threading.Barrier(2)
        outcomes = [None, None]

        def pay(i, orders=orders, barrier=barrier, outcomes=outcomes):
            try:
                barrier.wait()
                shop.pay(orders[i], stored_value="80")
                outcomes[i] = "paid"
            except DomainError as error:
                outcomes[i] = (error.code, str(error), error.fields)
            finally:
                connection.close()

        threads = [threading.Thread(target=pay, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert outcomes.count("paid") == 1, outcomes
        refused = next(o for o in outcomes if o != "paid")
        assert refused[0] in ("insufficient_balance", "tender_refused")
        assert "80" in refused[1] and refused[2] == {"stored_value": ["More than the balance."]}
        assert wallet_balance(member) == D("20")
        unpaid = next(o for o, out in zip(orders, outcomes, strict=True) if out != "paid")
        unpaid.refresh_from_db()
        assert unpaid.status == OrderStatus.CREATED and not unpaid.payments.exists()
        assert not WalletEntry.objects.filter(order_number=unpaid.number).exists()
    assert Payment.objects.count() == 5
    assert_ledgers_add_up()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_top_up_sent_twice_at_once_is_one_top_up(shop):
    member = MemberFactory()
    barrier = threading.Barrier(8)
    outcomes = [None] * 8

    def top_up(i):
        try:
            barrier.wait()
            outcomes[i] = wallet_top_up(
                member=member, amount=D("50"), method="card", actor=SYSTEM, client_reference="POS-RACE"
            ).pk
        except Exception as error:  # noqa: BLE001 (reported by the assertion)
            outcomes[i] = repr(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=top_up, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entry = WalletEntry.objects.get()
    assert outcomes == [entry.pk] * 8
    assert wallet_balance(member) == D("50")
    assert_ledgers_add_up()


@pytest.mark.django_db
def test_cents_add_up_exactly_in_the_database_too(shop):
    """SQLite keeps decimals as floats (0.30 - 0.10 is 0.19999999999999998 there): the order's
    CHECKs, the wallet's balance and a coupon's budget in money are rounded to the cent, so an
    exact amount is never refused by a hair; PostgreSQL's numeric is exact anyway."""
    from marketing.models import Coupon

    tenth, fifth = shop.sku("0.30"), shop.sku("0.40")
    member = shop.member(wallet="0.30")
    coupon = shop.coupon("HAIR", value="0.10", per_member_limit=3, budget_amount="0.30")
    codes = [shop.give(coupon, member) for _ in range(3)]
    one = shop.order(member, lines=[(tenth, 1)], coupons=[codes[0]])  # 0.30 - 0.10
    two = shop.order(member, lines=[(fifth, 1)], coupons=[codes[1]])  # 0.40 - 0.10
    three = shop.order(member, lines=[(tenth, 1)], coupons=[codes[2]])  # 0.10 x 3: the budget, exactly
    assert (one.total, two.total, three.total) == (D("0.20"), D("0.30"), D("0.20"))
    coupon = Coupon.objects.get(pk=coupon.pk)
    assert (coupon.redeemed_count, coupon.redeemed_amount) == (3, D("0.30"))
    shop.pay(one, stored_value="0.10", method="card")  # 0.30 - 0.10
    shop.pay(two, stored_value="0.20", method="card")  # 0.20 - 0.20: exactly zero left
    assert wallet_balance(member) == D("0")
    assert_ledgers_add_up()
