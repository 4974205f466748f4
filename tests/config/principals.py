"""Every kind of principal of docs/security.md, in one seeded world of two sides, for the access
matrix, the page fuzz and the API fuzz.

Side A is "ours" for the principals: store A (run by partner P1), its manager and clerk, a clerk
of A who also joined as a guide, P1's user and P1's key, the JD channel (whose key sees A's JD
orders). Side C belongs to nobody here but HQ: store C (run by partner P2, 50 km away), the Tmall
channel, guide C, their members, orders, tickets and statements.

Every member carries values found nowhere else (name, mobile, birthday, city, points, spend,
external ids), and so do dealer cost, the dealer-channel price and the statements' totals, so a
test can look for another party's actual values in any answer (`Token`s) instead of trusting field
names. `ALLOWED` says who may see each group of values (docs/security.md)."""

import secrets
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.test import Client
from django.utils import timezone

from config.roles import SYSTEM

ALL_PEOPLE = ("hq", "manager", "clerk", "guide", "partner", "self_guide", "no_role")
ALL_KEYS = ("jd_key", "dealer_key", "partner_key")
ALL_PRINCIPALS = (*ALL_PEOPLE, "anonymous", *ALL_KEYS)
STAFF_A = frozenset({"manager", "clerk", "guide"})  # "guide" is a clerk of A who joined as a guide
CHANNEL_KEYS = frozenset({"jd_key", "dealer_key"})

# Who may see each group of sentinel values, by principal name (HQ sees everything).
ALLOWED = {
    # m1: home store A, a JD identity and a Tmall identity, JD orders fulfilled at A.
    "m1.personal": frozenset({"hq", *STAFF_A, "partner", "jd_key", "partner_key"}),
    "m1.jd_id": frozenset({"hq", *STAFF_A, "partner", "jd_key"}),
    "m1.tmall_id": frozenset({"hq", *STAFF_A, "partner"}),
    # m2: home store C, Tmall orders at C, guide C's fan: nobody's here but HQ's.
    "m2.personal": frozenset({"hq"}),
    "m2.tmall_id": frozenset({"hq"}),
    # m3: home store C, guide A's fan (name and masked mobile only), a mall order at C.
    "m3.name": frozenset({"hq", "guide"}),
    "m3.personal": frozenset({"hq"}),
    "m3.wechat_id": frozenset({"hq"}),
    # m4: the self-registered guide's fan.
    "m4.name": frozenset({"hq", "self_guide"}),
    "m4.personal": frozenset({"hq"}),
    # Orders and tickets by number.
    "orders.a": frozenset({"hq", *STAFF_A, "partner", "jd_key", "partner_key"}),
    "orders.c": frozenset({"hq"}),
    # Attributed to guide A (P1's guide), fulfilled at C: the guide's and the guide's company's.
    "order.m3": frozenset({"hq", "guide", "partner", "partner_key"}),
    "ticket.a": frozenset({"hq", *STAFF_A, "partner", "jd_key", "partner_key"}),
    "ticket.c": frozenset({"hq"}),
    # Guides and their money.
    "guide_c": frozenset({"hq"}),
    "statement.guide_a": frozenset({"hq", "guide", "partner", "partner_key"}),
    "statement.guide_c": frozenset({"hq"}),
    "statement.p1": frozenset({"hq", "partner", "partner_key"}),
    "statement.p2": frozenset({"hq"}),
    # Cost: HQ and the dealer channel only.
    "dealer": frozenset({"hq", "dealer_key"}),
}


def _money_forms(amount: str) -> list[str]:
    whole, cents = amount.split(".")
    grouped = f"{int(whole):,}"
    return sorted({f"{whole}.{cents}", f"{grouped}.{cents}"})


def _phone_forms(phone: str) -> list[str]:
    return [phone, f"{phone[:3]} {phone[3:7]} {phone[7:]}", f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"]


def _date_forms(day: date) -> list[str]:
    months = "January February March April May June July August September October November December"
    month = months.split()[day.month - 1]
    return [
        day.isoformat(),
        day.strftime("%Y/%m/%d"),
        day.strftime("%d/%m/%Y"),
        f"{month} {day.day}, {day.year}",
        f"{month[:3]}. {day.day}, {day.year}",
        f"{month[:3]} {day.day}, {day.year}",
        f"{day.year}年{day.month}月{day.day}日",
    ]


@dataclass
class Token:
    group: str  # a key of ALLOWED
    what: str  # e.g. "m2 birthday"
    forms: list[str]


@dataclass
class Principal:
    name: str
    user: object = None  # a person (None: anonymous or a key)
    key: str = ""  # the plaintext of an API key

    def client(self) -> Client:
        if self.key:
            return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {self.key}")
        client = Client(raise_request_exception=False)
        if self.user is not None:
            client.force_login(self.user)
        return client

    @property
    def is_key(self) -> bool:
        return bool(self.key)


@dataclass
class Side:
    store: object = None
    partner: object = None
    member: object = None  # the side's main member (m1 / m2)
    order: object = None  # delivered, with a ticket
    pending: object = None  # paid, allocated, not accepted yet
    ticket: object = None
    guide: object = None
    binding: object = None
    entry: object = None
    statement: object = None  # the guide's
    partner_statement: object = None
    group: object = None  # a static group of the store
    stock: object = None  # the TV's stock row at the store
    guide_order: object = None  # an order attributed to the side's guide


@dataclass
class MatrixWorld:
    a: Side = field(default_factory=Side)
    c: Side = field(default_factory=Side)
    principals: dict = field(default_factory=dict)
    tokens: list = field(default_factory=list)
    members: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def side(self, name: str) -> Side:
        return self.a if name == "a" else self.c


def _token(world, group, what, forms):
    world.tokens.append(Token(group, what, list(forms)))


def build_world() -> MatrixWorld:
    """Seed the world (call inside a transaction the caller rolls back)."""
    from aftersales.choices import OpenedVia, TicketKind
    from aftersales.services import ticket_open
    from catalog.choices import ChannelKind
    from catalog.services import price_set
    from config.roles import Role
    from guides.choices import EntryKind, StatementParty
    from guides.models import CommissionEntry, Guide, Statement
    from guides.services import guide_register, member_bind
    from integrations.choices import Scope
    from integrations.models import ApiKey
    from integrations.services import CHANNEL_ONLY_SCOPES, api_key_create
    from members.choices import IdentitySource
    from members.models import ExternalIdentity, Member, Segment, StaticGroup
    from orders.choices import DeliveryMethod
    from orders.fulfilment import order_complete, order_ship
    from orders.models import RevenueRule
    from orders.services import LineRequest, order_create, order_pay
    from stores.models import Stock
    from stores.services import stock_receive
    from tests.factories import (
        ChannelFactory,
        DealerChannelFactory,
        MemberFactory,
        PartnerFactory,
        SKUFactory,
        StoreFactory,
        UserFactory,
        clerk_at,
        hq_user,
        manager_at,
        partner_user,
        warehouse,
    )
    from tests.world import north

    w = MatrixWorld()
    w.mall = ChannelFactory(code="mx-mall", name="Own mall", kind=ChannelKind.OWN_MALL)
    w.jd = ChannelFactory(code="mx-jd", name="JD flagship", kind=ChannelKind.MARKETPLACE)
    w.tmall = ChannelFactory(code="mx-tmall", name="Tmall flagship", kind=ChannelKind.MARKETPLACE)
    w.dealer = DealerChannelFactory(code="mx-dealer", name="Dealer net")
    for channel in (w.mall, w.jd, w.tmall):
        RevenueRule.objects.create(
            channel=channel, fulfilling_fee_percent=Decimal("8"), origin_share_percent=Decimal("5")
        )
    w.tv = SKUFactory(code="MX-TV-55", dealer_cost=Decimal("1357.91"))
    start = timezone.now() - timezone.timedelta(days=1)
    w.public_price = price_set(
        sku=w.tv, channel=None, amount=Decimal("2999.00"), valid_from=start, actor=SYSTEM
    )
    w.dealer_price = price_set(
        sku=w.tv, channel=w.dealer, amount=Decimal("2468.13"), valid_from=start, actor=SYSTEM
    )
    _token(w, "dealer", "dealer cost", _money_forms("1357.91"))
    _token(w, "dealer", "dealer-channel price", _money_forms("2468.13"))

    w.a.partner = PartnerFactory(code="mx-p1", name="Northwind Partners")
    w.c.partner = PartnerFactory(code="mx-p2", name="Southgate Partners")
    lat, lng = north(0)
    w.a.store = StoreFactory(
        code="MXA",
        name="Matrix Store A",
        partner=w.a.partner,
        latitude=lat,
        longitude=lng,
        service_radius_km=10,
    )
    lat, lng = north(50)
    w.c.store = StoreFactory(
        code="MXC",
        name="Matrix Store C",
        partner=w.c.partner,
        latitude=lat,
        longitude=lng,
        service_radius_km=10,
    )
    w.warehouse = warehouse(
        code="MXW", name="Matrix warehouse", latitude=Decimal("31.2304"), longitude=Decimal("121.4737")
    )
    for side in (w.a, w.c):
        stock_receive(location=side.store, sku=w.tv, quantity=20, reason="Delivery", actor=SYSTEM)
        side.stock = Stock.objects.get(location=side.store, sku=w.tv)

    # --- people ------------------------------------------------------------------------------
    people = {
        "hq": hq_user(),
        "manager": manager_at(w.a.store),
        "clerk": clerk_at(w.a.store),
        "partner": partner_user(w.a.partner),
        "no_role": UserFactory(),
    }
    # A clerk of A who became a guide through the real page (signed in, /g/join/).
    guide_user = clerk_at(w.a.store)
    joiner = Client()
    joiner.force_login(guide_user)
    response = joiner.post(
        "/g/join/", {"name": "Guide Alpha Ming", "phone": "13700001111", "store": w.a.store.pk}
    )
    assert response.status_code == 302, response.content[:2000]
    w.a.guide = Guide.objects.get(user=guide_user)
    people["guide"] = guide_user
    # A stranger who signs up at /g/join/ with no store or partner code.
    stranger = Client()
    response = stranger.post(
        "/g/join/",
        {
            "name": "Self Made Guide",
            "phone": "13700002222",
            "email": "self.made@example.com",
            "password1": "a-Long-pass-4791",
            "password2": "a-Long-pass-4791",
            "store_code": "",
            "partner_code": "",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    w.self_guide = Guide.objects.get(name="Self Made Guide")
    assert w.self_guide.store_id is None and w.self_guide.partner_id is None
    assert set(w.self_guide.user.groups.values_list("name", flat=True)) == {Role.GUIDE}
    people["self_guide"] = w.self_guide.user
    c_guide_user = UserFactory()
    w.c.guide = guide_register(user=c_guide_user, name="Guide Charlie Zhou", store=w.c.store)
    _token(w, "guide_c", "guide C's code", [w.c.guide.code])
    _token(w, "guide_c", "guide C's name", ["Guide Charlie Zhou"])
    w.extra["c_guide_user"] = c_guide_user

    for name, user in people.items():
        w.principals[name] = Principal(name, user=user)
    w.principals["anonymous"] = Principal("anonymous")

    # --- keys ----------------------------------------------------------------------------------
    _, plaintext = api_key_create(name="mx jd", channel=w.jd, scopes=Scope.values, actor=SYSTEM)
    w.principals["jd_key"] = Principal("jd_key", key=plaintext)
    _, plaintext = api_key_create(name="mx dealer", channel=w.dealer, scopes=Scope.values, actor=SYSTEM)
    w.principals["dealer_key"] = Principal("dealer_key", key=plaintext)
    partner_scopes = [s for s in Scope.values if s not in CHANNEL_ONLY_SCOPES]
    _, plaintext = api_key_create(name="mx p1", partner=w.a.partner, scopes=partner_scopes, actor=SYSTEM)
    w.principals["partner_key"] = Principal("partner_key", key=plaintext)

    # --- members ------------------------------------------------------------------------------
    def member(tag, home, phone, bday, points, spend):
        m = MemberFactory(
            phone=phone,
            name=f"Sentinel {tag} Qiuyue",
            city=f"Wuzhen-{tag}",
            birthday=bday,
            gender="female",
            home_store=home,
            marketing_consent=True,
        )
        Member.objects.filter(pk=m.pk).update(points_balance=points, total_spend=Decimal(spend))
        m.refresh_from_db()
        w.members[tag] = m
        personal = "personal"
        name_group = f"{tag}.name" if f"{tag}.name" in ALLOWED else f"{tag}.{personal}"
        _token(w, name_group, f"{tag} name", [m.name])
        _token(w, f"{tag}.{personal}", f"{tag} mobile", _phone_forms(phone))
        _token(w, f"{tag}.{personal}", f"{tag} birthday", _date_forms(bday))
        _token(w, f"{tag}.{personal}", f"{tag} city", [m.city])
        _token(w, f"{tag}.{personal}", f"{tag} points", [str(points), f"{points:,}"])
        _token(w, f"{tag}.{personal}", f"{tag} spend", _money_forms(spend))
        return m

    m1 = member("m1", w.a.store, "13955501001", date(1961, 7, 29), 48173, "86421.50")
    m2 = member("m2", w.c.store, "13955502002", date(1972, 11, 23), 53197, "91357.25")
    m3 = member("m3", w.c.store, "13955503003", date(1983, 5, 17), 61349, "73519.75")
    m4 = member("m4", None, "13955504004", date(1994, 2, 11), 37781, "65843.35")
    w.a.member, w.c.member = m1, m2
    identities = [
        (m1, IdentitySource.JD, "jd-buyer-7731-alpha", "m1.jd_id"),
        (m1, IdentitySource.TMALL, "tmall-buyer-5512-alpha", "m1.tmall_id"),
        (m2, IdentitySource.TMALL, "tmall-buyer-9907-charlie", "m2.tmall_id"),
        (m3, IdentitySource.WECHAT, "wechat-openid-3319-mike", "m3.wechat_id"),
    ]
    for m, source, external_id, group in identities:
        ExternalIdentity.objects.create(member=m, source=source, external_id=external_id)
        _token(w, group, f"{group} external id", [external_id])

    # --- fans, then orders (a bound member's order is attributed to the guide) -----------------
    w.a.binding = member_bind(member=m3, guide=w.a.guide)
    w.c.binding = member_bind(member=m2, guide=w.c.guide)
    w.extra["self_binding"] = member_bind(member=m4, guide=w.self_guide)

    def ship(channel, m, side, **kw):
        lat, lng = north(0.1 if side is w.a else 50.1)
        return order_create(
            channel=channel,
            lines=[LineRequest(sku=w.tv, quantity=1)],
            delivery_method=DeliveryMethod.SHIP,
            member=m,
            address="1 Matrix Road",
            latitude=lat,
            longitude=lng,
            **({"actor": SYSTEM} | kw),
        )

    def pay(order):
        order_pay(order=order, amount=order.total, method="wechat", actor=SYSTEM)
        order.refresh_from_db()
        return order

    def deliver(order):
        from orders.fulfilment import assignment_accept

        store = order.fulfilling_location
        if order.status == "allocated":
            assignment_accept(order=order, store=store, actor=SYSTEM)
        order_ship(order=order, store=store, tracking_number="SF123", actor=SYSTEM)
        order_complete(order=order, actor=SYSTEM)
        order.refresh_from_db()
        return order

    for side, channel, m in ((w.a, w.jd, m1), (w.c, w.tmall, m2)):
        side.order = deliver(pay(ship(channel, m, side)))
        assert side.order.fulfilling_location == side.store, side.order.fulfilling_location
        side.pending = pay(ship(channel, m, side))
        assert side.pending.fulfilling_location == side.store
        side.ticket = ticket_open(
            line=side.order.lines.get(),
            kind=TicketKind.REPAIR,
            opened_via=OpenedVia.STORE,
            intake_store=side.store,
            actor=SYSTEM,
        )
    w.a.guide_order = pay(ship(w.mall, m3, w.c))  # guide A's fan, fulfilled at C
    assert w.a.guide_order.guide == w.a.guide and w.a.guide_order.fulfilling_location == w.c.store
    w.c.guide_order = w.c.order
    assert w.c.order.guide == w.c.guide
    for order in (w.a.order, w.a.pending):
        _token(w, "orders.a", f"order {order.number}", [order.number])
    for order in (w.c.order, w.c.pending):
        _token(w, "orders.c", f"order {order.number}", [order.number])
    _token(w, "order.m3", f"order {w.a.guide_order.number}", [w.a.guide_order.number])
    _token(w, "ticket.a", f"ticket {w.a.ticket.number}", [w.a.ticket.number])
    _token(w, "ticket.c", f"ticket {w.c.ticket.number}", [w.c.ticket.number])

    # --- money: ledger rows and statements ------------------------------------------------------
    totals = {"a": ("5127.73", "8931.41"), "c": ("7312.97", "9274.63")}
    for tag, side in (("a", w.a), ("c", w.c)):
        guide_total, partner_total = totals[tag]
        side.statement = Statement.objects.create(
            party=StatementParty.GUIDE,
            guide=side.guide,
            period=date(2025, 3, 1),
            total=Decimal(guide_total),
            entry_count=1,
        )
        side.partner_statement = Statement.objects.create(
            party=StatementParty.PARTNER,
            partner=side.partner,
            period=date(2025, 3, 1),
            total=Decimal(partner_total),
            entry_count=1,
        )
        side.entry = CommissionEntry.objects.create(
            kind=EntryKind.RELEASE,
            guide=side.guide,
            partner=side.partner,
            store=side.store,
            base_amount=Decimal("250.00"),
            payable_change=Decimal(guide_total),
            statement=side.statement,
            created_at=timezone.now(),
        )
        guide_group = "statement.guide_a" if tag == "a" else "statement.guide_c"
        partner_group = "statement.p1" if tag == "a" else "statement.p2"
        _token(w, guide_group, f"guide {tag} statement total", _money_forms(guide_total))
        _token(w, partner_group, f"partner {tag} statement total", _money_forms(partner_total))
        side.group = StaticGroup.objects.create(name=f"VIP {tag}", store=side.store)
        side.group.members.add(side.member)
    w.segment = Segment.objects.create(name="Matrix segment", filters={"city": "Wuzhen-m1"})
    w.api_key_id = ApiKey.objects.order_by("pk").first().pk
    _marketing(w)
    _check_tokens_unique(w)
    return w


def _marketing(w):
    """HQ's marketing rows, for its pages and admin: an ended promotion (it prices nothing the other
    tests order), a coupon with m1's code, a draft campaign near store A, m1's wallet."""
    from marketing.choices import CouponKind, IssuedVia, PromotionKind
    from marketing.services import campaign_create, code_give, coupon_define, promotion_set, wallet_top_up

    start = timezone.now() - timezone.timedelta(days=3)
    promotion_set(
        code="mx-promo",
        name="Matrix promotion",
        kind=PromotionKind.PERCENT_OFF,
        percent=Decimal("5"),
        skus=[w.tv],
        valid_from=start,
        valid_to=start + timezone.timedelta(days=1),
        actor=SYSTEM,
    )
    coupon = coupon_define(
        code="MX-COUPON",
        name="Matrix coupon",
        kind=CouponKind.AMOUNT,
        value=Decimal("5"),
        valid_from=start,
        actor=SYSTEM,
    )
    code_give(coupon=coupon, member=w.a.member, via=IssuedVia.HQ, actor=SYSTEM)
    w.campaign = campaign_create(
        name="Matrix campaign",
        near_store=w.a.store,
        radius_km="10",
        coupon=coupon,
        message="Hi",
        actor=SYSTEM,
    )
    wallet_top_up(member=w.a.member, amount=Decimal("100.00"), method="card", actor=SYSTEM)


def _check_tokens_unique(world):
    for token in world.tokens:
        assert token.group in ALLOWED, token


def leaks_in(world: MatrixWorld, principal: str, body: str, sent: str = "") -> list[str]:
    """Sentinel values in `body` the principal may not see (a value the caller sent itself, in
    the URL or the body, may come back: a 404 page names the number it did not find)."""
    found = []
    for token in world.tokens:
        if principal in ALLOWED[token.group]:
            continue
        for form in token.forms:
            if form in body and form not in sent:
                found.append(f"{token.what} ({form!r})")
                break
    return found


def module_world(django_db_blocker):
    """Build the world once per module inside an outer transaction, rolled back at the end. Each
    test's own transaction (pytest-django's `db`) nests inside, so what a test writes is undone."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            world = build_world()
        except BaseException:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            raise
    try:
        yield world
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def csrf_headers_for(user) -> dict:
    """Session + CSRF headers for a person, for callers outside Django's test client (the fuzzer)."""
    client = Client()
    client.force_login(user)
    token = secrets.token_hex(16)
    return {
        "Cookie": f"sessionid={client.cookies['sessionid'].value}; csrftoken={token}",
        "X-CSRFToken": token,
    }
