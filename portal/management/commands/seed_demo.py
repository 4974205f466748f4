"""`manage.py seed_demo --scale small|medium|large`: a realistic demo data set, loaded once."""

import importlib
import random
import time
from collections.abc import Callable

from django.core.management.base import BaseCommand
from django.db import transaction

from insights.suggestions import suggestions_refresh
from stores.demo import DEMO_PASSWORD, DEMO_USERS, seed_users

SCALES = ("small", "medium", "large")
# Each app's demo module (<app>/demo.py), in dependency order; later apps add theirs here.
# A module has loaded_scale() -> str | None (its marker) and seed(*, scale, rng, log) -> counts.
DEMO_APPS = ("catalog", "stores", "members", "guides", "marketing", "orders", "aftersales")


def seed_app(app: str, *, scale: str, seed: int, log: Callable[[str], None] = print) -> dict[str, int]:
    """Load one app's demo data; returns the rows created per kind.

    One transaction per app: an interrupted run leaves no half-loaded app behind, and the next
    run picks up from the first app that is not loaded yet. Each app draws from its own random
    stream, so adding an app changes no other app's data.
    """
    module = importlib.import_module(f"{app}.demo")
    with transaction.atomic():
        return module.seed(scale=scale, rng=random.Random(f"{seed}-{app}"), log=log)


class Command(BaseCommand):
    help = (
        "Load a realistic demo data set: channels, a category tree, products, SKUs and prices; "
        "partners, stores in real Chinese cities, warehouses and opening stock; and the demo logins. "
        "Scales: small (~50 stores, 500 SKUs), medium (~400 stores, 20,000 SKUs), large (~10,000 "
        "stores, 160,000 SKUs); members ~2,000 / 50,000 / 500,000; "
        "guides, commission rules and bindings made by scans; "
        "promotions, coupons, a campaign sent to consenting members, stored value and the points rate; "
        "orders made through the order "
        "services: 60 small, 2,000 medium, large capped at 5,000 (~0.1 s an order); service tickets "
        "of every kind on delivered orders. "
        "Idempotent: each app's part is loaded once, and a second run, at any "
        "scale, keeps what is there and says which scale is loaded; to switch scale, start from an "
        "empty database. The same --seed gives the same data."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale", choices=SCALES, default="small", help="How much data (default: small)."
        )
        parser.add_argument("--seed", type=int, default=2026, help="Random seed (default: 2026).")

    def handle(self, *args, scale: str, seed: int, **options):
        started = time.monotonic()
        verbose = options["verbosity"] >= 1
        loaded_before = []
        for app in DEMO_APPS:
            module = importlib.import_module(f"{app}.demo")
            loaded = module.loaded_scale()
            if loaded is not None:
                loaded_before.append(loaded)
                self.stdout.write(f"{app}: demo data already loaded (scale {loaded})")
                continue
            step_started = time.monotonic()
            counts = seed_app(
                app, scale=scale, seed=seed, log=self.stdout.write if verbose else lambda message: None
            )
            summary = ", ".join(f"{count:,} {label}" for label, count in counts.items())
            self.stdout.write(
                self.style.SUCCESS(f"{app}: {summary} ({time.monotonic() - step_started:.1f} s)")
            )

        # The member page's suggestions come from tables refreshed daily; fill them from the orders
        # this run loaded (a run that loaded nothing changes nothing).
        if len(loaded_before) < len(DEMO_APPS):
            done = suggestions_refresh()
            self.stdout.write(
                self.style.SUCCESS(
                    f"suggestions: {done.affinities:,} SKU pairs, {done.category_best_sellers:,} category "
                    f"and {done.tier_best_sellers:,} tier best sellers ({done.seconds:.1f} s)"
                )
            )
        with transaction.atomic():
            users = seed_users()
        if any(users.values()):
            self.stdout.write(
                self.style.SUCCESS(
                    ", ".join(f"{count} {label}" for label, count in users.items()) + " created"
                )
            )
        if len(loaded_before) == len(DEMO_APPS):
            self.stdout.write(f"demo data already loaded (scale {loaded_before[0]})")
            if loaded_before[0] != scale:
                self.stdout.write(f"To load the {scale} scale instead, start from an empty database.")
        self.stdout.write(f"Demo logins (password {DEMO_PASSWORD}): " + ", ".join(u[0] for u in DEMO_USERS))
        self.stdout.write(f"Done in {time.monotonic() - started:.1f} s.")
