"""Flash sale through the real order API under gunicorn on PostgreSQL.

    .venv/bin/python bench/flash_sale.py [--clients 16 64] [--workers 3]

Two scenarios, each at every client count:
  hot    - every order is 1 unit of one flash-sale SKU: 1,000 units, 3,000 buyers (sold out at 1,000)
  spread - 2-line orders over 1,000 SKUs with plenty of stock
Prints orders/s, p50/p99 latency, answers by kind, and checks the stock afterwards: units sold
never exceed stock (oversold must be 0), reserved == units on orders (no leak), and on hand ==
the sum of movements. Makes its own database (bench/_setup.py) and drops it.
"""

import argparse
import http.client
import json
import os
import queue
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from decimal import Decimal

from _setup import ROOT, bench_database

HOT_UNITS, HOT_BUYERS = 1_000, 3_000
SPREAD_SKUS, SPREAD_ORDERS = 1_000, 3_000
STORE_LAT, STORE_LNG = Decimal("39.904200"), Decimal("116.407400")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_data():
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from catalog.models import SKU, Category, Channel, Price, Product
    from config.roles import Role, ensure_role_groups
    from stores.models import Stock, StockMovement, Store

    ensure_role_groups()
    channel = Channel.objects.create(code="mall", name="Own mall", kind="own_mall")
    category = Category.objects.create(code="phones", name="Phones")
    product = Product.objects.create(code="P-FLASH", name="Flash phone", brand="Demo", category=category)
    skus = SKU.objects.bulk_create(
        [SKU(product=product, code=f"S{n:05d}", name=f"Phone {n}") for n in range(SPREAD_SKUS + 1)]
    )
    start = timezone.now() - timezone.timedelta(days=1)
    Price.objects.bulk_create(
        [Price(sku=s, channel=None, amount=Decimal("1999.00"), valid_from=start) for s in skus]
    )
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
    hot, spread = skus[0], skus[1:]
    rows = [Stock(location=store, sku=hot, on_hand=HOT_UNITS)] + [
        Stock(location=store, sku=s, on_hand=1_000_000) for s in spread
    ]
    Stock.objects.bulk_create(rows)
    StockMovement.objects.bulk_create(
        [
            StockMovement(stock=row, kind="receipt", on_hand_delta=row.on_hand, reason="Flash sale stock")
            for row in Stock.objects.all()
        ]
    )
    user = get_user_model().objects.create_user("bench", "bench@o2o.test", "bench-pass-2026", is_staff=True)
    from django.contrib.auth.models import Group

    user.groups.add(Group.objects.get(name=Role.HQ_ADMIN))
    return user, channel, hot, spread, store


def session_cookie(user) -> str:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


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
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("gunicorn did not start")


def fire(port: int, cookie: str, bodies: list[dict], clients: int) -> tuple[float, list[float], Counter]:
    """`clients` threads, each with a keep-alive connection, POST the bodies as fast as answered."""
    work: queue.Queue = queue.Queue()
    for body in bodies:
        work.put(body)
    latencies: list[float] = []
    answers: Counter = Counter()
    lock = threading.Lock()
    csrf = secrets.token_hex(16)
    headers = {
        "Content-Type": "application/json",
        "Cookie": f"sessionid={cookie}; csrftoken={csrf}",
        "X-CSRFToken": csrf,
        "Host": "127.0.0.1",
    }

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            try:
                body = work.get_nowait()
            except queue.Empty:
                break
            payload = json.dumps(body)
            started = time.perf_counter()
            conn.request(
                "POST", "/api/v1/orders/", payload, {**headers, "Idempotency-Key": body["external_reference"]}
            )
            response = conn.getresponse()
            data = response.read()
            elapsed = time.perf_counter() - started
            kind = str(response.status)
            if response.status >= 400:
                try:
                    kind += " " + json.loads(data).get("code", "")
                except ValueError:
                    kind += " (not JSON)"
            with lock:
                latencies.append(elapsed)
                answers[kind] += 1
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, sorted(latencies), answers


def percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p))] * 1000 if values else 0.0


def check_stock(hot, store) -> dict:
    from django.db.models import Sum

    from orders.models import OrderLine
    from stores.models import Stock

    stock = Stock.objects.get(location=store, sku=hot)
    ordered = OrderLine.objects.filter(sku=hot).aggregate(n=Sum("quantity"))["n"] or 0
    moved = stock.movements.aggregate(on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta"))
    return {
        "ordered": ordered,
        "oversold": max(0, ordered - HOT_UNITS),
        "reserved_leak": stock.reserved - ordered,
        "ledger_ok": moved["on_hand"] == stock.on_hand and moved["reserved"] == stock.reserved,
    }


def reset_hot(hot, store):
    """Put the hot SKU back to 1,000 free units between runs (orders and reservations removed)."""
    from django.db import connection

    from orders.models import Order
    from stores.models import Stock, StockMovement

    with connection.cursor() as cur:
        for table in (
            "orders_revenueshare",
            "orders_orderstatuschange",
            "orders_routingdecision",
            "orders_storeassignment",
            "orders_payment",
            "orders_orderline",
        ):
            cur.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
    Order.objects.all().delete()
    stock = Stock.objects.get(location=store, sku=hot)
    StockMovement.objects.filter(stock__location=store).exclude(kind="receipt").delete()
    Stock.objects.filter(location=store).update(reserved=0)
    assert stock.on_hand == HOT_UNITS


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--hot-buyers", type=int, default=HOT_BUYERS)
    parser.add_argument("--spread-orders", type=int, default=SPREAD_ORDERS)
    args = parser.parse_args()
    with bench_database("o2o_bench_flash"):
        user, channel, hot, spread, store = make_data()
        cookie = session_cookie(user)
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
        try:
            print(
                f"gunicorn: {args.workers} sync workers; PostgreSQL on 127.0.0.1; {os.cpu_count()} cores shared by all"
            )
            print(
                f"{'scenario':8} {'clients':>7} {'orders':>7} {'orders/s':>9} {'p50 ms':>7} {'p99 ms':>7}  answers"
            )
            for clients in args.clients:
                for scenario in ("hot", "spread"):
                    reset_hot(hot, store)
                    run = f"{scenario}-{clients}-{secrets.token_hex(3)}"
                    if scenario == "hot":
                        bodies = [
                            _body(channel, [(hot.code, 1)], f"{run}-{n}") for n in range(args.hot_buyers)
                        ]
                    else:
                        bodies = [
                            _body(
                                channel,
                                [
                                    (spread[(2 * n) % len(spread)].code, 1),
                                    (spread[(2 * n + 1) % len(spread)].code, 1),
                                ],
                                f"{run}-{n}",
                            )
                            for n in range(args.spread_orders)
                        ]
                    seconds, latencies, answers = fire(port, cookie, bodies, clients)
                    made = answers.get("201", 0)
                    print(
                        f"{scenario:8} {clients:>7} {made:>7} {made / seconds:>9.0f} {percentile(latencies, 0.5):>7.1f} "
                        f"{percentile(latencies, 0.99):>7.1f}  {dict(answers)}"
                    )
                    if scenario == "hot":
                        check = check_stock(hot, store)
                        print(
                            f"{'':8} hot SKU: {check['ordered']} units ordered of {HOT_UNITS}; oversold {check['oversold']}, "
                            f"reserved leak {check['reserved_leak']}, ledger {'explains stock' if check['ledger_ok'] else 'MISMATCH'}"
                        )
                        if check["oversold"] or check["reserved_leak"] or not check["ledger_ok"]:
                            sys.exit("stock check failed")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)


def _body(channel, lines, reference):
    return {
        "channel": channel.code,
        "lines": [{"sku": code, "quantity": quantity} for code, quantity in lines],
        "delivery_method": "ship",
        "address": "1 Chang'an Avenue",
        "city": "Beijing",
        "latitude": str(STORE_LAT + Decimal("0.01")),
        "longitude": str(STORE_LNG),
        "external_reference": reference,
    }


if __name__ == "__main__":
    main()
