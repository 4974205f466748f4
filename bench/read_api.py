"""The live-price and stock-availability endpoints under gunicorn against a minimal DRF endpoint
reading one row by primary key, in the same run.

    .venv/bin/python bench/read_api.py [--clients 16 64] [--workers 3] [--requests 1500] [--rounds 5]
        [--skus 100000] [--stores 20] [--no-conn-max-age-0] [--profile K]

Data: one channel, 100,000 SKUs, each with an all-channels price, every fourth with the channel's
own price on top and every fourth (another quarter) with an ended channel price before it; 20
open stores within a few km of each other (service radius 10 km), each stocking a quarter of the
SKUs (500,000 stock rows). One API key of the channel with catalog:read and stock:read.

N keep-alive clients (default 16, then 64) send GETs with `Authorization: Bearer <key>` to 3 gunicorn
sync workers, the same number of requests per endpoint, random SKUs and stores; the endpoints take
turns (`--rounds`, each a fifth of the requests by default, in rotating order) so that the load of
a shared machine falls on all three alike:
  minimal       /bench/one/<price id>/ (bench/_read_api_urls.py: a RetrieveModelMixin viewset with
                a four-field ModelSerializer; same middleware, authentication, permissions,
                throttle and renderer as the API)
  live          /api/v1/prices/live/?sku=<code>&channel=<code>
  availability  /api/v1/stock/availability/?sku=<code>&store=<code>
Prints per endpoint requests/s, p50/p95/p99, answers by kind, Python CPU ms per request (gunicorn
workers, /proc) and PostgreSQL CPU ms per request (the database's backends, /proc), and the new
database sessions the run opened (pg_stat_database). Then, as a side figure, the same at the first
client count with CONN_MAX_AGE=0 (a new connection per request). Final line: the ratios
live/minimal and availability/minimal of requests/s (goal >= 0.8 each). Exits non-zero if any
answer was not 200. `--profile K` instead runs each endpoint in-process (Django's test Client):
statements per request, Python CPU per request, and cProfile's K costliest functions.
`BENCH_READ_DB` names its database (made and dropped by bench/_setup.py).
"""

import argparse
import http.client
import json
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from _setup import PG, ROOT, bench_database
from flash_sale import cpu_seconds, cpu_spent, free_port, percentile, start_server, worker_pids

DB_NAME = os.environ.get("BENCH_READ_DB", "o2o_bench_read")
BENCH = ROOT / "bench"
SETTINGS = "_read_api_site"  # bench/_read_api_site.py: the project's settings + the minimal endpoint
CENTRE_LAT, CENTRE_LNG = 39.9042, 116.4074
ENDPOINTS = ("minimal", "live", "availability")
GOAL = 0.8


@dataclass
class Scene:
    channel: str
    api_key: str
    skus: list[str]
    stores: list[str]
    price_ids: list[int]


@dataclass
class Result:
    endpoint: str
    clients: int
    conn_max_age: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    answers: Counter = field(default_factory=Counter)
    py_cpu_ms: float = 0.0
    pg_cpu_ms: float = 0.0
    sessions: int = 0

    def add(self, part: "Result") -> None:
        """Fold one round into this total (CPU per request weighted by the round's requests)."""
        before, count = self.requests, part.requests
        if before + count:
            self.py_cpu_ms = (self.py_cpu_ms * before + part.py_cpu_ms * count) / (before + count)
            self.pg_cpu_ms = (self.pg_cpu_ms * before + part.pg_cpu_ms * count) / (before + count)
        self.seconds += part.seconds
        self.latencies.extend(part.latencies)
        self.answers.update(part.answers)
        self.sessions += part.sessions

    @property
    def requests(self) -> int:
        return sum(self.answers.values())

    @property
    def rate(self) -> float:
        return self.answers["200"] / self.seconds if self.seconds else 0.0


# --- data -------------------------------------------------------------------------------------


def make_data(skus: int, stores: int) -> Scene:
    """Set-based inserts: 100,000 SKUs, their prices and 500,000 stock rows in seconds."""
    from django.db import connection
    from django.utils import timezone

    # Our apps import once bench_database() has set Django up (bench/_setup.py).
    from catalog.models import Category, Channel, Price, Product
    from config.roles import SYSTEM
    from integrations.choices import Scope
    from integrations.services import api_key_create
    from stores.models import Store

    channel = Channel.objects.create(code="mall", name="Own mall", kind="own_mall")
    category = Category.objects.create(code="phones", name="Phones")
    product = Product.objects.create(code="P-READ", name="Phone", brand="Demo", category=category)
    rng = random.Random(9)
    Store.objects.bulk_create(
        Store(
            code=f"ST{n:03d}",
            name=f"Store {n}",
            kind="own_flagship",
            city="Beijing",
            latitude=Decimal(f"{CENTRE_LAT + rng.uniform(-0.04, 0.04):.6f}"),
            longitude=Decimal(f"{CENTRE_LNG + rng.uniform(-0.05, 0.05):.6f}"),
            city_tier=1,
            service_radius_km=10,
        )
        for n in range(stores)
    )
    now = timezone.now()
    day = timezone.timedelta(days=1)
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO catalog_sku (code, name, attributes, serial_tracked, unified, is_active, "
            "product_id) "
            "SELECT 'S' || lpad(n::text, 6, '0'), 'Phone ' || n, '{}', false, false, true, %s "
            "FROM generate_series(0, %s - 1) n",
            [product.pk, skus],
        )
        # All channels: every SKU. The channel's own: a live one on every fourth SKU, an ended one
        # on every fourth of another quarter (so the lookup has rows to pass over).
        cur.execute(
            "INSERT INTO catalog_price (amount, valid_from, valid_to, created_at, sku_id, channel_id) "
            "SELECT 1000 + id %% 900, %s, NULL::timestamptz, %s, id, NULL::bigint FROM catalog_sku "
            "UNION ALL SELECT 950 + id %% 900, %s, NULL::timestamptz, %s, id, %s FROM catalog_sku "
            "WHERE id %% 4 = 0 "
            "UNION ALL SELECT 990 + id %% 900, %s, %s, %s, id, %s FROM catalog_sku WHERE id %% 4 = 1",
            [now - 30 * day, now, now - day, now, channel.pk, now - 20 * day, now - day, now, channel.pk],
        )
        cur.execute(
            "INSERT INTO stores_stock (on_hand, reserved, updated_at, sku_id, location_id) "
            "SELECT 5 + (k.id + s.id) %% 20, (k.id + s.id) %% 3, %s, k.id, s.id "
            "FROM catalog_sku k JOIN stores_store s ON (k.id + s.id) %% 4 = 0",
            [now],
        )
        cur.execute("ANALYZE")
    _key, plaintext = api_key_create(
        name="Read bench", channel=channel, scopes=[Scope.CATALOG_READ, Scope.STOCK_READ], actor=SYSTEM
    )
    return Scene(
        channel=channel.code,
        api_key=plaintext,
        skus=list(product.skus.values_list("code", flat=True)),
        stores=list(Store.objects.values_list("code", flat=True)),
        price_ids=list(Price.objects.values_list("pk", flat=True)),
    )


def paths_for(scene: Scene, endpoint: str, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    if endpoint == "minimal":
        return [f"/bench/one/{rng.choice(scene.price_ids)}/" for _ in range(count)]
    if endpoint == "live":
        return [
            f"/api/v1/prices/live/?sku={rng.choice(scene.skus)}&channel={scene.channel}" for _ in range(count)
        ]
    return [
        f"/api/v1/stock/availability/?sku={rng.choice(scene.skus)}&store={rng.choice(scene.stores)}"
        for _ in range(count)
    ]


# --- the clients --------------------------------------------------------------------------------


class Getter:
    """One keep-alive HTTP connection per client (http.client reconnects when the worker closes)."""

    def __init__(self, port: int, api_key: str):
        self.port = port
        self.headers = {
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json",
            "Host": "127.0.0.1",
        }

    def open(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def __call__(self, conn, path: str) -> str:
        try:
            conn.request("GET", path, headers=self.headers)
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


def drive(clients: int, paths: list[str], getter: Getter, result: Result) -> None:
    """`clients` threads take paths from one list; all start together."""
    lock = threading.Lock()
    gate = threading.Barrier(clients + 1)
    pending = iter(paths)

    def client():
        conn = getter.open()
        latencies, answers = [], Counter()
        gate.wait()
        while True:
            with lock:
                path = next(pending, None)
            if path is None:
                break
            t0 = time.perf_counter()
            answers[getter(conn, path)] += 1
            latencies.append(time.perf_counter() - t0)
        conn.close()
        with lock:
            result.latencies.extend(latencies)
            result.answers.update(answers)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    gate.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    result.latencies.sort()


def backend_pids(admin) -> list[int]:
    rows = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [DB_NAME]
    ).fetchall()
    return [row[0] for row in rows]


def sessions(admin) -> int:
    """Sessions ever opened on the database (PostgreSQL 14+); None before that."""
    row = admin.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", [DB_NAME]).fetchone()
    return row[0] if row else 0


def measure(endpoint, clients, paths, getter, admin, server_pid, conn_max_age) -> Result:
    result = Result(endpoint, clients, conn_max_age)
    pids = worker_pids(server_pid)
    py_before = cpu_seconds(pids)
    pg_before = cpu_seconds(backend_pids(admin))
    seen: set[int] = set(pg_before)
    pg_last: dict[int, float] = dict(pg_before)
    stop = threading.Event()

    def watch():  # backends sampled: with CONN_MAX_AGE=0 each lives one request (a floor, then)
        while not stop.is_set():
            seen.update(backend_pids(admin))
            pg_last.update(cpu_seconds(seen))
            stop.wait(0.05)

    sessions_before = sessions(admin)
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        drive(clients, paths, getter, result)
    finally:
        stop.set()
        watcher.join()
    pg_last.update(cpu_seconds(seen))
    requests = result.requests or 1
    result.py_cpu_ms = cpu_spent(py_before, cpu_seconds(pids)) * 1000 / requests
    result.pg_cpu_ms = cpu_spent(pg_before, pg_last) * 1000 / requests
    result.sessions = sessions(admin) - sessions_before  # the watcher uses the open admin connection
    return result


def report(r: Result) -> None:
    print(
        f"{r.endpoint:12} {r.clients:>7} {r.conn_max_age:>6} {r.requests:>8} {r.rate:>7.0f} "
        f"{percentile(r.latencies, 0.5):>7.1f} {percentile(r.latencies, 0.95):>7.1f} "
        f"{percentile(r.latencies, 0.99):>7.1f} {r.py_cpu_ms:>6.2f} {r.pg_cpu_ms:>6.2f} {r.sessions:>8}  "
        f"{dict(sorted(r.answers.items()))}",
        flush=True,
    )


HEADER = (
    f"{'endpoint':12} {'clients':>7} {'c.m.a.':>6} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
    f"{'p99 ms':>7} {'py ms':>6} {'pg ms':>6} {'sessions':>8}  answers"
)


# --- in-process: statements, Python CPU, cProfile -----------------------------------------------


def in_process(scene: Scene, requests: int, profile: int) -> None:
    """Each endpoint through Django's test Client in this process: statements per request, this
    process's CPU per request (the database's work is in its backend), and with `profile` the
    costliest functions by cumulative time (cProfile)."""
    import cProfile
    import pstats

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {scene.api_key}", HTTP_HOST="127.0.0.1")

    def get_all(paths):
        for path in paths:
            response = client.get(path, HTTP_ACCEPT="application/json")
            if response.status_code != 200:
                raise SystemExit(f"{path}: {response.status_code} {response.content[:300]!r}")

    for n, endpoint in enumerate(ENDPOINTS):
        get_all(paths_for(scene, endpoint, 30, 900 + n))  # warm-up
        with CaptureQueriesContext(connection) as queries:
            get_all(paths_for(scene, endpoint, 1, 950 + n))
        statements = [q["sql"] for q in queries.captured_queries]
        paths = paths_for(scene, endpoint, requests, 990 + n)
        cpu = time.process_time()
        get_all(paths)
        cpu_ms = (time.process_time() - cpu) * 1000 / len(paths)
        profiler = cProfile.Profile(time.process_time)  # CPU, not waiting on the database
        profiler.enable()
        get_all(paths)
        profiler.disable()
        stats = pstats.Stats(profiler)
        print(
            f"in-process {endpoint}: {cpu_ms:.2f} ms Python CPU per request, "
            f"{stats.total_calls / len(paths):,.0f} Python function calls per request (cProfile, "
            f"load-independent), {len(statements)} statements:"
        )
        for sql in statements:
            print(f"    {sql[:160]}")
        if endpoint != "minimal":
            stats.sort_stats("cumulative").print_stats(profile)
    connection.close()


# --- one server ---------------------------------------------------------------------------------


def serve_and_measure(args, scene, admin, conn_max_age: str, clients_list, requests: int, seed: int):
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
        getter = Getter(port, scene.api_key)
        warm = Result("warm", 4, conn_max_age)  # every worker imports, connects, fills its caches
        for endpoint in ENDPOINTS:
            drive(4, paths_for(scene, endpoint, 20 * args.workers, seed - 1), getter, warm)
        if warm.answers["200"] != warm.requests:
            sys.exit(f"warm-up failed: {dict(warm.answers)}")
        for clients in clients_list:
            # The endpoints take turns, a round at a time, in a rotating order: a shared machine's
            # load then falls on all three alike instead of on whichever ran during a busy minute.
            totals = {e: Result(e, clients, conn_max_age) for e in ENDPOINTS}
            paths = {
                e: paths_for(scene, e, requests, seed + 10 * clients + n) for n, e in enumerate(ENDPOINTS)
            }
            size = -(-requests // args.rounds)
            for turn in range(args.rounds):
                for endpoint in ENDPOINTS[turn % 3 :] + ENDPOINTS[: turn % 3]:
                    chunk = paths[endpoint][turn * size : (turn + 1) * size]
                    if chunk:
                        part = measure(endpoint, clients, chunk, getter, admin, server.pid, conn_max_age)
                        totals[endpoint].add(part)
            for endpoint in ENDPOINTS:
                totals[endpoint].latencies.sort()
                report(totals[endpoint])
                results.append(totals[endpoint])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
    return results


def ratios(results: list[Result], clients: int) -> dict[str, float]:
    rate = {r.endpoint: r.rate for r in results if r.clients == clients}
    return {
        e: rate[e] / rate["minimal"] for e in ("live", "availability") if rate.get("minimal") and e in rate
    }


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
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="K",
        help="in-process only: cProfile's K costliest functions",
    )
    parser.add_argument(
        "--no-conn-max-age-0", action="store_true", help="skip the side run without persistent connections"
    )
    args = parser.parse_args()
    import psycopg

    os.environ["API_KEY_RATE"] = "100000000/min"  # the throttle runs, but never says no here
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    sys.path.insert(0, str(BENCH))
    with bench_database(DB_NAME):
        from django.conf import settings
        from django.db import connections

        started = time.perf_counter()
        scene = make_data(args.skus, args.stores)
        print(
            f"data: {len(scene.skus):,} SKUs, {len(scene.price_ids):,} prices, {len(scene.stores)} stores "
            f"with stock in {time.perf_counter() - started:.1f} s"
        )
        if args.profile:
            in_process(scene, min(args.requests, 300), args.profile)
            return
        database = settings.DATABASES["default"]
        print(
            f"database connections: CONN_MAX_AGE={database['CONN_MAX_AGE']}, "
            f"CONN_HEALTH_CHECKS={database.get('CONN_HEALTH_CHECKS')}, "
            f"pool={database.get('OPTIONS', {}).get('pool', False)} (settings {SETTINGS} over "
            f"config.settings.dev, DEBUG={settings.DEBUG})"
        )
        print(
            f"gunicorn: {args.workers} sync workers; PostgreSQL on 127.0.0.1; {os.cpu_count()} cores shared "
            f"by all (the clients too); {args.requests} requests per endpoint and client count"
        )
        connections.close_all()
        admin = psycopg.connect(f"{PG}/{DB_NAME}", autocommit=True)
        print(HEADER)
        results = serve_and_measure(
            args, scene, admin, str(database["CONN_MAX_AGE"]), args.clients, args.requests, seed=100
        )
        side = []
        if not args.no_conn_max_age_0:
            print(
                "side figure: a new database connection per request (CONN_MAX_AGE=0), "
                f"{args.clients[0]} clients"
            )
            side = serve_and_measure(
                args, scene, admin, "0", args.clients[:1], max(300, args.requests // 3), seed=500
            )
        admin.close()

    print()
    finals, worst = [], None
    for clients in args.clients:
        found = ratios(results, clients)
        parts = []
        for endpoint, ratio in found.items():
            parts.append(f"{endpoint}/minimal {ratio:.2f}")
            worst = ratio if worst is None else min(worst, ratio)
        print(f"clients {clients}: " + ", ".join(parts))
        finals.append((clients, found))
    if side:
        rate = {r.endpoint: r.rate for r in results if r.clients == args.clients[0]}
        print(
            f"persistent connections vs CONN_MAX_AGE=0 at {args.clients[0]} clients: "
            + ", ".join(f"{r.endpoint} {rate[r.endpoint] / r.rate:.1f}x" for r in side if r.rate)
        )
    errors = sum(r.requests - r.answers["200"] for r in results + side)
    if worst is not None:
        print("goal met" if worst >= GOAL else f"goal missed by {GOAL - worst:.3f} (worst ratio {worst:.3f})")
    print(
        "read_api: "
        + ", ".join(
            f"{e}/minimal@{clients} {ratio:.2f}" for clients, found in finals for e, ratio in found.items()
        )
        + f"; non-200 answers {errors} (goal: each ratio >= {GOAL})"
    )
    if errors:
        sys.exit(f"{errors} answers were not 200")


if __name__ == "__main__":
    main()
