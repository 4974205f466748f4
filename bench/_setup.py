"""Shared by the bench scripts: a throwaway PostgreSQL database of its own, migrated, then dropped."""

import contextlib
import os
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


@contextlib.contextmanager
def bench_database(name: str):
    """Create database `name`, point Django at it, migrate; drop it afterwards."""
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = f"{PG}/{name}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    os.environ.setdefault("DEBUG", "0")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    try:
        yield
    finally:
        from django.db import connections

        connections.close_all()
        if not os.environ.get("BENCH_KEEP"):
            with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def timed(fn, repeat: int = 5) -> tuple[float, object]:
    """Best of `repeat` runs in milliseconds (after one warm-up), and the last result."""
    result = fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, (time.perf_counter() - start) * 1000)
    return best, result


def channels_and_tiers(cur) -> None:
    """The mall, Tmall and own-store channels and the three member tiers, as plain INSERTs."""
    cur.execute(
        "INSERT INTO catalog_channel (code, name, kind, is_active) VALUES "
        "('mall','Own mall','own_mall',true), ('tmall','Tmall','marketplace',true), "
        "('stores','Own stores','own_store',true)"
    )
    cur.execute(
        "INSERT INTO members_tier (code, name, min_spend_12m) VALUES "
        "('silver','Silver',0), ('gold','Gold',5000), ('black','Black',20000)"
    )
