"""The basket quote (POST /api/v1/quote/) under gunicorn against the live-price read
(GET /api/v1/prices/live/) in the same run; the issue's goal: quote >= 0.5 of the live-price read.

    .venv/bin/python bench/quote.py [--clients 16 64] [--workers 3] [--requests 1500] [--rounds 5]
        [--skus 100000] [--stores 20] [--lines 2] [--members 200]

Data: bench/read_api.py's (one channel, 100,000 SKUs with their prices, 20 stores with stock), and
marketing on top: a catalogue promotion (5% off the SKUs' category), an order promotion (100 off
1,500), a 50-off coupon (minimum spend 500) with one code for each of `--members` members who
consented on the channel, each holding 50,000 points and 1,000.00 of stored value, and HQ's points
rate (100 points a yuan, at most 50% of the order). One API key of the channel with catalog:read
and orders:write.

Each quote is a basket of `--lines` random SKUs (1-3 units each) for a random member with their
coupon, 1,000 points and 100.00 of stored value: the live prices, both promotions and the coupon
allocated to the lines, the tenders and the points cap - the work of a clerk's "check price" and an
app's checkout page. The live read is one random SKU's price on the channel. N keep-alive clients
(default 16, then 64) against 3 gunicorn sync workers, the same number of requests per endpoint,
the endpoints taking turns (`--rounds`). Prints per endpoint requests/s, p50/p95/p99, answers by
kind, Python and PostgreSQL CPU ms per request, then the statements one quote runs (in-process),
and the ratio quote/live of requests/s per client count (goal >= 0.5). Exits non-zero if any answer
was not 200. `BENCH_QUOTE_DB` names its database (made and dropped by bench/_setup.py).
"""

import argparse
import http.client
import json
import os
import random
import signal
import sys
import time
from decimal import Decimal

from _setup import PG, ROOT, bench_database
from flash_sale import free_port, start_server
from read_api import HEADER, Result, drive, make_data, measure, report

DB_NAME = os.environ.get("BENCH_QUOTE_DB", "o2o_bench_quote")
BENCH = ROOT / "bench"
SETTINGS = "_read_api_site"  # the project's settings (and URLs) as bench/read_api.py runs them
ENDPOINTS = ("live", "quote")
GOAL = 0.5


def add_marketing(scene, members: int) -> tuple[str, list[tuple[int, str]]]:
    """Promotions, a coupon, points rate, members with points, stored value and a code each; a key
    that may quote. Answers the key and [(member id, code)]."""
    from django.utils import timezone

    # Our apps import once bench_database() has set Django up (bench/_setup.py).
    from catalog.models import Category, Channel
    from config.roles import SYSTEM
    from integrations.choices import Scope
    from integrations.services import api_key_create
    from marketing.choices import CouponKind, IssuedVia, PromotionKind
    from marketing.models import PointsTenderRule
    from marketing.services import code_give, coupon_define, promotion_set, wallet_top_up
    from members.models import Member
    from members.services import points_adjust

    channel = Channel.objects.get(code=scene.channel)
    start = timezone.now() - timezone.timedelta(hours=1)
    promotion_set(
        code="bench-5pct",
        name="5% off phones",
        kind=PromotionKind.PERCENT_OFF,
        percent=Decimal("5"),
        categories=[Category.objects.get(code="phones")],
        valid_from=start,
        actor=SYSTEM,
    )
    promotion_set(
        code="bench-1500-100",
        name="100 off 1500",
        kind=PromotionKind.SPEND_THRESHOLD,
        threshold=Decimal("1500"),
        amount=Decimal("100"),
        valid_from=start,
        actor=SYSTEM,
    )
    coupon = coupon_define(
        code="bench-50",
        name="50 off",
        kind=CouponKind.AMOUNT,
        value=Decimal("50"),
        min_spend=Decimal("500"),
        valid_from=start,
        actor=SYSTEM,
    )
    PointsTenderRule.objects.create(channel=None, points_per_yuan=100, cap_percent=Decimal("50"))
    held = []
    for n in range(members):
        member = Member.objects.create(
            phone=f"1390000{n:04d}",
            name=f"Quote member {n}",
            city="Beijing",
            marketing_consent=True,
            consent_channel=channel,
        )
        points_adjust(member=member, points=50_000, reason="Bench", actor=SYSTEM)
        wallet_top_up(member=member, amount=Decimal("1000"), method="card", actor=SYSTEM)
        held.append((member.pk, code_give(coupon=coupon, member=member, via=IssuedVia.HQ, actor=SYSTEM).code))
    _key, plaintext = api_key_create(
        name="Quote bench", channel=channel, scopes=[Scope.CATALOG_READ, Scope.ORDERS_WRITE], actor=SYSTEM
    )
    return plaintext, held


def items_for(scene, held, endpoint: str, count: int, lines: int, seed: int) -> list:
    """GET paths (live) or (path, JSON body) pairs (quote)."""
    rng = random.Random(seed)
    if endpoint == "live":
        return [
            f"/api/v1/prices/live/?sku={rng.choice(scene.skus)}&channel={scene.channel}" for _ in range(count)
        ]
    out = []
    for _ in range(count):
        member, code = rng.choice(held)
        body = {
            "channel": scene.channel,
            "member": member,
            "lines": [{"sku": sku, "quantity": rng.randint(1, 3)} for sku in rng.sample(scene.skus, lines)],
            "coupons": [code],
            "points": 1000,
            "stored_value": "100.00",
        }
        out.append(("/api/v1/quote/", json.dumps(body).encode()))
    return out


class Client:
    """One keep-alive HTTP connection per client: GET a path, or POST (path, body)."""

    def __init__(self, port: int, api_key: str):
        self.port = port
        self.headers = {
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json",
            "Host": "127.0.0.1",
        }

    def open(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def __call__(self, conn, item) -> str:
        try:
            if isinstance(item, str):
                conn.request("GET", item, headers=self.headers)
            else:
                path, body = item
                conn.request(
                    "POST", path, body=body, headers={**self.headers, "Content-Type": "application/json"}
                )
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            return type(exc).__name__
        kind = str(response.status)
        if response.status != 200:
            try:
                kind += " " + json.loads(data).get("code", "")
            except ValueError:
                kind += " (not JSON)"
        return kind


def statements_of_one_quote(api_key: str, item) -> list[str]:
    """The SQL one quote runs, in-process (after a warm-up request)."""
    from django.db import connection
    from django.test import Client as TestClient
    from django.test.utils import CaptureQueriesContext

    client = TestClient(HTTP_AUTHORIZATION=f"Bearer {api_key}", HTTP_HOST="127.0.0.1")
    path, body = item
    client.post(path, body, content_type="application/json")
    with CaptureQueriesContext(connection) as queries:
        response = client.post(path, body, content_type="application/json")
    if response.status_code != 200:
        raise SystemExit(f"quote: {response.status_code} {response.content[:300]!r}")
    connection.close()
    return [q["sql"] for q in queries.captured_queries]


def profile_quotes(api_key: str, items: list, top: int) -> None:
    """Python CPU per quote in-process, and cProfile's `top` costliest functions (cumulative)."""
    import cProfile
    import pstats

    from django.db import connection
    from django.test import Client as TestClient

    client = TestClient(HTTP_AUTHORIZATION=f"Bearer {api_key}", HTTP_HOST="127.0.0.1")

    def run():
        for path, body in items:
            response = client.post(path, body, content_type="application/json")
            if response.status_code != 200:
                raise SystemExit(f"quote: {response.status_code} {response.content[:300]!r}")

    run()  # warm-up
    cpu = time.process_time()
    run()
    print(
        f"in-process quote: {(time.process_time() - cpu) * 1000 / len(items):.2f} ms Python CPU per request"
    )
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    run()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)
    connection.close()


def serve_and_measure(args, scene, held, api_key, admin, conn_max_age: str) -> list[Result]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "CONN_MAX_AGE": conn_max_age,
        "DEBUG": "0",
        "LOG_LEVEL": "ERROR",
        "PYTHONWARNINGS": "ignore::UserWarning",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{BENCH}",
    }
    port = free_port()
    server = start_server(port, args.workers, env)
    results = []
    try:
        client = Client(port, api_key)
        warm = Result("warm", 4, conn_max_age)
        for endpoint in ENDPOINTS:
            drive(4, items_for(scene, held, endpoint, 20 * args.workers, args.lines, 1), client, warm)
        if warm.answers["200"] != warm.requests:
            sys.exit(f"warm-up failed: {dict(warm.answers)}")
        for clients in args.clients:
            totals = {e: Result(e, clients, conn_max_age) for e in ENDPOINTS}
            items = {
                e: items_for(scene, held, e, args.requests, args.lines, 100 + 10 * clients + n)
                for n, e in enumerate(ENDPOINTS)
            }
            size = -(-args.requests // args.rounds)
            for turn in range(args.rounds):
                for endpoint in ENDPOINTS[turn % 2 :] + ENDPOINTS[: turn % 2]:
                    chunk = items[endpoint][turn * size : (turn + 1) * size]
                    if chunk:
                        part = measure(endpoint, clients, chunk, client, admin, server.pid, conn_max_age)
                        totals[endpoint].add(part)
            for endpoint in ENDPOINTS:
                totals[endpoint].latencies.sort()
                report(totals[endpoint])
                results.append(totals[endpoint])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
    return results


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1500, help="per endpoint and client count")
    parser.add_argument("--rounds", type=int, default=5, help="turns the endpoints take per client count")
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--lines", type=int, default=2, help="SKUs in each quoted basket")
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="K",
        help="in-process only: cProfile's K costliest functions",
    )
    args = parser.parse_args()
    import psycopg

    os.environ["API_KEY_RATE"] = "100000000/min"  # the throttle runs, but never says no here
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    sys.path.insert(0, str(BENCH))
    # read_api.measure samples the database's backends by this name.
    import read_api

    read_api.DB_NAME = DB_NAME
    with bench_database(DB_NAME):
        from django.conf import settings
        from django.db import connections

        started = time.perf_counter()
        scene = make_data(args.skus, args.stores)
        api_key, held = add_marketing(scene, args.members)
        print(
            f"data: {len(scene.skus):,} SKUs, {len(scene.stores)} stores with stock, {len(held)} members with "
            f"points, stored value and a coupon code, two promotions, in {time.perf_counter() - started:.1f} s"
        )
        statements = statements_of_one_quote(api_key, items_for(scene, held, "quote", 1, args.lines, 7)[0])
        print(f"one quote of {args.lines} lines runs {len(statements)} statements:")
        for sql in statements:
            print(f"    {sql[:150]}")
        if args.profile:
            profile_quotes(api_key, items_for(scene, held, "quote", 200, args.lines, 8), args.profile)
            return
        database = settings.DATABASES["default"]
        print(
            f"gunicorn: {args.workers} sync workers; PostgreSQL on 127.0.0.1; {os.cpu_count()} cores shared "
            f"by all (the clients too); {args.requests} requests per endpoint and client count; "
            f"CONN_MAX_AGE={database['CONN_MAX_AGE']}"
        )
        connections.close_all()
        admin = psycopg.connect(f"{PG}/{DB_NAME}", autocommit=True)
        print(HEADER)
        results = serve_and_measure(args, scene, held, api_key, admin, str(database["CONN_MAX_AGE"]))
        admin.close()

    print()
    worst, parts = None, []
    for clients in args.clients:
        rate = {r.endpoint: r.rate for r in results if r.clients == clients}
        ratio = rate["quote"] / rate["live"] if rate.get("live") else 0.0
        worst = ratio if worst is None else min(worst, ratio)
        parts.append(f"quote/live@{clients} {ratio:.2f}")
    errors = sum(r.requests - r.answers["200"] for r in results)
    print("goal met" if worst >= GOAL else f"goal missed by {GOAL - worst:.3f} (worst ratio {worst:.3f})")
    print("quote: " + ", ".join(parts) + f"; non-200 answers {errors} (goal: each ratio >= {GOAL})")
    if errors:
        sys.exit(f"{errors} answers were not 200")


if __name__ == "__main__":
    main()
