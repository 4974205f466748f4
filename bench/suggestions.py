"""What to show this member, on demo-sized data: the daily refresh (co-purchases and best sellers,
INSERT ... SELECT) and suggestions_for per call, against a plain indexed SELECT of the member's
orders as the baseline; also the member timeline per call.

    .venv/bin/python bench/suggestions.py [--lines 1000000 --members 100000 --skus 20000 --stores 20]

Makes its own PostgreSQL database (127.0.0.1, see bench/_setup.py), fills it with set-based
INSERT ... SELECT generate_series, prints figures and ratios, and drops the database.
Members buy from a "taste" cluster of 40 SKUs (so co-purchases have structure), on the mall,
Tmall and in stores; each store stocks three SKUs in four.
"""

import argparse
import random
import statistics
import time

from _setup import bench_database, channels_and_tiers

CLUSTER = 40


def fill(*, lines: int, members: int, skus: int, stores: int) -> float:
    from django.db import connection

    orders = lines // 2
    clusters = max(1, skus // CLUSTER)
    start = time.perf_counter()
    with connection.cursor() as cur:
        channels_and_tiers(cur)
        cur.execute(
            "INSERT INTO catalog_category (code, name) SELECT 'cat' || g, 'Category ' || g "
            "FROM generate_series(1, 200) g"
        )
        cur.execute(
            """
            INSERT INTO catalog_product (code, name, brand, description, created_at, category_id)
            SELECT 'P' || g, 'Product ' || g, 'LeTV', '', now(), (SELECT min(id) FROM catalog_category) + g %% 200
            FROM generate_series(1, %s) g""",
            [skus],
        )
        cur.execute("""
            INSERT INTO catalog_sku (code, name, attributes, serial_tracked, unified, is_active, product_id)
            SELECT 'S' || p.code, p.name || ' variant', '{}', false, false, true, p.id FROM catalog_product p""")
        cur.execute(
            """
            INSERT INTO stores_store (code, name, kind, city, province, address, latitude, longitude,
                                      city_tier, service_radius_km, status)
            SELECT 'ST' || g, 'Store ' || g, 'own_flagship', 'City ' || g, '', '', 30, 110, 1 + g %% 6, 10, 'open'
            FROM generate_series(1, %s) g""",
            [stores],
        )
        cur.execute("""
            INSERT INTO stores_stock (location_id, sku_id, on_hand, reserved, updated_at)
            SELECT s.id, k.id, 5, 0, now() FROM stores_store s CROSS JOIN catalog_sku k
            WHERE (s.id + k.id) % 4 <> 0""")
        cur.execute(
            """
            INSERT INTO members_member (phone, name, gender, city, tier_id, marketing_consent, points_balance,
                                        total_spend, created_at, updated_at)
            SELECT (13000000000 + g)::text, 'Member ' || g, '', 'Beijing',
                   (SELECT min(id) FROM members_tier) + (CASE WHEN g %% 50 = 0 THEN 2 WHEN g %% 7 = 0 THEN 1 ELSE 0 END),
                   true, 0, 0, now(), now()
            FROM generate_series(1, %s) g""",
            [members],
        )
        # Two lines per order; the member's orders rotate over the three channels.
        cur.execute(
            """
            INSERT INTO orders_order (number, origin, delivery_method, recipient_name, recipient_phone, address,
                                      city, status, subtotal, discount_total, total, request_fingerprint,
                                      pickup_code, tracking_number, created_at, updated_at, paid_at,
                                      channel_id, member_id, attribution_reason)
            SELECT 'B' || g, CASE WHEN g %% 3 = 2 THEN 'in_store' ELSE 'online' END, 'ship', '', '', '', '',
                   'completed', 200, 0, 200, '', '', '', t, t, t,
                   (SELECT min(id) FROM catalog_channel) + g %% 3,
                   (SELECT min(id) FROM members_member) + g %% %s, ''
            FROM (SELECT g, now() - ((g %% 700) || ' days')::interval AS t
                  FROM generate_series(1::bigint, %s) g) s""",
            [members, orders],
        )
        cur.execute(
            """
            INSERT INTO orders_orderline (quantity, unit_price, discount, line_total, returned_quantity,
                                          order_id, sku_id)
            SELECT 1, 100, 0, 100, 0, o.id,
                   (SELECT min(id) FROM catalog_sku)
                   + ((o.member_id %% %s) * %s + ((o.id / %s) * 7 + k * 13 + o.member_id * 3) %% %s) %% %s
            FROM orders_order o CROSS JOIN generate_series(0, 1) k""",
            [clusters, CLUSTER, members, CLUSTER, skus],
        )
        cur.execute("VACUUM ANALYZE")
    return time.perf_counter() - start


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


def per_call(fn, args_list) -> list[float]:
    fn(args_list[0])  # warm-up
    samples = []
    for args in args_list:
        start = time.perf_counter()
        fn(args)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def db_time(fn, args_list) -> list[float]:
    """Per call: the server-side execution time of every query it ran (EXPLAIN ANALYZE), which a
    busy machine's scheduling and the driver's round trips do not inflate."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    totals = []
    for args in args_list:
        with CaptureQueriesContext(connection) as captured:
            fn(args)
        total = 0.0
        with connection.cursor() as cur:
            for query in captured.captured_queries:
                cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query["sql"])
                plan = cur.fetchone()[0]
                plan = plan[0] if isinstance(plan, list) else plan
                total += plan["Execution Time"] + plan.get("Planning Time", 0)
        totals.append(total)
    return totals


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--skus", type=int, default=20_000)
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    with bench_database("o2o_bench_suggestions"):
        # Here, not at the top: bench_database points Django at its database and sets it up.
        from django.db import connection, reset_queries

        from insights.member_timeline import member_timeline
        from insights.suggestions import suggestions_for, suggestions_refresh
        from members.models import Member
        from orders.models import Order
        from stores.models import Store
        from tests.factories import hq_user

        seconds = fill(lines=args.lines, members=args.members, skus=args.skus, stores=args.stores)
        print(
            f"made {args.lines:,} order lines ({args.lines // 2:,} orders), {args.members:,} members, "
            f"{args.skus:,} SKUs, {args.stores} stores with set-based inserts in {seconds:.1f} s"
        )
        refreshed = suggestions_refresh()
        with connection.cursor() as cur:
            cur.execute("ANALYZE members_skuaffinity, members_categorybestseller, members_tierbestseller")
        print(
            f"suggestions_refresh: {refreshed.seconds:.1f} s -> {refreshed.affinities:,} SKU pairs, "
            f"{refreshed.category_best_sellers:,} category and {refreshed.tier_best_sellers:,} tier best sellers"
        )

        rng = random.Random(2026)
        first = Member.objects.order_by("pk").values_list("pk", flat=True)[0]
        members = list(
            Member.objects.select_related("tier", "home_store", "consent_channel").filter(
                pk__in=[first + rng.randrange(args.members) for _ in range(args.calls)]
            )
        )
        stores = list(Store.objects.all())
        calls = [(member, rng.choice(stores)) for member in members]

        def baseline(call):
            member, _store = call
            return list(Order.objects.filter(member=member).order_by("-created_at", "-id")[:20])

        def suggest(call):
            member, store = call
            return suggestions_for(member, store)

        user = hq_user(username="bench-hq", email="bench-hq@example.com")

        def timeline(call):
            member, _store = call
            return member_timeline(member, user=user)

        base_p50, base_p95 = percentiles(per_call(baseline, calls))
        sug_p50, sug_p95 = percentiles(per_call(suggest, calls))
        tl_p50, tl_p95 = percentiles(per_call(timeline, calls))
        shown = [len(suggest(call)) for call in calls[:50]]
        reset_queries()
        print(f"{'per call (' + str(len(calls)) + ' members)':38} {'p50':>8} {'p95':>8}")
        print(f"{'baseline: member orders SELECT':38} {base_p50:>6.2f}ms {base_p95:>6.2f}ms")
        print(f"{'suggestions_for (4 queries)':38} {sug_p50:>6.2f}ms {sug_p95:>6.2f}ms")
        print(f"{'member_timeline (7 queries)':38} {tl_p50:>6.2f}ms {tl_p95:>6.2f}ms")
        base_db, sug_db = db_time(baseline, calls[:30]), db_time(suggest, calls[:30])
        print(
            f"{'in-database execution (EXPLAIN ANALYZE)':38} baseline {statistics.median(base_db):.2f}ms, "
            f"suggestions_for {statistics.median(sug_db):.2f}ms (p50 over {len(sug_db)} members, all its queries)"
        )
        print(
            f"suggestions/baseline ratio: p50 {sug_p50 / base_p50:.1f}x, p95 {sug_p95 / base_p95:.1f}x; "
            f"timeline/baseline p50 {tl_p50 / base_p50:.1f}x; "
            f"suggestions shown per member (first 50): avg {statistics.mean(shown):.1f}, min {min(shown)}"
        )


if __name__ == "__main__":
    main()
