"""Staff portal store pages: a clerk's store boundary, stock lookup nearby, receipts and adjustments."""

import math
from decimal import Decimal

import pytest
from django.urls import reverse

from config.roles import SYSTEM
from stores.choices import MovementKind, StoreStatus
from stores.models import StaffMembership, Stock, StockMovement
from stores.services import stock_receive, stock_reserve
from tests.factories import SKUFactory, StoreFactory, clerk_at, hq_user, manager_at

pytestmark = pytest.mark.django_db

BEIJING = (Decimal("39.904200"), Decimal("116.407400"))


def east_of_beijing(km: float) -> Decimal:
    """A longitude `km` east of the Beijing test store, on the same latitude."""
    degrees = km / (111.32 * math.cos(math.radians(float(BEIJING[0]))))
    return Decimal(str(round(float(BEIJING[1]) + degrees, 6)))


def haversine_km(lng: Decimal) -> float:
    lat = math.radians(float(BEIJING[0]))
    dlng = math.radians(float(lng) - float(BEIJING[1]))
    a = math.cos(lat) ** 2 * math.sin(dlng / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


@pytest.fixture
def store():
    return StoreFactory(code="BJ001", name="Beijing Wangfujing", latitude=BEIJING[0], longitude=BEIJING[1])


@pytest.fixture
def other_store():
    return StoreFactory(
        code="SH001", name="Shanghai Nanjing Road", latitude="31.230400", longitude="121.473700"
    )


@pytest.fixture
def sku():
    return SKUFactory(code="TV55X", barcode="6900000000551", name="Super TV 55 inch")


@pytest.fixture
def clerk(store):
    return clerk_at(store)


@pytest.fixture
def clerk_client(client, clerk):
    client.force_login(clerk)
    return client


# --- my stores, store page, ledger -------------------------------------------------------------


def test_store_list_shows_only_the_clerks_stores(clerk_client, store, other_store):
    response = clerk_client.get(reverse("stores:list"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Beijing Wangfujing" in body
    assert "Shanghai Nanjing Road" not in body


def test_store_list_search_narrows_by_name(client, store, other_store):
    client.force_login(hq_user())
    body = client.get(reverse("stores:list"), {"q": "Nanjing"}).content.decode()
    assert "Shanghai Nanjing Road" in body
    assert "Beijing Wangfujing" not in body


def test_clerk_sees_own_store_page_with_stock_and_available_units(clerk_client, store, sku):
    stock_receive(location=store, sku=sku, quantity=7, reason="Delivery", actor=SYSTEM)
    stock_reserve(location=store, sku=sku, quantity=2, reference="O-1")
    response = clerk_client.get(reverse("stores:detail", args=[store.code]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Beijing Wangfujing" in body
    assert "TV55X" in body
    # on hand 7, reserved 2, available 5 (each cell names its column: the list's cards show the label)
    assert 'class="num" data-label="On hand"><span class="cell">7</span></td>' in body
    assert 'class="num" data-label="Reserved"><span class="cell">2</span></td>' in body
    assert 'class="num strong" data-label="Available"><span class="cell">5</span></td>' in body
    assert reverse("stores:ledger", args=[store.code, sku.code]) in body
    # a clerk looks stock up but does not receive or adjust it
    assert reverse("stores:stock_change", args=[store.code]) not in body


def test_store_stock_search_by_barcode(clerk_client, store, sku):
    other = SKUFactory(code="PHONE1")
    stock_receive(location=store, sku=sku, quantity=1, reason="Delivery", actor=SYSTEM)
    stock_receive(location=store, sku=other, quantity=1, reason="Delivery", actor=SYSTEM)
    body = clerk_client.get(
        reverse("stores:detail", args=[store.code]), {"barcode": sku.barcode}
    ).content.decode()
    assert "TV55X" in body
    assert "PHONE1" not in body


def test_ledger_lists_movements_newest_first(clerk_client, store, sku):
    stock_receive(location=store, sku=sku, quantity=5, reason="First delivery", actor=SYSTEM)
    stock_receive(location=store, sku=sku, quantity=3, reason="Second delivery", actor=SYSTEM)
    body = clerk_client.get(reverse("stores:ledger", args=[store.code, sku.code])).content.decode()
    assert body.index("Second delivery") < body.index("First delivery")
    assert "+3" in body and "+5" in body


@pytest.mark.parametrize(
    "name, args",
    [
        ("stores:detail", ["SH001"]),
        ("stores:ledger", ["SH001", "TV55X"]),
        ("stores:lookup", ["SH001"]),
        ("stores:stock_change", ["SH001"]),
    ],
)
def test_clerk_gets_404_for_another_stores_pages(clerk_client, other_store, sku, name, args):
    stock_receive(location=other_store, sku=sku, quantity=4, reason="Delivery", actor=SYSTEM)
    response = clerk_client.get(reverse(name, args=args), {"q": sku.code})
    assert response.status_code == 404
    assert b"Shanghai Nanjing Road" not in response.content
    assert b"Page not found" in response.content


def test_an_unknown_store_is_the_same_404_as_a_hidden_one(clerk_client):
    assert clerk_client.get(reverse("stores:detail", args=["NOPE"])).status_code == 404


def test_anonymous_is_redirected_to_login(client, store):
    response = client.get(reverse("stores:detail", args=[store.code]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


# --- stock lookup -----------------------------------------------------------------------------


def test_lookup_shows_nearby_store_with_distance_and_hides_stores_outside_radius(clerk_client, store, sku):
    near = StoreFactory(name="Dongcheng Partner", latitude=BEIJING[0], longitude=east_of_beijing(5))
    far = StoreFactory(name="Tongzhou Dealer", latitude=BEIJING[0], longitude=east_of_beijing(30))
    closed = StoreFactory(
        name="Closed Corner", latitude=BEIJING[0], longitude=east_of_beijing(3), status=StoreStatus.CLOSED
    )
    for location, units in [(store, 2), (near, 6), (far, 9), (closed, 4)]:
        stock_receive(location=location, sku=sku, quantity=units, reason="Delivery", actor=SYSTEM)

    response = clerk_client.get(reverse("stores:lookup", args=[store.code]), {"q": "tv55x"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Super TV 55 inch" in body
    assert '<span class="avail-big">2</span>' in body
    assert "Dongcheng Partner" in body
    assert f"{haversine_km(near.longitude):.1f} km" in body
    assert '<td class="num strong">6</td>' in body
    assert "Tongzhou Dealer" not in body  # 30 km, outside the 10 km radius
    assert "Closed Corner" not in body


def test_lookup_by_barcode_finds_the_sku(clerk_client, store, sku):
    stock_receive(location=store, sku=sku, quantity=3, reason="Delivery", actor=SYSTEM)
    body = clerk_client.get(reverse("stores:lookup", args=[store.code]), {"q": sku.barcode}).content.decode()
    assert "Super TV 55 inch" in body
    assert '<span class="avail-big">3</span>' in body


def test_lookup_of_unknown_sku_says_what_to_do_next(clerk_client, store):
    body = clerk_client.get(reverse("stores:lookup", args=[store.code]), {"q": "NO-SUCH"}).content.decode()
    assert "No SKU has the code or barcode “NO-SUCH”." in body
    assert "scan the barcode" in body


def test_lookup_input_is_made_for_a_tablet(clerk_client, store):
    body = clerk_client.get(reverse("stores:lookup", args=[store.code])).content.decode()
    assert 'inputmode="search"' in body
    assert "autofocus" in body
    assert '<label for="id_q">' in body


def test_nav_lookup_goes_straight_to_a_single_store_users_store(clerk_client, store):
    response = clerk_client.get(reverse("stores:lookup_start"), {"q": "TV55X"})
    assert response.status_code == 302
    assert response["Location"] == reverse("stores:lookup", args=[store.code]) + "?q=TV55X"


def test_nav_lookup_lets_a_user_with_several_stores_pick_one_of_theirs(client, store, other_store):
    user = clerk_at(store)
    StaffMembership.objects.create(user=user, store=other_store, role="clerk")
    hidden = StoreFactory(code="GZ001")
    client.force_login(user)
    page = client.get(reverse("stores:lookup_start")).content.decode()
    assert 'value="BJ001"' in page and 'value="SH001"' in page and "GZ001" not in page
    response = client.get(reverse("stores:lookup_start"), {"store": "SH001", "q": "TV55X"})
    assert response["Location"] == reverse("stores:lookup", args=["SH001"]) + "?q=TV55X"
    refused = client.get(reverse("stores:lookup_start"), {"store": hidden.code, "q": "TV55X"})
    assert refused.status_code == 200  # not a redirect to a store the user cannot see


# --- receipts and adjustments -----------------------------------------------------------------


def test_clerk_cannot_post_an_adjustment_and_nothing_is_written(clerk_client, store, sku):
    stock_receive(location=store, sku=sku, quantity=5, reason="Delivery", actor=SYSTEM)
    response = clerk_client.post(
        reverse("stores:stock_change", args=[store.code]),
        {"kind": "adjustment", "sku": sku.code, "quantity": "-2", "reason": "Count"},
    )
    assert response.status_code == 403
    assert b"managers and HQ can receive or adjust stock" in response.content
    assert Stock.objects.get(location=store, sku=sku).on_hand == 5
    assert StockMovement.objects.count() == 1


def test_managers_adjustment_writes_a_movement_with_reason_and_author(client, store, sku):
    manager = manager_at(store)
    stock_receive(location=store, sku=sku, quantity=5, reason="Delivery", actor=SYSTEM)
    client.force_login(manager)
    response = client.post(
        reverse("stores:stock_change", args=[store.code]),
        {"kind": "adjustment", "sku": sku.barcode, "quantity": "-2", "reason": "Count: 2 damaged"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("stores:ledger", args=[store.code, sku.code])
    movement = StockMovement.objects.latest("id")
    assert (movement.kind, movement.on_hand_delta, movement.reason, movement.created_by) == (
        MovementKind.ADJUSTMENT,
        -2,
        "Count: 2 damaged",
        manager,
    )
    assert Stock.objects.get(location=store, sku=sku).on_hand == 3
    assert "Adjustment recorded: -2 × TV55X at BJ001." in response.content.decode()


def test_managers_receipt_creates_the_stock_row(client, store, sku):
    client.force_login(manager_at(store))
    client.post(
        reverse("stores:stock_change", args=[store.code]),
        {"kind": "receipt", "sku": sku.code, "quantity": "12", "reason": "Delivery", "reference": "DN-4711"},
    )
    movement = StockMovement.objects.get()
    assert (movement.kind, movement.on_hand_delta, movement.reference) == (
        MovementKind.RECEIPT,
        12,
        "DN-4711",
    )
    assert Stock.objects.get(location=store, sku=sku).on_hand == 12


def test_adjustment_below_zero_is_refused_on_the_page_and_nothing_is_written(client, store, sku):
    stock_receive(location=store, sku=sku, quantity=2, reason="Delivery", actor=SYSTEM)
    client.force_login(manager_at(store))
    response = client.post(
        reverse("stores:stock_change", args=[store.code]),
        {"kind": "adjustment", "sku": sku.code, "quantity": "-3", "reason": "Count"},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Not enough stock of TV55X at BJ001: 2 on hand" in body
    assert Stock.objects.get(location=store, sku=sku).on_hand == 2
    assert StockMovement.objects.count() == 1


def test_receipt_of_zero_units_is_refused_with_the_services_message(client, store, sku):
    client.force_login(manager_at(store))
    response = client.post(
        reverse("stores:stock_change", args=[store.code]),
        {"kind": "receipt", "sku": sku.code, "quantity": "0", "reason": "Delivery"},
    )
    assert "Quantity must be a whole number above zero." in response.content.decode()
    assert not StockMovement.objects.exists()


def test_unknown_sku_in_the_stock_form_is_a_field_error(client, store):
    client.force_login(manager_at(store))
    response = client.post(
        reverse("stores:stock_change", args=[store.code]),
        {"kind": "receipt", "sku": "NOPE", "quantity": "1", "reason": "Delivery"},
    )
    assert "No SKU has the code or barcode “NOPE”." in response.content.decode()
    assert not StockMovement.objects.exists()


def test_manager_of_another_store_gets_404_not_a_form(client, store, other_store):
    client.force_login(manager_at(other_store))
    assert client.get(reverse("stores:stock_change", args=[store.code])).status_code == 404


def test_hq_may_receive_stock_at_any_store(client, store, sku):
    client.force_login(hq_user())
    assert client.get(reverse("stores:stock_change", args=[store.code])).status_code == 200


# --- query counts stay flat as rows grow --------------------------------------------------------


def _clerk_with_stores(count: int):
    stores = [StoreFactory() for _ in range(count)]
    user = clerk_at(stores[0])
    StaffMembership.objects.bulk_create(
        [StaffMembership(user=user, store=s, role="clerk") for s in stores[1:]]
    )
    return user, stores[0]


@pytest.mark.parametrize("stores", [2, 30])
def test_store_list_query_count_is_flat(client, django_assert_max_num_queries, stores):
    user, _ = _clerk_with_stores(stores)
    client.force_login(user)
    # session, user, groups, count, page
    with django_assert_max_num_queries(5):
        response = client.get(reverse("stores:list"))
    assert len(response.context["page_obj"].object_list) == stores


@pytest.mark.parametrize("rows", [2, 30])
def test_store_stock_page_query_count_is_flat(client, django_assert_max_num_queries, store, rows):
    user = clerk_at(store)
    for _ in range(rows):
        stock_receive(location=store, sku=SKUFactory(), quantity=1, reason="Delivery", actor=SYSTEM)
    client.force_login(user)
    # session, user, groups, store, may-change check, count, page
    with django_assert_max_num_queries(7):
        response = client.get(reverse("stores:detail", args=[store.code]))
    assert len(response.context["page_obj"].object_list) == rows


@pytest.mark.parametrize("neighbours", [2, 20])
def test_lookup_query_count_is_flat(client, django_assert_max_num_queries, store, sku, neighbours):
    user = clerk_at(store)
    for i in range(neighbours):
        near = StoreFactory(latitude=BEIJING[0], longitude=east_of_beijing(0.3 * (i + 1)))
        stock_receive(location=near, sku=sku, quantity=1, reason="Delivery", actor=SYSTEM)
    client.force_login(user)
    client.get(reverse("stores:lookup", args=[store.code]))  # the first visit remembers the store
    # session, user, groups, store, SKU, stock nearby
    with django_assert_max_num_queries(6):
        response = client.get(reverse("stores:lookup", args=[store.code]), {"q": sku.code})
    assert len(response.context["nearby"]) == neighbours


def test_hq_with_more_stores_than_a_list_types_the_store_code(client, store, other_store, monkeypatch):
    from stores import views

    monkeypatch.setattr(views, "LOOKUP_STORE_CHOICES", 1)
    client.force_login(hq_user())
    page = client.get(reverse("stores:lookup_start")).content.decode()
    assert '<input type="text" name="store"' in page
    refused = client.get(reverse("stores:lookup_start"), {"store": "NOPE", "q": "TV55X"})
    assert "None of your stores has this code." in refused.content.decode()
    response = client.get(reverse("stores:lookup_start"), {"store": "SH001", "q": "TV55X"})
    assert response["Location"] == reverse("stores:lookup", args=["SH001"]) + "?q=TV55X"


# --- portal home (config.views.portal_home): the user's stores and the tiles of their role -------


def test_portal_home_lists_the_clerks_stores_and_no_hq_tiles(clerk_client, store, other_store):
    body = clerk_client.get(reverse("portal:home")).content.decode()
    assert reverse("stores:detail", args=[store.code]) in body
    assert reverse("stores:detail", args=[other_store.code]) not in body
    assert reverse("catalog:consistency") not in body
    assert reverse("admin:index") not in body


def test_portal_home_gives_hq_the_hq_tiles_and_nav(client, store):
    client.force_login(hq_user())
    body = client.get(reverse("portal:home")).content.decode()
    for name in ("catalog:consistency", "catalog:price_new", "catalog:categories", "admin:index"):
        assert reverse(name) in body
