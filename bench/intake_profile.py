"""Python cost of one order through the order API, in-process on PostgreSQL (issue #9, bench 1).

    .venv/bin/python bench/intake_profile.py [--orders 300] [--skus 2000] [--profile 25]

Same data as bench/flash_sale.py (one channel, one store, SKUs with price and stock, an API key with
orders:write), smaller by default. Times N 2-line orders through Django's test Client with
`Authorization: Bearer <key>` and a fresh `Idempotency-Key` each, after a warm-up, and prints this
process's CPU per order (Python: the database's work is in its own backend process), wall time
per order, and statements per order. `--profile K` also runs the orders under cProfile and lists
the K costliest functions by cumulative time. `BENCH_INTAKE_DB` names the database (dropped after).
"""

import argparse
import cProfile
import os
import pstats
import time

from _setup import bench_database
from flash_sale import _wire, bodies_for, make_data, reset

DB_NAME = os.environ.get("BENCH_INTAKE_DB", "o2o_bench_intake")


def post_orders(client, bodies: list[dict], tag: str) -> None:
    for n, body in enumerate(bodies):
        response = client.post(
            "/api/v1/orders/",
            _wire(body),
            content_type="application/json",
            headers={"Idempotency-Key": f"{tag}-{n}"},
        )
        if response.status_code != 201:
            raise SystemExit(f"order {n}: {response.status_code} {response.content[:300]!r}")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--skus", type=int, default=2000)
    parser.add_argument("--profile", type=int, default=0, metavar="K", help="list the K costliest functions")
    parser.add_argument("--sql", action="store_true", help="print the statements of one order")
    args = parser.parse_args()
    os.environ["API_KEY_RATE"] = "100000000/min"
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    with bench_database(DB_NAME):
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        scene = make_data(args.skus)
        reset(scene)
        client = Client(HTTP_AUTHORIZATION=f"Bearer {scene.api_key}", HTTP_HOST="127.0.0.1")
        post_orders(client, bodies_for(scene, "spread", 30, "warm"), "warm")
        with CaptureQueriesContext(connection) as queries:
            post_orders(client, bodies_for(scene, "spread", 1, "count"), "count")
        statements = len(queries)  # now: the next request's request_started empties the log
        if args.sql:
            for query in queries.captured_queries:
                print(f"  {query['time']}s  {query['sql'][:300]}")
        # In chunks of 50: on a shared machine the best chunk is the cost, the mean includes the load.
        bodies = bodies_for(scene, "spread", args.orders, "timed")
        chunks = []
        for start in range(0, len(bodies), 50):
            chunk = bodies[start : start + 50]
            cpu, wall = time.process_time(), time.perf_counter()
            post_orders(client, chunk, f"timed-{start}")
            chunks.append(
                (
                    (time.process_time() - cpu) * 1000 / len(chunk),
                    (time.perf_counter() - wall) * 1000 / len(chunk),
                )
            )
        cpu = sum(c * 50 for c, _w in chunks) / len(bodies)
        wall = sum(w * 50 for _c, w in chunks) / len(bodies)
        print(
            f"intake_profile: {args.orders} 2-line orders in-process on PostgreSQL: python "
            f"{min(c for c, _w in chunks):.2f} ms/order best chunk of 50 ({cpu:.2f} mean), wall "
            f"{min(w for _c, w in chunks):.2f} ms/order best ({wall:.2f} mean), {statements} statements/order"
        )
        if args.profile:
            profiler = cProfile.Profile(time.process_time)  # CPU only, not waits on the database
            profiler.enable()
            post_orders(client, bodies_for(scene, "spread", args.orders, "profiled"), "profiled")
            profiler.disable()
            stats = pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_INTAKE_SORT", "cumulative"))
            stats.print_stats(args.profile)
            if os.environ.get("BENCH_INTAKE_CALLERS"):
                stats.print_callers(os.environ["BENCH_INTAKE_CALLERS"])
        connection.close()


if __name__ == "__main__":
    main()
