"""orders.policies: who acts on an order is decided once, and the portal's queue, the API and the
services give the same answer. Regression tests for issue 14, defect 3: a partner user got the
order page with no actions, yet POST /api/v1/orders/<n>/accept/ (and reject, ship, ready,
collect) went through, because the API asked stores_visible_to (partners included) where the
page asked for a staff membership."""

import ast
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from config.errors import Forbidden, NotFound
from integrations.authentication import KeyUser
from integrations.choices import Scope
from integrations.services import CHANNEL_ONLY_SCOPES, api_key_create
from orders.choices import AssignmentStatus, DeliveryMethod, OrderStatus
from orders.fulfilment import assignment_accept, order_ready_for_pickup
from orders.models import Order, OrderStatusChange, Payment, StoreAssignment
from orders.policies import SYSTEM, order_actionable_by, orders_visible_to
from orders.services import LineRequest, order_create, order_pay
from stores.models import Stock, StockMovement
from tests.factories import GuideFactory, PartnerFactory, clerk_at, manager_at, partner_user
from tests.world import north

pytestmark = pytest.mark.django_db

API = "/api/v1/orders/"
ROOT = Path(__file__).resolve().parents[2]


# --- a store A run by a partner, and an order in each state the counter acts on ----------------


@pytest.fixture
def partner(world):
    partner = PartnerFactory()
    world.a.partner = partner
    world.a.save(update_fields=["partner"])
    return partner


def _paid(order):
    order_pay(order=order, amount=order.total, method="wechat", actor=SYSTEM)
    order.refresh_from_db()
    return order


def offered_at_a(world):
    world.stock(world.a, world.tv, 1)
    lat, lng = north(0.5)
    order = order_create(
        channel=world.mall,
        lines=[LineRequest(world.tv, 1)],
        delivery_method=DeliveryMethod.SHIP,
        address="1 Chang'an Ave",
        latitude=lat,
        longitude=lng,
        actor=SYSTEM,
    )
    order = _paid(order)
    assert order.fulfilling_location == world.a and order.status == OrderStatus.ALLOCATED
    return order


def accepted_at_a(world):
    order = offered_at_a(world)
    assignment_accept(order=order, store=world.a, actor=SYSTEM)
    order.refresh_from_db()
    return order


def pickup_at_a(world, *, ready: bool):
    world.stock(world.a, world.tv, 1)
    order = _paid(
        order_create(
            channel=world.mall,
            lines=[LineRequest(world.tv, 1)],
            delivery_method=DeliveryMethod.PICKUP,
            pickup_store=world.a,
            actor=SYSTEM,
        )
    )
    assignment_accept(order=order, store=world.a, actor=SYSTEM)
    if ready:
        order_ready_for_pickup(order=order, store=world.a, actor=SYSTEM)
    order.refresh_from_db()
    return order


# action -> (the order it needs, the API body, the queue's form data)
ACTIONS = {
    "accept": (offered_at_a, {}, {}),
    "reject": (offered_at_a, {"reason": "No courier today"}, {"reason": "No courier today"}),
    "ship": (accepted_at_a, {"tracking_number": "SF1"}, {"tracking_number": "SF1"}),
    "ready": (lambda world: pickup_at_a(world, ready=False), {}, {}),
    "collect": (lambda world: pickup_at_a(world, ready=True), None, None),  # the code comes from the order
}


def bodies(action, order):
    make, api, page = ACTIONS[action]
    if action == "collect":
        return {"pickup_code": order.pickup_code}, {"pickup_code": order.pickup_code}
    return api, page


def snapshot(order):
    """Everything an action writes: the order, its offers, its history, payments and stock."""
    order = Order.objects.get(pk=order.pk)
    return (
        order.status,
        order.fulfilling_location_id,
        order.tracking_number,
        list(StoreAssignment.objects.filter(order=order).values_list("store_id", "status", "reason")),
        OrderStatusChange.objects.filter(order=order).count(),
        Payment.objects.filter(order=order).count(),
        list(Stock.objects.order_by("pk").values_list("on_hand", "reserved")),
        StockMovement.objects.count(),
    )


def person_client(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def key_client(**kwargs) -> Client:
    """A key with every scope its kind may have (a partner's key never writes orders)."""
    scopes = [s for s in Scope.values if "channel" in kwargs or s not in CHANNEL_ONLY_SCOPES]
    _key, plaintext = api_key_create(name="test key", scopes=scopes, actor=SYSTEM, **kwargs)
    return Client(headers={"Authorization": f"Bearer {plaintext}"}, raise_request_exception=False)


def who(name, world, partner):
    """A principal who must not act at store A's counter, and the status the API answers them."""
    if name == "partner user":
        return person_client(partner_user(partner)), 403, "permission_denied"  # sees it, may not act
    if name == "partner key":
        return key_client(partner=partner), 403, "scope_missing"  # keys never work a counter
    if name == "clerk of another store":
        return person_client(clerk_at(world.c)), 404, "not_found"  # does not even see it
    if name == "guide":
        return person_client(GuideFactory().user), 403, "permission_denied"  # reads only
    raise AssertionError(name)


ACTIONS_ALL = ("accept", "reject", "ship", "ready", "collect", "complete", "pay", "cancel")
OUTSIDERS = ["partner user", "partner key", "clerk of another store", "guide"]


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("name", OUTSIDERS)
def test_the_api_refuses_counter_actions_to_whoever_does_not_work_the_store(world, partner, action, name):
    order = ACTIONS[action][0](world)
    api_body, _page = bodies(action, order)
    client, status, code = who(name, world, partner)
    before = snapshot(order)

    response = client.post(f"{API}{order.number}/{action}/", api_body, content_type="application/json")

    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert snapshot(order) == before


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("name", ["partner user", "clerk of another store", "guide"])
def test_the_queue_page_refuses_the_same_people_the_api_does(world, partner, action, name):
    order = ACTIONS[action][0](world)
    _api, page_data = bodies(action, order)
    client, _status, _code = who(name, world, partner)
    before = snapshot(order)

    response = client.post(
        reverse("orders:queue", args=[world.a.code]), {"order": order.number, "action": action, **page_data}
    )

    # The partner sees store A's queue but may not act there; the clerk of C does not see A; the
    # guide has no store pages at all.
    assert response.status_code == {"partner user": 403, "clerk of another store": 404, "guide": 403}[name]
    assert snapshot(order) == before


def test_a_partner_sees_its_stores_queue_and_order_page_without_any_action(world, partner):
    order = offered_at_a(world)
    client = person_client(partner_user(partner))

    queue = client.get(reverse("orders:queue", args=[world.a.code]))
    detail = client.get(reverse("orders:detail", args=[order.number]))

    assert queue.status_code == 200 and detail.status_code == 200
    assert order.number in queue.content.decode()
    assert queue.context["may_serve"] is False
    assert 'value="accept"' not in queue.content.decode()
    assert 'value="reject"' not in queue.content.decode()
    assert reverse("orders:new", args=[world.a.code]) not in queue.content.decode()
    assert detail.context["may_act"] is False and detail.context["cancel_form"] is None
    # The API shows the partner the same order it refuses to let them act on.
    assert client.get(f"{API}{order.number}/").status_code == 200


def test_the_stores_own_clerk_acts_through_the_api_and_the_page_alike(world, partner):
    first = offered_at_a(world)
    clerk = clerk_at(world.a)
    client = person_client(clerk)

    assert client.post(f"{API}{first.number}/accept/", {}, content_type="application/json").status_code == 200
    world.stock(world.a, world.tv, 1)
    second = offered_at_a(world)
    response = client.post(
        reverse("orders:queue", args=[world.a.code]), {"order": second.number, "action": "accept"}
    )

    assert response.status_code == 302
    for order in (first, second):
        assignment = StoreAssignment.objects.get(order=order)
        assert (assignment.status, assignment.responded_by) == (AssignmentStatus.ACCEPTED, clerk)


@pytest.mark.parametrize("action", ["pay", "cancel"])
def test_a_partner_key_neither_pays_nor_cancels_its_stores_orders(world, partner, action):
    world.stock(world.a, world.tv, 1)
    lat, lng = north(0.5)
    order = order_create(
        channel=world.mall,
        lines=[LineRequest(world.tv, 1)],
        delivery_method=DeliveryMethod.SHIP,
        address="1 Chang'an Ave",
        latitude=lat,
        longitude=lng,
        actor=SYSTEM,
    )
    assert order.fulfilling_location == world.a
    client = key_client(partner=partner)
    assert client.get(f"{API}{order.number}/").status_code == 200  # it sees its store's order
    body = {"amount": str(order.total), "method": "wechat"} if action == "pay" else {"reason": "Test"}
    before = snapshot(order)

    response = client.post(f"{API}{order.number}/{action}/", body, content_type="application/json")

    assert response.status_code == 403, response.content
    assert response.json()["code"] in ("scope_missing", "permission_denied")
    assert snapshot(order) == before


def test_the_policy_refuses_partner_keys_even_with_a_scope_they_cannot_be_given(world, partner):
    order = offered_at_a(world)
    _key, plaintext = api_key_create(name="partner", partner=partner, scopes=["orders:read"], actor=SYSTEM)
    principal = KeyUser(_key)
    principal.api_key.scopes = Scope.values  # as if a scope slipped through: the policy still says no
    assert order_actionable_by(principal, order, "see")
    assert [a for a in ACTIONS_ALL if order_actionable_by(principal, order, a)] == []


@pytest.mark.parametrize("action", ["pay", "cancel"])
def test_the_orders_channel_key_pays_and_cancels_it(world, action):
    world.stock(world.a, world.tv, 1)
    lat, lng = north(0.5)
    order = order_create(
        channel=world.mall,
        lines=[LineRequest(world.tv, 1)],
        delivery_method=DeliveryMethod.SHIP,
        address="1 Chang'an Ave",
        latitude=lat,
        longitude=lng,
        actor=SYSTEM,
    )
    client = key_client(channel=world.mall)
    body = {"amount": str(order.total), "method": "wechat"} if action == "pay" else {"reason": "Test"}

    response = client.post(f"{API}{order.number}/{action}/", body, content_type="application/json")

    assert response.status_code in (200, 201), response.content
    order.refresh_from_db()
    assert order.status == {"pay": OrderStatus.ALLOCATED, "cancel": OrderStatus.CANCELLED}[action]


def test_a_partner_user_places_no_order_for_its_store_through_the_api(world, partner):
    world.stock(world.a, world.tv, 1)
    lat, lng = north(0.5)
    body = {
        "channel": "stores",
        "origin": "in_store",
        "origin_store": "A",
        "lines": [{"sku": "TV-55", "quantity": 1}],
        "delivery_method": "ship",
        "address": "1 Chang'an Ave",
        "latitude": str(lat),
        "longitude": str(lng),
    }

    response = person_client(partner_user(partner)).post(API, body, content_type="application/json")

    assert response.status_code == 403, response.content
    assert response.json()["code"] == "permission_denied"
    assert not Order.objects.exists()
    assert Stock.objects.get(location=world.a).reserved == 0


# --- the services refuse on their own ----------------------------------------------------------


def test_the_services_refuse_an_actor_the_policy_refuses(world, partner):
    order = offered_at_a(world)
    before = snapshot(order)

    with pytest.raises(Forbidden):
        assignment_accept(order=order, store=world.a, actor=partner_user(partner))
    with pytest.raises(NotFound):
        assignment_accept(order=order, store=world.a, actor=clerk_at(world.c))
    assert snapshot(order) == before

    manager = manager_at(world.a)
    assignment_accept(order=order, store=world.a, actor=manager)
    assert StoreAssignment.objects.get(order=order).responded_by == manager


def test_the_policy_answers_per_action(world, partner):
    order = offered_at_a(world)
    clerk_a, clerk_c, partner_person = clerk_at(world.a), clerk_at(world.c), partner_user(partner)

    assert order_actionable_by(clerk_a, order, "accept")
    assert not order_actionable_by(clerk_c, order, "see")
    assert order_actionable_by(partner_person, order, "see")
    acts = ("accept", "reject", "ship", "pay", "cancel")
    assert [a for a in acts if order_actionable_by(partner_person, order, a)] == []
    assert order_actionable_by(SYSTEM, order, "cancel")
    assert set(orders_visible_to(partner_person)) == {order}
    with pytest.raises(ValueError):
        order_actionable_by(clerk_a, order, "teleport")


# --- a page or endpoint that forgets the actor is caught -----------------------------------------

GATED = {
    "assignment_accept",
    "assignment_reject",
    "order_ship",
    "order_ready_for_pickup",
    "order_collect",
    "order_complete",
    "order_pay",
    "order_cancel",
    "order_create",
    "stock_receive",
    "stock_adjust",
    "stock_transfer",
}
SURFACES = [
    "orders/views.py",
    "portal/order_page.py",
    "orders/api/views.py",
    "orders/admin.py",
    "portal/store_order.py",
    "stores/views.py",
    "stores/api/views.py",
    "stores/admin.py",
]


def test_every_page_and_endpoint_passes_its_actor_to_the_services():
    missing = []
    for path in SURFACES:
        tree = ast.parse((ROOT / path).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in GATED:
                if "actor" not in {keyword.arg for keyword in node.keywords}:
                    missing.append(f"{path}:{node.lineno} {node.func.id}")
    assert missing == []


def test_a_clerk_places_through_the_api_only_an_order_of_a_store_they_work_at(world):
    world.stock(world.a, world.tv, 2)
    lat, lng = north(0.5)
    body = {
        "channel": "stores",
        "lines": [{"sku": "TV-55", "quantity": 1}],
        "delivery_method": "ship",
        "address": "1 Chang'an Ave",
        "latitude": str(lat),
        "longitude": str(lng),
    }
    client = person_client(clerk_at(world.a))

    online = client.post(API, body, content_type="application/json")  # no store: an online order
    elsewhere = client.post(
        API, {**body, "origin_store": "C", "origin": "in_store"}, content_type="application/json"
    )
    assert (online.status_code, online.json()["code"]) == (403, "permission_denied")
    assert elsewhere.status_code in (400, 403)  # C is not theirs: not even found
    assert not Order.objects.exists()

    own = client.post(
        API, {**body, "origin_store": "A", "origin": "in_store"}, content_type="application/json"
    )
    assert own.status_code == 201, own.content
    assert Order.objects.get().origin_store == world.a
