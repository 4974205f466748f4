"""HQ's Django admin: prices and the one-price flag go through the services, refusals show
the service's message, the audit trail and the stock ledger are read-only."""

import html
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.choices import PriceAction
from catalog.models import SKU, Price, PriceChange
from catalog.services import price_set
from config.roles import SYSTEM
from stores.models import Stock, StockMovement
from stores.services import stock_receive
from tests.factories import (
    CategoryFactory,
    ChannelFactory,
    DealerChannelFactory,
    PartnerFactory,
    ProductFactory,
    SKUFactory,
    StoreFactory,
    UserFactory,
    hq_user,
)

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 1, 0, 0, tzinfo=SH)

pytestmark = pytest.mark.django_db


def page(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def mall():
    return ChannelFactory(code="mall", name="Own mall")


def add_price(client, sku, channel, amount, valid_from=T0, valid_to=None):
    data = {
        "sku": sku.pk,
        "channel": channel.pk if channel else "",
        "amount": amount,
        "valid_from_0": valid_from.strftime("%Y-%m-%d"),
        "valid_from_1": valid_from.strftime("%H:%M:%S"),
        "valid_to_0": valid_to.strftime("%Y-%m-%d") if valid_to else "",
        "valid_to_1": valid_to.strftime("%H:%M:%S") if valid_to else "",
    }
    return client.post("/admin/catalog/price/add/", data, follow=True)


def run_action(client, url, action, objects, follow=True, on_page=False):
    data = {"action": action, "_selected_action": [o.pk for o in objects], "index": 0}
    if on_page:  # Django 6.1 actions on the object's change page
        data = {"CHANGE_FORM-action": action, "_selected_action": [o.pk for o in objects]}
    return client.post(url, data, follow=follow)


# --- Adding prices


def test_admin_adds_a_price_through_the_service_and_audits_who(hq_client, hq, mall):
    sku = SKUFactory(code="TV55")
    price_set(sku=sku, channel=mall, amount=Decimal("3199"), valid_from=T0 - timedelta(days=30), actor=SYSTEM)

    response = add_price(hq_client, sku, mall, "2999.5")

    assert response.status_code == 200
    assert "was added successfully" in page(response)
    old, new = Price.objects.filter(sku=sku).order_by("valid_from")
    assert (new.amount, new.valid_from, new.created_by) == (Decimal("2999.50"), T0, hq)
    assert old.valid_to == T0  # the open price was closed where the new one starts
    change = PriceChange.objects.get(price=new)
    assert (change.action, change.old_amount, change.new_amount, change.changed_by) == (
        PriceAction.SET,
        Decimal("3199.00"),
        Decimal("2999.50"),
        hq,
    )


def test_admin_refuses_a_channel_price_for_a_unified_sku_with_the_service_message(hq_client, mall):
    sku = SKUFactory(code="PHONE1", unified=True)

    response = add_price(hq_client, sku, mall, "1999")

    assert response.status_code == 200
    assert (
        "PHONE1 is sold at one price on every channel; set its price for all channels, not for Own mall."
        in page(response)
    )
    assert not Price.objects.exists() and not PriceChange.objects.exists()


def test_admin_refuses_an_overlapping_window(hq_client, mall):
    sku = SKUFactory(code="TV55")
    price_set(
        now=T0,
        sku=sku,
        channel=mall,
        amount=Decimal("2999"),
        valid_from=T0,
        valid_to=T0 + timedelta(days=10),
        actor=SYSTEM,
    )

    response = add_price(hq_client, sku, mall, "2899", valid_from=T0 + timedelta(days=5))

    assert "TV55 already has a price for Own mall in 2026-11-01 00:00 – 2026-11-11 00:00" in page(response)
    assert Price.objects.count() == 1 and PriceChange.objects.count() == 1


def test_admin_refuses_a_price_below_the_dealer_margin_floor_with_the_numbers(hq_client):
    dealers = DealerChannelFactory(code="dealer", name="Dealers")  # 8% floor
    sku = SKUFactory(code="TV55", dealer_cost=Decimal("1000.00"))

    response = add_price(hq_client, sku, dealers, "1050")

    assert (
        "1050.00 is below the margin floor of Dealers for TV55: dealer cost 1000.00 + 8.00% margin = 1080.00."
        in page(response)
    )
    assert not Price.objects.exists()


@pytest.mark.parametrize("amount", ["-5", "0"])
def test_admin_refuses_a_price_that_is_not_positive(hq_client, mall, amount):
    sku = SKUFactory()

    response = add_price(hq_client, sku, mall, amount)

    assert "Must be greater than zero." in page(response)
    assert not Price.objects.exists()


# --- Stored prices: read-only, "End now", history


def test_price_page_is_read_only_and_shows_who_changed_it_old_and_new(hq_client, mall):
    sku = SKUFactory(code="TV55")
    author = hq_user(username="pricing-lead")
    price_set(sku=sku, channel=mall, amount=Decimal("3199"), valid_from=T0 - timedelta(days=30), actor=SYSTEM)
    price = price_set(sku=sku, channel=mall, amount=Decimal("2999"), valid_from=T0, actor=author)

    response = hq_client.get(f"/admin/catalog/price/{price.pk}/change/")

    body = page(response)
    assert response.status_code == 200
    assert 'name="_save"' not in body  # nothing to edit
    assert "pricing-lead" in body and "3199.00" in body and "2999.00" in body
    assert "End now" in body

    response = hq_client.post(f"/admin/catalog/price/{price.pk}/change/", {"amount": "1", "_save": "Save"})
    assert response.status_code == 403
    price.refresh_from_db()
    assert price.amount == Decimal("2999.00")


def test_prices_cannot_be_deleted_in_the_admin(hq_client, mall):
    price = price_set(sku=SKUFactory(), channel=mall, amount=Decimal("10"), valid_from=T0, actor=SYSTEM)

    response = hq_client.post(f"/admin/catalog/price/{price.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert Price.objects.filter(pk=price.pk).exists()


def test_end_now_action_closes_the_price_through_the_service(hq_client, hq, mall):
    price = price_set(
        sku=SKUFactory(), channel=mall, amount=Decimal("10"), valid_from=T0 - timedelta(days=1), actor=SYSTEM
    )
    before = timezone.now()

    response = run_action(hq_client, "/admin/catalog/price/", "end_now", [price])

    assert "1 prices ended." in page(response)
    price.refresh_from_db()
    assert before <= price.valid_to <= timezone.now()
    ended = PriceChange.objects.get(price=price, action=PriceAction.ENDED)
    assert (ended.changed_by, ended.old_amount) == (hq, Decimal("10.00"))


def test_end_now_from_the_price_page(hq_client, mall):
    price = price_set(
        sku=SKUFactory(), channel=mall, amount=Decimal("10"), valid_from=T0 - timedelta(days=1), actor=SYSTEM
    )

    run_action(hq_client, f"/admin/catalog/price/{price.pk}/change/", "end_now", [price], on_page=True)

    price.refresh_from_db()
    assert price.valid_to is not None


def test_end_now_refusal_ends_none_of_the_selected_prices(hq_client, mall):
    live = price_set(
        sku=SKUFactory(code="LIVE"), channel=mall, amount=Decimal("10"), valid_from=T0, actor=SYSTEM
    )
    future = price_set(
        sku=SKUFactory(code="LATER"),
        channel=mall,
        amount=Decimal("10"),
        valid_from=timezone.now() + timedelta(days=9),
        actor=SYSTEM,
    )
    live.valid_from = timezone.now() - timedelta(days=1)
    Price.objects.filter(pk=live.pk).update(valid_from=live.valid_from)

    response = run_action(hq_client, "/admin/catalog/price/", "end_now", [live, future])

    body = page(response)
    assert "No price was ended. LATER (Own mall): A price can only be ended inside its window" in body
    assert list(Price.objects.filter(valid_to__isnull=False)) == []
    assert not PriceChange.objects.filter(action=PriceAction.ENDED).exists()


# --- One product, one price


def test_mark_unified_action_sets_the_flag_through_the_service(hq_client):
    skus = [SKUFactory(), SKUFactory()]

    response = run_action(hq_client, "/admin/catalog/sku/", "mark_unified", skus)

    assert "2 SKUs marked one product, one price" in page(response)
    assert set(SKU.objects.values_list("unified", flat=True)) == {True}

    run_action(hq_client, "/admin/catalog/sku/", "unmark_unified", skus)
    assert set(SKU.objects.values_list("unified", flat=True)) == {False}


def test_mark_unified_is_refused_while_channel_prices_exist_and_changes_nothing(hq_client, mall):
    free = SKUFactory(code="FREE")
    priced = SKUFactory(code="PRICED")
    price_set(sku=priced, channel=mall, amount=Decimal("99"), valid_from=T0, actor=SYSTEM)

    response = run_action(hq_client, "/admin/catalog/sku/", "mark_unified", [free, priced])

    body = page(response)
    assert "These SKUs still have channel-specific prices" in body
    assert "PRICED on Own mall (99.00)" in body
    assert set(SKU.objects.values_list("unified", flat=True)) == {False}


def test_mark_unified_from_the_sku_page(hq_client):
    sku = SKUFactory()

    run_action(hq_client, f"/admin/catalog/sku/{sku.pk}/change/", "mark_unified", [sku], on_page=True)

    sku.refresh_from_db()
    assert sku.unified is True


def test_the_sku_form_cannot_set_the_flag_directly(hq_client, mall):
    sku = SKUFactory(code="PRICED")
    price_set(sku=sku, channel=mall, amount=Decimal("99"), valid_from=T0, actor=SYSTEM)

    response = hq_client.get(f"/admin/catalog/sku/{sku.pk}/change/")

    assert 'name="unified"' not in response.content.decode()
    assert response.context["adminform"].form.fields.get("unified") is None


def test_category_action_marks_every_sku_in_the_category_tree(hq_client):
    tvs = CategoryFactory(code="tv")
    oled = CategoryFactory(code="oled", parent=tvs)
    other = SKUFactory()
    in_tree = [
        SKUFactory(product=ProductFactory(category=tvs)),
        SKUFactory(product=ProductFactory(category=oled)),
    ]

    response = run_action(hq_client, "/admin/catalog/category/", "mark_unified", [tvs])

    assert "2 SKUs marked one product, one price" in page(response)
    assert [s.unified for s in SKU.objects.filter(pk__in=[s.pk for s in in_tree])] == [True, True]
    other.refresh_from_db()
    assert other.unified is False


def test_category_action_refusal_is_shown_and_changes_nothing(hq_client, mall):
    tvs = CategoryFactory(code="tv")
    phones = CategoryFactory(code="phones")
    SKUFactory(product=ProductFactory(category=tvs))
    priced = SKUFactory(code="PHONE-P", product=ProductFactory(category=phones))
    price_set(sku=priced, channel=mall, amount=Decimal("99"), valid_from=T0, actor=SYSTEM)

    response = run_action(hq_client, "/admin/catalog/category/", "mark_unified", [tvs, phones])

    assert "PHONE-P on Own mall (99.00)" in page(response)
    assert not SKU.objects.filter(unified=True).exists()  # the tv category was rolled back too


# --- Audit trail and SKU page


def test_sku_page_lists_its_price_history(hq_client, mall):
    sku = SKUFactory(code="TV55")
    author = hq_user(username="pricing-lead")
    price_set(sku=sku, channel=mall, amount=Decimal("3199"), valid_from=T0, actor=author)
    price_set(sku=sku, channel=mall, amount=Decimal("2999"), valid_from=T0 + timedelta(days=3), actor=author)

    body = page(hq_client.get(f"/admin/catalog/sku/{sku.pk}/change/"))

    assert "Price changes (who, when, old → new)" in body
    assert body.count("pricing-lead") >= 2
    assert "3199.00" in body and "2999.00" in body


def test_price_changes_cannot_be_added_edited_or_deleted(hq_client, mall):
    price = price_set(sku=SKUFactory(), channel=mall, amount=Decimal("10"), valid_from=T0, actor=SYSTEM)
    change = PriceChange.objects.get(price=price)

    assert hq_client.get("/admin/catalog/pricechange/add/").status_code == 403
    assert (
        hq_client.post(f"/admin/catalog/pricechange/{change.pk}/change/", {"new_amount": "1"}).status_code
        == 403
    )
    assert (
        hq_client.post(f"/admin/catalog/pricechange/{change.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    change.refresh_from_db()
    assert change.new_amount == Decimal("10.00")
    assert "10.00" in page(hq_client.get("/admin/catalog/pricechange/"))


# --- Stock: numbers and ledger are read-only


@pytest.fixture
def stock(hq):
    store = StoreFactory(code="BJ001")
    movement = stock_receive(
        location=store, sku=SKUFactory(code="TV55"), quantity=5, reason="first delivery", actor=SYSTEM
    )
    return movement.stock


def test_stock_numbers_are_shown_but_never_edited_or_deleted(hq_client, stock):
    body = page(hq_client.get(f"/admin/stores/stock/{stock.pk}/change/"))
    assert "first delivery" in body  # the ledger explains the number

    assert hq_client.post(f"/admin/stores/stock/{stock.pk}/change/", {"on_hand": "500"}).status_code == 403
    assert hq_client.post(f"/admin/stores/stock/{stock.pk}/delete/", {"post": "yes"}).status_code == 403
    assert hq_client.get("/admin/stores/stock/add/").status_code == 403
    stock.refresh_from_db()
    assert stock.on_hand == 5


def test_stock_movements_are_append_only_in_the_admin(hq_client, stock):
    movement = StockMovement.objects.get()

    assert hq_client.get("/admin/stores/stockmovement/add/").status_code == 403
    assert (
        hq_client.post(f"/admin/stores/stockmovement/{movement.pk}/change/", {"reason": "x"}).status_code
        == 403
    )
    assert (
        hq_client.post(f"/admin/stores/stockmovement/{movement.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    movement.refresh_from_db()
    assert movement.reason == "first delivery"
    assert Stock.objects.get().on_hand == 5


# --- Lists: search, filters, constant queries


def test_sku_list_searches_code_barcode_and_name_and_filters_unified(hq_client):
    SKUFactory(code="TV55", barcode="6901111111111", name="Super TV", unified=True)
    SKUFactory(code="PHONE1", barcode="6902222222222", name="Phone")

    def codes(query):
        return sorted(s.code for s in hq_client.get(f"/admin/catalog/sku/{query}").context["cl"].result_list)

    assert codes("?q=6901111111111") == ["TV55"]
    assert codes("?q=phone") == ["PHONE1"]
    assert codes("?unified__exact=1") == ["TV55"]


def test_store_list_filters_by_kind_tier_status_and_partner(hq_client):
    lepar = PartnerFactory(code="lepar")
    StoreFactory(code="OWN1")
    StoreFactory(code="PAR1", kind="partner", partner=lepar, city_tier=4)

    def codes(query):
        return sorted(s.code for s in hq_client.get(f"/admin/stores/store/{query}").context["cl"].result_list)

    assert codes("?kind__exact=partner") == ["PAR1"]
    assert codes("?city_tier=4") == ["PAR1"]
    assert codes(f"?partner__id__exact={lepar.pk}") == ["PAR1"]
    assert codes("?q=OWN") == ["OWN1"]


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "url",
    [
        "/admin/catalog/sku/",
        "/admin/catalog/price/",
        "/admin/catalog/pricechange/",
        "/admin/stores/store/",
        "/admin/stores/stock/",
        "/admin/stores/stockmovement/",
    ],
)
def test_admin_lists_run_a_constant_number_of_queries(hq_client, mall, url):
    def grow(n):
        for _ in range(n):
            store = StoreFactory(partner=PartnerFactory())
            sku = SKUFactory()
            price_set(sku=sku, channel=mall, amount=Decimal("10"), valid_from=T0, actor=hq_user())
            stock_receive(location=store, sku=sku, quantity=1, reason="delivery", actor=hq_user())

    grow(2)
    hq_client.get(url)  # warm per-request caches (content types, permissions)
    few = _queries(hq_client, url)
    grow(15)
    assert _queries(hq_client, url) == few


def test_every_hq_admin_page_renders(hq_client, mall):
    lepar = PartnerFactory()
    store = StoreFactory(partner=lepar)
    sku = SKUFactory()
    price = price_set(sku=sku, channel=mall, amount=Decimal("10"), valid_from=T0, actor=SYSTEM)
    movement = stock_receive(location=store, sku=sku, quantity=1, reason="delivery", actor=SYSTEM)
    membership = store.memberships.create(user=UserFactory(), role="clerk")
    objects = {
        "catalog/category": sku.product.category,
        "catalog/product": sku.product,
        "catalog/sku": sku,
        "catalog/channel": mall,
        "catalog/price": price,
        "catalog/pricechange": price.changes.get(),
        "stores/partner": lepar,
        "stores/store": store,
        "stores/staffmembership": membership,
        "stores/stock": movement.stock,
        "stores/stockmovement": movement,
    }
    for path, obj in objects.items():
        for url in (f"/admin/{path}/", f"/admin/{path}/{obj.pk}/change/"):
            response = hq_client.get(url)
            assert response.status_code == 200, url
    for path in ("catalog/category", "catalog/product", "catalog/sku", "catalog/price", "stores/store"):
        assert hq_client.get(f"/admin/{path}/add/").status_code == 200, path
    for path in ("catalog/product", "catalog/sku", "catalog/price", "stores/store"):
        assert "Import" in page(hq_client.get(f"/admin/{path}/import/")), path


def test_price_export_writes_a_file_the_import_reads_back(hq_client, mall):
    price_set(sku=SKUFactory(code="TV55"), channel=mall, amount=Decimal("2999"), valid_from=T0, actor=SYSTEM)
    price_set(sku=SKUFactory(code="TV65"), channel=None, amount=Decimal("4999"), valid_from=T0, actor=SYSTEM)
    fields = {
        f"priceresource_{name}": "on" for name in ("sku", "channel", "amount", "valid_from", "valid_to")
    }

    response = hq_client.post("/admin/catalog/price/export/", {"format": "0", "resource": "0", **fields})

    assert response.status_code == 200
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "sku,channel,amount,valid_from,valid_to"
    assert sorted(lines[1:]) == [
        "TV55,mall,2999.00,2026-11-01 00:00:00,",
        "TV65,,4999.00,2026-11-01 00:00:00,",
    ]
