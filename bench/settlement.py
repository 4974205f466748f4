"""Month-end settlement over 1,000,000 attributed orders: release of the held commission plus
the guides' and partners' statements (guides.settlement.month_end), against a plain
SELECT that sums the same held amounts per guide, in the same run.

    .venv/bin/python bench/settlement.py [--orders 1000000 --guides 10000 --partners 500] [--floor]

Makes its own PostgreSQL database (127.0.0.1, see bench/_setup.py), fills it with set-based
INSERT ... SELECT generate_series (paid, delivered orders, one line each, an accrual per line
whose return window has closed, a few held clawbacks), prints a table and the ratio, and drops
the database. Peak RSS is this Python process's: it stays flat because no row comes to Python.
"""

import argparse
import resource
import time

from _setup import bench_database, timed


def fill(*, orders: int, guides: int, partners: int) -> float:
    from django.db import connection

    stores = max(partners * 2, 1)
    start = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO catalog_channel (code, name, kind, is_active) VALUES ('mall','Own mall','own_mall',true)"
        )
        cur.execute("INSERT INTO catalog_category (code, name) VALUES ('tv','TV')")
        cur.execute("""
            INSERT INTO catalog_product (code, name, brand, description, created_at, category_id)
            SELECT 'P1', 'TV', 'Brand', '', now(), id FROM catalog_category""")
        cur.execute("""
            INSERT INTO catalog_sku (code, name, attributes, serial_tracked, unified, is_active, product_id)
            SELECT 'TV-55', 'TV 55', '{}', false, true, true, id FROM catalog_product""")
        cur.execute("""
            INSERT INTO guides_commissionrule (rate_percent, fixed_per_unit, valid_from, created_at)
            VALUES (5, 0, now() - interval '400 days', now())""")
        cur.execute(
            """
            INSERT INTO stores_partner (code, name, contact_name, phone, is_active, created_at)
            SELECT 'partner-' || g, 'Partner ' || g, '', '', true, now() FROM generate_series(1, %s) g""",
            [partners],
        )
        # Two stores per partner; guides sit in a store (partner through the store) or, one in
        # five, directly with a partner and no store.
        cur.execute(
            """
            INSERT INTO stores_store (code, name, kind, city, province, address, latitude, longitude,
                                      city_tier, service_radius_km, status, partner_id)
            SELECT 'S' || g, 'Store ' || g, 'partner_store', 'City', '', '', 30, 110, 2, 10, 'open',
                   (SELECT min(id) FROM stores_partner) + g %% %s
            FROM generate_series(1, %s) g""",
            [partners, stores],
        )
        cur.execute(
            """
            INSERT INTO guides_guide (code, name, phone, status, suspended_reason, created_at, store_id, partner_id)
            SELECT 'G' || g, 'Guide ' || g, '', 'active', '', now(),
                   CASE WHEN g %% 5 = 0 THEN NULL ELSE (SELECT min(id) FROM stores_store) + g %% %s END,
                   CASE WHEN g %% 5 = 0 THEN (SELECT min(id) FROM stores_partner) + (g / 5) %% %s END
            FROM generate_series(1, %s) g""",
            [stores, partners, guides],
        )
        # Paid 25-60 days ago, delivered 3 days later, return window (15 days) closed.
        cur.execute(
            """
            INSERT INTO orders_order (number, origin, delivery_method, recipient_name, recipient_phone, address,
                                      city, status, subtotal, discount_total, total, request_fingerprint,
                                      pickup_code, tracking_number, created_at, updated_at, paid_at, delivered_at,
                                      channel_id, guide_id, attribution_reason)
            SELECT 'B' || g, 'online', 'ship', '', '', '', '', 'completed', p, 0, p, '', '', '',
                   t, t, t, t + interval '3 days',
                   (SELECT min(id) FROM catalog_channel), (SELECT min(id) FROM guides_guide) + g %% %s, 'bench'
            FROM (SELECT g, 100 + (g * 7919) %% 5000 + 0.99 AS p,
                         now() - interval '25 days' - ((g %% 35) || ' days')::interval AS t
                  FROM generate_series(1::bigint, %s) g) s""",
            [guides, orders],
        )
        cur.execute("""
            INSERT INTO orders_orderline (quantity, unit_price, discount, line_total, returned_quantity,
                                          order_id, sku_id, returnable_until)
            SELECT 1, o.total, 0, o.total, 0, o.id, (SELECT min(id) FROM catalog_sku),
                   date_trunc('day', o.delivered_at) + interval '16 days'
            FROM orders_order o""")
        cur.execute("""
            INSERT INTO guides_commissionentry (kind, guide_id, partner_id, store_id, order_id, line_id, rule_id,
                                                base_amount, held_change, payable_change, note, created_at)
            SELECT 'accrual', o.guide_id, COALESCE(gd.partner_id, s.partner_id), gd.store_id, o.id, l.id,
                   (SELECT min(id) FROM guides_commissionrule),
                   l.line_total, round(l.line_total * 0.05, 2), 0, '', o.paid_at
            FROM orders_orderline l
            JOIN orders_order o ON o.id = l.order_id
            JOIN guides_guide gd ON gd.id = o.guide_id
            LEFT JOIN stores_store s ON s.id = gd.store_id""")
        # Refunds inside the window: 1% half refunded, 0.1% fully (nothing left to release).
        cur.execute(
            """
            INSERT INTO guides_commissionentry (kind, guide_id, partner_id, store_id, order_id, line_id, rule_id,
                                                accrual_id, base_amount, held_change, payable_change, note,
                                                created_at)
            SELECT 'clawback', a.guide_id, a.partner_id, a.store_id, a.order_id, a.line_id, a.rule_id, a.id,
                   CASE WHEN a.id %% 1000 = 7 THEN a.base_amount ELSE round(a.base_amount / 2, 2) END,
                   CASE WHEN a.id %% 1000 = 7 THEN -a.held_change ELSE -round(a.held_change / 2, 2) END,
                   0, 'refund', a.created_at + interval '5 days'
            FROM guides_commissionentry a
            WHERE a.kind = 'accrual' AND (a.id %% 100 = 0 OR a.id %% 1000 = 7)""",
            [],
        )
        cur.execute("VACUUM ANALYZE")
    return time.perf_counter() - start


BASELINE = """
    SELECT a.guide_id, sum(a.held_change)
    FROM guides_commissionentry a
    JOIN orders_orderline l ON l.id = a.line_id
    WHERE a.kind = 'accrual' AND l.returnable_until <= %s
    GROUP BY a.guide_id
"""

# For comparison (--floor): what a release of one row per accrual (the earlier design) costs at
# the least: the rows written with the table's indexes and foreign keys checked (immediately, so
# that the time is in the statement), rolled back. Kind "adjustment" so that it meets no
# release constraint.
FLOOR = """
    INSERT INTO guides_commissionentry (kind, guide_id, partner_id, order_id, accrual_id, base_amount,
                                        held_change, payable_change, note, created_at)
    SELECT 'adjustment', a.guide_id, a.partner_id, a.order_id, a.id, a.base_amount, -a.held_change,
           a.held_change, '', now()
    FROM guides_commissionentry a WHERE a.kind = 'accrual'
"""


def floor_ms() -> tuple[float, int]:
    from django.db import connection, transaction

    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            start = time.perf_counter()
            cur.execute(FLOOR)
            elapsed = (time.perf_counter() - start) * 1000
            rows = cur.rowcount
        transaction.set_rollback(True)
    return elapsed, rows


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--guides", type=int, default=10_000)
    parser.add_argument("--partners", type=int, default=500)
    parser.add_argument("--floor", action="store_true", help="also time one row per accrual (slow)")
    parser.add_argument("--statements", action="store_true", help="list month_end's statements and times")
    args = parser.parse_args()
    with bench_database("o2o_bench_settlement"):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext
        from django.utils import timezone

        # Our apps import once bench_database() has set Django up (bench/_setup.py).
        from guides.models import CommissionEntry, Statement
        from guides.settlement import month_end, previous_period

        seconds = fill(orders=args.orders, guides=args.guides, partners=args.partners)
        print(
            f"made {args.orders:,} paid, delivered orders with accruals ({args.guides:,} guides, "
            f"{args.partners:,} partners) with set-based inserts in {seconds:.1f} s"
        )
        now = timezone.now()
        period = previous_period(now)

        def baseline():
            with connection.cursor() as cur:
                cur.execute(BASELINE, [now])
                return len(cur.fetchall())

        base_ms, base_guides = timed(baseline)
        rss_before = peak_rss_mb()

        # About twenty statements: capturing them costs nothing and shows where the time goes.
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            result = month_end(period=period, now=now)
            run_ms = (time.perf_counter() - start) * 1000
        insert_ms = sum(
            float(q["time"]) * 1000
            for q in queries.captured_queries
            if q["sql"].lstrip().startswith('INSERT INTO "guides_commissionentry"')
        )
        reads_ms = sum(
            float(q["time"]) * 1000
            for q in queries.captured_queries
            if q["sql"].lstrip().startswith("CREATE TEMPORARY TABLE")
        )
        commit_ms = sum(float(q["time"]) * 1000 for q in queries.captured_queries if q["sql"] == "COMMIT")
        if args.statements:
            for q in queries.captured_queries:
                print(f"  {float(q['time']) * 1000:8.1f}ms  {' '.join(q['sql'].split())[:150]}")
        start = time.perf_counter()
        again = month_end(period=period, now=now)
        rerun_ms = (time.perf_counter() - start) * 1000
        least_ms, least_rows = floor_ms() if args.floor else (0.0, 0)
        rss_after = peak_rss_mb()

        drafts = result.drafts
        statements = Statement.objects.filter(period=period).count()
        release_rows = CommissionEntry.objects.filter(kind="release").count()
        print(f"{'step':52} {'time':>10} {'rows':>12}")
        print(f"{'baseline SELECT sum(held) per guide (best of 5)':52} {base_ms:>8.0f}ms {base_guides:>12,}")
        print(f"{'month_end: accruals released':52} {run_ms:>8.0f}ms {result.released:>12,}")
        print(f"{'  of which the release INSERT (rows written)':52} {insert_ms:>8.0f}ms {release_rows:>12,}")
        print(f"{'  of which the two reads (due sums, unclaimed entries)':52} {reads_ms:>8.0f}ms")
        print(f"{'  of which COMMIT (deferred foreign-key checks)':52} {commit_ms:>8.0f}ms")
        print(
            f"{'  guide / partner statements started':52} {'':>10} "
            f"{drafts.guide_statements:>6,}/{drafts.partner_statements:<5,}"
        )
        print(f"{'  entries put on statements':52} {'':>10} {drafts.entries_claimed:>12,}")
        inserted_again = again.released + again.drafts.guide_statements + again.drafts.partner_statements
        print(f"{'month_end again (nothing new): rows inserted':52} {rerun_ms:>8.0f}ms {inserted_again:>12,}")
        if args.floor:
            print(f"{'one row per accrual INSERTed, keys checked':52} {least_ms:>8.0f}ms {least_rows:>12,}")
        print(f"statements in the period: {statements:,}; release rows in the ledger: {release_rows:,}")
        print(f"peak RSS of this process: {rss_before:.0f} MB before month_end, {rss_after:.0f} MB after")
        print(f"re-run / baseline = {rerun_ms / base_ms:.2f}")
        print(f"settlement: month_end / baseline = {run_ms / base_ms:.2f} (goal <= 3.5)")


if __name__ == "__main__":
    main()
