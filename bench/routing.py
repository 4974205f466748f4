"""Order routing with 1,000 and then 10,000 stores holding stock: per-order time of
orders.routing.route_candidates (the candidate query an order's creation runs) for random
delivery addresses, at both sizes, in the same run.

    .venv/bin/python bench/routing.py [--orders 10000 --stores 10000 --skus 200]

The stores are spread at about the same density at both sizes (the first tenth of them over
the first tenth of the map, copied into a schema of their own; all of them over the whole map),
so the stores inside an address's radius stay about the same while the table grows tenfold:
the cost per order must not follow the table (goal: ratio <= 1.5). The two sizes take turns
in chunks of orders, so that a shared machine's load falls on both alike. Makes its own PostgreSQL database (127.0.0.1, see bench/_setup.py),
fills it with set-based INSERT ... SELECT generate_series, prints a table and the ratio, and
drops the database.
"""

import argparse
import random
import time

from _setup import bench_database

# Stores and addresses fall in a 4 x 4 degree square (about 440 x 390 km) of central China.
LAT0, LNG0, SIDE = 28.0, 112.0, 4.0


def add_stores(*, first: int, count: int, lng_span: float, skus: int) -> None:
    """`count` open stores (radius 10-20 km) at random points of [LNG0, LNG0 + lng_span], each
    stocking a quarter of the SKUs."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO stores_store (code, name, kind, city, province, address, latitude, longitude,
                                      city_tier, service_radius_km, status)
            SELECT 'R' || g, 'Store ' || g, 'own_store', 'City', '', '',
                   %s + random() * %s, %s + random() * %s, 2, 10 + g %% 11, 'open'
            FROM generate_series(%s, %s) g""",
            [LAT0, SIDE, LNG0, lng_span, first, first + count - 1],
        )
        cur.execute(
            """
            INSERT INTO stores_stock (location_id, sku_id, on_hand, reserved, updated_at)
            SELECT s.id, k.id, 1 + (s.id * 31 + k.id) %% 20, 0, now()
            FROM stores_store s JOIN catalog_sku k ON (s.id + k.id) %% 4 = 0
            WHERE s.code IN (SELECT 'R' || g FROM generate_series(%s, %s) g)""",
            [first, first + count - 1],
        )
        cur.execute("ANALYZE")


def make_catalog(skus: int) -> list[int]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("INSERT INTO catalog_category (code, name) VALUES ('tv','TV')")
        cur.execute("""
            INSERT INTO catalog_product (code, name, brand, description, created_at, category_id)
            SELECT 'P1', 'TV', 'Brand', '', now(), id FROM catalog_category""")
        cur.execute(
            """
            INSERT INTO catalog_sku (code, name, attributes, serial_tracked, unified, is_active, product_id)
            SELECT 'K' || g, 'SKU ' || g, '{}', false, true, true, (SELECT min(id) FROM catalog_product)
            FROM generate_series(1, %s) g""",
            [skus],
        )
        cur.execute("SELECT id FROM catalog_sku ORDER BY id")
        return [row[0] for row in cur.fetchall()]


def route_orders(
    *, orders: int, lng_span: float, sku_ids: list[int], seed: int
) -> tuple[float, float, float]:
    """Route `orders` random 1-2 line orders; (ms per order, stores in radius with stock per
    order, share of orders with a store candidate)."""
    # Our apps import once bench_database() has set Django up (bench/_setup.py).
    from orders.routing import route_candidates

    rng = random.Random(seed)
    found = served = 0
    start = time.perf_counter()
    for _ in range(orders):
        lines = {sku: rng.randint(1, 2) for sku in rng.sample(sku_ids, rng.randint(1, 2))}
        route = route_candidates(
            latitude=LAT0 + rng.random() * SIDE, longitude=LNG0 + rng.random() * lng_span, lines=lines
        )
        found += len(route.candidates)
        served += bool(route.candidates)
    elapsed = (time.perf_counter() - start) * 1000
    return elapsed / orders, found / orders, served / orders


def small_copy(count: int) -> None:
    """Schema `small`: its own stores and stock tables (same columns and indexes) holding the
    first `count` stores; `SET search_path TO small, public` then routes against them."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("CREATE SCHEMA small")
        for table in ("stores_store", "stores_stock"):
            cur.execute(f"CREATE TABLE small.{table} (LIKE public.{table} INCLUDING ALL)")
        cur.execute(
            "INSERT INTO small.stores_store SELECT * FROM public.stores_store WHERE code IN "
            "(SELECT 'R' || g FROM generate_series(1, %s) g)",
            [count],
        )
        cur.execute(
            "INSERT INTO small.stores_stock SELECT k.* FROM public.stores_stock k "
            "JOIN small.stores_store s ON s.id = k.location_id"
        )
        cur.execute("ANALYZE small.stores_store")
        cur.execute("ANALYZE small.stores_stock")


def use(schema: str) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SET search_path TO small, public" if schema == "small" else "SET search_path TO public")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--stores", type=int, default=10_000)
    parser.add_argument("--skus", type=int, default=200)
    parser.add_argument("--chunk", type=int, default=500, help="orders per turn (the sizes take turns)")
    args = parser.parse_args()
    with bench_database("o2o_bench_routing"):
        small = args.stores // 10
        start = time.perf_counter()
        sku_ids = make_catalog(args.skus)
        add_stores(first=1, count=small, lng_span=SIDE / 10, skus=args.skus)
        add_stores(first=small + 1, count=args.stores - small, lng_span=SIDE, skus=args.skus)
        small_copy(small)
        print(
            f"{args.stores:,} stores with stock (and a copy of the first {small:,}, over a tenth of the map) "
            f"made in {time.perf_counter() - start:.1f} s"
        )
        # The two sizes take turns, `chunk` orders at a time, so that the load of a shared
        # machine falls on both alike. Small: addresses over its tenth of the map; large: over
        # all of it (about the same number of stores within an address's radius).
        sizes = {"small": (small, SIDE / 10), "public": (args.stores, SIDE)}
        totals = {name: [0.0, 0.0, 0.0] for name in sizes}
        for name, (_stores, span) in sizes.items():  # warm-up: connection, cache, plans
            use(name)
            route_orders(orders=100, lng_span=span, sku_ids=sku_ids, seed=0)
        done, turn = 0, 0
        while done < args.orders:
            n = min(args.chunk, args.orders - done)
            for name, (_stores, span) in sizes.items():
                use(name)
                per_order, candidates, served = route_orders(
                    orders=n, lng_span=span, sku_ids=sku_ids, seed=turn
                )
                totals[name][0] += per_order * n
                totals[name][1] += candidates * n
                totals[name][2] += served * n
            done += n
            turn += 1
        use("public")

        print(f"{'stores':>8} {'orders':>8} {'per order':>10} {'candidates':>11} {'served':>7}")
        for name, (stores, _span) in sizes.items():
            ms, candidates, served = (value / args.orders for value in totals[name])
            print(f"{stores:>8,} {args.orders:>8,} {ms:>8.2f}ms {candidates:>11.2f} {served:>6.0%}")
        ratio = totals["public"][0] / totals["small"][0]
        print(f"routing: per-order time {args.stores:,} / {small:,} stores = {ratio:.2f} (goal <= 1.5)")


if __name__ == "__main__":
    main()
