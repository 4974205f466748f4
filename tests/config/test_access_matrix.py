"""The access matrix of docs/security.md, generated from the URL resolver: every principal
(tests/config/principals.py: HQ, a store manager and a clerk of store A, a clerk of A who joined as a
guide, partner P1's user, a self-registered guide made at /g/join/, a signed-in person with no
role, an anonymous visitor, a JD channel key, a dealer-channel key and P1's key) x every route x an
object of side A ("theirs" for the principals above, as far as security.md gives it to them) and one
of side C (nobody's but HQ's).

Each URL name has a `Rule` in RULES (admin pages by their namespace): a new route without a rule
fails `test_every_route_has_a_rule`. A rule says how to fill the route's arguments with side A's
and side C's object and who may open each (`may_a`, `may_c`); everyone else must be refused (404
or 403; a page may also send them to sign in, or show the "become a guide" page under
/portal/guides/). Who must get a 200 for side A's object is `must_a` (HQ must get 200 for both:
that proves the filled URL is right).

Every answer is searched for the actual values of the world's members (name, mobile, birthday,
city, points, spend, external ids), the other side's order and ticket numbers, guide C, the
statements' totals, dealer cost and the dealer-channel price (`principals.ALLOWED` says who may see
which): looking for values catches a leak under any field name, in any page, list or CSV.

Writes: every POST action route (order accept/reject/ship/..., ticket moves, statement approve and
pay, points, price end, key revoke) is sent as each principal who may not do it, for side A's and
side C's object, and a few writes that name the other side in their body (an order or a price for
the Tmall channel, a queue button for store C's order): each is refused and nothing in the
database changes."""

import re
from dataclasses import dataclass, field

import pytest
from django.apps import apps
from django.db import transaction
from django.urls import reverse

from tests.config.principals import ALL_PRINCIPALS, CHANNEL_KEYS, STAFF_A, leaks_in, module_world
from tests.config.test_access import JOIN_PAGE, LOGIN_PAGES, PUBLIC, all_routes
from tests.helpers import row_counts

pytestmark = pytest.mark.django_db

HQ = frozenset({"hq"})
STAFF = frozenset({"hq", *STAFF_A})
STORE_READERS = frozenset({*STAFF, "partner"})
API_STORE_READERS = frozenset({*STORE_READERS, "partner_key", *CHANNEL_KEYS})
ORDER_READERS = frozenset({*STORE_READERS, "jd_key", "partner_key"})
MEMBER_READERS = frozenset({*STORE_READERS, "jd_key", "partner_key"})
MONEY_READERS = frozenset({"hq", "guide", "partner", "partner_key"})
WALLET_READERS_A = frozenset({"hq", "clerk", "partner", "jd_key", "partner_key"})
SIGNED_IN = frozenset(set(ALL_PRINCIPALS) - {"anonymous"})
EVERYONE = frozenset(ALL_PRINCIPALS)


@dataclass(frozen=True)
class Rule:
    """kind: "public" (anyone; scanned only), "open" (every signed-in principal; scanned), "hq"
    (HQ only), "object" (GET an owned object: may_a / may_c), "action" (POST on an owned object:
    may_a / may_c may do it; everyone else is refused and nothing changes)."""

    kind: str
    fill: object = None  # (world, side) -> kwargs for reverse()
    may_a: frozenset = HQ
    may_c: frozenset = HQ
    must_a: frozenset = HQ
    body: dict = field(default_factory=dict)
    query: object = None  # (world, side) -> query parameters of the GET
    sanity: bool = True  # HQ gets a 200 for both sides' objects


def _store(w, s):
    return {"code": w.side(s).store.code}


def _api_store(w, s):
    return {"pk": w.side(s).store.pk}


def _stock(w, s):
    return {"pk": w.side(s).stock.pk}


def _member(w, s):
    return {"pk": w.side(s).member.pk}


def _order(w, s):
    return {"number": w.side(s).order.number}


def _pending(w, s):
    return {"number": w.side(s).pending.number}


def _ticket(w, s):
    return {"number": w.side(s).ticket.number}


def _guide(w, s):
    return {"code": w.side(s).guide.code}


def _binding(w, s):
    return {"pk": w.side(s).binding.pk}


def _entry(w, s):
    return {"pk": w.side(s).entry.pk}


def _statement(w, s):
    return {"pk": w.side(s).statement.pk}


def _group(w, s):
    return {"pk": w.side(s).group.pk}


def _price(w, s):  # side A: the public price; side C: the dealer channel's price
    return {"pk": (w.public_price if s == "a" else w.dealer_price).pk}


def _line(w, s):
    return {"line_id": w.side(s).order.lines.get().pk}


def _guide_order(w, s):
    return {"number": w.side(s).guide_order.number}


def _campaign(w, s):
    return {"pk": w.campaign.pk}


def obj(fill, may_a, must_a=HQ, may_c=HQ, sanity=True, query=None):
    return Rule(
        "object", fill, frozenset(may_a), frozenset(may_c), frozenset(must_a), sanity=sanity, query=query
    )


def act(fill, may_a, may_c=HQ, body=None):
    return Rule("action", fill, frozenset(may_a), frozenset(may_c), body=body or {})


def hq(fill=None):
    return Rule("hq", fill)


OPEN = Rule("open")
PUBLIC_RULE = Rule("public")

RULES = {
    # Signed-in people's own account pages (allauth, MFA): nothing of anyone else's.
    **{
        name: OPEN
        for name in (
            "account_reauthenticate",
            "account_email",
            "account_change_password",
            "account_set_password",
            "mfa_index",
            "mfa_reauthenticate",
            "mfa_activate_totp",
            "mfa_deactivate_totp",
            "mfa_view_recovery_codes",
            "mfa_generate_recovery_codes",
            "mfa_download_recovery_codes",
        )
    },
    "portal:home": OPEN,
    "portal:search": OPEN,
    # A member's coupons and wallet: whoever sees their personal data (the member page's rule).
    "portal:member_wallet": obj(_member, STORE_READERS, must_a={"hq", "manager", "clerk", "partner"}),
    # Stores and stock.
    "stores:list": OPEN,
    "stores:lookup_start": OPEN,
    "stores:detail": obj(_store, STORE_READERS, must_a={"hq", "manager", "clerk", "partner"}),
    "stores:lookup": obj(_store, STORE_READERS, must_a={"hq", "manager", "clerk"}),
    "stores:stock_change": obj(_store, {"hq", "manager"}, must_a={"hq", "manager"}),
    "stores:ledger": Rule(
        "object",
        lambda w, s: {"code": w.side(s).store.code, "sku_code": w.tv.code},
        STORE_READERS,
        HQ,
        frozenset({"hq", "manager", "clerk"}),
    ),
    # Members.
    "members:lookup": OPEN,
    "members:register": OPEN,
    "members:detail": obj(_member, STORE_READERS, must_a={"hq", "manager", "clerk", "partner"}),
    "members:segments": hq(),
    "members:segment_new": hq(),
    "members:segment_detail": hq(lambda w, s: {"pk": w.segment.pk}),
    "members:groups": OPEN,
    "members:group_detail": obj(_group, STORE_READERS, must_a={"hq", "manager"}),
    "members:group_add": act(_group, {"hq", "manager"}),
    "members:group_remove": act(_group, {"hq", "manager"}),
    # Orders.
    "orders:list": OPEN,
    "orders:queue_start": OPEN,
    "orders:queue": obj(_store, STORE_READERS, must_a={"hq", "manager", "clerk"}),
    "orders:new": obj(_store, STAFF, must_a={"hq", "manager", "clerk"}),
    "orders:qr_png": obj(_store, STORE_READERS),
    "orders:qr_svg": obj(_store, STORE_READERS),
    "orders:qr_card": obj(_store, STORE_READERS),
    "orders:detail": obj(_order, STORE_READERS, must_a={"hq", "manager", "clerk", "partner"}),
    "orders:pay": obj(_pending, STAFF, must_a={"hq", "manager", "clerk"}),
    # The guide portal: own fans and money; a partner their company's guides'.
    "guides:home": OPEN,
    "guides:fans": OPEN,
    "guides:orders": OPEN,
    "guides:ledger": OPEN,
    "guides:statements": OPEN,
    "guides:partner": OPEN,
    "guides:fan": obj(_binding, {"hq", "guide", "partner"}, must_a={"hq", "guide"}),
    # Only the guide themselves hands their own fan a coupon: not HQ, not the guide's partner.
    "guides:fan_coupon": act(_binding, {"guide"}, may_c=frozenset(), body={"coupon": "1"}),
    "guides:order": obj(_guide_order, {"hq", "guide", "partner"}, must_a={"hq", "guide"}),
    "guides:entry": obj(_entry, {"hq", "guide", "partner"}, must_a={"hq", "guide"}),
    "guides:statement": obj(_statement, {"hq", "guide", "partner"}, must_a={"hq", "guide"}),
    "guides:statement_csv": obj(_statement, {"hq", "guide", "partner"}, must_a={"hq", "guide"}),
    "guides:guide": obj(_guide, {"hq", "guide", "partner"}, must_a={"hq", "partner"}),
    # The service desk: store staff (partners read tickets through the API only).
    "aftersales:desk": OPEN,
    # Opened for a line found by its order number (the customer's proof of purchase), at any
    # store ("one service"): staff of A may open one for store C's order.
    "aftersales:new": obj(
        _line,
        STAFF,
        must_a={"hq", "manager", "clerk"},
        may_c=STAFF,
        query=lambda w, s: {"q": w.side(s).order.number},
    ),
    "aftersales:store": obj(_store, STAFF, must_a={"hq", "manager", "clerk"}),
    "aftersales:detail": obj(_ticket, STAFF, must_a={"hq", "manager", "clerk"}),
    "aftersales:take_in": act(_ticket, STAFF),
    # No photo in the world: everyone gets a 404 (HQ included).
    "aftersales:photo": obj(lambda w, s: {**_ticket(w, s), "pk": 0}, STAFF, sanity=False),
    # HQ pages.
    "catalog:price_new": hq(),
    "catalog:sku_list": hq(),
    "catalog:sku_prices": hq(lambda w, s: {"code": w.tv.code}),
    "catalog:consistency": hq(),
    "catalog:categories": hq(),
    "catalog:category_unified": hq(lambda w, s: {"code": w.tv.product.category.code}),
    "guides_hq:home": hq(),
    "guides_hq:board_csv": hq(lambda w, s: {"board": "guides"}),
    "guides_hq:conversion": hq(),
    "guides_hq:guides": hq(),
    "guides_hq:guide": hq(_guide),
    "guides_hq:statements": hq(),
    "guides_hq:statement": hq(_statement),
    "guides_hq:statement_csv": hq(_statement),
    "aftersales_hq:queue": hq(),
    "aftersales_hq:queue_csv": hq(),
    "aftersales_hq:returns": hq(),
    "aftersales_hq:returns_csv": hq(lambda w, s: {"by": "sku"}),
    "marketing_hq:promotions": hq(),
    "marketing_hq:promotion_new": hq(),
    "marketing_hq:coupons": hq(),
    "marketing_hq:coupon_new": hq(),
    "marketing_hq:campaigns": hq(),
    "marketing_hq:campaign_new": hq(),
    "marketing_hq:campaign": hq(_campaign),
    "marketing_hq:campaign_send": hq(_campaign),
    "marketing_hq:campaign_report": hq(_campaign),
    "marketing_hq:campaign_report_csv": hq(_campaign),
    "dashboard:home": hq(),
    "dashboard:orders": hq(),
    "dashboard:offers": hq(),
    # API: catalog, open to every signed-in person and key (dealer prices are side C below).
    "api-root": OPEN,
    "channel-list": OPEN,
    "channel-detail": Rule("object", lambda w, s: {"pk": w.mall.pk}, SIGNED_IN, SIGNED_IN, HQ),
    "category-list": OPEN,
    "category-detail": Rule(
        "object", lambda w, s: {"pk": w.tv.product.category.pk}, SIGNED_IN, SIGNED_IN, HQ
    ),
    "product-list": OPEN,
    "product-detail": Rule("object", lambda w, s: {"pk": w.tv.product.pk}, SIGNED_IN, SIGNED_IN, HQ),
    "sku-list": OPEN,
    "sku-detail": Rule("object", lambda w, s: {"pk": w.tv.pk}, SIGNED_IN, SIGNED_IN, HQ),
    "price-list": OPEN,
    "price-live": OPEN,
    "price-detail": obj(_price, SIGNED_IN, may_c={"hq", "dealer_key"}, must_a={"hq", "jd_key", "clerk"}),
    "price-end": act(_price, HQ, may_c={"hq", "dealer_key"}),
    # API: stores and stock. Channel keys read every store's; stock ledgers are people's.
    "store-list": OPEN,
    "store-detail": obj(
        _api_store, API_STORE_READERS, may_c={"hq", *CHANNEL_KEYS}, must_a={"hq", "clerk", "partner_key"}
    ),
    "stock-list": OPEN,
    "stock-availability": OPEN,
    "stock-detail": obj(_stock, API_STORE_READERS, may_c={"hq", *CHANNEL_KEYS}, must_a={"hq", "clerk"}),
    "stock-movements": obj(_stock, STORE_READERS, must_a={"hq", "manager"}),
    # API: members.
    "member-list": hq(),
    "member-duplicates": hq(),
    "member-lookup": OPEN,
    "member-merge": hq(),
    "member-upsert": OPEN,  # its answers: test_upsert_answers_only_what_the_caller_may_see
    "member-detail": obj(_member, MEMBER_READERS, must_a={"hq", "clerk", "jd_key"}),
    "member-points": obj(_member, MEMBER_READERS, must_a={"hq", "clerk"}),
    "member-adjust-points": hq(_member),
    "member-earn-points": act(
        _member, {*STAFF, "jd_key"}, body={"channel": "mx-jd", "paid_amount": "10.00", "reference": "mx-1"}
    ),
    "member-redeem-points": act(
        _member, {*STAFF, "jd_key"}, body={"channel": "mx-jd", "points": 1, "reference": "mx-2"}
    ),
    # A member's coupons and wallet are their personal data (marketing.policies.wallet_visible_to).
    "member-coupons": obj(_member, MEMBER_READERS, must_a=WALLET_READERS_A),
    "member-wallet": obj(_member, MEMBER_READERS, must_a=WALLET_READERS_A),
    "member-wallet-top-up": act(_member, {*STAFF, "jd_key"}, body={"amount": "10.00", "method": "cash"}),
    # The basket quote: whoever may place the order (POST only; the writes below send it).
    "quote": OPEN,
    "segment-list": hq(),
    "segment-detail": hq(lambda w, s: {"pk": w.segment.pk}),
    "segment-export": hq(lambda w, s: {"pk": w.segment.pk}),
    "segment-members": hq(lambda w, s: {"pk": w.segment.pk}),
    # API: orders. Counter work is store staff's; pay and cancel also the order's channel key.
    "order-list": OPEN,
    "order-queue": OPEN,
    "order-detail": obj(_order, ORDER_READERS, must_a={"hq", "clerk", "partner", "jd_key", "partner_key"}),
    "order-accept": act(_pending, STAFF),
    "order-reject": act(_pending, STAFF, body={"reason": "matrix"}),
    "order-ship": act(_pending, STAFF, body={"tracking_number": "SF1"}),
    "order-ready": act(_pending, STAFF),
    "order-collect": act(_pending, STAFF, body={"pickup_code": "000000"}),
    "order-complete": act(_pending, STAFF),
    "order-cancel": act(_pending, {*STAFF, "jd_key"}, body={"reason": "matrix"}),
    "order-pay": act(_pending, {*STAFF, "jd_key"}, body={"amount": "1.00", "method": "wechat"}),
    # API: guides, fans and money.
    "guide-list": OPEN,
    "guide-lookup": OPEN,
    "guide-detail": obj(_guide, {*MONEY_READERS}, must_a={"hq", "guide", "partner"}),
    # Binding a customer by scan is for whoever serves at a counter or a channel's app, for any
    # active guide (the customer scanned that guide's code): not an owned-object action.
    "guide-scans": OPEN,
    "binding-list": OPEN,
    "binding-detail": obj(_binding, MONEY_READERS, must_a={"hq", "guide", "partner"}),
    "commission-entry-list": OPEN,
    "commission-entry-detail": obj(_entry, MONEY_READERS, must_a={"hq", "guide", "partner"}),
    "statement-list": OPEN,
    "statement-detail": obj(_statement, MONEY_READERS, must_a={"hq", "guide", "partner"}),
    "statement-csv-export": obj(_statement, MONEY_READERS, must_a={"hq", "guide"}),
    "statement-approve": act(_statement, HQ),
    "statement-pay": act(_statement, HQ, body={"payment_reference": "matrix"}),
    "commission-rule-list": hq(),
    "commission-rule-detail": hq(None),
    # API: tickets.
    "ticket-list": OPEN,
    "ticket-detail": obj(_ticket, ORDER_READERS, must_a={"hq", "clerk", "partner", "jd_key"}),
    "ticket-receive": act(_ticket, STAFF, body={"store": "MXA"}),
    "ticket-inspect": act(_ticket, STAFF, body={"note": "matrix"}),
    "ticket-approve": act(_ticket, STAFF, body={"note": "matrix"}),
    "ticket-refuse": act(_ticket, STAFF, body={"reason": "matrix"}),
    "ticket-resolve": act(_ticket, STAFF, body={"note": "matrix"}),
    "ticket-close": act(_ticket, STAFF, body={"note": "matrix"}),
    # API keys.
    "api-key-list": hq(),
    "api-key-detail": hq(lambda w, s: {"pk": w.api_key_id}),
    "api-key-revoke": hq(lambda w, s: {"pk": w.api_key_id}),
}
for _name in PUBLIC:
    RULES.setdefault(_name, PUBLIC_RULE)
# Rules of an action that only HQ may do: sent as a POST like the other actions.
HQ_ACTIONS = {
    "member-adjust-points",
    "member-merge",
    "api-key-revoke",
    "statement-approve",
    "statement-pay",
    "marketing_hq:campaign_send",
}


def rule_of(route):
    if route.name in RULES:
        return RULES[route.name]
    if route.name.startswith("admin:") or (not route.name and route.url.startswith("/admin/")):
        return hq()  # the Django admin: HQ only, every model registered there
    if route.url == "/":
        return PUBLIC_RULE  # a redirect to the portal's home
    return None


def test_every_route_has_a_rule():
    """A new URL must be classified here (and in docs/security.md) before it ships."""
    missing = [f"{r.url} ({r.name or 'unnamed'})" for r in all_routes() if rule_of(r) is None]
    assert not missing, "routes without a rule in the access matrix:\n" + "\n".join(missing)
    unknown = set(RULES) - {r.name for r in all_routes()}
    assert not unknown, f"rules for routes that do not exist: {sorted(unknown)}"


@pytest.fixture(scope="module")
def mw(django_db_setup, django_db_blocker):
    yield from module_world(django_db_blocker)


# --- answers ---------------------------------------------------------------------------------------


def body_of(response) -> str:
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)
    else:
        content = response.content
    if response.get("Content-Type", "").startswith("image/"):
        return ""
    return content.decode("utf-8", "replace")


def refused(url: str, response, principal: str) -> bool:
    status = response.status_code
    if status in (401, 403, 404):
        return True
    if url.startswith("/api/"):
        return False
    if status == 302 and response["Location"].startswith(LOGIN_PAGES):
        return True
    if url.startswith("/portal/guides/") and status == 200:
        return JOIN_PAGE in [t.name for t in (response.templates or [])]
    return False


OUR_APPS = ("catalog", "stores", "members", "marketing", "orders", "guides", "aftersales", "integrations")


def fingerprint():
    """What a refused write must leave alone: every row count of our apps and the state of the
    rows an action moves."""
    from aftersales.models import Ticket
    from guides.models import Statement
    from members.models import Member
    from orders.models import Order
    from stores.models import Stock

    counts = row_counts(OUR_APPS)
    return {
        "counts": counts,
        "orders": list(Order.objects.order_by("pk").values_list("pk", "status", "fulfilling_location_id")),
        "tickets": list(Ticket.objects.order_by("pk").values_list("pk", "status")),
        "statements": list(Statement.objects.order_by("pk").values_list("pk", "status")),
        "points": list(Member.objects.order_by("pk").values_list("pk", "points_balance")),
        "stock": list(Stock.objects.order_by("pk").values_list("pk", "on_hand", "reserved")),
        "prices": list(
            apps.get_model("catalog", "Price").objects.order_by("pk").values_list("pk", "valid_to")
        ),
        "keys": list(
            apps.get_model("integrations", "ApiKey").objects.order_by("pk").values_list("pk", "revoked_at")
        ),
    }


def diff(before, after) -> str:
    changed = []
    for part, value in before.items():
        if part == "counts":
            changed += [
                f"{k}: {v} -> {after['counts'][k]}" for k, v in value.items() if after["counts"][k] != v
            ]
        elif after[part] != value:
            changed.append(f"{part} changed")
    return "; ".join(changed)


# --- the walk ----------------------------------------------------------------------------------------


def _has_args(route) -> bool:
    return bool(re.search(r"<|\(\?P", str(route.pattern.pattern)))


def _urls(rule, route, world):
    """(side, url) pairs to GET for this route: both sides' objects, or the walker's URL."""
    if rule.fill is None:
        return [(None, route.url)]
    return [(side, reverse(route.name, kwargs=rule.fill(world, side))) for side in ("a", "c")]


def walk(world, who: str) -> list[str]:
    principal = world.principals[who]
    client = principal.client()
    problems = []
    for route in all_routes():
        rule = rule_of(route)
        if rule is None or rule.kind == "action" or route.name in HQ_ACTIONS:
            continue
        if route.url.startswith("/admin/") and who == "hq":
            continue  # the admin is HQ's whole; its pages are fuzzed in test_page_fuzz
        if route.url.startswith(("/accounts/", "/i18n/")):
            continue  # allauth's own pages: no data of ours
        for side, url in _urls(rule, route, world):
            query = rule.query(world, side) if rule.query else {}
            sent = url + " " + " ".join(str(v) for v in query.values())
            try:
                # In a savepoint rolled back: on PostgreSQL a query the database refuses aborts
                # the transaction, and every later request would fail with it.
                with transaction.atomic():
                    response = client.get(url, query)
                    body = body_of(response)
                    transaction.set_rollback(True)
                if response.status_code == 405:
                    continue  # POST-only: the actions below
            except Exception as error:  # a stream that breaks while it is read
                problems.append(f"CRASH {url} [{route.name}]: {type(error).__name__}: {error}")
                continue
            status = response.status_code
            where = f"{url} [{route.name}{'' if side is None else ', side ' + side.upper()}]"
            if status >= 500:
                problems.append(f"5xx {where}: {status}")
                continue
            if rule.kind == "hq":
                allowed = HQ
            elif rule.kind == "object":
                allowed = rule.may_a if side == "a" else rule.may_c
            elif rule.kind == "public":
                allowed = EVERYONE
            else:
                allowed = SIGNED_IN
            if who not in allowed and not refused(url, response, who):
                problems.append(f"NOT REFUSED {where}: {status}")
            must = HQ if rule.kind == "hq" else (rule.must_a if side == "a" else HQ)
            filled = rule.fill is not None or not _has_args(route)
            if rule.kind in ("object", "hq") and who in must and rule.sanity and filled:
                served = status == 200 or (status == 302 and not response["Location"].startswith(LOGIN_PAGES))
                if not served:
                    problems.append(f"NOT SERVED {where}: {status} (may see it per docs/security.md)")
            leaks = leaks_in(world, who, body, sent)
            if leaks:
                problems.append(f"LEAK {where}: {status}: " + ", ".join(leaks))
    return problems


@pytest.mark.parametrize("who", ALL_PRINCIPALS)
def test_every_route_as_every_principal(mw, who):
    problems = walk(mw, who)
    assert not problems, f"{len(problems)} problems as {who}:\n" + "\n".join(problems)


# --- writes: refused, and nothing changes -------------------------------------------------------------


def _post(client, principal, url, body):
    if url.startswith("/api/"):
        return client.post(url, body, content_type="application/json")
    return client.post(url, body)


def actions(world):
    """(route name, side, url, body, who may) of every POST action route, then writes that name
    the other side in their body."""
    out = []
    for route in all_routes():
        rule = rule_of(route)
        if rule is None or not (rule.kind == "action" or route.name in HQ_ACTIONS):
            continue
        if rule.kind == "hq":
            if rule.fill is None:
                out.append((route.name, None, route.url, {}, HQ))
            else:
                url = reverse(route.name, kwargs=rule.fill(world, "a"))
                out.append((route.name, "a", url, {}, HQ))
            continue
        for side in ("a", "c"):
            url = reverse(route.name, kwargs=rule.fill(world, side))
            out.append((route.name, side, url, rule.body, rule.may_a if side == "a" else rule.may_c))
    tomorrow = "2030-01-01T00:00:00+08:00"
    c = world.c
    quote_line = [{"sku": world.tv.code, "quantity": 1}]
    out += [
        # Quotes: side C's channel and member (HQ only); side A's at store A (its staff, JD's key).
        (
            "quote",
            "c",
            "/api/v1/quote/",
            {"channel": world.tmall.code, "member": c.member.pk, "lines": quote_line},
            HQ,
        ),
        (
            "quote",
            "a",
            "/api/v1/quote/",
            {
                "channel": world.jd.code,
                "member": world.a.member.pk,
                "origin_store": world.a.store.code,
                "lines": quote_line,
            },
            frozenset({*STAFF, "jd_key"}),
        ),
        # An order and a price for the Tmall channel: only HQ (and Tmall's own key).
        (
            "order-list",
            "c",
            "/api/v1/orders/",
            {
                "channel": world.tmall.code,
                "lines": [{"sku": world.tv.code, "quantity": 1}],
                "delivery_method": "ship",
                "address": "1 Matrix Road",
                "latitude": "39.9",
                "longitude": "116.4",
            },
            HQ,
        ),
        (
            "price-list",
            "c",
            "/api/v1/prices/",
            {"sku": world.tv.code, "channel": world.tmall.code, "amount": "2999.00", "valid_from": tomorrow},
            HQ,
        ),
        # The queue's buttons for store C's order, from store C's queue and from store A's.
        *[
            (
                f"orders:queue {action}",
                "c",
                reverse("orders:queue", kwargs={"code": store.code}),
                {"action": action, "order": c.pending.number, "reason": "matrix", "tracking_number": "SF1"},
                HQ,
            )
            for action in ("accept", "reject", "ship")
            for store in (world.a.store, c.store)
        ],
        # The order page's cancel and the ticket page's steps on side C.
        (
            "orders:detail cancel",
            "c",
            reverse("orders:detail", kwargs={"number": c.pending.number}),
            {"reason": "matrix"},
            HQ,
        ),
        (
            "orders:pay",
            "c",
            reverse("orders:pay", kwargs={"number": c.pending.number}),
            {"amount": "1.00", "method": "cash"},
            HQ,
        ),
        *[
            (
                f"aftersales:detail {action}",
                "c",
                reverse("aftersales:detail", kwargs={"number": c.ticket.number}),
                {
                    "action": action,
                    "at-store": c.store.code,
                    "step-note": "matrix",
                    "refuse-reason": "matrix",
                },
                HQ,
            )
            for action in ("receive", "inspect", "approve", "refuse")
        ],
        (
            "stores:stock_change",
            "c",
            reverse("stores:stock_change", kwargs={"code": c.store.code}),
            {"kind": "receipt", "sku": world.tv.code, "quantity": "5", "reason": "matrix"},
            HQ,
        ),
        (
            "stores:stock_change",
            "a",
            reverse("stores:stock_change", kwargs={"code": world.a.store.code}),
            {"kind": "receipt", "sku": world.tv.code, "quantity": "5", "reason": "matrix"},
            frozenset({"hq", "manager"}),
        ),
        # A stored-value top-up: HQ and the staff of the member's stores (a partner sees, may not).
        (
            "portal:member_wallet top-up",
            "c",
            reverse("portal:member_wallet", kwargs={"pk": c.member.pk}),
            {"amount": "10.00", "method": "cash", "client_reference": "matrix-topup-c"},
            HQ,
        ),
        (
            "portal:member_wallet top-up",
            "a",
            reverse("portal:member_wallet", kwargs={"pk": world.a.member.pk}),
            {"amount": "10.00", "method": "cash", "client_reference": "matrix-topup-a"},
            STAFF,
        ),
        (
            "members:group_add",
            "c",
            reverse("members:group_add", kwargs={"pk": c.group.pk}),
            {"q": world.members["m3"].phone},
            HQ,
        ),
        (
            "members:group_add",
            "a",
            reverse("members:group_add", kwargs={"pk": world.a.group.pk}),
            {"q": world.members["m3"].phone},
            frozenset({"hq", "manager"}),
        ),
        (
            "guides_hq:statement approve",
            "c",
            reverse("guides_hq:statement", kwargs={"pk": c.statement.pk}),
            {"action": "approve"},
            HQ,
        ),
    ]
    return out


@pytest.mark.parametrize("who", [p for p in ALL_PRINCIPALS if p != "hq"])
def test_writes_of_those_who_may_not_are_refused_and_change_nothing(mw, who):
    principal = mw.principals[who]
    client = principal.client()
    problems = []
    before = fingerprint()  # each write runs in a savepoint rolled back: the same world each time
    sent_so_far = ""
    for name, side, url, body, may in actions(mw):
        if who in may:
            continue
        sent_so_far += f" {url} {body}"
        with transaction.atomic():
            response = _post(client, principal, url, body)
            status = response.status_code
            after = fingerprint()
            transaction.set_rollback(True)
        where = f"POST {url} [{name}{'' if side is None else ', side ' + side.upper()}]"
        if status >= 500:
            problems.append(f"5xx {where}: {status}")
        changed = diff(before, after)
        if changed:
            problems.append(f"WRITTEN {where}: {status}: {changed}")
        # Naming another store's order in the body of one's own queue is answered on the page
        # ("no such order in this queue"); every other refusal is a 403/404 (or the sign-in page).
        # A write that names the other side in its body only (an order or a price for another
        # channel) may also be refused as invalid input (400 naming the field).
        own_queue = name.startswith("orders:queue") and url.endswith(f"/{mw.a.store.code}/")
        in_body = name in ("order-list", "price-list", "quote") and status == 400
        if not (own_queue or in_body) and not refused(url, response, who):
            problems.append(f"NOT REFUSED {where}: {status} {body_of(response)[:200]!r}")
        else:
            # A message about an earlier write of this session may show on this page: what the
            # caller sent in any of its writes may come back.
            leaks = leaks_in(mw, who, body_of(response), sent_so_far)
            if leaks:
                problems.append(f"LEAK {where}: {status}: " + ", ".join(leaks))
    assert not problems, f"{len(problems)} problems as {who}:\n" + "\n".join(problems)


# --- members found by a write: the answer holds only what the caller may see -------------------------


@pytest.mark.parametrize("who", [p for p in ALL_PRINCIPALS if p != "hq"])
def test_upsert_answers_only_what_the_caller_may_see(mw, who):
    """POST /members/upsert/ with another member's mobile: refused, or answered with what the
    caller sent and the member's id (docs/security.md), never the member's record."""
    from members.models import Member

    client = mw.principals[who].client()
    problems = []
    # "Found by exact mobile while serving them" (docs/security.md) is store staff's: an upsert or a
    # lookup by mobile may answer them with the member's record.
    lookup_may = {"hq", *STAFF_A}
    for tag in ("m1", "m2", "m3"):
        phone = mw.members[tag].phone
        with transaction.atomic():
            before = Member.objects.count()
            response = client.post(
                "/api/v1/members/upsert/", {"phone": phone}, content_type="application/json"
            )
            made = Member.objects.count() - before
            transaction.set_rollback(True)
        if response.status_code >= 500:
            problems.append(f"5xx upsert {tag}: {response.status_code}")
        body = body_of(response).replace(phone, "")  # what the caller sent may come back
        leaks = leaks_in(mw, who, body) if who not in lookup_may else []
        if leaks:
            problems.append(f"LEAK upsert of {tag}'s mobile: {response.status_code}: " + ", ".join(leaks))
        if made:
            problems.append(f"WRITTEN upsert of {tag}'s mobile made a member")
    for tag in ("m1", "m2"):
        phone = mw.members[tag].phone
        response = client.get("/api/v1/members/lookup/", {"q": phone})
        body = body_of(response).replace(phone, "")
        if response.status_code >= 500:
            problems.append(f"5xx lookup {tag}: {response.status_code}")
        leaks = leaks_in(mw, who, body) if who not in lookup_may else []
        if leaks:
            problems.append(f"LEAK lookup of {tag}'s mobile: {response.status_code}: " + ", ".join(leaks))
    assert not problems, f"{len(problems)} problems as {who}:\n" + "\n".join(problems)
