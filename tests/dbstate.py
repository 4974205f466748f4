"""Putting back the rows migrations seed, after a test emptied the database with a flush."""

import importlib

SEEDING_MIGRATIONS = ("aftersales.migrations.0003_seed_policies", "guides.migrations.0002_defaults")


def restore_seeded_rows() -> None:
    """The warranty policies, the default attribution window and level, and the role groups."""
    from django.apps import apps

    from config.roles import ensure_role_groups

    for module in SEEDING_MIGRATIONS:
        importlib.import_module(module).seed(apps, None)
    ensure_role_groups()
