"""Deny by default: every URL the project serves is walked (from the resolver, so a new URL is
covered the moment it is added) and must refuse an anonymous visitor - 401/403 under /api/, a
redirect to a login page elsewhere - unless it is on the explicit PUBLIC allowlist below. Signed-in
people of the wrong role are walked too, with the rule of each URL prefix:

/admin/, /hq/                  HQ admins only: everyone else 403 (or the admin's login page).
/portal/members/segments/      HQ only: 403.
/portal/members/               store staff, partners and HQ; guides and people without a role: 403.
/portal/service/               store staff and HQ; partners, guides, no role: 403.
/portal/guides/partner/        partners and HQ; everyone else refused (403 or the join page).
/portal/guides/                guides, partners and HQ; anyone else gets the "become a guide" page
                               (200, no data: guides/portal/join.html).
/portal/stores/, /portal/orders/  store staff, partners and HQ (guides and people without a role:
                               403); each sees only their own stores' rows (selectors), another
                               party's code or number is a 404.
/portal/wallet/                a member's coupons and stored value: store staff, partners and HQ
                               who may see the member's personal data (guides, no role: 403).
/portal/, /portal/search/      every signed-in role, each finding only their own rows.
/api/v1/                       every signed-in person and every key, scoped by selectors: another
                               party's id is a 404, lists hold only their own rows; HQ_ONLY_API
                               names are 403 to everyone but HQ; a key needs the action's scope
                               (403 `scope_missing`; no scope opens people-only actions).

Shared pages are checked for data rather than status: a clerk of another store, a guide, a partner
and a person without a role get 404 for store A's order, queue, store page and ticket and do not
see its order in their lists; a guide gets 404 for another guide's fan, ledger row and statement,
a partner for another partner's guide. No route answers a 5xx to any role."""

import re
from dataclasses import dataclass

import pytest
from django.http import HttpResponse, JsonResponse
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, path, resolve, reverse

from config.roles import SYSTEM
from tests.factories import (
    GuideFactory,
    MemberFactory,
    PartnerFactory,
    StoreFactory,
    UserFactory,
    clerk_at,
    manager_at,
    partner_user,
)

pytestmark = pytest.mark.django_db

# Pages anyone may open without signing in, by URL name (namespace:name). Each one is public on
# purpose: customers scan QR codes and look up their tickets; people must be able to sign in.
PUBLIC = {
    "health",
    # Customer-facing: store order page, guide QR landing and join, ticket status by number + phone.
    "orders_public:store",
    "orders_public:ordered",
    "guides_public:join",
    "guides_public:landing",
    "guides_public:bound",
    "guides_public:card",
    "guides_public:qr_png",
    "guides_public:qr_svg",
    "aftersales_public:status",
    # Signing in, out, password reset and the language switch.
    "set_language",
    "account_login",
    "account_logout",
    "account_signup",
    "account_inactive",
    "account_reset_password",
    "account_reset_password_done",
    "account_reset_password_from_key",
    "account_reset_password_from_key_done",
    "account_confirm_email",
    "account_email_verification_sent",
    "account_confirm_login_code",
    "mfa_authenticate",
    "admin:login",
    "admin:logout",
    # The API's contract is public, as Stripe's and Shopify's are: integrators read it before they
    # hold a key, and it holds no data. Every operation in it still needs a session or a key.
    "api-schema",
    "api-docs",
    "api-redoc",
}

LOGIN_PAGES = ("/accounts/login/", "/admin/login/")
NAMED_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>[^()]*)\)")
CONVERTER = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")


@dataclass
class Route:
    url: str
    name: str
    pattern: URLPattern


def _fill_regex(regex: str) -> str:
    def group(match):
        name, body = match["name"], match["body"]
        if name == "format":
            return "json"
        if re.fullmatch(r"[\w|]+", body) and "|" in body:  # (auth|catalog|...): the first choice
            return body.split("|")[0]
        return "1"

    text = NAMED_GROUP.sub(group, regex)
    text = text.removeprefix("^").removesuffix("$").replace("/?", "/").replace("\\.", ".")
    return text


def _fill_route(route: str) -> str:
    def conv(match):
        if match["conv"] == "drf_format_suffix":
            return ".json"
        return "1"

    return CONVERTER.sub(conv, route)


def _walk(patterns, prefix="", namespace=""):
    for p in patterns:
        text = str(p.pattern)
        piece = _fill_regex(text) if text.startswith("^") or "(?P<" in text else _fill_route(text)
        if isinstance(p, URLResolver):
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from _walk(p.url_patterns, prefix + piece, ns)
        else:
            yield Route("/" + prefix + piece, f"{namespace}{p.name}" if p.name else "", p)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns))


def test_every_url_pattern_is_walked():
    """Each pattern gets a concrete URL that resolves back to that pattern's view, so nothing is
    skipped silently."""
    routes = all_routes()
    assert len(routes) > 200
    for route in routes:
        match = resolve(route.url)
        assert match.func == route.pattern.callback or match.url_name == route.pattern.name, route.url


def test_public_allowlist_names_exist():
    names = {route.name for route in all_routes()}
    assert PUBLIC <= names, PUBLIC - names


def _refused_anonymous(url: str, response) -> bool:
    if url.startswith("/api/"):
        return response.status_code in (401, 403)
    return response.status_code == 302 and response["Location"].startswith(LOGIN_PAGES)


def anonymous_leaks() -> list[str]:
    client = Client(raise_request_exception=False)
    leaks = []
    for route in all_routes():
        if route.name in PUBLIC or route.url == "/":
            continue
        response = client.get(route.url)
        if response.status_code == 405:  # POST-only: the refusal must come before the method's work
            response = client.post(route.url)
        if not _refused_anonymous(route.url, response):
            leaks.append(f"{route.url} ({route.name}): {response.status_code} {response.get('Location', '')}")
    return leaks


def test_anonymous_is_refused_everywhere_but_the_allowlist():
    leaks = anonymous_leaks()
    assert not leaks, "open to anonymous visitors:\n" + "\n".join(leaks)


def _open_page(request):
    return HttpResponse("anyone")


def _open_api(request):
    return JsonResponse({"secret": 1})


urlpatterns = [
    path("portal/forgotten/", _open_page, name="forgotten"),
    path("api/v1/forgotten/", _open_api, name="forgotten-api"),
    path("health/", _open_page, name="health"),
]


@override_settings(ROOT_URLCONF=__name__)
def test_a_new_unprotected_url_fails_the_walk():
    leaks = anonymous_leaks()
    assert [leak.split(" ")[0] for leak in leaks] == ["/portal/forgotten/", "/api/v1/forgotten/"]


def test_the_root_sends_anonymous_visitors_to_sign_in():
    client = Client()
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0].startswith(LOGIN_PAGES)


@pytest.fixture
def wrong_roles(db):
    store = StoreFactory()
    partner = PartnerFactory()
    guide = GuideFactory(store=store)
    return {
        "clerk": clerk_at(store),
        "partner": partner_user(partner),
        "guide": guide.user,
        "no role": UserFactory(),
    }


def _refused_signed_in(response) -> bool:
    if response.status_code in (401, 403, 404):
        return True
    return response.status_code == 302 and response["Location"].startswith(LOGIN_PAGES)


@pytest.mark.parametrize("who", ["clerk", "partner", "guide", "no role"])
def test_hq_pages_and_admin_refuse_other_roles(wrong_roles, who):
    client = Client(raise_request_exception=False)
    client.force_login(wrong_roles[who])
    leaks = []
    for route in all_routes():
        if route.name in PUBLIC or not route.url.startswith(("/hq/", "/admin/")):
            continue
        response = client.get(route.url)
        if response.status_code == 405:
            response = client.post(route.url)
        if not _refused_signed_in(response):
            leaks.append(f"{route.url} ({route.name}): {response.status_code}")
    assert not leaks, f"open to a {who}:\n" + "\n".join(leaks)


# --- wrong roles on every prefix -----------------------------------------------------------------

ALL_BUT_HQ = frozenset({"clerk", "manager", "partner", "guide", "no role"})
# Most specific prefix first: the first match gives the roles that must be refused there.
REFUSED_BY_PREFIX = (
    ("/admin/", ALL_BUT_HQ),
    ("/hq/", ALL_BUT_HQ),
    ("/portal/members/segments/", ALL_BUT_HQ),
    ("/portal/members/", frozenset({"guide", "no role"})),
    ("/portal/stores/", frozenset({"guide", "no role"})),
    ("/portal/orders/", frozenset({"guide", "no role"})),
    ("/portal/wallet/", frozenset({"guide", "no role"})),
    ("/portal/service/", frozenset({"partner", "guide", "no role"})),
    ("/portal/guides/partner/", frozenset({"clerk", "manager", "guide", "no role"})),
    ("/portal/guides/", frozenset({"clerk", "manager", "no role"})),
)
# API routes (by URL name) only HQ may use: people of every other role get a 403.
HQ_ONLY_API = {
    "api-key-list",
    "api-key-detail",
    "api-key-revoke",
    "member-list",
    "member-duplicates",
    "member-merge",
    "member-adjust-points",
    "segment-list",
    "segment-detail",
    "segment-export",
    "segment-members",
    "commission-rule-list",
    "commission-rule-detail",
    "statement-approve",
    "statement-pay",
    "price-end",
}
JOIN_PAGE = "guides/portal/join.html"
# Portal sections every signed-in role may open, each seeing only their own rows (selectors).
SHARED_PORTAL_PREFIXES = {"/portal/search/"}


@pytest.fixture
def people(db):
    store = StoreFactory(code="WALK-A")
    guide = GuideFactory(store=store)
    return {
        "clerk": clerk_at(store),
        "manager": manager_at(store),
        "partner": partner_user(PartnerFactory()),
        "guide": guide.user,
        "no role": UserFactory(),
    }


def refused_roles(route: Route) -> frozenset:
    if route.name in HQ_ONLY_API:
        return ALL_BUT_HQ
    for prefix, roles in REFUSED_BY_PREFIX:
        if route.url.startswith(prefix):
            return roles
    return frozenset()


def _get_or_post(client, url):
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url)
    return response


def _refused_here(route: Route, response) -> bool:
    if route.url.startswith("/api/"):
        return response.status_code in (401, 403, 404)
    if route.url.startswith("/portal/guides/") and response.status_code == 200:
        return JOIN_PAGE in [t.name for t in response.templates]
    return _refused_signed_in(response)


def test_the_prefix_rules_cover_every_portal_prefix_and_name_real_routes():
    routes = all_routes()
    names = {route.name for route in routes}
    assert HQ_ONLY_API <= names, HQ_ONLY_API - names
    # /portal/<section>/: a new section must get a rule here and in the module docstring.
    sections = {route.url.split("/")[2] for route in routes if route.url.startswith("/portal/")} - {""}
    portal_prefixes = {f"/portal/{section}/" for section in sections}
    ruled = {prefix for prefix, _roles in REFUSED_BY_PREFIX} | SHARED_PORTAL_PREFIXES
    assert portal_prefixes <= ruled, (
        f"portal prefixes without a rule in the docstring: {portal_prefixes - ruled}"
    )


@pytest.mark.parametrize("who", ["clerk", "manager", "partner", "guide", "no role"])
def test_every_prefix_refuses_the_wrong_roles_and_nothing_crashes(people, who):
    client = Client(raise_request_exception=False)
    client.force_login(people[who])
    leaks, crashes = [], []
    for route in all_routes():
        if route.name in PUBLIC or route.url == "/":
            continue
        response = _get_or_post(client, route.url)
        if response.status_code >= 500:
            crashes.append(f"{route.url} ({route.name}): {response.status_code}")
        elif who in refused_roles(route) and not _refused_here(route, response):
            leaks.append(f"{route.url} ({route.name}): {response.status_code}")
    assert not crashes, f"server errors for a {who}:\n" + "\n".join(crashes)
    assert not leaks, f"open to a {who}:\n" + "\n".join(leaks)


def test_a_key_without_scopes_is_refused_on_every_api_route(db):
    from integrations.services import api_key_create
    from tests.factories import ChannelFactory

    _key, plaintext = api_key_create(
        name="none", channel=ChannelFactory(), scopes=["catalog:read"], actor=SYSTEM
    )
    from integrations.models import ApiKey

    ApiKey.objects.update(scopes=[])  # a key whose scopes were all taken away
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    leaks = []
    for route in all_routes():
        if not route.url.startswith("/api/") or route.name in PUBLIC:
            continue
        response = _get_or_post(client, route.url)
        if response.status_code != 403:
            leaks.append(f"{route.url} ({route.name}): {response.status_code}")
    assert not leaks, "open to a key without scopes:\n" + "\n".join(leaks)


# --- shared pages: the wrong party sees none of the data -----------------------------------------


@pytest.fixture
def store_a_data(db):
    """Store A's order (fulfilled there), delivered, with a repair ticket handed in at A."""
    from aftersales.choices import OpenedVia, TicketKind
    from aftersales.services import ticket_open
    from tests.world import World

    world = World()
    order = world.deliver(world.pay(world.ship_order(member=MemberFactory(), quantity=1)))
    assert order.fulfilling_location == world.a
    ticket = ticket_open(
        line=order.lines.get(),
        kind=TicketKind.REPAIR,
        opened_via=OpenedVia.STORE,
        intake_store=world.a,
        actor=SYSTEM,
    )
    outsiders = {
        "clerk of another store": clerk_at(world.c),
        "guide": GuideFactory(store=world.c).user,
        "partner": partner_user(PartnerFactory()),
        "no role": UserFactory(),
    }
    return world, order, ticket, outsiders


def leads_to(response, url: str) -> bool:
    """The page links to `url`, or redirects there (the search's exact match)."""
    return response.get("Location") == url or f'href="{url}"' in response.content.decode()


def test_store_pages_and_orders_of_store_a_are_404_to_every_other_party(store_a_data):
    world, order, ticket, outsiders = store_a_data
    own = Client()
    own.force_login(clerk_at(world.a))
    foreign_urls = [
        reverse("orders:detail", kwargs={"number": order.number}),
        reverse("orders:pay", kwargs={"number": order.number}),
        reverse("orders:queue", kwargs={"code": "A"}),
        reverse("orders:new", kwargs={"code": "A"}),
        reverse("stores:detail", kwargs={"code": "A"}),
        reverse("stores:lookup", kwargs={"code": "A"}),
        reverse("stores:ledger", kwargs={"code": "A", "sku_code": "TV-55"}),
        f"/api/v1/orders/{order.number}/",
        f"/api/v1/stores/{world.a.pk}/",
    ]
    assert own.get(foreign_urls[0]).status_code == 200  # the urls are right: store A's clerk sees them
    detail = foreign_urls[0]
    assert leads_to(own.get(reverse("orders:list")), detail)
    assert leads_to(own.get("/portal/search/", {"q": order.number}), detail)
    for who, user in outsiders.items():
        client = Client(raise_request_exception=False)
        client.force_login(user)
        # Store staff and partners of other stores get a 404; guides and people without a role
        # may not open store and order pages at all (403), and the API scopes them to nothing (404).
        refused = 403 if who in ("guide", "no role") else 404
        for url in foreign_urls:
            expected = 404 if url.startswith("/api/") else refused
            assert client.get(url).status_code == expected, (who, url)
        assert not leads_to(client.get(reverse("orders:list")), detail), who
        assert not leads_to(client.get("/portal/search/", {"q": order.number}), detail), who
        api_orders = client.get("/api/v1/orders/").json()["results"]
        assert [row["number"] for row in api_orders] == [], who
        assert client.get(f"/api/v1/tickets/{ticket.number}/").status_code == 404, who
    for who in ("clerk of another store",):
        client = Client()
        client.force_login(outsiders[who])
        assert client.get(reverse("aftersales:detail", kwargs={"number": ticket.number})).status_code == 404
        assert client.get(reverse("aftersales:store", kwargs={"code": "A"})).status_code == 404


@pytest.fixture
def guides_scene(db):
    from tests.guides.test_api import Scene

    return Scene()


def test_guide_pages_of_another_guide_or_partner_are_404(guides_scene):
    scene = guides_scene
    g1_urls = [
        reverse("guides:fan", kwargs={"pk": scene.bindings[scene.g1].pk}),
        reverse("guides:entry", kwargs={"pk": scene.entries[scene.g1].pk}),
        reverse("guides:statement", kwargs={"pk": scene.statements[scene.g1].pk}),
        reverse("guides:statement_csv", kwargs={"pk": scene.statements[scene.g1].pk}),
        reverse("guides:guide", kwargs={"code": scene.g1.code}),
    ]
    mine = Client()
    mine.force_login(scene.u1)
    assert [mine.get(url).status_code for url in g1_urls[:4]] == [200, 200, 200, 200]
    other_guide = Client(raise_request_exception=False)
    other_guide.force_login(scene.u3)  # partner 2's guide
    other_partner = Client(raise_request_exception=False)
    other_partner.force_login(scene.pu2)
    for url in g1_urls:
        assert other_guide.get(url).status_code == 404, url
        assert other_partner.get(url).status_code == 404, url
    for client in (other_guide, other_partner):
        assert scene.g1.code not in client.get(reverse("guides:ledger")).content.decode()
        assert scene.g1.code not in client.get(reverse("guides:statements")).content.decode()
    clerk = Client()
    clerk.force_login(clerk_at(scene.s1))  # works at g1's store, but is no guide or partner
    for url in g1_urls:
        response = clerk.get(url)
        assert response.status_code == 200 and JOIN_PAGE in [t.name for t in response.templates], url
        assert scene.g1.name not in response.content.decode()


def test_guides_and_roleless_people_only_read_through_the_api(store_a_data):
    """A guide signs themselves up: with their session they may read their own rows, but not place
    orders, register members or bind customers by scan (a self-registered guide could otherwise
    rebind every customer to themselves). Machines write with a key; staff with their session."""
    from members.models import Member
    from orders.models import Order
    from tests.world import north

    world, _order, _ticket, outsiders = store_a_data
    guide = GuideFactory(store=world.a)
    lat, lng = north(0.1)
    order = {
        "channel": "mall",
        "lines": [{"sku": "TV-55", "quantity": 1}],
        "delivery_method": "ship",
        "member_phone": "13912345678",
        "address": "1 Chang'an Avenue",
        "latitude": str(lat),
        "longitude": str(lng),
    }
    writes = [
        ("/api/v1/orders/", order),
        ("/api/v1/members/upsert/", {"phone": "13912345678", "name": "Wang Fang"}),
        (f"/api/v1/guides/{guide.code}/scans/", {"phone": "13912345678"}),
    ]
    before = (Order.objects.count(), Member.objects.count())
    for who in ("guide", "no role"):
        client = Client()
        client.force_login(outsiders[who])
        assert client.get("/api/v1/statements/").status_code == 200  # reads stay open, scoped
        for url, body in writes:
            response = client.post(url, body, content_type="application/json")
            assert response.status_code == 403, (who, url, response.content)
            assert response.json()["code"] == "permission_denied"
    assert (Order.objects.count(), Member.objects.count()) == before
    staff = Client()
    staff.force_login(clerk_at(world.a))
    assert staff.post(writes[2][0], writes[2][1], content_type="application/json").status_code == 201
