"""Deny by default: every URL the project serves is walked (from the resolver, so a new URL is
covered the moment it is added) and must refuse an anonymous visitor - 401/403 under /api/, a
redirect to a login page elsewhere - unless it is on the explicit PUBLIC allowlist below. HQ pages
and the Django admin must also refuse signed-in people of the wrong role."""

import re
from dataclasses import dataclass

import pytest
from django.http import HttpResponse, JsonResponse
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, path, resolve

from tests.factories import GuideFactory, PartnerFactory, StoreFactory, UserFactory, clerk_at, partner_user

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
