"""stores.policies behind the stock services: receipts, adjustments and transfers are HQ's and the
store's managers' ("manage"); the services ask the policy themselves, so a page that forgot to
check could not change stock either."""

import pytest
from django.test import Client

from config.errors import Forbidden, NotFound
from integrations.choices import Scope
from integrations.services import CHANNEL_ONLY_SCOPES, api_key_create
from stores.choices import StaffRole
from stores.models import StaffMembership, Stock, StockMovement
from stores.policies import SYSTEM, person_of
from stores.services import stock_adjust, stock_receive, stock_transfer
from tests.factories import (
    ChannelFactory,
    PartnerFactory,
    SKUFactory,
    StoreFactory,
    clerk_at,
    hq_user,
    manager_at,
    partner_user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene():
    partner = PartnerFactory()
    a, b = StoreFactory(code="A", partner=partner), StoreFactory(code="B")
    sku = SKUFactory()
    stock_receive(location=a, sku=sku, quantity=5, reason="Delivery", actor=SYSTEM)
    return a, b, sku, partner


def moves(a, b, sku, actor):
    return [
        lambda: stock_receive(location=a, sku=sku, quantity=1, reason="Delivery", actor=actor),
        lambda: stock_adjust(location=a, sku=sku, delta=-1, reason="Count", actor=actor),
        lambda: stock_transfer(source=a, destination=b, sku=sku, quantity=1, reason="Move", actor=actor),
    ]


def written():
    return list(
        Stock.objects.order_by("pk").values_list("on_hand", "reserved")
    ), StockMovement.objects.count()


@pytest.mark.parametrize(
    ("who", "refusal"),
    [("clerk", Forbidden), ("partner", Forbidden), ("manager elsewhere", NotFound)],
)
def test_the_stock_services_refuse_whoever_does_not_manage_the_store(scene, who, refusal):
    a, b, sku, partner = scene
    actor = {
        "clerk": lambda: clerk_at(a),
        "partner": lambda: partner_user(partner),
        "manager elsewhere": lambda: manager_at(StoreFactory()),
    }[who]()
    before = written()
    for move in moves(a, b, sku, actor):
        with pytest.raises(refusal):
            move()
    assert written() == before


def test_managers_and_hq_move_stock_and_are_recorded(scene):
    a, b, sku, _partner = scene
    manager = manager_at(a)
    StaffMembership.objects.create(user=manager, store=b, role=StaffRole.MANAGER)
    receipt = stock_receive(location=a, sku=sku, quantity=2, reason="Delivery", actor=manager)
    out, into = stock_transfer(source=a, destination=b, sku=sku, quantity=1, reason="Move", actor=manager)
    hq = hq_user()
    adjusted = stock_adjust(location=b, sku=sku, delta=-1, reason="Count", actor=hq)

    assert [m.created_by for m in (receipt, out, into, adjusted)] == [manager, manager, manager, hq]
    assert Stock.objects.get(location=a).on_hand == 6 and Stock.objects.get(location=b).on_hand == 0


def test_a_transfer_needs_both_stores_managed(scene):
    a, b, sku, _partner = scene
    before = written()
    with pytest.raises(NotFound):
        stock_transfer(source=a, destination=b, sku=sku, quantity=1, reason="Move", actor=manager_at(a))
    assert written() == before


def test_the_product_itself_acts_for_nobody():
    assert person_of(SYSTEM) is None


def test_a_service_called_without_its_actor_does_nothing(scene):
    a, _b, sku, _partner = scene
    before = written()
    with pytest.raises(TypeError, match="actor"):
        stock_receive(location=a, sku=sku, quantity=1, reason="Delivery")
    assert written() == before


def test_no_api_key_reads_the_stock_ledger(scene):
    a, _b, sku, partner = scene
    stock = Stock.objects.get(location=a, sku=sku)
    keys = [
        api_key_create(name="mall", channel=ChannelFactory(), scopes=Scope.values, actor=SYSTEM)[1],
        api_key_create(
            name="partner",
            partner=partner,
            scopes=[s for s in Scope.values if s not in CHANNEL_ONLY_SCOPES],
            actor=SYSTEM,
        )[1],
    ]
    for plaintext in keys:
        client = Client(headers={"Authorization": f"Bearer {plaintext}"})
        # Its references name orders of every channel: people who see the store read it, keys do not.
        response = client.get(f"/api/v1/stock/{stock.pk}/movements/")
        assert (response.status_code, response.json()["code"]) == (403, "scope_missing")
        assert client.get(f"/api/v1/stock/{stock.pk}/").status_code == 200  # stock levels stay readable
