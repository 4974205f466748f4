"""Plain SQL of the catalog's reads on order intake: the live prices of an order's SKUs, and the rows
an order names by id or code. Both run on every order and every price request, and building them
with the ORM cost more Python than the database spends answering (docs/benchmarks.md). Statements
are built once per database and shape; table and column names come from the models' _meta, the
connection from the database router."""

from datetime import datetime
from functools import lru_cache

from django.db import connections, router
from django.db.models import Model

from catalog.models import Price
from config.sql import columns_of, from_row, names


def live_prices(sku_ids: list[int], channel_id: int, at: datetime) -> dict[int, Price]:
    """{SKU id: its price on the channel at `at`} (missing: no live price): the channel's own price
    over the all-channels one, then the latest started (catalog.selectors.price_lookup's rule)."""
    if not sku_ids:
        return {}
    statement, params = live_prices_statement(sku_ids, channel_id, at)
    with connections[router.db_for_read(Price)].cursor() as cursor:
        cursor.execute(statement, params)
        return live_prices_from_rows(cursor.fetchall())


def live_prices_statement(sku_ids: list[int], channel_id: int, at: datetime) -> tuple[str, list]:
    """live_prices' statement and parameters (for a caller that batches its reads): price rows of
    the SKUs whose half-open window [valid_from, valid_to) contains `at`, on the channel or all
    channels, ordered so that the first row seen per SKU is the answer."""
    connection = connections[router.db_for_read(Price)]
    when = connection.ops.adapt_datetimefield_value(at)
    return _live_prices_sql(connection.alias, len(sku_ids)), [*sku_ids, channel_id, when, when]


@lru_cache(maxsize=256)
def _live_prices_sql(alias: str, count: int) -> str:
    # `alias` keys the cache: the text is built once per database and number of SKUs.
    table, sku, channel, valid_from, valid_to = names(Price, "sku", "channel", "valid_from", "valid_to")
    return (
        f"SELECT {columns_of(Price, 'p')} FROM {table} p WHERE p.{sku} IN ({', '.join(['%s'] * count)}) "  # noqa: S608 (model names)
        f"AND (p.{channel} = %s OR p.{channel} IS NULL) AND p.{valid_from} <= %s "
        f"AND (p.{valid_to} IS NULL OR p.{valid_to} > %s) "
        f"ORDER BY p.{sku}, p.{channel} ASC NULLS LAST, p.{valid_from} DESC"
    )


def live_prices_from_rows(rows) -> dict[int, Price]:
    """live_prices' answer from its statement's rows: the first row per SKU."""
    answer: dict[int, Price] = {}
    for row in rows:
        price = from_row(Price, row)
        answer.setdefault(price.sku_id, price)
    return answer


def rows_by_id_or_code(model: type[Model], codes: list[str], ids: list[int]) -> list[Model]:
    """Rows of `model` (any model with a `code` field) whose code is one of `codes` or whose
    primary key is one of `ids`, in no particular order."""
    statement, params = by_id_or_code_statement(model, codes, ids)
    with connections[router.db_for_read(model)].cursor() as cursor:
        cursor.execute(statement, params)
        return [from_row(model, row) for row in cursor.fetchall()]


def by_id_or_code_statement(model: type[Model], codes: list[str], ids: list[int]) -> tuple[str, list]:
    """rows_by_id_or_code's statement and parameters (for a caller that batches its reads; its rows
    are `from_row(model, row)` each)."""
    return _by_id_or_code_sql(model, router.db_for_read(model), len(codes), len(ids)), [*codes, *ids]


@lru_cache(maxsize=1024)
def _by_id_or_code_sql(model: type[Model], alias: str, codes: int, ids: int) -> str:
    # `alias` keys the cache: the text is built once per model, database and number of values.
    table, code, pk = names(model, "code", model._meta.pk.name)
    where = f"t.{code} IN ({', '.join(['%s'] * codes)})"
    if ids:
        where += f" OR t.{pk} IN ({', '.join(['%s'] * ids)})"
    return f"SELECT {columns_of(model, 't')} FROM {table} t WHERE {where}"  # noqa: S608 (model names)
