"""Every list endpoint of the API and every portal/HQ list page costs the same number of queries
with 2 rows as with 8 (rows with their related rows: lines, members, stores, bindings), and stays
under a pinned maximum: an N+1 shows up as a count that grows with the rows.

ROUTES is the table; test_every_list_route_is_in_the_table fails naming any list route of the URL
resolver that is neither in it nor in NOT_LISTS (with the reason)."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property
from itertools import count

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from aftersales.choices import OpenedVia, TicketKind, TicketStatus
from aftersales.models import Ticket
from catalog.services import price_set
from config.roles import SYSTEM
from guides.choices import StatementParty, StatementStatus
from guides.models import CommissionRule, Statement
from integrations.choices import Scope
from integrations.services import api_key_create
from members.models import Segment, StaticGroup
from members.services import points_adjust
from orders.choices import DeliveryMethod
from orders.models import OrderLine
from orders.services import LineRequest, order_create
from stores.models import Stock
from stores.services import stock_receive
from tests.factories import (
    CategoryFactory,
    ChannelFactory,
    GuideFactory,
    GuideLevelFactory,
    MemberFactory,
    PartnerFactory,
    ProductFactory,
    SKUFactory,
    StoreFactory,
    clerk_at,
    hq_user,
    manager_at,
    partner_user,
)
from tests.guides import pages
from tests.world import World, north

SMALL, LARGE = 2, 8


class Scene(World):
    """World (channels, stores A/B/C and a warehouse, a TV and a phone) with the people who look at
    the lists: an HQ admin, a clerk at store A, a user of partner P (store A's partner), a guide
    level; grow_* methods add rows and return what each row shows on a list (its code or number)."""

    def __init__(self):
        super().__init__()
        self.hq = hq_user()
        self.partner = PartnerFactory(code="P")
        self.a.partner = self.partner
        self.a.save()
        self.partner_user = partner_user(self.partner)
        self.clerk = clerk_at(self.a)
        self.level = GuideLevelFactory(code="gold")
        self.serial = count(1)
        self.now = timezone.now()

    def _n(self) -> int:
        return next(self.serial)

    # --- catalog ---

    def grow_channels(self, n):
        return [ChannelFactory(code=f"chan-{self._n()}").code for _ in range(n)]

    def grow_categories(self, n):
        parent = CategoryFactory()
        return [CategoryFactory(parent=parent).code for _ in range(n)]

    def grow_products(self, n):
        shown = []
        for _ in range(n):
            product = ProductFactory(category=CategoryFactory(parent=CategoryFactory()))
            SKUFactory.create_batch(2, product=product)
            shown.append(product.code)
        return shown

    def _priced_sku(self):
        sku = SKUFactory(product=ProductFactory(category=CategoryFactory(parent=CategoryFactory())))
        start = self.now - timedelta(days=1)
        price_set(sku=sku, channel=None, amount=Decimal("99.00"), valid_from=start, actor=SYSTEM)
        price_set(sku=sku, channel=self.mall, amount=Decimal("89.00"), valid_from=start, actor=SYSTEM)
        return sku

    def grow_skus(self, n):
        return [self._priced_sku().code for _ in range(n)]

    # --- stores ---

    def grow_stores(self, n):
        shown = []
        for _ in range(n):
            lat, lng = north(1 + self._n() / 10)
            store = StoreFactory(partner=self.partner, latitude=lat, longitude=lng)
            stock_receive(location=store, sku=self.tv, quantity=3, reason="Delivery", actor=SYSTEM)
            shown.append(store.code)
        return shown

    def grow_stock(self, n):
        """New SKUs on hand at store A (each received twice: two movements)."""
        shown = []
        for _ in range(n):
            sku = self._priced_sku()
            stock_receive(location=self.a, sku=sku, quantity=5, reason="Delivery", actor=SYSTEM)
            stock_receive(location=self.a, sku=sku, quantity=1, reason="Delivery", actor=SYSTEM)
            shown.append(sku.code)
        return shown

    def grow_movements(self, n):
        """Receipts of the TV at store A, each by another user."""
        shown = []
        for _ in range(n):
            reason = f"Delivery {self._n()}"
            stock_receive(location=self.a, sku=self.tv, quantity=1, reason=reason, actor=manager_at(self.a))
            shown.append(reason)
        return shown

    def tv_stock(self):
        return Stock.objects.get(location=self.a, sku=self.tv)

    def grow_prices(self, n):
        """Price versions of the TV on the mall, each starting a day after the one before."""
        shown = []
        for _ in range(n):
            amount = Decimal(2000 + self._n())
            start = self.now - timedelta(days=30 - self._n())
            price_set(sku=self.tv, channel=self.mall, amount=amount, valid_from=start, actor=SYSTEM)
            shown.append(f"{amount}")
        return shown

    # --- members ---

    def grow_members(self, n):
        return [MemberFactory(home_store=self.a, consent_channel=self.mall).name for _ in range(n)]

    def grow_duplicates(self, n):
        """Pairs of members with the same name, birthday and city."""
        shown = []
        for _ in range(n):
            name = f"Twin {self._n()}"
            MemberFactory.create_batch(2, name=name, birthday=date(1990, 5, 1), home_store=self.a)
            shown.append(name)
        return shown

    @cached_property
    def member(self):
        return MemberFactory(home_store=self.a)

    def grow_points(self, n):
        shown = []
        for _ in range(n):
            reason = f"Goodwill {self._n()}"
            points_adjust(member=self.member, points=10, reason=reason, actor=self.hq)
            shown.append(reason)
        return shown

    def grow_coupons(self, n):
        """Codes of n coupons held by self.member (GET /members/{id}/coupons/)."""
        from marketing.choices import CouponKind, IssuedVia
        from marketing.services import code_give, coupon_define

        shown = []
        for _ in range(n):
            coupon = coupon_define(
                code=f"perf-{self._n()}",
                name="Perf coupon",
                kind=CouponKind.AMOUNT,
                value=Decimal("5"),
                valid_from=self.now,
                actor=self.hq,
            )
            shown.append(code_give(coupon=coupon, member=self.member, via=IssuedVia.HQ, actor=self.hq).code)
        return shown

    def grow_promotions(self, n):
        """n catalogue promotions over a category (the HQ list of promotions)."""
        from marketing.choices import PromotionKind
        from marketing.services import promotion_set

        category = CategoryFactory()
        return [
            promotion_set(
                code=f"perf-p-{self._n()}",
                name="Perf promotion",
                kind=PromotionKind.PERCENT_OFF,
                percent=Decimal("5"),
                categories=[category],
                valid_from=self.now,
                actor=self.hq,
            ).code
            for _ in range(n)
        ]

    def grow_coupon_definitions(self, n):
        """n coupons (the HQ list of coupons)."""
        from marketing.choices import CouponKind
        from marketing.services import coupon_define

        return [
            coupon_define(
                code=f"perf-c-{self._n()}",
                name="Perf coupon",
                kind=CouponKind.AMOUNT,
                value=Decimal("5"),
                budget_count=100,
                valid_from=self.now,
                actor=self.hq,
            ).code
            for _ in range(n)
        ]

    def grow_campaigns(self, n):
        """n campaigns near store A (the HQ list of campaigns)."""
        from marketing.services import campaign_create

        return [
            campaign_create(
                name=f"Perf campaign {self._n()}",
                message="Hello",
                near_store=self.a,
                radius_km=5,
                actor=self.hq,
            ).name
            for _ in range(n)
        ]

    def grow_wallet_entries(self, n):
        """Top-ups of self.member's stored value (GET /members/{id}/wallet/)."""
        from marketing.services import wallet_top_up

        shown = []
        for _ in range(n):
            reference = f"TOPUP-{self._n()}"
            wallet_top_up(
                member=self.member, amount=Decimal("10"), method="cash", reference=reference, actor=self.hq
            )
            shown.append(reference)
        return shown

    @cached_property
    def segment(self):
        return Segment.objects.create(name="Beijing", filters={"city": "Beijing"}, created_by=self.hq)

    def grow_segment_members(self, n):
        """Consenting Beijing members (in self.segment and in its export)."""
        return [
            MemberFactory(home_store=self.a, marketing_consent=True, consent_channel=self.mall).name
            for _ in range(n)
        ]

    @cached_property
    def group(self):
        return StaticGroup.objects.create(name="VIP", store=self.a)

    def grow_group_members(self, n):
        members = MemberFactory.create_batch(n, home_store=self.a)
        self.group.members.add(*members)
        return [member.name for member in members]

    def grow_segments(self, n):
        return [
            Segment.objects.create(
                name=f"Segment {self._n()}", filters={"city": "Beijing"}, created_by=self.hq
            ).name
            for _ in range(n)
        ]

    def grow_groups(self, n):
        shown = []
        for _ in range(n):
            group = StaticGroup.objects.create(name=f"List {self._n()}", store=self.a)
            group.members.add(*MemberFactory.create_batch(2, home_store=self.a))
            shown.append(group.name)
        return shown

    # --- orders ---

    def order(self):
        """A paid two-line home-delivery order near store A (stock put there first)."""
        for sku in (self.tv, self.phone):
            self.stock(self.a, sku, 1)
        lat, lng = north(0.1)
        order = order_create(
            channel=self.mall,
            lines=[LineRequest(sku=self.tv, quantity=1), LineRequest(sku=self.phone, quantity=1)],
            delivery_method=DeliveryMethod.SHIP,
            member=MemberFactory(home_store=self.a),
            address="1 Chang'an Avenue",
            latitude=lat,
            longitude=lng,
            actor=SYSTEM,
        )
        return self.pay(order)

    def grow_orders(self, n):
        return [self.order().number for _ in range(n)]

    def grow_offers(self, n):
        """Paid orders offered to store A and not answered yet (the clerk queue's offers)."""
        return self.grow_orders(n)

    def grow_deliveries(self, n):
        """Orders of a new SKU routed to a new store, delivered, with one unit returned."""
        shown = []
        for _ in range(n):
            sku = self._priced_sku()
            lat, lng = north(0.1)
            store = StoreFactory(latitude=lat, longitude=lng)
            stock_receive(location=store, sku=sku, quantity=2, reason="Delivery", actor=SYSTEM)
            order = order_create(
                channel=self.mall,
                lines=[LineRequest(sku=sku, quantity=2)],
                delivery_method=DeliveryMethod.SHIP,
                member=MemberFactory(),
                address="1 Chang'an Avenue",
                latitude=lat,
                longitude=lng,
                actor=SYSTEM,
            )
            self.deliver(self.pay(order))
            OrderLine.objects.filter(order=order).update(returned_quantity=1)
            shown += [sku.code, store.code]
        return shown

    def grow_returned_skus(self, n):
        """grow_deliveries, showing the SKUs only (the return rates by SKU)."""
        return self.grow_deliveries(n)[::2]

    # --- guides ---

    def guide(self):
        return GuideFactory(store=self.a, level=self.level)

    def grow_guides(self, n):
        shown = []
        for _ in range(n):
            guide = self.guide()
            member = MemberFactory(home_store=self.a)
            binding = pages.bind(guide, member, started_at=self.now - timedelta(days=1))
            pages.accrue(pages.order(self, guide, binding=binding, paid_at=self.now), "10.00")
            shown.append(guide.code)
        return shown

    def grow_bindings(self, n):
        shown = []
        for _ in range(n):
            guide = self.guide()
            pages.bind(guide, MemberFactory(home_store=self.a), started_at=self.now - timedelta(days=1))
            shown.append(guide.code)
        return shown

    def grow_attributed_orders(self, n):
        shown = []
        for _ in range(n):
            guide = self.guide()
            binding = pages.bind(guide, MemberFactory(), started_at=self.now - timedelta(days=1))
            shown.append(pages.order(self, guide, binding=binding, paid_at=self.now).number)
        return shown

    def grow_entries(self, n):
        shown = []
        for _ in range(n):
            guide = self.guide()
            order = pages.order(self, guide, member=MemberFactory(), paid_at=self.now)
            pages.accrue(order, "12.00")
            shown.append(order.number)
        return shown

    def grow_statements(self, n):
        shown = []
        for _ in range(n):
            guide = self.guide()
            period = date(2025, 1 + self._n() % 12, 1)
            Statement.objects.create(
                party=StatementParty.GUIDE,
                guide=guide,
                period=period,
                status=StatementStatus.DRAFT,
                total=Decimal("10.00"),
            )
            shown.append(guide.code)
        return shown

    @cached_property
    def statement(self):
        return Statement.objects.create(
            party=StatementParty.GUIDE, guide=self.guide(), period=date(2025, 3, 1), total=Decimal("0.00")
        )

    def grow_statement_rows(self, n):
        """Orders of the statement's guide whose commission is released onto the statement."""
        shown = []
        for _ in range(n):
            order = pages.order(self, self.statement.guide, member=MemberFactory(), paid_at=self.now)
            accrual = pages.accrue(order, "12.00")
            pages.release(accrual, at=self.now, statement=self.statement)
            shown.append(order.number)
        return shown

    def grow_partner_rows(self, n):
        """Partner P's stores, each with a guide who has a fan and a paid order with commission, and
        P's statements."""
        shown = []
        for _ in range(n):
            store = StoreFactory(partner=self.partner)
            guide = GuideFactory(store=store, level=self.level)
            binding = pages.bind(guide, MemberFactory(), started_at=self.now - timedelta(days=1))
            pages.accrue(pages.order(self, guide, binding=binding, paid_at=self.now), "10.00")
            statement = Statement.objects.create(
                party=StatementParty.PARTNER,
                partner=self.partner,
                period=date(2000 + self._n(), 1, 1),
                total=Decimal("5.00"),
            )
            shown += [store.code, guide.code, f'href="{reverse("guides:statement", args=[statement.pk])}"']
        return shown

    def grow_rules(self, n):
        shown = []
        for _ in range(n):
            category = CategoryFactory(parent=CategoryFactory())
            CommissionRule.objects.create(
                channel=self.mall,
                category=category,
                level=self.level,
                rate_percent=Decimal("3.00"),
                valid_from=self.now - timedelta(days=1),
                created_by=self.hq,
            )
            shown.append(category.code)
        return shown

    # --- after-sales ---

    def grow_tickets(self, n):
        shown = []
        for _ in range(n):
            order = self.order()
            line = order.lines.first()
            ticket = Ticket.objects.create(
                number=f"RMA{self._n():06d}",
                kind=TicketKind.REPAIR,
                status=TicketStatus.OPENED,
                order=order,
                line=line,
                member=order.member,
                customer_phone=order.member.phone,
                channel=order.channel,
                opened_via=OpenedVia.STORE,
                intake_store=self.a,
                handling_store=self.a,
                opened_by=self.clerk,
            )
            shown.append(ticket.number)
        return shown

    # --- integrations ---

    @cached_property
    def mall_key(self) -> str:
        """The whole key of an API key on the mall channel with every scope."""
        _key, plaintext = api_key_create(name="Mall", channel=self.mall, scopes=list(Scope), actor=self.hq)
        return plaintext

    def grow_keys(self, n):
        shown = []
        for _ in range(n):
            key, _plaintext = api_key_create(
                name=f"Key {self._n()}", channel=self.mall, scopes=[Scope.ORDERS_READ], actor=self.hq
            )
            shown.append(key.prefix)
        return shown


@dataclass
class Route:
    name: str  # the URL name, as the completeness test finds it
    url: Callable[[Scene], str] | str  # a callable is called after the first rows are made
    rows: str  # Scene.grow_<rows> makes the rows the list shows
    max_queries: int  # pinned: the count measured (the same on SQLite and PostgreSQL)
    who: str = "hq"  # the Scene attribute of the user who looks, or "key" (the mall's API key)

    @property
    def id(self) -> str:
        return self.name if self.who == "hq" else f"{self.name}-as-{self.who}"


ROUTES = [
    # --- API: the routers' list routes (an HQ admin's session) ---
    Route("channel-list", "/api/v1/channels/", "channels", 5),
    Route("category-list", "/api/v1/categories/", "categories", 4),
    Route("product-list", "/api/v1/products/", "products", 6),
    Route("sku-list", "/api/v1/skus/", "skus", 5),
    Route("price-list", "/api/v1/prices/", "skus", 5),
    Route("store-list", "/api/v1/stores/", "stores", 5),
    Route("stock-list", "/api/v1/stock/", "stock", 5),
    Route("member-list", "/api/v1/members/", "members", 5),
    Route("segment-list", "/api/v1/segments/", "segments", 5),
    Route("order-list", "/api/v1/orders/", "orders", 6),
    Route("guide-list", "/api/v1/guides/", "guides", 5),
    Route("binding-list", "/api/v1/bindings/", "bindings", 5),
    Route("commission-entry-list", "/api/v1/commission-entries/", "entries", 5),
    Route("statement-list", "/api/v1/statements/", "statements", 5),
    Route("commission-rule-list", "/api/v1/commission-rules/", "rules", 5),
    Route("ticket-list", "/api/v1/tickets/", "tickets", 5),
    Route("api-key-list", "/api/v1/api-keys/", "keys", 5),
    # --- API: list-like actions ---
    Route("order-queue", "/api/v1/orders/queue/?store=A", "offers", 8, who="clerk"),
    Route("member-duplicates", "/api/v1/members/duplicates/", "duplicates", 7),
    Route("member-points", lambda s: f"/api/v1/members/{s.member.pk}/points/", "points", 6),
    Route("member-coupons", lambda s: f"/api/v1/members/{s.member.pk}/coupons/", "coupons", 6),
    Route("member-wallet", lambda s: f"/api/v1/members/{s.member.pk}/wallet/", "wallet_entries", 6),
    Route("segment-members", lambda s: f"/api/v1/segments/{s.segment.pk}/members/", "segment_members", 6),
    Route("segment-export", lambda s: f"/api/v1/segments/{s.segment.pk}/export/", "segment_members", 6),
    Route("stock-movements", lambda s: f"/api/v1/stock/{s.tv_stock().pk}/movements/", "movements", 6),
    Route("statement-csv-export", lambda s: f"/api/v1/statements/{s.statement.pk}/csv/", "statement_rows", 5),
    # --- API: the same lists through a channel's API key ---
    Route("product-list", "/api/v1/products/", "products", 4, who="key"),
    Route("price-list", "/api/v1/prices/", "skus", 3, who="key"),
    Route("stock-list", "/api/v1/stock/", "stock", 3, who="key"),
    Route("order-list", "/api/v1/orders/", "orders", 4, who="key"),
    Route("ticket-list", "/api/v1/tickets/", "tickets", 3, who="key"),
    # --- portal ---
    Route("stores:list", "/portal/stores/", "stores", 5),
    Route("members:lookup", "/portal/members/", "members", 5),
    Route("members:segments", "/portal/members/segments/", "segments", 5),
    Route("members:groups", "/portal/members/groups/", "groups", 6),
    Route("orders:list", "/portal/orders/", "orders", 5),
    Route("orders:queue_start", "/portal/orders/queue/", "stores", 6),
    Route("orders:queue", "/portal/orders/queue/A/", "offers", 8, who="clerk"),
    Route("guides:fans", "/portal/guides/fans/", "bindings", 7),
    Route("guides:orders", "/portal/guides/orders/", "attributed_orders", 7),
    Route("guides:ledger", "/portal/guides/ledger/", "entries", 8),
    Route("guides:statements", "/portal/guides/statements/", "statements", 7),
    Route("guides:partner", "/portal/guides/partner/", "partner_rows", 18, who="partner_user"),
    Route("aftersales:desk", "/portal/service/", "tickets", 5, who="clerk"),
    Route("aftersales:store", "/portal/service/store/A/", "tickets", 6, who="clerk"),
    # --- portal: pages of one thing that list its rows ---
    Route("stores:detail", "/portal/stores/A/", "stock", 6),
    Route("stores:ledger", "/portal/stores/A/stock/TV-55/", "movements", 7),
    Route(
        "members:segment_detail", lambda s: f"/portal/members/segments/{s.segment.pk}/", "segment_members", 6
    ),
    Route("members:group_detail", lambda s: f"/portal/members/groups/{s.group.pk}/", "group_members", 6),
    Route(
        "guides:statement_csv",
        lambda s: f"/portal/guides/statements/{s.statement.pk}/csv/",
        "statement_rows",
        7,
    ),
    Route("guides:statement", lambda s: f"/portal/guides/statements/{s.statement.pk}/", "statement_rows", 8),
    # --- HQ ---
    Route("catalog:sku_list", "/hq/catalog/skus/", "skus", 5),
    Route("catalog:consistency", "/hq/catalog/consistency/", "skus", 8),
    Route("marketing_hq:promotions", "/hq/marketing/", "promotions", 20),
    Route("marketing_hq:coupons", "/hq/marketing/coupons/", "coupon_definitions", 20),
    Route("marketing_hq:campaigns", "/hq/marketing/campaigns/", "campaigns", 20),
    Route("catalog:sku_prices", "/hq/catalog/skus/TV-55/prices/", "prices", 9),
    Route("catalog:categories", "/hq/catalog/categories/", "categories", 4),
    Route("guides_hq:home", "/hq/guides/", "guides", 13),
    Route("guides_hq:conversion", "/hq/guides/conversion/", "guides", 8),
    Route("guides_hq:guides", "/hq/guides/list/", "guides", 5),
    Route("guides_hq:statements", "/hq/guides/statements/", "statements", 5),
    Route("guides_hq:statement", lambda s: f"/hq/guides/statements/{s.statement.pk}/", "statement_rows", 6),
    Route("aftersales_hq:queue", "/hq/service/", "tickets", 8),
    Route("aftersales_hq:returns", "/hq/service/returns/", "deliveries", 7),
    Route("aftersales_hq:queue_csv", "/hq/service/tickets.csv", "tickets", 5),
    Route("aftersales_hq:returns_csv", "/hq/service/returns/sku.csv", "returned_skus", 4),
    Route("guides_hq:board_csv", "/hq/guides/leaderboard/guides.csv", "guides", 7),
    Route(
        "guides_hq:statement_csv",
        lambda s: f"/hq/guides/statements/{s.statement.pk}/csv/",
        "statement_rows",
        5,
    ),
    Route("dashboard:home", "/hq/dashboard/", "deliveries", 18),
    Route("dashboard:orders", "/hq/dashboard/orders/", "orders", 6),
    Route("dashboard:offers", "/hq/dashboard/offers/", "orders", 6),
]


def _url(route: Route, scene: Scene) -> str:
    return route.url(scene) if callable(route.url) else route.url


def _read(client, url) -> tuple[int, str]:
    """Status and body; a streamed body (CSV) is read here, where its queries run."""
    response = client.get(url)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, body.decode()


def _missing(text: str, shown: list[str]) -> list[str]:
    """The markers not in the text as a whole word ("Member 1" is not in "Member 12")."""
    return [marker for marker in shown if not re.search(rf"(?<!\w){re.escape(marker)}(?!\w)", text)]


def _sql(context) -> str:
    return "\n".join(query["sql"] for query in context.captured_queries)


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.id)
def test_a_list_costs_the_same_queries_with_2_or_8_rows(route, client, db, django_assert_max_num_queries):
    scene = Scene()
    grow = getattr(scene, f"grow_{route.rows}")
    if route.who == "key":
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {scene.mall_key}"
    else:
        client.force_login(getattr(scene, route.who))
    shown = grow(SMALL)
    url = _url(route, scene)
    assert _read(client, url)[0] == 200  # first request: caches filled, counted below

    with django_assert_max_num_queries(route.max_queries) as small:
        status, text = _read(client, url)
    assert status == 200
    assert _missing(text, shown) == []

    shown += grow(LARGE - SMALL)
    with django_assert_max_num_queries(route.max_queries) as large:
        status, text = _read(client, url)
    assert status == 200
    assert _missing(text, shown) == []
    assert len(large.captured_queries) == len(small.captured_queries), (
        f"{len(small.captured_queries)} queries with {SMALL} rows, {len(large.captured_queries)} with "
        f"{LARGE}:\n--- {SMALL} rows\n{_sql(small)}\n--- {LARGE} rows\n{_sql(large)}"
    )


# Routes the completeness test finds that are not lists of rows, or are covered elsewhere.
NOT_LISTS = {
    # API actions that answer one thing, not a list
    "price-live": "one live price per SKU asked for (?sku=), not a list of stored rows",
    "stock-availability": "availability of the SKUs asked for, a fixed-size answer",
    "member-lookup": "one member by phone or external id",
    "guide-lookup": "one guide by code or scan",
    # portal / HQ pages that are forms, redirects or single answers
    "portal:home": "tiles and counts, not a list (tests/config/test_portal_home.py pins its queries)",
    "portal:search": "answers one query (tests/config/test_search.py pins its queries)",
    "stores:lookup_start": "a form (or a redirect to the user's one store)",
    "members:register": "a form",
    "members:segment_new": "a form",
    "catalog:price_new": "a form",
    "marketing_hq:promotion_new": "a form",
    "marketing_hq:coupon_new": "a form",
    "marketing_hq:campaign_new": "a form (its preview is tests/marketing/test_hq_pages.py's)",
    "guides:home": "a guide's figures and chart, not a list",
}


def _routes(patterns, prefix="", namespace=""):
    """(path, name, GET action or None) of every URL pattern under `patterns`."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            actions = getattr(pattern.callback, "actions", None) or {}
            yield prefix + str(pattern.pattern), namespace + (pattern.name or ""), actions.get("get")


def list_routes() -> set[str]:
    """API: router routes with the list action and the other GET actions (retrieve aside);
    pages: the portal's and HQ's routes without a parameter in the path."""
    found = set()
    for path, name, get_action in _routes(get_resolver().url_patterns):
        if path.startswith("api/"):
            if get_action and get_action != "retrieve":
                found.add(name)
        elif path.startswith(("portal/", "hq/")) and "<" not in path:
            found.add(name)
    return found


def all_route_names() -> set[str]:
    return {name for _path, name, _action in _routes(get_resolver().url_patterns)}


def test_every_list_route_is_in_the_table():
    assert len({route.id for route in ROUTES}) == len(ROUTES), "a route is in the table twice"
    table = {route.name for route in ROUTES}
    missing = sorted(list_routes() - table - NOT_LISTS.keys())
    assert not missing, f"list routes in neither ROUTES nor NOT_LISTS: {missing}"
    gone = sorted((table | NOT_LISTS.keys()) - all_route_names())
    assert not gone, f"ROUTES or NOT_LISTS name routes the resolver no longer has: {gone}"
