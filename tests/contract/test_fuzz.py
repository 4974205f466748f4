"""Schemathesis fuzzes every API operation against the live WSGI app, with seeded data (channels,
SKUs with prices, stores with stock, members, orders, a guide, a ticket), as a key of the mall
channel with every scope and as a signed-in HQ admin: no case may get a 5xx, and every response
must be one the schema documents (status code, content type and body). The run prints how many
operations and cases it sent.

Then every other principal of docs/security.md fuzzes every operation too, in the access matrix's
world (tests/config/principals.py: a store manager, a clerk, a clerk who joined as a guide, a
partner's user, a self-registered guide, a person with no role, an anonymous caller, a JD key, a
dealer-channel key and a partner's key): the same checks, and no answer carries a value that
principal may not see (another member's name, mobile, birthday, city, points, spend or external
ids, another side's orders and tickets, dealer cost).

FUZZ_EXAMPLES (default 8) sets the number of generated cases per operation for the key and HQ;
FUZZ_PRINCIPAL_EXAMPLES (default 2) for each other principal."""

import os
import secrets
from collections import Counter

import pytest
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.roles import SYSTEM
from config.wsgi import application
from tests.config.principals import ALL_PRINCIPALS, csrf_headers_for, leaks_in, module_world
from tests.factories import GuideFactory, MemberFactory, hq_user
from tests.world import World

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
PRINCIPAL_EXAMPLES = int(os.environ.get("FUZZ_PRINCIPAL_EXAMPLES", "2"))
OTHER_PRINCIPALS = [p for p in ALL_PRINCIPALS if p != "hq"]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)
RUN = Counter()


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Calling the WSGI app directly fires request_started/finished, whose close_old_connections
    would close the test's connection (and its transaction) on PostgreSQL; Django's test client
    disconnects it the same way. Per test, after the module's fixtures: a request through Django's
    test client (building the world, signing principals in) connects it again when it ends."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(params=["key", "hq"])
def seeded(request, db):
    """A small world the fuzzer's valid ids can hit, and the caller's headers: an API key for the
    mall channel with every scope, or the HQ admin's session + CSRF cookies."""
    from aftersales.choices import OpenedVia, TicketKind
    from aftersales.services import ticket_open

    world = World()
    world.stock(world.b, world.phone, 50)
    member = MemberFactory()
    GuideFactory(store=world.a)
    order = world.pay(world.ship_order(member=member, quantity=1))
    world.deliver(order)
    ticket_open(
        line=order.lines.get(),
        kind=TicketKind.REPAIR,
        opened_via=OpenedVia.STORE,
        intake_store=world.b,
        actor=SYSTEM,
    )
    world.ship_order(member=member, sku=world.phone)
    if request.param == "key":
        from integrations.choices import Scope
        from integrations.services import api_key_create

        _, plaintext = api_key_create(name="fuzz", channel=world.mall, scopes=Scope.values, actor=SYSTEM)
        return {"Authorization": f"Bearer {plaintext}"}
    client = Client()
    client.force_login(hq_user())
    token = secrets.token_hex(16)
    return {
        "Cookie": f"sessionid={client.cookies['sessionid'].value}; csrftoken={token}",
        "X-CSRFToken": token,
    }


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api(case, seeded):
    case.call_and_validate(headers=seeded, checks=CHECKS)
    RUN["cases"] += 1
    if case.operation.label not in RUN:
        RUN["operations"] += 1
    RUN[case.operation.label] += 1


@pytest.fixture(scope="module")
def matrix_world(django_db_setup, django_db_blocker):
    yield from module_world(django_db_blocker)


@pytest.fixture(scope="module")
def principal_headers(matrix_world, django_db_blocker):
    """Each principal's headers: its key, its session + CSRF cookies, or none (anonymous)."""
    headers = {}
    with django_db_blocker.unblock():
        for who in OTHER_PRINCIPALS:
            p = matrix_world.principals[who]
            if p.is_key:
                headers[who] = {"Authorization": f"Bearer {p.key}"}
            elif p.user is None:
                headers[who] = {}
            else:
                headers[who] = csrf_headers_for(p.user)
    return headers


@pytest.fixture(params=OTHER_PRINCIPALS)
def principal(request, principal_headers, db):
    return request.param, principal_headers[request.param]


def _text(response) -> str:
    content = getattr(response, "content", b"") or b""
    return content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)


@schema.parametrize()
@settings(
    max_examples=PRINCIPAL_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    # Generated cases only: the schema's examples and schemathesis' coverage cases (dozens per
    # operation) run as the key and HQ above; ten principals x all of them would take minutes.
    phases=[Phase.generate],
)
def test_api_as_each_principal(case, principal, matrix_world):
    who, headers = principal
    response = case.call_and_validate(headers=headers, checks=CHECKS)
    sent = " ".join(str(part) for part in (case.path_parameters, case.query, case.body))
    leaks = leaks_in(matrix_world, who, _text(response), sent)
    assert not leaks, f"{case.method} {case.formatted_path} as {who}: {response.status_code}: {leaks}"
    RUN["cases"] += 1
