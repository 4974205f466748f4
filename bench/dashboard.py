"""HQ dashboard render time on the medium demo data, plus optional synthetic paid orders.

    .venv/bin/python bench/dashboard.py [--scale medium] [--extra-orders 200000] [--repeat 5]

Makes its own PostgreSQL database (127.0.0.1, see bench/_setup.py), runs `seed_demo --scale medium`,
optionally adds paid orders (one line each) spread over the last year on every channel and store
with INSERT ... SELECT generate_series, then renders /hq/dashboard/ (default: last 30 days, and a
whole year) and a drill-down list through Django's test client as an HQ user, and prints the best
time of `repeat` runs and the number of queries. Drops the database (BENCH_KEEP=1 keeps it).
"""

import argparse
import time

from _setup import bench_database, timed

PLAIN_STATIC = "django.contrib.staticfiles.storage.StaticFilesStorage"


def add_orders(count: int) -> float:
    from django.db import connection

    start = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            """
            WITH ch AS (SELECT array_agg(id ORDER BY id) a FROM catalog_channel),
                 st AS (SELECT array_agg(id ORDER BY id) a FROM stores_store)
            INSERT INTO orders_order (number, channel_id, origin, origin_store_id, fulfilling_location_id,
                delivery_method, recipient_name, recipient_phone, address, city, status, subtotal,
                discount_total, total, request_fingerprint, pickup_code, tracking_number, attribution_reason,
                created_at, updated_at, paid_at)
            SELECT 'B' || lpad(g::text, 10, '0'), ch.a[1 + g %% array_length(ch.a, 1)],
                CASE WHEN g %% 3 = 0 THEN 'in_store' ELSE 'online' END,
                CASE WHEN g %% 3 = 0 THEN st.a[1 + g %% array_length(st.a, 1)] END,
                st.a[1 + (g * 7) %% array_length(st.a, 1)],
                CASE WHEN g %% 3 = 0 THEN 'carry_out' ELSE 'ship' END, '', '', '', '', 'completed',
                100 + g %% 900, 0, 100 + g %% 900, '', '', '', '',
                now() - (g %% 365) * interval '1 day', now(), now() - (g %% 365) * interval '1 day'
            FROM generate_series(1, %s) g, ch, st
            """,
            [count],
        )
        cur.execute(
            """
            WITH sk AS (SELECT array_agg(id ORDER BY id) a FROM (SELECT id FROM catalog_sku LIMIT 2000) s)
            INSERT INTO orders_orderline (order_id, sku_id, quantity, unit_price, discount, line_total,
                                          returned_quantity)
            SELECT o.id, sk.a[1 + o.id % array_length(sk.a, 1)], 1, o.total, 0, o.total, 0
            FROM orders_order o, sk WHERE o.number LIKE 'B%%'
            """
        )
        cur.execute("ANALYZE")
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--extra-orders", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
    args = parser.parse_args()
    with bench_database("o2o_bench_dashboard"):
        from django.conf import settings
        from django.core.management import call_command
        from django.test import Client, override_settings
        from django.test.utils import setup_test_environment

        from tests.factories import hq_user

        start = time.perf_counter()
        call_command("seed_demo", scale=args.scale, verbosity=0)
        print(f"seed_demo {args.scale}: {time.perf_counter() - start:.0f} s")
        setup_test_environment()  # the test client's host name, as in a test
        # No collectstatic here: plain static URLs instead of the manifest's hashed ones.
        override_settings(STORAGES={**settings.STORAGES, "staticfiles": {"BACKEND": PLAIN_STATIC}}).enable()
        client = Client()
        client.force_login(hq_user(email="bench-hq@example.com"))
        measure(client, args.repeat)
        if args.extra_orders:
            print(f"+{args.extra_orders} synthetic paid orders: {add_orders(args.extra_orders):.1f} s")
            measure(client, args.repeat)


def measure(client, repeat: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # Our apps import once bench_database() has set Django up (bench/_setup.py).
    from config.dates import shanghai_today
    from orders.models import Order

    print(f"orders: {Order.objects.count()}, paid: {Order.objects.filter(paid_at__isnull=False).count()}")
    today = shanghai_today()
    year = {"start": today.replace(year=today.year - 1).isoformat(), "end": today.isoformat()}
    pages = [
        ("dashboard, last 30 days", "/hq/dashboard/", {}),
        ("dashboard, one year", "/hq/dashboard/", year),
        ("drill-down: tier 1, one year", "/hq/dashboard/orders/", {**year, "tier": "1"}),
        ("drill-down: region east, one year", "/hq/dashboard/orders/", {**year, "region": "east"}),
    ]
    print(f"{'page':40} {'best ms':>9} {'queries':>8}")
    for name, url, params in pages:

        def get(url=url, params=params):
            response = client.get(url, params)
            assert response.status_code == 200, response.status_code
            return response

        best, _response = timed(get, repeat=repeat)
        with CaptureQueriesContext(connection) as queries:
            get()
        print(f"{name:40} {best:9.1f} {len(queries.captured_queries):8d}", flush=True)


if __name__ == "__main__":
    main()
