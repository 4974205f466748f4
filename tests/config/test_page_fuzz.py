"""Hostile input on every page, not only the API (docs/security.md, "Hostile input").

Every portal, HQ and admin page that answers a GET (walked from the URL resolver, its arguments
filled with side A's objects of the access matrix's world, tests/config/principals.py) is opened as
HQ (who sees every page) and as a clerk of store A. Its query parameters are discovered from the
page itself: the names of the <input>, <select> and <textarea> fields of its forms and the
parameters of its links back to the same page, plus `q` and `page`. Each hostile value (a NUL byte,
10**12, 1e400, 300 characters, `%`, full-width digits, emoji, right-to-left marks) goes to every
parameter at once, and a NUL byte, 10**12, 1e400 and `%` also to each parameter alone; again with the
page's export parameter (`format=csv`) when it has one: no 5xx, and a streamed answer (a CSV
export) must stream to its end.

Every form of those pages that POSTs (its hidden fields and first button as the page gives them)
gets the same value in every field: no 5xx; an answer that is the page again (200) writes nothing
and shows an error (a field error, the form's error box, or an error message). Each POST runs in a
savepoint that is rolled back, so each starts from the same world. The admin's pages (Django's own
views) get one of the values each, in turn, to every parameter and field at once, to keep the run
short; its lists' action form (Django ignores an unknown action) is held to no 5xx and no write.

On SQLite a NUL byte or a number past a 32-bit column passes the database; PostgreSQL refuses
them, so this test finds those 500s when run there (DATABASE_URL=postgres://...)."""

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.apps import apps
from django.db import transaction
from django.urls import reverse

from tests.config.principals import module_world
from tests.config.test_access import all_routes
from tests.config.test_access_matrix import OUR_APPS, body_of, rule_of
from tests.helpers import row_counts

pytestmark = pytest.mark.django_db

HOSTILE = {
    "nul": "a\x00b",
    "10**12": str(10**12),
    "1e400": "1e400",
    "300 chars": "x" * 300,
    "percent": "%",
    "full-width digits": "１２３",
    "emoji": "\U0001f600\U0001f389",
    "rtl marks": "\u202e\u200fabc\u200f",
}
ALWAYS = ("q", "page")
# Each value goes to every parameter at once (forms and filtersets check every field together),
# and these values also to each parameter alone (a field read only when the others are valid).
ALONE = ("nul", "10**12", "1e400", "percent")
ERROR_MARKS = (
    "errorlist",
    "form-errors",
    "has-error",
    "msg-error",
    'role="alert"',
    "errornote",
    "errors",
    'class="error"',  # the admin's messages
    'class="warning"',
)
SKIP_FIELDS = {"csrfmiddlewaretoken"}


@dataclass
class Form:
    action: str
    method: str
    fields: list = field(default_factory=list)  # (name, type, value)
    button: tuple | None = None  # (name, value) of its first named submit button


class PageParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._form = None
        self._select = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self._form = Form(a.get("action", ""), a.get("method", "get").lower())
            self.forms.append(self._form)
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif self._form is None:
            return
        elif tag in ("input", "button") and a.get("name"):
            kind = a.get("type", "text" if tag == "input" else "submit").lower()
            if kind in ("submit", "image") or tag == "button":
                if self._form.button is None:
                    self._form.button = (a["name"], a.get("value", ""))
            elif kind in ("checkbox", "radio") and "checked" not in a:
                self._form.fields.append((a["name"], kind, None))
            else:
                self._form.fields.append((a["name"], kind, a.get("value", "")))
        elif tag in ("select", "textarea") and a.get("name"):
            self._form.fields.append((a["name"], tag, ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    return parser


def param_names(url: str, page: PageParser) -> list[str]:
    names = set(ALWAYS)
    for form in page.forms:
        if form.method == "get" and _same_page(url, form.action):
            names |= {name for name, _kind, _value in form.fields} - SKIP_FIELDS
    for href in page.links:
        parts = urlsplit(href)
        if parts.query and (not parts.path or parts.path == url):
            names |= {k for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
    return sorted(names)


def _same_page(url: str, action: str) -> bool:
    return action in ("", ".", url) or urlsplit(action).path in ("", url)


@pytest.fixture(scope="module")
def mw(django_db_setup, django_db_blocker):
    yield from module_world(django_db_blocker)


def _admin_pk(route):
    """A real row for an admin page's object: the first of the page's model."""
    match = re.match(r"admin:(\w+?)_(\w+?)_(change|history|delete)$", route.name or "")
    if not match:
        return None
    try:
        model = apps.get_model(match[1], match[2])
    except LookupError:
        return None
    first = model.objects.order_by("pk").first()
    return None if first is None else first.pk


def pages(world, who):
    """(name, url) of every GET page of the portal, HQ and (for HQ) the admin."""
    out = []
    for route in all_routes():
        if not route.url.startswith(("/portal/", "/hq/", "/admin/")) or not route.name:
            continue
        if route.url.startswith("/admin/"):
            if who != "hq" or route.name.endswith(("_delete", "_history", "logout", "jsi18n")):
                continue
            if route.name.endswith("_change"):
                pk = _admin_pk(route)
                if pk is None:
                    continue
                out.append((route.name, reverse(route.name, args=[pk])))
            elif not re.search(r"<|\(\?P", str(route.pattern.pattern)):
                out.append((route.name, route.url))
            continue
        rule = rule_of(route)
        if rule is None or rule.kind == "action" or not rule.sanity:
            continue
        if rule.fill is not None:
            out.append((route.name, reverse(route.name, kwargs=rule.fill(world, "a"))))
        elif not re.search(r"<|\(\?P", str(route.pattern.pattern)):
            out.append((route.name, route.url))
    return out


def fingerprint():
    return row_counts(OUR_APPS)


def _get(client, url, params):
    """GET in a savepoint rolled back: on PostgreSQL a query refused by the database (a NUL byte)
    aborts the transaction, and every later request of the test would fail with it."""
    with transaction.atomic():
        try:
            response = client.get(url, params)
            return response, body_of(response), None
        except Exception as error:  # a stream that breaks while it is read
            return None, "", f"{type(error).__name__}: {error}"
        finally:
            transaction.set_rollback(True)


def _values_for(name: str, index: int) -> list[str]:
    if name.startswith("admin:"):  # one value per admin page, in turn: Django's own views
        keys = list(HOSTILE)
        return [keys[index % len(keys)]]
    return list(HOSTILE)


def bases(url: str, page: PageParser) -> list[dict]:
    """The page as it opens, and as its export links open it (`format=csv`): a parameter that
    only matters for the export (the file cut mid-stream) is fuzzed there too."""
    out = [{}]
    for href in page.links:
        parts = urlsplit(href)
        if (not parts.path or parts.path == url) and "format=" in parts.query:
            base = {k: v for k, v in parse_qsl(parts.query) if k == "format"}
            if base not in out:
                out.append(base)
    return out


def fuzz(world, who) -> list[str]:
    client = world.principals[who].client()
    problems = []
    for index, (name, url) in enumerate(pages(world, who)):
        response, body, crash = _get(client, url, {})
        if crash or response.status_code >= 500:
            problems.append(f"5xx GET {url} [{name}]: {crash or response.status_code}")
            continue
        if response.status_code != 200 or not response.get("Content-Type", "").startswith("text/html"):
            continue
        page = parse(body)
        params = param_names(url, page)
        for base in bases(url, page):
            names = [param for param in params if param not in base]
            extra = "".join(f"&{k}={v}" for k, v in base.items())
            tries = [
                ("every parameter", label, dict.fromkeys(names, HOSTILE[label]))
                for label in _values_for(name, index)
            ]
            tries += [
                (param, label, {param: HOSTILE[label]})
                for param in names
                for label in _values_for(name, index)
                if label in ALONE and not name.startswith("admin:")
            ]
            for param, label, query in tries:
                response, _body, crash = _get(client, url, {**base, **query})
                if crash or response.status_code >= 500:
                    problems.append(
                        f"5xx GET {url} [{name}] {param}={label}{extra}: {crash or response.status_code}"
                    )
        for form in page.forms:
            if form.method != "post":
                continue
            action = form.action or url
            path = urlsplit(action).path
            if action.startswith(("http", "//")) or path.endswith("/logout/"):
                continue
            if path.startswith("/") and not path.startswith(("/portal/", "/hq/", "/admin/")):
                continue  # the language switch
            if not urlsplit(action).path.startswith("/"):
                action = url + action
            problems += post_form(client, name, url, action, form, _values_for(name, index))
    return problems


def post_form(client, name, url, action, form, labels) -> list[str]:
    problems = []
    for label in labels:
        value = HOSTILE[label]
        data = {}
        for field_name, kind, original in form.fields:
            if field_name in SKIP_FIELDS or kind == "file":
                continue
            if kind == "hidden":
                data[field_name] = original
            elif kind in ("checkbox", "radio") and original is None:
                data.setdefault(field_name, value)
            else:
                data[field_name] = value
        if form.button:
            data[form.button[0]] = form.button[1]
        with transaction.atomic():
            before = fingerprint()
            try:
                response = client.post(action, data)
                status, body = response.status_code, body_of(response)
            except Exception as error:
                problems.append(f"5xx POST {action} (form of {url} [{name}]) all={label}: {error}")
                transaction.set_rollback(True)
                continue
            written = {k: (v, c) for k, v in before.items() if (c := fingerprint()[k]) != v}
            transaction.set_rollback(True)
        where = f"POST {action} (form of {url} [{name}]) all={label}"
        if status >= 500:
            problems.append(f"5xx {where}: {status}")
        elif status == 200 and written:
            problems.append(f"WRITTEN and shown again {where}: {written}")
        elif status == 200 and not name.endswith("_changelist") and not any(m in body for m in ERROR_MARKS):
            # (the admin's list ignores an unknown action the way Django does: not ours to word)
            problems.append(f"NO ERROR SHOWN {where}: the page came back without saying what is wrong")
    return problems


@pytest.mark.parametrize("who", ["hq", "clerk"])
def test_hostile_values_on_every_page_and_form(mw, who):
    problems = fuzz(mw, who)
    assert not problems, f"{len(problems)} problems as {who}:\n" + "\n".join(problems)
