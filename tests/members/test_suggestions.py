"""What to show this member: co-purchases and best sellers refreshed in SQL, suggested from the
member's cross-channel history, only SKUs they do not own and that are in stock at the store."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

import tests.world
from catalog.services import price_set
from config.roles import SYSTEM
from insights.suggestions import suggestions_for, suggestions_refresh
from members.models import CategoryBestSeller, SkuAffinity, Tier, TierBestSeller
from orders.services import order_cancel
from tests.factories import CategoryFactory, MemberFactory, ProductFactory, SKUFactory, clerk_at

world = tests.world.world  # the shared World fixture


def sku(code, name, category):
    made = SKUFactory(code=code, name=name, product=ProductFactory(category=category))
    price_set(
        sku=made,
        channel=None,
        amount=Decimal("99.00"),
        valid_from=timezone.now() - timedelta(days=1),
        actor=SYSTEM,
    )
    return made


class Shop:
    """The world's TV and phone plus a soundbar, a wall bracket, a second TV and a cable; members
    who bought them; and Han, who bought the TV online and the phone in a store."""

    def __init__(self, world):
        self.world = world
        self.tvs = world.tv.product.category
        self.tvs.name = "TVs"
        self.tvs.save()
        world.tv.name = "X55 TV"
        world.tv.save()
        audio, accessories = CategoryFactory(name="Audio"), CategoryFactory(name="Accessories")
        self.soundbar = sku("BAR-1", "Soundbar", audio)
        self.bracket = sku("BRK-1", "Wall bracket", accessories)
        self.tv2 = sku("TV-65", "X65 TV", self.tvs)
        self.cable = sku("HDMI-1", "HDMI cable", accessories)
        self.gold = Tier.objects.create(code="gold", name="Gold", min_spend_12m=Decimal("5000"))
        for _ in range(3):
            self.buy(MemberFactory(), world.tv, self.soundbar)
        for _ in range(2):
            self.buy(MemberFactory(), world.tv, self.bracket)
        self.buy(MemberFactory(tier=self.gold), self.tv2)
        self.buy(MemberFactory(tier=self.gold), self.cable)
        self.buy(MemberFactory(tier=self.gold), self.cable)
        # not purchases: a cancelled order and an unpaid one
        cancelled = world.ship_order(member=MemberFactory(), sku=self.soundbar)
        order_cancel(order=cancelled, reason="Changed mind", actor=SYSTEM)
        world.ship_order(member=MemberFactory(), sku=self.soundbar)
        self.han = MemberFactory(name="Han Meimei", tier=self.gold)
        self.buy(self.han, world.tv)
        self.buy(self.han, world.phone, channel=world.stores_channel)

    def buy(self, member, *skus, channel=None):
        for bought in skus:
            self.world.pay(self.world.ship_order(member=member, sku=bought, channel=channel))


@pytest.fixture
def shop(world):
    made = Shop(world)
    suggestions_refresh()
    # store B sells it all, except the bracket (its one unit is reserved) and nothing of the cable
    for item in (world.tv, world.phone, made.soundbar, made.tv2):
        world.stock(world.b, item, 2)
    world.stock(world.b, made.bracket, 1)
    world.ship_order(sku=made.bracket, store=world.b)  # routed to B, the only store with one
    return made


def test_refresh_counts_distinct_customers_who_bought_both_over_paid_orders_only(shop, world):
    pair = SkuAffinity.objects.get(sku=world.tv, other_sku=shop.soundbar)
    assert pair.customers == 3  # the cancelled and the unpaid soundbar orders do not count
    assert SkuAffinity.objects.get(sku=shop.soundbar, other_sku=world.tv).customers == 3
    assert SkuAffinity.objects.get(sku=world.tv, other_sku=shop.bracket).customers == 2
    # a pair bought by one customer only (Han's TV and phone) is not kept
    assert not SkuAffinity.objects.filter(sku=world.tv, other_sku=world.phone).exists()
    tvs = dict(CategoryBestSeller.objects.filter(category=shop.tvs).values_list("sku__code", "customers"))
    assert tvs == {"TV-55": 6, "TV-65": 1}
    gold = dict(TierBestSeller.objects.filter(tier=shop.gold).values_list("sku__code", "customers"))
    assert gold == {"TV-65": 1, "HDMI-1": 2, "TV-55": 1, "PHONE-1": 1}
    # a second refresh rebuilds, it does not add
    count = SkuAffinity.objects.count()
    suggestions_refresh()
    assert SkuAffinity.objects.count() == count


def test_suggestions_exclude_owned_and_unavailable_and_say_why(shop, world, django_assert_max_num_queries):
    world.stock(world.b, shop.cable, 1)
    # purchases, affinities, category best sellers, tier best sellers
    with django_assert_max_num_queries(4):
        suggestions = suggestions_for(shop.han, world.b)
    by_code = {s.sku.code: s for s in suggestions}
    assert list(by_code) == ["BAR-1", "TV-65", "HDMI-1"]
    assert by_code["BAR-1"].reason == "bought with the X55 TV by 3 customers"
    assert (by_code["BAR-1"].customers, by_code["BAR-1"].available) == (3, 2)
    assert by_code["TV-65"].reason == "best seller in TVs"
    assert by_code["HDMI-1"].reason == "popular with Gold members"
    # owned (TV-55, PHONE-1) never, the reserved-out bracket never
    assert not {"TV-55", "PHONE-1", "BRK-1"} & set(by_code)
    assert len(suggestions_for(shop.han, world.b, limit=2)) == 2


def test_a_store_without_stock_suggests_nothing_and_online_only_buyers_get_nothing(shop, world):
    assert suggestions_for(shop.han, world.c) == []
    online_only = MemberFactory()
    shop.buy(online_only, world.tv)
    assert suggestions_for(online_only, world.b) == []
    assert [s.sku.code for s in suggestions_for(online_only, world.b, cross_channel_only=False)][:1] == [
        "BAR-1"
    ]


def test_the_command_refreshes_and_reports(shop, capsys):
    SkuAffinity.objects.all().delete()
    call_command("suggestions_refresh")
    assert "SKU pairs" in capsys.readouterr().out
    assert SkuAffinity.objects.exists()


def test_the_member_page_shows_suggestions_for_the_clerks_store(client, shop, world):
    client.force_login(clerk_at(world.b))
    url = reverse("members:detail", args=[shop.han.pk])
    body = client.get(url, {"via": "lookup", "q": shop.han.phone}).content.decode()
    assert "Suggestions for Store B" in body
    assert "Soundbar" in body and "bought with the X55 TV by 3 customers" in body
    assert "best seller in TVs" in body
    assert "Wall bracket" not in body


def test_hq_chooses_the_store_and_a_foreign_store_code_is_ignored_for_clerks(client, shop, world):
    from tests.factories import hq_user

    client.force_login(hq_user())
    url = reverse("members:detail", args=[shop.han.pk])
    assert "Choose a store to see what to suggest" in client.get(url).content.decode()
    body = client.get(url, {"store": "B"}).content.decode()
    assert "Suggestions for Store B" in body and "Soundbar" in body

    client.force_login(clerk_at(world.b))
    body = client.get(url, {"via": "lookup", "q": shop.han.phone, "store": "C"}).content.decode()
    assert "Suggestions for Store B" in body
