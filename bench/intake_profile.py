"""Python cost of one order through the order API, in-process on PostgreSQL (issue #9, bench 1).

    .venv/bin/python bench/intake_profile.py [--orders 300] [--skus 2000] [--profile 25] [--coupons | --members]

Same data as bench/flash_sale.py (one channel, one store, SKUs with price and stock, an API key with
orders:write), smaller by default. Times N 2-line orders through Django's test Client with
`Authorization: Bearer <key>` and a fresh `Idempotency-Key` each, after a warm-up, and prints this
process's CPU per order (Python), the CPU of the database's backend process serving it (from /proc,
in 10 ms ticks), wall time per order, statements per order, and how many of the rows the orders
updated (codes, coupons, stock) PostgreSQL rewrote in place (heap-only updates: no index entry). `--profile K` also runs the orders under cProfile and lists
the K costliest functions by cumulative time. `--coupons`: every order is a member's and carries
their one code of flash_sale.py's flash-sale coupon; `--members`: every order is a member's, without a
code (what the member alone costs). `--reads N` instead times, N calls each, the reads a coupon order
adds through the ORM against one plain statement for the same rows (the member with the key's
visibility test; the code with its coupon and the coupon's scope), and `attribution_for`. `BENCH_INTAKE_DB` names the database (dropped after).
"""

import argparse
import cProfile
import os
import pstats
import time

from _setup import bench_database
from flash_sale import _wire, bodies_for, cpu_seconds, make_data, reset

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


def reads(scene, calls: int) -> None:
    """CPU per call of the ORM reads a member's coupon order makes, and of one plain statement each."""
    from django.db import connection
    from django.utils import timezone

    # Our apps import once bench_database() has set Django up (bench/_setup.py).
    from catalog.models import Channel
    from config.sql import columns_of, from_row
    from guides.services import attribution_for
    from integrations.authentication import KeyUser
    from integrations.models import ApiKey
    from marketing.models import Coupon, CouponCode
    from marketing.pricing import _codes_for
    from members.api.serializers import MemberIdField
    from members.models import Member
    from members.policies import members_visible_to

    channel = Channel.objects.get(pk=scene.channel_id)
    user = KeyUser(ApiKey.objects.get())
    field = MemberIdField()
    now = timezone.now()
    members = {m.pk: m for m in Member.objects.all()}
    member_sql = (
        f"SELECT {columns_of(Member, 'm')} FROM members_member m WHERE m.id = %s AND m.merged_into_id IS NULL "  # noqa: S608
        "AND (m.consent_channel_id = %s OR EXISTS (SELECT 1 FROM orders_order o WHERE o.member_id = m.id "
        "AND o.channel_id = %s) OR EXISTS (SELECT 1 FROM members_pointsentry p WHERE p.member_id = m.id "
        "AND p.channel_id = %s))"
    )
    code_sql = (
        f"SELECT {columns_of(CouponCode, 'cc')}, {columns_of(Coupon, 'c')}, "  # noqa: S608
        "ARRAY(SELECT sku_id FROM marketing_coupon_skus WHERE coupon_id = c.id), "
        "ARRAY(SELECT category_id FROM marketing_coupon_categories WHERE coupon_id = c.id), "
        "ARRAY(SELECT channel_id FROM marketing_coupon_channels WHERE coupon_id = c.id) "
        "FROM marketing_couponcode cc JOIN marketing_coupon c ON c.id = cc.coupon_id WHERE cc.code = ANY(%s)"
    )
    code_fields = len(CouponCode._meta.concrete_fields)
    coupon_fields = len(Coupon._meta.concrete_fields)

    def member_orm(n):
        member = field.to_internal_value(scene.buyers[n][0])
        assert members_visible_to(user).filter(pk=member.pk).exists()

    def member_plain(n):
        with connection.cursor() as cur:
            cur.execute(member_sql, [scene.buyers[n][0], channel.pk, channel.pk, channel.pk])
            assert from_row(Member, cur.fetchone()).pk == scene.buyers[n][0]

    def code_orm(n):
        member_id, code = scene.buyers[n]
        assert _codes_for([code], members[member_id], channel, now)

    def code_plain(n):
        with connection.cursor() as cur:
            cur.execute(code_sql, [[scene.buyers[n][1]]])
            row = cur.fetchone()
        code = from_row(CouponCode, row[:code_fields])
        code.coupon = from_row(Coupon, row[code_fields : code_fields + coupon_fields])
        assert code.code == scene.buyers[n][1] and row[-1] is not None

    def attribution(n):
        attribution_for(member=members[scene.buyers[n][0]], channel=channel, at=now)

    for name, fn in (
        ("member + the key's visibility, ORM (MemberIdField, members_visible_to)", member_orm),
        ("member + the key's visibility, one plain statement", member_plain),
        ("code + coupon + scope, ORM (marketing.pricing._codes_for: 4 queries)", code_orm),
        ("code + coupon + scope, one plain statement", code_plain),
        ("guides.services.attribution_for (ORM)", attribution),
    ):
        for n in range(min(30, calls)):
            fn(n)
        cpu = time.process_time()
        for n in range(calls):
            fn(n)
        print(f"reads: {name}: {(time.process_time() - cpu) * 1000 / calls:.2f} ms CPU per call")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--skus", type=int, default=2000)
    parser.add_argument("--profile", type=int, default=0, metavar="K", help="list the K costliest functions")
    parser.add_argument("--sql", action="store_true", help="print the statements of one order")
    parser.add_argument("--coupons", action="store_true", help="one coupon code per order, each a member's")
    parser.add_argument("--members", action="store_true", help="every order a member's, without a code")
    parser.add_argument(
        "--reads", type=int, default=0, metavar="N", help="time a coupon order's reads, N calls"
    )
    args = parser.parse_args()
    coupons = args.coupons or args.members
    used = 0  # buyers whose code an order has taken

    def bodies(count: int, tag: str) -> list[dict]:
        nonlocal used
        made = bodies_for(scene, "spread", count, tag, coupons=coupons, first_buyer=used)
        used += count if coupons else 0
        if args.members:
            for body in made:
                del body["coupons"]
        return made

    os.environ["API_KEY_RATE"] = "100000000/min"
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    with bench_database(DB_NAME):
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        if args.reads:
            reads(make_data(args.skus, args.reads), args.reads)
            return
        scene = make_data(args.skus, 31 + args.orders * (2 if args.profile else 1) if coupons else 0)
        reset(scene)
        client = Client(HTTP_AUTHORIZATION=f"Bearer {scene.api_key}", HTTP_HOST="127.0.0.1")
        post_orders(client, bodies(30, "warm"), "warm")
        with CaptureQueriesContext(connection) as queries:
            post_orders(client, bodies(1, "count"), "count")
        statements = len(queries)  # now: the next request's request_started empties the log
        if args.sql:
            for query in queries.captured_queries:
                print(f"  {query['time']}s  {query['sql'][:300]}")
        # In chunks of 50: on a shared machine the best chunk is the cost, the mean includes the load.
        timed = bodies(args.orders, "timed")
        with connection.cursor() as cursor:  # the database's own process for this connection
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        chunks = []
        for start in range(0, len(timed), 50):
            chunk = timed[start : start + 50]
            cpu, wall, pg = time.process_time(), time.perf_counter(), cpu_seconds([backend])[backend]
            post_orders(client, chunk, f"timed-{start}")
            chunks.append(
                (
                    (time.process_time() - cpu) * 1000 / len(chunk),
                    (time.perf_counter() - wall) * 1000 / len(chunk),
                    (cpu_seconds([backend])[backend] - pg) * 1000 / len(chunk),
                )
            )
        cpu, wall, pg = (sum(chunk[k] * 50 for chunk in chunks) / len(timed) for k in range(3))
        kind = " by members" if args.members else " with a coupon each" if coupons else ""
        print(
            f"intake_profile: {args.orders} 2-line orders{kind} in-process on PostgreSQL: python "
            f"{min(c[0] for c in chunks):.2f} ms/order best chunk of 50 ({cpu:.2f} mean), PostgreSQL "
            f"{min(c[2] for c in chunks):.2f} ms/order best ({pg:.2f} mean), wall "
            f"{min(c[1] for c in chunks):.2f} ms/order best ({wall:.2f} mean), {statements} statements/order"
        )
        with connection.cursor() as cursor:  # of the rows these orders updated, how many in place
            cursor.execute("SELECT pg_stat_force_next_flush()")
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
                "WHERE relname IN ('marketing_couponcode', 'marketing_coupon', 'stores_stock') ORDER BY relname"
            )
            print(
                "rows updated in place (heap-only) / updated: "
                + ", ".join(f"{name} {hot:,} / {updated:,}" for name, updated, hot in cursor.fetchall())
            )
        if args.profile:
            profiler = cProfile.Profile(time.process_time)  # CPU only, not waits on the database
            profiler.enable()
            post_orders(client, bodies(args.orders, "profiled"), "profiled")
            profiler.disable()
            stats = pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_INTAKE_SORT", "cumulative"))
            stats.print_stats(args.profile)
            if os.environ.get("BENCH_INTAKE_CALLERS"):
                stats.print_callers(os.environ["BENCH_INTAKE_CALLERS"])
        connection.close()


if __name__ == "__main__":
    main()
