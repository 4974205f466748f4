"""Flash sale through the real order API under gunicorn on PostgreSQL, against the same transaction
as plain SQL in the same run.

    .venv/bin/python bench/flash_sale.py [--clients 16 64] [--workers 3] [--hot-buyers 3000]
        [--spread-orders 3000] [--skus 100000] [--scenarios hot spread] [--explain]
        [--no-coupons] [--budget-limit 1000] [--member-run] [--rounds 1]

The API side: a channel's API key with the orders:write scope (`Authorization: Bearer <key>`), a
fresh `Idempotency-Key` per order, N keep-alive clients POSTing /api/v1/orders/ to gunicorn.
  hot    - every order is 1 unit of one flash-sale SKU: 1,000 units, 3,000 buyers (sold out at 1,000);
           orders/s is the selling rate: 1,000 / the time the last unit was sold
  spread - 2-line orders over 100,000 SKUs with plenty of stock; orders/s over the whole run
The raw side: the same orders as plain SQL from psycopg threads (one connection each, same client
count): the conditional stock UPDATEs in SKU order (`... AND on_hand >= reserved + q RETURNING`),
the order, its lines (one INSERT), an outbox row, COMMIT. The inserts go first and the stock
UPDATEs last, as the app does, so the hot row is held only until COMMIT: the strongest baseline.
The coupon side (`cpn`, unless --no-coupons): the same orders through the same API, each for its
own member (consenting through the channel, so the key may order for them) carrying that
member's one code of a flash-sale coupon (100 off, minimum spend 1,000, budgets in count and
money far above the run); its orders/s over the plain API run's is the coupon ratio (goal >= 0.8).
Every code, redemption row, line discount and the coupon's counters are checked against the
orders made. `--budget-limit K` adds one spread run at the first client count with the coupon's
budget set to K redemptions: exactly K orders may go through, the rest are refused. `--member-run`
adds a `mem` run per scenario: the coupon run's members without their codes (what the member alone
costs, so the coupon's own cost is cpn over mem). `--rounds R` runs the API sides R times per
scenario, each round in another order, and shows the median of the rounds' own ratios with their
range (a shared machine drifts between runs; one pair of runs can be off by a tenth).

Prints per run orders/s, p50/p95/p99, answers by kind, Python CPU ms per request (gunicorn
workers' utime+stime from /proc) and PostgreSQL CPU ms per request (the database's client
backends from /proc), and checks the stock: oversold 0, reserved == units on orders (no leak),
outbox rows == orders. Then `api/raw` per scenario, hot/spread (the API's hot selling rate over
its spread rate), and a final line with the key ratios. `--explain` first runs one order in-process and lists its SQL statements.
Makes its own database (bench/_setup.py) and drops it.
"""

import argparse
import http.client
import json
import os
import queue
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from _setup import PG, ROOT, bench_database

DB_NAME = os.environ.get("BENCH_FLASH_DB", "o2o_bench_flash")
HOT_UNITS, HOT_BUYERS = 1_000, 3_000
SPREAD_SKUS, SPREAD_ORDERS = 100_000, 3_000
SPREAD_STOCK = 1_000_000
PRICE = Decimal("1999.00")
STORE_LAT, STORE_LNG = Decimal("39.904200"), Decimal("116.407400")
CLK_TCK = os.sysconf("SC_CLK_TCK")
COUPON_VALUE, COUPON_MIN_SPEND = Decimal("100.00"), Decimal("1000.00")
COUPON_BUDGET = 100_000  # redemptions, and as many times its value in money: never the limit here


@dataclass
class Scene:
    channel_id: int
    channel_code: str
    store_id: int
    hot: tuple[int, str]  # (sku id, code)
    spread: list[tuple[int, str]]
    api_key: str = ""
    coupon_id: int = 0
    buyers: list[tuple[int, str]] = field(default_factory=list)  # (member id, their code)


@dataclass
class Run:
    side: str  # raw, api, cpn (the API with one coupon code per order) or mem (a member's, no code)
    scenario: str
    clients: int
    seconds: float = 0.0
    sold_out_at: float | None = None
    latencies: list[float] = field(default_factory=list)
    answers: Counter = field(default_factory=Counter)
    made: int = 0
    py_cpu_ms: float = 0.0
    pg_cpu_ms: float = 0.0
    check: dict = field(default_factory=dict)
    budget: int | None = None  # the coupon's budget in redemptions, when it is the limit
    round: int = 0  # with --rounds: which round of the sides this run was in

    @property
    def rate(self) -> float:
        """Orders per second: spread over the whole run; hot until the last unit was sold."""
        if self.scenario == "hot" and self.sold_out_at:
            return self.made / self.sold_out_at
        return self.made / self.seconds if self.seconds else 0.0

    @property
    def requests(self) -> int:
        return sum(self.answers.values())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- data -------------------------------------------------------------------------------------


def make_data(skus: int, buyers: int = 0) -> Scene:
    """One channel, one store, a hot SKU with 1,000 units and `skus` others with plenty, each with a
    live price and a receipt in the ledger; set-based inserts (100,000 SKUs in seconds). With
    `buyers`, that many members each holding one code of a flash-sale coupon (make_buyers)."""
    from django.db import connection
    from django.utils import timezone

    # Our apps import once bench_database() has set Django up (bench/_setup.py).
    from catalog.models import SKU, Category, Channel, Product
    from config.roles import SYSTEM
    from integrations.choices import Scope
    from integrations.services import api_key_create
    from stores.models import Store

    channel = Channel.objects.create(code="mall", name="Own mall", kind="own_mall")
    category = Category.objects.create(code="phones", name="Phones")
    product = Product.objects.create(code="P-FLASH", name="Flash phone", brand="Demo", category=category)
    store = Store.objects.create(
        code="FLAGSHIP",
        name="Flagship",
        kind="own_flagship",
        city="Beijing",
        latitude=STORE_LAT,
        longitude=STORE_LNG,
        city_tier=1,
        service_radius_km=30,
    )
    now = timezone.now()
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO catalog_sku (code, name, attributes, serial_tracked, unified, is_active, product_id) "
            "SELECT 'S' || lpad(n::text, 6, '0'), 'Phone ' || n, '{}', false, false, true, %s "
            "FROM generate_series(0, %s) n",
            [product.pk, skus],
        )
        cur.execute(
            "INSERT INTO catalog_price (amount, valid_from, created_at, sku_id) "
            "SELECT %s, %s, %s, id FROM catalog_sku WHERE product_id = %s",
            [PRICE, now - timezone.timedelta(days=1), now, product.pk],
        )
        cur.execute(
            "INSERT INTO stores_stock (on_hand, reserved, updated_at, sku_id, location_id) "
            "SELECT CASE WHEN code = 'S000000' THEN %s ELSE %s END, 0, %s, id, %s "
            "FROM catalog_sku WHERE product_id = %s",
            [HOT_UNITS, SPREAD_STOCK, now, store.pk, product.pk],
        )
        cur.execute(
            "INSERT INTO stores_stockmovement (kind, on_hand_delta, reserved_delta, reason, reference, "
            "created_at, stock_id) SELECT 'receipt', on_hand, 0, 'Flash sale stock', '', %s, id "
            "FROM stores_stock WHERE location_id = %s",
            [now, store.pk],
        )
        cur.execute("ANALYZE")
    rows = list(SKU.objects.filter(product=product).order_by("code").values_list("pk", "code"))
    _key, plaintext = api_key_create(
        name="Flash bench", channel=channel, scopes=[Scope.ORDERS_WRITE], actor=SYSTEM
    )
    scene = Scene(channel.pk, channel.code, store.pk, rows[0], rows[1:], plaintext)
    if buyers:
        make_buyers(scene, channel, store, buyers)
    return scene


def make_buyers(scene: Scene, channel, store, buyers: int) -> None:
    """`buyers` members who consented through the channel (so its key may order for them), a
    flash-sale coupon with budgets far above the run (marketing.services.coupon_define), and one
    code of it pre-issued to each member (bulk-created rows, issued by HQ, as code_give would)."""
    from django.utils import timezone

    # Our apps import once bench_database() has set Django up (bench/_setup.py).
    from config.roles import SYSTEM
    from marketing.choices import CouponKind, IssuedVia
    from marketing.models import Coupon, CouponCode
    from marketing.services import _new_code, coupon_define
    from members.models import Member

    now = timezone.now()
    members = Member.objects.bulk_create(
        [
            Member(
                phone=f"139{n:08d}",
                name=f"Buyer {n}",
                city="Beijing",
                home_store=store,
                marketing_consent=True,
                consent_changed_at=now,
                consent_channel=channel,
            )
            for n in range(buyers)
        ],
        batch_size=1000,
    )
    coupon = coupon_define(
        code="FLASH100",
        name="Flash sale 100 off",
        kind=CouponKind.AMOUNT,
        value=COUPON_VALUE,
        min_spend=COUPON_MIN_SPEND,
        valid_from=now - timezone.timedelta(days=1),
        budget_count=COUPON_BUDGET,
        budget_amount=COUPON_VALUE * COUPON_BUDGET,
        actor=SYSTEM,
    )
    codes = set()
    while len(codes) < buyers:
        codes.add(_new_code())
    issued = CouponCode.objects.bulk_create(
        [
            CouponCode(code=code, coupon=coupon, member=member, issued_via=IssuedVia.HQ)
            for code, member in zip(sorted(codes), members, strict=True)
        ],
        batch_size=1000,
    )
    Coupon.objects.filter(pk=coupon.pk).update(issued_count=buyers)
    scene.coupon_id = coupon.pk
    scene.buyers = [(code.member_id, code.code) for code in issued]


def reset(scene: Scene) -> None:
    """No orders, no reservations, no events: every SKU back to its received stock."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE orders_order, orders_orderline, orders_orderstatuschange, orders_routingdecision, "
            "integrations_outboxevent, integrations_idempotentrequest CASCADE"
        )
        cur.execute("DELETE FROM stores_stockmovement WHERE kind <> 'receipt'")
        cur.execute("UPDATE stores_stock SET reserved = 0 WHERE reserved <> 0")
        # Every side starts from tables without dead rows and with statistics: otherwise each run
        # pays for the one before it, and the sides measured later (coupons, members) look slower.
        for table in ("stores_stock", "stores_stockmovement", "orders_order", "orders_orderline"):
            cur.execute(f"VACUUM ANALYZE {table}")
        if scene.coupon_id:  # every code held again, the coupon's counters back to nothing
            cur.execute("TRUNCATE marketing_couponredemption")
            cur.execute(
                "UPDATE marketing_couponcode SET status = 'held', redeemed_at = NULL, order_number = '' "
                "WHERE status <> 'held'"
            )
            cur.execute(
                "UPDATE marketing_coupon SET redeemed_count = 0, redeemed_amount = 0, budget_count = %s "
                "WHERE id = %s",
                [COUPON_BUDGET, scene.coupon_id],
            )
            cur.execute("VACUUM ANALYZE marketing_coupon")
            cur.execute("VACUUM ANALYZE marketing_couponcode")


def check(scene: Scene, scenario: str) -> dict:
    """Units ordered vs stock: oversold, reserved leak, ledger, outbox rows vs orders."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM orders_order")
        orders = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM integrations_outboxevent WHERE type = 'order.created'")
        events = cur.fetchone()[0]
        cur.execute(
            "SELECT coalesce(sum(s.reserved), 0), coalesce(sum(l.q), 0), "
            "coalesce(sum(greatest(0, l.q - s.on_hand)), 0) FROM stores_stock s "
            "LEFT JOIN (SELECT sku_id, sum(quantity) q FROM orders_orderline GROUP BY sku_id) l "
            "ON l.sku_id = s.sku_id WHERE s.location_id = %s",
            [scene.store_id],
        )
        reserved, ordered, oversold = cur.fetchone()
        cur.execute(
            "SELECT count(*) FROM stores_stock s JOIN (SELECT stock_id, sum(on_hand_delta) h, "
            "sum(reserved_delta) r FROM stores_stockmovement GROUP BY stock_id) m ON m.stock_id = s.id "
            "WHERE m.h <> s.on_hand OR m.r <> s.reserved"
        )
        ledger_off = cur.fetchone()[0]
        cur.execute("SELECT reserved FROM stores_stock WHERE sku_id = %s", [scene.hot[0]])
        hot_reserved = cur.fetchone()[0]
        coupons = {}
        if scene.coupon_id:
            cur.execute(
                "SELECT redeemed_count, redeemed_amount, budget_count, budget_amount FROM marketing_coupon "
                "WHERE id = %s",
                [scene.coupon_id],
            )
            count, amount, budget_count, budget_amount = cur.fetchone()
            cur.execute("SELECT count(*) FROM marketing_couponcode WHERE status = 'redeemed'")
            codes_used = cur.fetchone()[0]
            cur.execute("SELECT count(*), coalesce(sum(discount), 0) FROM marketing_couponredemption")
            redemptions, redeemed = cur.fetchone()
            cur.execute(
                "SELECT count(*), coalesce(sum(discount_total), 0) FROM orders_order WHERE discount_total > 0"
            )
            discounted, order_discounts = cur.fetchone()
            cur.execute("SELECT coalesce(sum(amount), 0) FROM orders_linediscount")
            line_discounts = cur.fetchone()[0]
            cur.execute(
                "SELECT count(*) FROM orders_order o WHERE o.discount_total <> (SELECT coalesce(sum(d.amount), 0) "
                "FROM orders_orderline l JOIN orders_linediscount d ON d.line_id = l.id WHERE l.order_id = o.id)"
            )
            orders_off = cur.fetchone()[0]
            coupons = {
                "coupon_count": count,
                "coupon_amount": amount,
                "codes_used": codes_used,
                "redemptions": redemptions,
                "redeemed": redeemed,
                "discounted": discounted,
                "order_discounts": order_discounts,
                "line_discounts": line_discounts,
                "orders_off": orders_off,
                "over_budget": (budget_count is not None and count > budget_count)
                or (budget_amount is not None and amount > budget_amount),
            }
    return {
        **coupons,
        "orders": orders,
        "outbox": events,
        "ordered": ordered,
        "oversold": oversold,
        "leak": reserved - ordered,
        "ledger_off": ledger_off,
        "hot_sold": hot_reserved,
        "scenario": scenario,
    }


def bodies_for(
    scene: Scene,
    scenario: str,
    count: int,
    run: str,
    coupons: bool = False,
    first_buyer: int = 0,
    members_only: bool = False,
) -> list[dict]:
    """`count` order bodies; with `coupons`, order n is buyer first_buyer + n's, with their code."""
    if scenario == "hot":
        bodies = [_body(scene, [(scene.hot, 1)], f"{run}-{n}") for n in range(count)]
    else:
        spread = scene.spread
        bodies = [
            _body(
                scene,
                [(spread[(2 * n) % len(spread)], 1), (spread[(2 * n + 1) % len(spread)], 1)],
                f"{run}-{n}",
            )
            for n in range(count)
        ]
    if coupons:
        buyers = scene.buyers[first_buyer : first_buyer + count]
        if len(buyers) < count:
            raise SystemExit(f"{count} coupon orders need as many buyers; there are {len(buyers)}")
        for body, (member_id, code) in zip(bodies, buyers, strict=True):
            body["member"] = member_id
            if not members_only:
                body["coupons"] = [code]
    return bodies


def _body(scene: Scene, lines, reference: str) -> dict:
    return {
        "channel": scene.channel_code,
        "lines": [{"sku": code, "quantity": quantity, "_id": pk} for (pk, code), quantity in lines],
        "delivery_method": "ship",
        "address": "1 Chang'an Avenue",
        "city": "Beijing",
        "latitude": str(STORE_LAT + Decimal("0.01")),
        "longitude": str(STORE_LNG),
        "external_reference": reference,
    }


def _wire(body: dict) -> dict:
    """The body as the API gets it (the SKU ids are for the raw side)."""
    return {**body, "lines": [{"sku": line["sku"], "quantity": line["quantity"]} for line in body["lines"]]}


# --- CPU from /proc ---------------------------------------------------------------------------


def cpu_seconds(pids) -> dict[int, float]:
    out = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime
    return out


def cpu_spent(before: dict, after: dict) -> float:
    return sum(after[pid] - before.get(pid, 0.0) for pid in after)


def worker_pids(server_pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == server_pid:
                found.append(int(entry))
    return found + [server_pid]


def backend_pids(admin) -> list[int]:
    rows = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [DB_NAME]
    ).fetchall()
    return [row[0] for row in rows]


# --- the API side -----------------------------------------------------------------------------


def start_server(port: int, workers: int, env: dict) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "config.wsgi",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--backlog",
            "2048",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("gunicorn did not start")


def drive(clients: int, bodies: list[dict], send, run: Run) -> None:
    """`clients` threads take bodies from one queue; `send(state, body)` -> (kind, is_order)."""
    work: queue.Queue = queue.Queue()
    for body in bodies:
        work.put(body)
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)
    started = 0.0

    def client(state):
        nonlocal started
        start_gate.wait()
        while True:
            try:
                body = work.get_nowait()
            except queue.Empty:
                break
            t0 = time.perf_counter()
            kind, made = send(state, body)
            t1 = time.perf_counter()
            with lock:
                run.latencies.append(t1 - t0)
                run.answers[kind] += 1
                if made:
                    run.made += 1
                    run.sold_out_at = t1 - started
        state.close()

    states = [send.open() for _ in range(clients)]
    threads = [threading.Thread(target=client, args=(state,)) for state in states]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    start_gate.wait()
    for thread in threads:
        thread.join()
    run.seconds = time.perf_counter() - started
    run.latencies.sort()


class ApiSender:
    def __init__(self, port: int, api_key: str):
        self.port = port
        self.headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {api_key}",
            "Host": "127.0.0.1",
        }

    def open(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def __call__(self, conn, body):
        payload = json.dumps(_wire(body))
        conn.request(
            "POST", "/api/v1/orders/", payload, {**self.headers, "Idempotency-Key": uuid.uuid4().hex}
        )
        response = conn.getresponse()
        data = response.read()
        kind = str(response.status)
        if response.status >= 400:
            try:
                kind += " " + json.loads(data).get("code", "")
            except ValueError:
                kind += " (not JSON)"
        return kind, response.status == 201


# --- the raw side -----------------------------------------------------------------------------


class RawSender:
    """The order's transaction as plain SQL, one psycopg connection per client thread."""

    def __init__(self, scene: Scene):
        self.scene = scene

    def open(self):
        import psycopg

        return psycopg.connect(f"{PG}/{DB_NAME}")

    def __call__(self, conn, body):
        scene = self.scene
        lines = sorted((line["_id"], line["quantity"]) for line in body["lines"])
        total = PRICE * sum(q for _pk, q in lines)
        number = f"R{secrets.token_hex(5).upper()}"
        with conn.cursor() as cur:
            order_id = cur.execute(
                "INSERT INTO orders_order (number, origin, delivery_method, recipient_name, recipient_phone, "
                "address, city, latitude, longitude, status, subtotal, discount_total, total, "
                "external_reference, idempotency_key, request_fingerprint, pickup_code, tracking_number, "
                "created_at, updated_at, channel_id, fulfilling_location_id, attribution_reason) VALUES "
                "(%s, 'online', 'ship', '', '', %s, %s, %s, %s, 'created', %s, 0, %s, %s, %s, '', '', '', "
                "now(), now(), %s, %s, '') RETURNING id",
                [
                    number,
                    body["address"],
                    body["city"],
                    body["latitude"],
                    body["longitude"],
                    total,
                    total,
                    body["external_reference"],
                    uuid.uuid4().hex,
                    scene.channel_id,
                    scene.store_id,
                ],
            ).fetchone()[0]
            values = ", ".join(["(%s, %s, %s, 0, %s, %s, 0)"] * len(lines))
            cur.execute(
                "INSERT INTO orders_orderline (quantity, unit_price, line_total, discount, order_id, sku_id, "
                f"returned_quantity) VALUES {values}",  # noqa: S608 - placeholders only
                [v for pk, q in lines for v in (q, PRICE, PRICE * q, order_id, pk)],
            )
            cur.execute(
                "INSERT INTO integrations_outboxevent (event_id, type, payload, created_at, channel_id) "
                "VALUES (%s, 'order.created', %s, now(), %s)",
                [uuid.uuid4(), json.dumps({"order": number, "total": str(total)}), scene.channel_id],
            )
            for pk, q in lines:  # SKU order; last, so a hot row is held only until COMMIT
                row = cur.execute(
                    "UPDATE stores_stock SET reserved = reserved + %s, updated_at = now() "
                    "WHERE location_id = %s AND sku_id = %s AND on_hand >= reserved + %s RETURNING id",
                    [q, scene.store_id, pk, q],
                ).fetchone()
                if row is None:
                    conn.rollback()
                    return "409 sold_out", False
        conn.commit()
        return "201", True


# --- one run ----------------------------------------------------------------------------------


def measure(side, scenario, clients, bodies, sender, scene, admin, server_pid=None, budget=None) -> Run:
    reset(scene)
    if budget is not None:  # the coupon's budget is the limit in this run
        admin.execute(
            "UPDATE marketing_coupon SET budget_count = %s WHERE id = %s", [budget, scene.coupon_id]
        )
    run = Run(side, scenario, clients)
    run.budget = budget
    pids = worker_pids(server_pid) if server_pid else []
    py_before = cpu_seconds(pids)
    # Backends are read after the clients connect (raw) or from the workers' persistent connections.
    pg_before = {}
    if side == "raw":
        opened = sender.open

        def open_and_note():
            conn = opened()
            pg_before.update(cpu_seconds([conn.info.backend_pid]))
            return conn

        sender.open = open_and_note
    else:
        pg_before = cpu_seconds(backend_pids(admin))
    pg_pids_during: set[int] = set()
    watching = threading.Event()

    def watch():  # backends of this database, sampled: a raw client's closes with its thread
        while not watching.is_set():
            pg_pids_during.update(backend_pids(admin))
            pg_last.update(cpu_seconds(pg_pids_during))
            watching.wait(0.05)

    pg_last: dict[int, float] = {}
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        drive(clients, bodies, sender, run)
    finally:
        watching.set()
        watcher.join()
        if side == "raw":
            sender.open = opened
    pg_last.update(cpu_seconds(pg_pids_during))
    py_after = cpu_seconds(pids)
    requests = run.requests or 1
    run.py_cpu_ms = cpu_spent(py_before, py_after) * 1000 / requests
    run.pg_cpu_ms = cpu_spent(pg_before, pg_last) * 1000 / requests
    run.check = check(scene, scenario)
    return run


def percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p))] * 1000 if values else 0.0


def report(run: Run) -> None:
    c = run.check
    # The raw side writes no ledger rows: its stock rows cannot be explained by movements.
    ledger = "ledger n/a (raw SQL)" if run.side == "raw" else f"ledger rows off {c['ledger_off']}"
    print(
        f"{run.side:4} {run.scenario:6} {run.clients:>7} {run.made:>6} {run.rate:>8.0f} "
        f"{percentile(run.latencies, 0.5):>7.1f} {percentile(run.latencies, 0.95):>7.1f} "
        f"{percentile(run.latencies, 0.99):>7.1f} {run.py_cpu_ms:>6.2f} {run.pg_cpu_ms:>6.2f}  "
        f"{dict(sorted(run.answers.items()))}"
    )
    print(
        f"{'':12} units {c['ordered']} (hot SKU {c['hot_sold']} of {HOT_UNITS}); oversold {c['oversold']}, "
        f"reserved leak {c['leak']}, {ledger}, orders {c['orders']}, "
        f"outbox {c['outbox']}"
    )
    if run.side == "cpn":
        budget = f"budget {run.budget:,} redemptions" if run.budget is not None else "budget not the limit"
        print(
            f"{'':12} coupon: {budget}; counted {c['coupon_count']} ({c['coupon_amount']}), codes used "
            f"{c['codes_used']}, redemption rows {c['redemptions']} ({c['redeemed']}), orders with a "
            f"discount {c['discounted']} ({c['order_discounts']}), line discounts {c['line_discounts']}, "
            f"orders whose lines do not sum {c['orders_off']}, over budget {'yes' if c['over_budget'] else 'no'}"
        )


def failed(run: Run) -> bool:
    c = run.check
    ledger = run.side != "raw" and c["ledger_off"]  # the raw side writes no movements
    broken = c["oversold"] or c["leak"] or ledger or c["outbox"] != c["orders"] or c["orders"] != run.made
    if run.side == "cpn":  # each order used its one code once, counted once, allocated to its lines
        orders = c["orders"]
        broken = broken or not (
            c["coupon_count"] == c["codes_used"] == c["redemptions"] == c["discounted"] == orders
            and c["coupon_amount"] == c["redeemed"] == c["order_discounts"] == c["line_discounts"]
            and c["coupon_amount"] == COUPON_VALUE * orders
            and not c["orders_off"]
            and not c["over_budget"]
        )
        if run.budget is not None:  # the budget, exactly: no more, and no fewer when enough asked
            broken = broken or orders != min(run.budget, run.requests)
    if run.side == "mem":  # members without codes: nothing redeemed, nothing off
        broken = broken or c["coupon_count"] or c["codes_used"] or c["discounted"]
    return bool(broken)


# --- --explain: the statements of one order ---------------------------------------------------


def explain(scene: Scene) -> None:
    """One 2-line order's statements through the API; with buyers, one with a coupon code too."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    reset(scene)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {scene.api_key}", HTTP_HOST="127.0.0.1")
    for coupons in (False, True) if scene.buyers else (False,):
        for n in range(2):  # the second is the steady state (key's last_used_at written once a minute)
            body = _wire(bodies_for(scene, "spread", n + 1, f"explain-{coupons}-{n}", coupons=coupons)[n])
            with CaptureQueriesContext(connection) as queries:
                response = client.post(
                    "/api/v1/orders/",
                    body,
                    content_type="application/json",
                    headers={"Idempotency-Key": f"x{coupons}{n}"},
                )
        assert response.status_code == 201, response.content
        what = "with a coupon code" if coupons else "without a coupon"
        print(f"one 2-line order through the API, {what}: {len(queries)} statements")
        for q in queries.captured_queries:
            print(f"  {q['time']:>6}s  {q['sql'][:150]}")
    reset(scene)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--hot-buyers", type=int, default=HOT_BUYERS)
    parser.add_argument("--spread-orders", type=int, default=SPREAD_ORDERS)
    parser.add_argument("--skus", type=int, default=SPREAD_SKUS)
    parser.add_argument("--scenarios", nargs="+", default=["hot", "spread"], choices=["hot", "spread"])
    parser.add_argument("--explain", action="store_true", help="list one order's SQL statements first")
    parser.add_argument(
        "--no-coupons", action="store_true", help="skip the runs with one coupon code per order"
    )
    parser.add_argument(
        "--member-run", action="store_true", help="also a run by the members without their codes"
    )
    parser.add_argument(
        "--budget-limit",
        type=int,
        default=1000,
        metavar="K",
        help="one more coupon spread run with the coupon's budget at K redemptions (0: none)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        metavar="R",
        help="run the API sides R times per scenario, in turn, each round in another order; "
        "ratios are each round's, the median shown (a shared machine drifts between runs)",
    )
    args = parser.parse_args()
    coupons = not args.no_coupons
    buyers = max(args.hot_buyers, args.spread_orders) if coupons else 0
    import psycopg

    os.environ["API_KEY_RATE"] = "100000000/min"  # the throttle runs, but never says no here
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    with bench_database(DB_NAME):
        started = time.perf_counter()
        scene = make_data(args.skus, buyers)
        print(
            f"data: {args.skus:,} + 1 SKUs with price and stock"
            + (f", {buyers:,} members with a coupon code each" if buyers else "")
            + f" in {time.perf_counter() - started:.1f} s"
        )
        if args.explain:
            explain(scene)
        from django.db import connections

        connections.close_all()
        port = free_port()
        # LOG_LEVEL=ERROR: a sold-out 409 is an answer here, not something to log 2,000 times.
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.dev",
            "DEBUG": "0",
            "LOG_LEVEL": "ERROR",
            "PYTHONWARNINGS": "ignore::UserWarning",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PYTHONPATH": str(ROOT),
        }
        server = start_server(port, args.workers, env)
        runs: list[Run] = []
        try:
            admin = psycopg.connect(f"{PG}/{DB_NAME}", autocommit=True)
            api, raw = ApiSender(port, scene.api_key), RawSender(scene)
            # Warm up: every worker imports, connects and compiles its templates before timing.
            reset(scene)
            warm = Run("api", "warm", 4)
            drive(4, bodies_for(scene, "spread", 30 * args.workers, "warm"), api, warm)
            if warm.made != 30 * args.workers:
                sys.exit(f"warm-up failed: {dict(warm.answers)}")
            print(
                f"gunicorn: {args.workers} sync workers; PostgreSQL on 127.0.0.1; {os.cpu_count()} cores shared "
                "by all (the load generator too)"
            )
            print(
                f"{'side':4} {'scene':6} {'clients':>7} {'orders':>6} {'orders/s':>8} {'p50 ms':>7} {'p95 ms':>7} "
                f"{'p99 ms':>7} {'py ms':>6} {'pg ms':>6}  answers"
            )
            sides = [("raw", raw), ("api", api)] + ([("cpn", api)] if coupons else [])
            sides += [("mem", api)] if coupons and args.member_run else []
            for clients in args.clients:
                for scenario in args.scenarios:
                    count = args.hot_buyers if scenario == "hot" else args.spread_orders
                    for round_, (side, sender) in _rounds(sides, args.rounds):
                        tag = f"{side}-{scenario}-{clients}-{secrets.token_hex(3)}"
                        run = measure(
                            side,
                            scenario,
                            clients,
                            bodies_for(
                                scene,
                                scenario,
                                count,
                                tag,
                                coupons=side in ("cpn", "mem"),
                                members_only=side == "mem",
                            ),
                            sender,
                            scene,
                            admin,
                            server.pid if side != "raw" else None,
                        )
                        run.round = round_
                        report(run)
                        runs.append(run)
                        if failed(run):
                            sys.exit("stock or coupon check failed")
            if coupons and args.budget_limit:
                clients = args.clients[0]
                tag = f"budget-{clients}-{secrets.token_hex(3)}"
                run = measure(
                    "cpn",
                    "budget",
                    clients,
                    bodies_for(scene, "spread", args.spread_orders, tag, coupons=True),
                    api,
                    scene,
                    admin,
                    server.pid,
                    budget=args.budget_limit,
                )
                report(run)
                runs.append(run)
                if failed(run):
                    sys.exit("coupon budget check failed")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)
            connections.close_all()
    summarise(runs)


def _rounds(sides: list, rounds: int) -> list[tuple[int, tuple]]:
    """(round, side) in the order to run them: raw once, then the API sides `rounds` times, each
    round starting one side later, so no side always runs first (or last) on a drifting machine."""
    raw = [(0, side) for side in sides if side[0] == "raw"]
    others = [side for side in sides if side[0] != "raw"]
    order = []
    for round_ in range(rounds):
        shift = round_ % len(others) if others else 0
        order += [(round_, side) for side in others[shift:] + others[:shift]]
    return raw + order


class _Rates(dict):
    """{(side, scenario, clients): orders/s}, the median over rounds; `ratio(a, b, ...)` is the
    median of the rounds' own a/b (each pair measured minutes apart at most), with their range."""

    def __init__(self, runs: list[Run]):
        self.by_round: dict = {}
        for r in runs:
            if r.budget is None:
                self.by_round.setdefault((r.side, r.scenario, r.clients), {})[r.round] = r.rate
        super().__init__({key: statistics.median(v.values()) for key, v in self.by_round.items()})

    def ratio(self, top: str, bottom: str, scenario: str, clients: int) -> tuple[float, str] | None:
        a, b = self.by_round.get((top, scenario, clients)), self.by_round.get((bottom, scenario, clients))
        if not a or not b:
            return None
        if bottom == "raw":  # raw runs once
            return self[(top, scenario, clients)] / self[(bottom, scenario, clients)], ""
        ratios = sorted(a[k] / b[k] for k in a.keys() & b.keys() if b[k])
        if len(ratios) < 2:
            return (ratios[0], "") if ratios else None
        return statistics.median(ratios), f" [{len(ratios)} rounds {ratios[0]:.2f}-{ratios[-1]:.2f}]"


def summarise(runs: list[Run]) -> None:
    rate = _Rates(runs)
    finals = []
    print()
    for clients in sorted({r.clients for r in runs}):
        parts = []
        for scenario in ("spread", "hot"):
            api, raw = rate.get(("api", scenario, clients)), rate.get(("raw", scenario, clients))
            if api and raw:
                parts.append(f"{scenario} api/raw ratio {api / raw:.2f} ({api:.0f} vs {raw:.0f}/s)")
                finals.append(f"{scenario}@{clients} {api / raw:.2f}")
        hot, spread = rate.get(("api", "hot", clients)), rate.get(("api", "spread", clients))
        if hot and spread:
            parts.append(f"hot/spread {hot / spread:.2f}")
            finals.append(f"hot/spread@{clients} {hot / spread:.2f}")
        print(f"clients {clients}: " + "; ".join(parts))
        coupon = []
        for scenario in ("spread", "hot"):
            api, cpn = rate.get(("api", scenario, clients)), rate.get(("cpn", scenario, clients))
            ratio = rate.ratio("cpn", "api", scenario, clients)
            if ratio:
                coupon.append(f"{scenario} {ratio[0]:.2f}{ratio[1]} ({cpn:.0f} vs {api:.0f}/s)")
                finals.append(f"coupon/plain {scenario}@{clients} {ratio[0]:.2f}")
            mem = rate.get(("mem", scenario, clients))
            ratio = rate.ratio("mem", "api", scenario, clients)
            if ratio:
                coupon.append(
                    f"{scenario} by members without codes / without {ratio[0]:.2f}{ratio[1]} ({mem:.0f}/s)"
                )
                finals.append(f"member/plain {scenario}@{clients} {ratio[0]:.2f}")
            ratio = rate.ratio("cpn", "mem", scenario, clients)
            if ratio:
                coupon.append(f"{scenario} coupon / the same members without codes {ratio[0]:.2f}{ratio[1]}")
                finals.append(f"coupon/member {scenario}@{clients} {ratio[0]:.2f}")
        if coupon:
            print(f"clients {clients}: with a coupon / without: " + "; ".join(coupon))
    for run in runs:
        if run.budget is not None:
            c = run.check
            print(
                f"budget {run.budget:,} redemptions, {run.requests:,} buyers, {run.clients} clients: "
                f"{c['orders']:,} orders, coupon counted {c['coupon_count']:,}, answers "
                f"{dict(sorted(run.answers.items()))}"
            )
            finals.append(f"budget {run.budget} -> {c['coupon_count']} redeemed")
    oversold = sum(r.check.get("oversold", 0) for r in runs)
    over_budget = sum(1 for r in runs if r.check.get("over_budget"))
    goals = "spread >= 0.25, hot/spread >= 0.75"
    if any(r.side == "cpn" for r in runs):
        goals += ", coupon/plain >= 0.8, over budget 0"
    print(f"flash_sale: {', '.join(finals)}; oversold {oversold}, over budget {over_budget} (goals: {goals})")


if __name__ == "__main__":
    main()
