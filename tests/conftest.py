import pytest
from django.db import connection


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` need row locks and real concurrency: skip them on SQLite."""
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(
        reason="needs PostgreSQL (set DATABASE_URL=postgres://...); SQLite serialises writers"
    )
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def hq(db):
    from tests.factories import hq_user

    return hq_user()


@pytest.fixture
def hq_client(client, hq):
    client.force_login(hq)
    return client


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (rate limits, cached routing radius)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Transactional tests end with a flush that also empties the rows migrations seeded (the
    warranty policies, the default attribution window, the role groups); put them back once every
    fixture is torn down, so later tests see the database a fresh install has."""
    yield
    if nextitem is None:  # the session is over (and the test database already dropped)
        return
    marker = item.get_closest_marker("django_db")
    if not (marker and marker.kwargs.get("transaction")) and "transactional_db" not in getattr(
        item, "fixturenames", ()
    ):
        return
    from pytest_django.plugin import blocking_manager_key

    from tests.dbstate import restore_seeded_rows

    with item.config.stash[blocking_manager_key].unblock():
        restore_seeded_rows()
