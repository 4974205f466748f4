"""`manage.py seed_demo`: realistic, rule-abiding, reproducible demo data, loaded once."""

from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from catalog.choices import ChannelKind
from catalog.demo import PILOT_CATEGORY, ean13
from catalog.models import SKU, Category, Channel, Price, PriceChange, Product
from catalog.selectors import price_consistency_report, price_lookup
from catalog.services import dealer_floor
from config.roles import Role
from members.demo import NEIGHBOURS
from portal.management.commands.seed_demo import seed_app
from stores.choices import StaffRole, StoreKind, StoreStatus
from stores.demo import DEMO_PASSWORD
from stores.models import Partner, Stock, StockMovement, Store
from stores.selectors import stores_near
from tests.dbstate import restore_seeded_rows

pytestmark = pytest.mark.django_db

DEMO_EMAILS = ["hq@o2o.test", "manager@o2o.test", "clerk@o2o.test", "partner@o2o.test", "guide@o2o.test"]


def seed(scale="small", **options) -> str:
    out = StringIO()
    call_command("seed_demo", scale=scale, stdout=out, **options)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """One `seed_demo --scale small` for the module (it takes seconds), committed, flushed after.

    Each test still runs in its own transaction, rolled back, so the tests that write (logins,
    a second run) leave the shared data as they found it.
    """
    with django_db_blocker.unblock():
        output = seed()
    yield output
    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)
        restore_seeded_rows()


# First in the module: it needs an empty database, before the shared `demo` seed exists.
def test_same_seed_gives_the_same_data_and_another_seed_different_data():
    assert not Channel.objects.exists(), "run before the tests that use the shared demo seed"

    def snapshot(seed=2026):
        with transaction.atomic():
            for app in ("catalog", "stores"):
                seed_app(app, scale="small", seed=seed, log=lambda message: None)
            data = (
                list(SKU.objects.order_by("code").values_list("code", "name", "barcode", "dealer_cost")),
                list(Store.objects.order_by("code").values_list("code", "name", "latitude", "longitude")),
                list(
                    Price.objects.order_by("sku__code", "channel__code", "valid_from").values_list("amount")
                ),
                Stock.objects.aggregate(total=Sum("on_hand"))["total"],
            )
            transaction.set_rollback(True)
        return data

    first = snapshot()
    assert snapshot() == first
    assert snapshot(seed=7) != first


def test_small_scale_creates_the_catalog_and_store_network_it_promises(demo):
    output = demo

    assert SKU.objects.count() == 500
    assert Store.objects.count() == 50 + len(NEIGHBOURS)  # the members demo adds the clerk's neighbours
    assert Store.objects.filter(kind=StoreKind.WAREHOUSE).count() == 2
    assert Partner.objects.count() == 3  # one per 20 stores
    assert set(Store.objects.values_list("kind", flat=True)) == set(StoreKind.values)
    assert Store.objects.filter(kind=StoreKind.PARTNER, partner__isnull=True).count() == 0
    assert Store.objects.exclude(status=StoreStatus.OPEN).exists()  # some preparing or closed
    assert set(Channel.objects.values_list("kind", flat=True)) == set(ChannelKind.values)
    floors = sorted(
        Channel.objects.filter(kind=ChannelKind.DEALER).values_list("margin_floor_percent", flat=True)
    )
    assert [str(f) for f in floors] == ["8.00", "10.00"]
    assert Category.objects.filter(parent__isnull=True).count() == 5
    assert Category.objects.filter(parent__isnull=False).count() > 10
    assert Product.objects.exclude(brand="").count() == Product.objects.count()
    assert "500 SKUs" in output and "50 stores" in output and "Done in" in output

    barcodes = list(SKU.objects.values_list("barcode", flat=True))
    assert len(set(barcodes)) == 500
    assert all(len(code) == 13 and code == ean13(int(code[3:12])) for code in barcodes)
    assert SKU.objects.filter(product__category__parent__code="tv", serial_tracked=False).count() == 0
    assert SKU.objects.filter(product__category__parent__code="accessory", serial_tracked=True).count() == 0
    assert SKU.objects.filter(dealer_cost__isnull=True).count() == 0
    assert SKU.objects.filter(attributes__has_key="colour").exists()
    assert SKU.objects.filter(attributes__has_key="storage").exists()


def test_stores_stock_a_subset_and_warehouses_the_whole_catalog(demo):
    per_store = dict(
        Store.objects.exclude(kind=StoreKind.WAREHOUSE)
        .filter(status__in=[StoreStatus.OPEN, StoreStatus.PREPARING])
        .annotate(n=Count("stock"))
        .values_list("code", "n")
    )
    assert per_store and all(30 <= n <= 100 for n in per_store.values()), per_store
    for n in (
        Store.objects.filter(kind=StoreKind.WAREHOUSE).annotate(n=Count("stock")).values_list("n", flat=True)
    ):
        assert n == 500
    assert Stock.objects.filter(reserved=0).exists() and Stock.objects.filter(reserved__gt=0).exists()
    assert Stock.objects.filter(on_hand=0).exists()  # sold out here: the clerk looks next door


def test_every_stock_row_is_explained_by_its_movements(demo):
    assert StockMovement.objects.count() > Stock.objects.count() > 0
    unexplained = (
        Stock.objects.annotate(
            ledger_on_hand=Coalesce(Sum("movements__on_hand_delta"), 0),
            ledger_reserved=Coalesce(Sum("movements__reserved_delta"), 0),
        )
        .exclude(on_hand=F("ledger_on_hand"), reserved=F("ledger_reserved"))
        .count()
    )
    assert unexplained == 0
    assert Stock.objects.filter(movements__isnull=True).count() == 0


def test_demo_users_log_in_by_email_with_their_roles_and_stores(demo, client):
    User = get_user_model()

    for email in DEMO_EMAILS:
        user = User.objects.get(email=email)
        response = client.post("/accounts/login/", {"login": email, "password": DEMO_PASSWORD})
        assert response.status_code == 302, response.context["form"].errors
        assert client.session["_auth_user_id"] == str(user.pk)
        assert EmailAddress.objects.filter(user=user, email=email, verified=True, primary=True).count() == 1
        client.logout()

    hq = User.objects.get(email="hq@o2o.test")
    assert hq.is_superuser and hq.is_staff and hq.groups.filter(name=Role.HQ_ADMIN).exists()
    flagship = Store.objects.filter(kind=StoreKind.OWN_FLAGSHIP).order_by("code").first()
    manager = User.objects.get(email="manager@o2o.test")
    assert list(manager.store_memberships.values_list("store", "role")) == [(flagship.pk, StaffRole.MANAGER)]
    assert manager.groups.filter(name=Role.STORE_MANAGER).exists()
    clerk = User.objects.get(email="clerk@o2o.test")
    clerk_stores = set(clerk.store_memberships.filter(role=StaffRole.CLERK).values_list("store", flat=True))
    assert len(clerk_stores) == 2 and flagship.pk in clerk_stores
    nearby = stores_near(latitude=flagship.latitude, longitude=flagship.longitude, radius_km=30)
    assert clerk_stores <= set(nearby.values_list("pk", flat=True))
    partner = User.objects.get(email="partner@o2o.test")
    assert list(partner.partners.values_list("code", flat=True)) == ["partner-0001"]
    assert User.objects.get(email="guide@o2o.test").groups.filter(name=Role.GUIDE).exists()
    assert not manager.is_staff and not clerk.is_staff


def test_unified_pilot_skus_have_one_price_on_every_channel(demo):
    unified = SKU.objects.filter(unified=True)
    assert unified.exists()
    assert unified.exclude(product__category__parent__code=PILOT_CATEGORY).count() == 0
    assert SKU.objects.filter(product__category__parent__code=PILOT_CATEGORY, unified=False).count() == 0
    assert Price.objects.filter(sku__unified=True, channel__isnull=False).count() == 0
    sku = unified.first()
    amounts = {price_lookup(sku=sku, channel=channel).amount for channel in Channel.objects.all()}
    assert len(amounts) == 1


def test_prices_clear_every_dealer_floor_and_some_channels_disagree(demo):
    dealers = list(Channel.objects.filter(kind=ChannelKind.DEALER))
    prices = list(Price.objects.select_related("sku", "channel"))
    assert (
        SKU.objects.exclude(prices__channel__isnull=True).count() == 0
    )  # every SKU has an all-channel price
    for price in prices:
        channels = dealers if price.channel is None else [price.channel]
        for channel in channels:
            floor = dealer_floor(sku=price.sku, channel=channel)
            assert floor is None or price.amount >= floor, (price, channel, floor)
    now = timezone.now()
    assert Price.objects.filter(valid_from__gt=now, channel__isnull=True).exists()  # announced changes
    assert Price.objects.filter(channel__kind=ChannelKind.MARKETPLACE).exists()
    assert len(price_consistency_report(at=now)) > 0
    assert PriceChange.objects.count() == Price.objects.count()  # every price is audited
    # A future price closes the current one where it starts, as price_set would.
    future = Price.objects.filter(valid_from__gt=now, channel__isnull=True).first()
    assert Price.objects.filter(sku=future.sku, channel__isnull=True, valid_to=future.valid_from).count() == 1
    assert PriceChange.objects.get(price=future).old_amount is not None


def test_second_run_at_any_scale_creates_nothing(demo):
    before = row_counts()

    output = seed()
    assert row_counts() == before
    assert "demo data already loaded (scale small)" in output

    output = seed(scale="medium")
    assert row_counts() == before
    assert "demo data already loaded (scale small)" in output


def test_stores_cluster_around_real_cities_within_delivery_reach(demo):
    assert Store.objects.filter(city="Beijing", city_tier=1).exists()
    assert Store.objects.filter(city_tier__gte=3, kind=StoreKind.PARTNER).exists()
    for store in Store.objects.exclude(kind=StoreKind.WAREHOUSE):
        assert 18 <= store.latitude <= 54 and 73 <= store.longitude <= 135  # inside China
        assert store.service_radius_km in (10, 20, 30)
    flagship = Store.objects.get(code="FS00001")
    neighbours = stores_near(latitude=flagship.latitude, longitude=flagship.longitude, radius_km=30)
    assert neighbours.exclude(pk=flagship.pk).filter(Q(status=StoreStatus.OPEN)).exists()
