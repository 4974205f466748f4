"""Query counts and render time of four portal pages on the demo data, before and after it grows.

    .venv/bin/python bench/pages.py [--scale small] [--copies 100] [--order-copies 10] [--repeat 7]

Makes its own PostgreSQL database (127.0.0.1, see bench/_setup.py), runs `seed_demo --scale` (small by
default: `--scale large` seeds for half an hour and more on 2 cores, medium ten minutes) and renders,
through Django's test client, as the user who works with the page:

- clerk queue (/portal/orders/queue/<store>/): the store with the most orders waiting (offers, to ship
  or prepare, pickups), as a clerk of that store;
- member page (/portal/members/<pk>/): the member with the most orders, then points entries, as a
  clerk of their home store (HQ with ?store= when they have none);
- order 360 page (/portal/orders/<number>/): the order with a service ticket and the most rows on its
  timeline (lines, status changes, routing decisions, offers, payments, revenue shares, tickets), as HQ;
- HQ dashboard (/hq/dashboard/, last 30 days): as an HQ admin.

Then the data grows set-based (INSERT … SELECT): every order with its lines, status changes, routing
decisions, offers, payments, revenue shares and service tickets, and every points entry, `copies` more
times (same members, stores and dates, so the queue, the member's orders and the dashboard's period
grow with it), and the measured order `order-copies` more of its own rows; the same four pages are
measured again.

Each page: status (must be 200), number of queries (CaptureQueriesContext) and render time, best and
median of `repeat` runs after one warm-up. Prints a table and the final line
`pages: queries small→small×N <page> a→b …; growth <none|pages>`; exits 1 when a page's query count grows
with the data or a page is not 200. Drops the database (BENCH_KEEP=1 keeps it).
"""

import argparse
import io
import statistics
import sys
import time
from datetime import timedelta

from _setup import bench_database

PLAIN_STATIC = "django.contrib.staticfiles.storage.StaticFilesStorage"
PAGES = ["clerk queue", "member page", "order 360", "HQ dashboard"]


def busiest_store():
    """The store with the most orders in its queue, and that count."""
    from django.db.models import Count, Q

    # Our apps import once bench_database() has set Django up (bench/_setup.py).
    from orders.choices import AssignmentStatus, OrderStatus
    from orders.models import Order, StoreAssignment
    from stores.models import Store

    waiting = {
        row["store"]: row["n"]
        for row in StoreAssignment.objects.filter(status=AssignmentStatus.OFFERED)
        .values("store")
        .annotate(n=Count("id"))
    }
    for row in (
        Order.objects.filter(status__in=[OrderStatus.ACCEPTED, OrderStatus.READY_FOR_PICKUP])
        .values("fulfilling_location")
        .annotate(n=Count("id", filter=Q(fulfilling_location__isnull=False)))
    ):
        if row["fulfilling_location"]:
            waiting[row["fulfilling_location"]] = waiting.get(row["fulfilling_location"], 0) + row["n"]
    pk = max(waiting, key=lambda key: (waiting[key], -key))
    return Store.objects.get(pk=pk), waiting[pk]


def clerk_of(store):
    """A clerk (else a manager) working at `store`; a new clerk there if it has none."""
    # Our apps import once bench_database() has set Django up (bench/_setup.py).
    from stores.choices import StaffRole
    from stores.models import StaffMembership
    from tests.factories import clerk_at

    membership = (
        StaffMembership.objects.filter(store=store, role__in=[StaffRole.CLERK, StaffRole.MANAGER])
        .select_related("user")
        .order_by("role", "id")
        .first()
    )
    return membership.user if membership else clerk_at(store, email=f"bench-clerk-{store.code}@example.com")


def busiest_member():
    """The member with the most orders (then points entries)."""
    from django.db.models import Count

    # Our apps import once bench_database() has set Django up (bench/_setup.py).
    from members.models import Member
    from orders.models import Order

    top = (
        Order.objects.filter(member__isnull=False, member__merged_into__isnull=True)
        .values("member")
        .annotate(n=Count("id"))
        .order_by("-n", "member")[:20]
    )
    n_orders = {row["member"]: row["n"] for row in top}
    members = Member.objects.filter(pk__in=n_orders).annotate(n_points=Count("points_entries"))
    member = max(members.select_related("home_store"), key=lambda m: (n_orders[m.pk], m.n_points, -m.pk))
    return member


def busiest_order():
    """The order with a service ticket and the most rows on its timeline, and that count."""
    from django.db.models import Count

    # Our apps import once bench_database() has set Django up (bench/_setup.py).
    from aftersales.models import Ticket
    from orders.models import (
        Order,
        OrderLine,
        OrderStatusChange,
        Payment,
        RevenueShare,
        RoutingDecision,
        StoreAssignment,
    )

    rows: dict[int, int] = {}
    for model, key in [
        (OrderLine, "order"),
        (OrderStatusChange, "order"),
        (RoutingDecision, "order"),
        (StoreAssignment, "order"),
        (Payment, "order"),
        (RevenueShare, "line__order"),
        (Ticket, "order"),
    ]:
        for row in model.objects.values(key).annotate(n=Count("id")):
            rows[row[key]] = rows.get(row[key], 0) + row["n"]
    ticketed = set(Ticket.objects.values_list("order", flat=True))  # its service flow shows too
    pk = max(rows, key=lambda key: (key in ticketed, rows[key], -key))
    return Order.objects.get(pk=pk), rows[pk]


def queue_size(store) -> str:
    # Our apps import once bench_database() has set Django up (bench/_setup.py).
    from orders.choices import AssignmentStatus, OrderStatus
    from orders.models import Order, StoreAssignment

    offers = StoreAssignment.objects.filter(store=store, status=AssignmentStatus.OFFERED).count()
    here = Order.objects.filter(fulfilling_location=store)
    accepted = here.filter(status=OrderStatus.ACCEPTED).count()
    pickups = here.filter(status=OrderStatus.READY_FOR_PICKUP).count()
    return f"{store.code}: {offers:,} offers, {accepted:,} to ship or prepare, {pickups:,} pickups"


def member_size(member) -> str:
    return f"{member.orders.count():,} orders, {member.points_entries.count():,} points entries"


def order_size(order) -> str:
    # Our apps import once bench_database() has set Django up (bench/_setup.py).
    from aftersales.models import Ticket
    from orders.models import RevenueShare

    return (
        f"{order.lines.count()} lines, {order.status_changes.count()} status changes, "
        f"{order.assignments.count()} offers, {order.payments.count()} payments, "
        f"{RevenueShare.objects.filter(line__order=order).count()} shares, "
        f"{Ticket.objects.filter(order=order).count()} tickets"
    )


def dashboard_size() -> str:
    from django.utils import timezone

    # Our apps import once bench_database() has set Django up (bench/_setup.py).
    from orders.models import Order

    since = timezone.now() - timedelta(days=30)
    return f"{Order.objects.filter(paid_at__gte=since).count():,} orders paid in the last 30 days"


# Rows copied when the data grows: table -> {column: SQL for the copy}, `c` the copy (1..copies) and
# `{table}` the offset of that table's ids. Children point at their parent's copy by the same offset;
# unique columns get a suffix; everything else (member, stores, channel, dates, status) is kept.
COPIED = {
    "orders_order": {
        "id": "id + c * {orders_order}",
        "number": "number || '-' || c",
        "idempotency_key": "idempotency_key || '-' || c",
        "external_reference": "external_reference || '-' || c",
    },
    "orders_orderline": {"id": "id + c * {orders_orderline}", "order_id": "order_id + c * {orders_order}"},
    "orders_orderstatuschange": {"order_id": "order_id + c * {orders_order}"},
    "orders_routingdecision": {"order_id": "order_id + c * {orders_order}"},
    "orders_storeassignment": {"order_id": "order_id + c * {orders_order}"},
    "orders_payment": {
        "id": "id + c * {orders_payment}",
        "order_id": "order_id + c * {orders_order}",
        "reverses_id": "reverses_id + c * {orders_payment}",
        "external_reference": "external_reference || '-' || c",
    },
    "orders_revenueshare": {
        "id": "id + c * {orders_revenueshare}",
        "line_id": "line_id + c * {orders_orderline}",
        "reverses_id": "reverses_id + c * {orders_revenueshare}",
    },
    "aftersales_ticket": {
        "id": "id + c * {aftersales_ticket}",
        "number": "number || '-' || c",
        "order_id": "order_id + c * {orders_order}",
        "line_id": "line_id + c * {orders_orderline}",
        "refund_id": "refund_id + c * {orders_payment}",
        "replacement_order_id": "replacement_order_id + c * {orders_order}",
    },
    "aftersales_ticketstatuschange": {"ticket_id": "ticket_id + c * {aftersales_ticket}"},
    "members_pointsentry": {
        "id": "id + c * {members_pointsentry}",
        "reverses_id": "reverses_id + c * {members_pointsentry}",
        "client_reference": "client_reference || '-' || c",
    },
}
# The one order whose page is measured grows in place: more of its own rows, on the same order.
IN_PLACE = {
    "orders_orderline": {"id": "id + c * {orders_orderline}"},
    "orders_orderstatuschange": {},
    "orders_routingdecision": {"attempt": "attempt + c * 10"},
    "orders_storeassignment": {"status": "CASE WHEN status = 'offered' THEN 'expired' ELSE status END"},
    "orders_payment": {
        "id": "id + c * {orders_payment}",
        "reverses_id": "reverses_id + c * {orders_payment}",
        "external_reference": "external_reference || '-p' || c",
    },
    "orders_revenueshare": {
        "id": "id + c * {orders_revenueshare}",
        "line_id": "line_id + c * {orders_orderline}",
        "reverses_id": "reverses_id + c * {orders_revenueshare}",
    },
    "aftersales_ticket": {
        "id": "id + c * {aftersales_ticket}",
        "number": "number || '-p' || c",
        "line_id": "line_id + c * {orders_orderline}",
        "refund_id": "refund_id + c * {orders_payment}",
    },
    "aftersales_ticketstatuschange": {"ticket_id": "ticket_id + c * {aftersales_ticket}"},
}
IN_PLACE_ROWS = {  # which rows of each table belong to the order (%(order)s)
    "orders_orderline": "order_id = %(order)s",
    "orders_orderstatuschange": "order_id = %(order)s",
    "orders_routingdecision": "order_id = %(order)s",
    "orders_storeassignment": "order_id = %(order)s",
    "orders_payment": "order_id = %(order)s",
    "orders_revenueshare": "line_id IN (SELECT id FROM orders_orderline WHERE order_id = %(order)s)",
    "aftersales_ticket": "order_id = %(order)s",
    "aftersales_ticketstatuschange": "ticket_id IN (SELECT id FROM aftersales_ticket WHERE order_id = %(order)s)",
}


def copy_rows(cur, copied: dict, copies: int, where: dict | None = None, params: dict | None = None) -> None:
    """INSERT … SELECT `copies` copies of each table's rows (all, or those `where` picks), in one
    statement per table; then move each table's id sequence past the new ids."""
    offsets = {}
    for table in copied:  # ids of copy c are the original's + c × offset: no clash, parents known
        cur.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")
        offsets[table] = cur.fetchone()[0]
    for table, overrides in copied.items():
        cur.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
            [table],
        )
        columns = [row[0] for row in cur.fetchall() if row[0] != "id" or "id" in overrides]
        values = [overrides.get(column, column).format(**offsets) for column in columns]
        condition = f"WHERE {where[table]}" if where else ""
        cur.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} "
            f"FROM {table}, generate_series(1, {copies}) c {condition}",
            params,
        )
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")


def grow(copies: int, order, order_copies: int) -> float:
    """Every order (with its lines, history, offers, payments, shares, service tickets) and every
    points entry `copies` more times; the measured order `order_copies` more of its own rows. Seconds."""
    from django.db import connection, transaction

    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        copy_rows(cur, COPIED, copies)
        copy_rows(cur, IN_PLACE, order_copies, IN_PLACE_ROWS, {"order": order.pk})
        cur.execute("ANALYZE")
    return time.perf_counter() - start


def data_size() -> dict:
    # Our apps import once bench_database() has set Django up (bench/_setup.py).
    from members.models import Member, PointsEntry
    from orders.models import Order, OrderLine
    from stores.models import Store

    return {
        "stores": Store.objects.count(),
        "members": Member.objects.count(),
        "orders": Order.objects.count(),
        "order lines": OrderLine.objects.count(),
        "points entries": PointsEntry.objects.count(),
    }


def measure(pages, repeat: int) -> dict:
    """Each page: status, queries, best and median render time of `repeat` runs after a warm-up."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    figures = {}
    for name, url, user, what in pages:
        client = Client()
        client.force_login(user)
        status = client.get(url).status_code  # warm-up (and the session's first touches)
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            status = max(status, client.get(url).status_code)
            times.append((time.perf_counter() - started) * 1000)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        figures[name] = {
            "url": url,
            "what": what() if callable(what) else what,
            "status": max(status, response.status_code),
            "queries": len(queries.captured_queries),
            "best_ms": min(times),
            "median_ms": statistics.median(times),
        }
    return figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="small", choices=["small", "medium", "large"])
    parser.add_argument("--copies", type=int, default=100, help="copies of every order added (default 100)")
    parser.add_argument(
        "--order-copies",
        type=int,
        default=10,
        help="copies of the measured order's own rows added (default 10)",
    )
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with bench_database("o2o_bench_pages"):
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.test import override_settings
        from django.test.utils import setup_test_environment

        # Our apps import once bench_database() has set Django up (bench/_setup.py).
        from stores.demo import DEMO_USERS

        start = time.perf_counter()
        call_command("seed_demo", scale=args.scale, verbosity=0, stdout=io.StringIO())
        print(f"seed_demo --scale {args.scale}: {time.perf_counter() - start:.0f} s", flush=True)
        setup_test_environment()  # the test client's host name, as in a test
        # No collectstatic here: plain static URLs instead of the manifest's hashed ones.
        override_settings(STORAGES={**settings.STORAGES, "staticfiles": {"BACKEND": PLAIN_STATIC}}).enable()

        hq = get_user_model().objects.get(email=next(email for email, *_rest in DEMO_USERS if "hq@" in email))
        store, _waiting = busiest_store()
        member = busiest_member()
        order, _rows = busiest_order()
        member_store = member.home_store
        pages = [
            (
                "clerk queue",
                f"/portal/orders/queue/{store.code}/",
                clerk_of(store),
                lambda: queue_size(store),
            ),
            (
                "member page",
                f"/portal/members/{member.pk}/" + ("" if member_store else f"?store={store.code}"),
                clerk_of(member_store) if member_store else hq,
                lambda: member_size(member),
            ),
            ("order 360", f"/portal/orders/{order.number}/", hq, lambda: order_size(order)),
            ("HQ dashboard", "/hq/dashboard/", hq, lambda: dashboard_size()),
        ]
        sizes = [(args.scale, data_size(), measure(pages, args.repeat))]
        seconds = grow(args.copies, order, args.order_copies)
        print(
            f"grown: +{args.copies} copies of every order, +{args.order_copies} of the measured order's rows: "
            f"{seconds:.1f} s",
            flush=True,
        )
        sizes.append((f"{args.scale}×{args.copies + 1}", data_size(), measure(pages, args.repeat)))

    for label, size, _figures in sizes:
        print(f"{label}: " + ", ".join(f"{count:,} {kind}" for kind, count in size.items()))
    print(f"\n{'page':13} {'data':10} {'status':>6} {'queries':>7} {'best ms':>8} {'median ms':>9}  shown")
    for name in PAGES:
        for label, _size, figures in sizes:
            page = figures[name]
            print(
                f"{name:13} {label:10} {page['status']:6d} {page['queries']:7d} "
                f"{page['best_ms']:8.1f} {page['median_ms']:9.1f}  {page['what']}"
            )
    (small_label, _s, small), (large_label, _l, large) = sizes
    grew = [name for name in PAGES if large[name]["queries"] > small[name]["queries"]]
    failed = [
        f"{name} ({label}: {figures[name]['status']})"
        for label, _size, figures in sizes
        for name in PAGES
        if figures[name]["status"] != 200
    ]
    counts = " ".join(
        f"{name.replace(' ', '-')} {small[name]['queries']}→{large[name]['queries']}" for name in PAGES
    )
    line = f"pages: queries {small_label}→{large_label} {counts}; growth {', '.join(grew) or 'none'}"
    print("\n" + line + (f"; not 200: {', '.join(failed)}" if failed else ""))
    return 1 if grew or failed else 0


if __name__ == "__main__":
    sys.exit(main())
