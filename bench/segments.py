"""Dynamic segments over 1,000,000 members: count + first page through the app's selector,
against hand-written SQL for the same count, in the same run.

    .venv/bin/python bench/segments.py [--members 1000000]

Makes its own PostgreSQL database (127.0.0.1, see bench/_setup.py), fills it with set-based
INSERT ... SELECT generate_series, prints a table and the ratio, and drops the database.
"""

import argparse
import time

from _setup import bench_database, channels_and_tiers, timed


def fill(members: int) -> float:
    from django.db import connection

    start = time.perf_counter()
    with connection.cursor() as cur:
        channels_and_tiers(cur)
        cur.execute("""
            INSERT INTO stores_store (code, name, kind, city, province, address, latitude, longitude,
                                      city_tier, service_radius_km, status)
            SELECT 'B' || g, 'Store ' || g, 'own_flagship', 'City ' || (g % 40), '', '', 30, 110,
                   1 + g % 6, 10, 'open'
            FROM generate_series(1, 400) g""")
        cur.execute(
            """
            INSERT INTO members_member (phone, name, gender, city, home_store_id, tier_id, marketing_consent,
                                        points_balance, total_spend, last_purchase_at, created_at, updated_at)
            SELECT (13000000000 + g)::text, 'Member ' || g, '',
                   (ARRAY['Beijing','Shanghai','Chengdu','Wuhan','Hangzhou','Xi''an','Changsha','Hefei'])[1 + g %% 8],
                   (SELECT min(id) FROM stores_store) + g %% 400,
                   (SELECT min(id) FROM members_tier) + (CASE WHEN g %% 50 = 0 THEN 2 WHEN g %% 7 = 0 THEN 1 ELSE 0 END),
                   g %% 3 <> 0,
                   (g * 7919) %% 5000,
                   ((g * 104729) %% 3000000) / 100.0,
                   now() - ((g %% 720) || ' days')::interval,
                   now(), now()
            FROM generate_series(1::bigint, %s) g""",
            [members],
        )
        # One earn entry per member on a channel: "channel used" is an EXISTS over the ledger.
        cur.execute("""
            INSERT INTO members_pointsentry (member_id, kind, points, channel_id, paid_amount, reference,
                                             reason, created_at)
            SELECT m.id, 'earn', 1 + m.points_balance, c.id, m.total_spend + 1, 'seed', '', m.last_purchase_at
            FROM members_member m
            JOIN catalog_channel c ON c.code = (ARRAY['mall','tmall','stores'])[1 + m.id % 3]""")
        cur.execute("ANALYZE")
    return time.perf_counter() - start


SEGMENTS = {
    "Chengdu big spenders, consenting": (
        {"city": ["Chengdu"], "spend_min": "10000", "consent": True},
        "SELECT count(*) FROM members_member WHERE merged_into_id IS NULL AND city = 'Chengdu' "
        "AND total_spend >= 10000 AND marketing_consent",
    ),
    "gold+black lapsed 6 months": (
        {"tier": ["gold", "black"], "last_purchase_before": "LAPSED"},
        "SELECT count(*) FROM members_member m JOIN members_tier t ON t.id = m.tier_id "
        "WHERE m.merged_into_id IS NULL AND t.code IN ('gold','black') AND m.last_purchase_at < %s",
    ),
    "bought on Tmall, 1000+ points": (
        {"channel_used": ["tmall"], "points_min": 1000},
        "SELECT count(*) FROM members_member m WHERE m.merged_into_id IS NULL AND m.points_balance >= 1000 "
        "AND EXISTS (SELECT 1 FROM members_pointsentry e JOIN catalog_channel c ON c.id = e.channel_id "
        "WHERE e.member_id = m.id AND e.kind = 'earn' AND c.code = 'tmall')",
    ),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_000_000)
    args = parser.parse_args()
    with bench_database("o2o_bench_segments"):
        from datetime import timedelta

        from django.db import connection
        from django.utils import timezone

        # Our apps import once bench_database() has set Django up (bench/_setup.py).
        from members.selectors import segment_members

        seconds = fill(args.members)
        print(f"made {args.members:,} members (+ ledger rows) with set-based inserts in {seconds:.1f} s")
        lapsed = timezone.now() - timedelta(days=180)
        print(f"{'segment':38} {'members':>9} {'app count':>10} {'1st page':>9} {'raw SQL':>9} {'ratio':>6}")
        ratios = []
        for name, (filters, sql) in SEGMENTS.items():
            filters = {k: (lapsed.isoformat() if v == "LAPSED" else v) for k, v in filters.items()}
            params = [lapsed] if "%s" in sql else []
            app_ms, count = timed(lambda f=filters: segment_members(f).count())
            page_ms, _ = timed(lambda f=filters: list(segment_members(f).order_by("pk")[:50]))

            def raw(sql=sql, params=params):
                with connection.cursor() as cur:
                    cur.execute(sql, params)
                    return cur.fetchone()[0]

            raw_ms, raw_count = timed(raw)
            assert raw_count == count, (name, raw_count, count)
            ratios.append(app_ms / raw_ms)
            print(
                f"{name:38} {count:>9,} {app_ms:>8.1f}ms {page_ms:>7.1f}ms {raw_ms:>7.1f}ms {app_ms / raw_ms:>6.2f}"
            )
        print(f"segments: worst app/raw count ratio {max(ratios):.2f} (goal <= 2.0)")


if __name__ == "__main__":
    main()
