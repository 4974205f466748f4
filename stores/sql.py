"""Plain SQL of stores and stock: the conditional stock UPDATEs that cannot oversell (the ORM's
update() cannot return the row it changed), the reads that run on every availability request and
every order's routing (building them with the ORM cost more Python, and PostgreSQL more planning,
than either spends on the rows; docs/benchmarks.md), and the demo's INSERT ... SELECTs that no row
passes through Python for.

Table and column names come from the models' _meta, the connection from the database router;
every value is a parameter."""

from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from django.db import connections, router

from catalog.models import SKU, Product
from config.sql import columns_of, from_row, names
from stores.models import Stock, StockMovement, Store

# --- stock changes ----------------------------------------------------------------------------


def stock_change(
    *, location_id: int, sku_id: int, on_hand_delta: int, reserved_delta: int, at: datetime, ceiling: int
) -> int | None:
    """Move a stock row's on hand and reserved by the deltas if afterwards on hand >= 0,
    reserved >= 0, reserved <= on hand and on hand <= `ceiling`; the row's id, or None (no row, or
    the change would break a rule). One statement, so a hot row costs one round trip."""
    statement, params = stock_change_statement(
        location_id=location_id,
        sku_id=sku_id,
        on_hand_delta=on_hand_delta,
        reserved_delta=reserved_delta,
        at=at,
        ceiling=ceiling,
    )
    with connections[router.db_for_write(Stock)].cursor() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone()
    return None if row is None else row[0]


def stock_change_statement(
    *, location_id: int, sku_id: int, on_hand_delta: int, reserved_delta: int, at: datetime, ceiling: int
) -> tuple[str, list]:
    """stock_change's statement and parameters (`UPDATE ... RETURNING` the row's id)."""
    table, on_hand, reserved, updated_at, location, sku, pk = names(
        Stock, "on_hand", "reserved", "updated_at", "location", "sku", "id", write=True
    )
    return (
        f"UPDATE {table} SET {on_hand} = {on_hand} + %s, {reserved} = {reserved} + %s, "  # noqa: S608 (model names)
        f"{updated_at} = %s WHERE {location} = %s AND {sku} = %s AND {on_hand} + %s >= 0 "
        f"AND {reserved} + %s >= 0 AND {on_hand} + %s >= {reserved} + %s AND {on_hand} + %s <= %s "
        f"RETURNING {pk}",
        [
            on_hand_delta,
            reserved_delta,
            at,
            location_id,
            sku_id,
            on_hand_delta,
            reserved_delta,
            on_hand_delta,
            reserved_delta,
            on_hand_delta,
            ceiling,
        ],
    )


# The reservation of an order's lines is the hot path of order intake: its statements keep the text
# they were measured with, the text of bench/flash_sale.py's plain-SQL baseline and the one
# tests/orders/test_api_intake.py counts ("UPDATE stores_stock ... RETURNING id"): names unquoted,
# each still taken from _meta and checked to need no quoting, so a rename fails at once.


@lru_cache(maxsize=64)
def _bare(model, *fields: str) -> tuple[str, ...]:
    """The table of `model` and the columns of `fields`, unquoted: each a lower-case identifier."""
    found = (model._meta.db_table, *(model._meta.get_field(f).column for f in fields))
    for name in found:
        if not (name.isidentifier() and name.isascii() and name == name.lower()):
            raise ValueError(f"{name!r} needs quoting in plain SQL: use config.sql.names")
    return found


def stock_reserve_update(*, location_id: int, sku_id: int, quantity: int, at: datetime) -> tuple[str, list]:
    """Reserve `quantity` of the SKU at the location if that many are available: answers the stock
    row's id, or no row."""
    return _reserve_sql(), [quantity, at, location_id, sku_id, quantity]


@lru_cache(maxsize=1)
def _reserve_sql() -> str:
    table, reserved, updated_at, location, sku, on_hand, pk = _bare(
        Stock, "reserved", "updated_at", "location", "sku", "on_hand", "id"
    )
    return (
        f"UPDATE {table} SET {reserved} = {reserved} + %s, {updated_at} = %s "  # noqa: S608 (model names)
        f"WHERE {location} = %s AND {sku} = %s AND {on_hand} >= {reserved} + %s RETURNING {pk}"
    )


def stock_reserve_ledger_insert(
    *,
    location_id: int,
    lines: list[tuple[int, int]],
    kind: str,
    reason: str,
    reference: str,
    user_id: int | None,
    at: datetime,
) -> tuple[str, list]:
    """INSERT one reservation movement per line ((SKU id, quantity), in SKU order) from the stock
    rows themselves (INSERT ... SELECT), so it can go before the UPDATEs in the same round trip.
    Portable SQL (PostgreSQL and SQLite): each line's quantity picked by its SKU."""
    return (
        _reserve_ledger_sql(len(lines)),
        [kind]
        + [value for sku_id, quantity in lines for value in (sku_id, quantity)]
        + [reason, reference, user_id, at, location_id]
        + [sku_id for sku_id, _quantity in lines],
    )


@lru_cache(maxsize=64)
def _reserve_ledger_sql(count: int) -> str:
    movements, stock, kind, on_hand_delta, reserved_delta, reason, reference, created_by, created_at = _bare(
        StockMovement,
        "stock",
        "kind",
        "on_hand_delta",
        "reserved_delta",
        "reason",
        "reference",
        "created_by",
        "created_at",
    )
    table, pk, sku, location = _bare(Stock, "id", "sku", "location")
    whens = " ".join(["WHEN %s THEN %s"] * count)
    skus = ", ".join(["%s"] * count)
    return (
        f"INSERT INTO {movements} ({stock}, {kind}, {on_hand_delta}, {reserved_delta}, "  # noqa: S608 (model names)
        f"{reason}, {reference}, {created_by}, {created_at}) "
        f"SELECT {pk}, %s, 0, CASE {sku} {whens} END, %s, %s, %s, %s "
        f"FROM {table} WHERE {location} = %s AND {sku} IN ({skus}) ORDER BY {sku}"
    )


def stock_reserve_in_turn(*, location_id: int, lines: list[tuple[int, int]], at: datetime) -> list[int]:
    """stock_reserve_update for each line ((SKU id, quantity)) in turn, stopping at the first that
    is refused: the stock rows' ids of the lines reserved (fewer than the lines: the next refused)."""
    reserved = []
    with connections[router.db_for_write(Stock)].cursor() as cursor:
        for sku_id, quantity in lines:
            cursor.execute(
                *stock_reserve_update(location_id=location_id, sku_id=sku_id, quantity=quantity, at=at)
            )
            row = cursor.fetchone()
            if row is None:
                break
            reserved.append(row[0])
    return reserved


# --- reads ------------------------------------------------------------------------------------


def sku_by_code_or_barcode(query: str) -> SKU | None:
    """The SKU (with its product) whose code or barcode is exactly `query`, the first by code as the
    model orders; None if none. Both are unique indexes: it runs on every availability request."""
    statement, params = sku_by_code_or_barcode_statement(query)
    with connections[router.db_for_read(SKU)].cursor() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone()
    if row is None:
        return None
    width = len(SKU._meta.concrete_fields)
    sku = from_row(SKU, row[:width])
    sku.product = from_row(Product, row[width:])
    return sku


def sku_by_code_or_barcode_statement(query: str) -> tuple[str, list]:
    """sku_by_code_or_barcode's statement and parameters."""
    return _sku_sql(router.db_for_read(SKU)), [query, query]


@lru_cache(maxsize=8)
def _sku_sql(alias: str) -> str:
    # `alias` keys the cache: the text is built once per database.
    sku, sku_product, code, barcode = names(SKU, "product", "code", "barcode")
    product, product_pk = names(Product, "id")
    return (
        f"SELECT {columns_of(SKU, 'k')}, {columns_of(Product, 'p')} FROM {sku} k "  # noqa: S608 (model names)
        f"JOIN {product} p ON p.{product_pk} = k.{sku_product} "
        f"WHERE k.{code} = %s OR k.{barcode} = %s ORDER BY k.{code} LIMIT 1"
    )


def stock_in_box(*, sku_id: int, box: tuple[Decimal, ...], store_id: int, open_status: str) -> list[Stock]:
    """Stock rows of the SKU, each with its store (`location`), at stores inside `box` (latitude low,
    high, longitude low, high) that are the given store or `open_status`; unordered."""
    statement, params = stock_in_box_statement(
        sku_id=sku_id, box=box, store_id=store_id, open_status=open_status
    )
    with connections[router.db_for_read(Stock)].cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    width = len(Stock._meta.concrete_fields)
    found = []
    for row in rows:
        stock = from_row(Stock, row[:width])
        stock.location = from_row(Store, row[width:])
        found.append(stock)
    return found


def stock_in_box_statement(
    *, sku_id: int, box: tuple[Decimal, ...], store_id: int, open_status: str
) -> tuple[str, list]:
    """stock_in_box's statement and parameters."""
    return _stock_in_box_sql(router.db_for_read(Stock)), [sku_id, *box, store_id, open_status]


@lru_cache(maxsize=8)
def _stock_in_box_sql(alias: str) -> str:
    # `alias` keys the cache: the text is built once per database.
    stock, location, sku = names(Stock, "location", "sku")
    store, store_pk, latitude, longitude, status = names(Store, "id", "latitude", "longitude", "status")
    return (
        f"SELECT {columns_of(Stock, 'k')}, {columns_of(Store, 's')} FROM {stock} k "  # noqa: S608 (model names)
        f"JOIN {store} s ON s.{store_pk} = k.{location} "
        f"WHERE k.{sku} = %s AND s.{latitude} BETWEEN %s AND %s AND s.{longitude} BETWEEN %s AND %s "
        f"AND (k.{location} = %s OR s.{status} = %s)"
    )


# --- stores that can fulfil an order (orders.routing) -----------------------------------------
# Built once per shape (lines, preferred and excluded stores counted) and parameterised: an
# order's routing used to spend most of its Python time building the same ORM expression
# (bounding box, haversine distance, one EXISTS per line, preference CASE). Same semantics as
# stores.selectors.bounding_box / distance_km_expression on both databases. `distance` is the
# haversine's parameters for the point: (2R, latitude in radians, its cosine, longitude in radians).


def stores_in_reach(
    *,
    distance: list[float],
    lines: dict[int, int],
    preferred: list[int],
    box: tuple[Decimal, ...],
    open_status: str,
    warehouse_kind: str,
    exclude: tuple[int, ...],
    limit: int,
) -> list[Store]:
    """Stores (not warehouses) with `open_status` inside `box` and not excluded, whose own service
    radius covers the point; each with `distance_km`, `has_all_lines` (every line available: SKU id
    -> quantity) and `preferred` (0: one of `preferred`, else 1). Stores with every line first,
    then preferred, then nearest, then by code; at most `limit`. Read where stock is written: routing
    runs inside the order's transaction and must see the stock it is about to reserve."""
    connection = connections[router.db_for_write(Stock)]
    sql = _in_reach_sql(connection.alias, connection.vendor, len(lines), len(preferred), len(exclude), limit)
    params = [*distance, *_line_params(lines), *preferred, *box, open_status, warehouse_kind, *exclude]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    width = len(Store._meta.concrete_fields)
    found = []
    for row in rows:
        store = from_row(Store, row[:width])
        store.distance_km, store.has_all_lines, store.preferred = (
            row[width],
            bool(row[width + 1]),
            row[width + 2],
        )
        found.append(store)
    return found


def warehouses_with_lines(
    *,
    distance: list[float],
    lines: dict[int, int],
    warehouse_kind: str,
    open_status: str,
    exclude: tuple[int, ...],
    limit: int,
) -> list[Store]:
    """Warehouses with `open_status`, not excluded, with every line available (SKU id -> quantity),
    nearest first, then by code; at most `limit`, each with `distance_km`. Read where stock is written
    (stores_in_reach says why)."""
    connection = connections[router.db_for_write(Stock)]
    sql = _warehouses_sql(connection.alias, connection.vendor, len(lines), len(exclude), limit)
    params = [*distance, warehouse_kind, open_status, *exclude, *_line_params(lines)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    width = len(Store._meta.concrete_fields)
    found = []
    for row in rows:
        store = from_row(Store, row[:width])
        store.distance_km = row[width]
        found.append(store)
    return found


def _line_params(lines: dict[int, int]) -> list:
    return [value for sku_id, quantity in lines.items() for value in (sku_id, quantity)]


def _distance_sql(vendor: str) -> str:
    """Haversine km from the point (params: 2R, lat1, cos(lat1), lng1) to "s"'s coordinates."""
    _table, latitude, longitude = names(Store, "latitude", "longitude")
    real = "double precision" if vendor == "postgresql" else "real"
    lat2 = f"RADIANS(CAST(s.{latitude} AS {real}))"
    lng2 = f"RADIANS(CAST(s.{longitude} AS {real}))"
    return (
        f"(%s * ASIN(SQRT(POWER(SIN(({lat2} - %s) / 2), 2) "
        f"+ %s * COS({lat2}) * POWER(SIN(({lng2} - %s) / 2), 2))))"
    )


def _all_lines_sql(count: int) -> str:
    """True where store "s" has every line available (params: sku, quantity per line): one EXISTS
    per line, each a lookup on the (location, sku) unique index."""
    stock, location, sku, on_hand, reserved = names(Stock, "location", "sku", "on_hand", "reserved")
    _table, store_pk = names(Store, "id")
    return " AND ".join(
        f"EXISTS(SELECT 1 FROM {stock} k WHERE k.{location} = s.{store_pk} AND k.{sku} = %s "  # noqa: S608 (model names)
        f"AND k.{on_hand} >= k.{reserved} + %s)"
        for _ in range(count)
    )


def _in_sql(count: int) -> str:
    return ", ".join(["%s"] * count)


@lru_cache(maxsize=256)
def _in_reach_sql(alias: str, vendor: str, lines: int, preferred: int, excluded: int, limit: int) -> str:
    # `alias` keys the cache with the shape: the text is built once per database and shape.
    store, pk, latitude, longitude, status, kind, radius, code = names(
        Store, "id", "latitude", "longitude", "status", "kind", "service_radius_km", "code"
    )
    exclude = f" AND s.{pk} NOT IN ({_in_sql(excluded)})" if excluded else ""
    return (
        f"SELECT * FROM (SELECT {columns_of(Store, 's')}, {_distance_sql(vendor)} AS distance_km, "  # noqa: S608 (model names)
        f"({_all_lines_sql(lines)}) AS has_all_lines, "
        f"CASE WHEN s.{pk} IN ({_in_sql(max(preferred, 1))}) THEN 0 ELSE 1 END AS preferred "
        f"FROM {store} s WHERE s.{latitude} BETWEEN %s AND %s AND s.{longitude} BETWEEN %s AND %s "
        f"AND s.{status} = %s AND s.{kind} <> %s{exclude}) c "
        f"WHERE c.distance_km <= c.{radius} "
        f"ORDER BY c.has_all_lines DESC, c.preferred, c.distance_km, c.{code} LIMIT {int(limit)}"
    )


@lru_cache(maxsize=256)
def _warehouses_sql(alias: str, vendor: str, lines: int, excluded: int, limit: int) -> str:
    # `alias` keys the cache with the shape: the text is built once per database and shape.
    store, pk, kind, status, code = names(Store, "id", "kind", "status", "code")
    exclude = f" AND s.{pk} NOT IN ({_in_sql(excluded)})" if excluded else ""
    return (
        f"SELECT {columns_of(Store, 's')}, {_distance_sql(vendor)} AS distance_km FROM {store} s "  # noqa: S608 (model names)
        f"WHERE s.{kind} = %s AND s.{status} = %s{exclude} AND {_all_lines_sql(lines)} "
        f"ORDER BY distance_km, s.{code} LIMIT {int(limit)}"
    )


# --- demo data (stores.demo) ------------------------------------------------------------------


def warehouse_stock_fill(*, warehouse_id: int, first_sku_id: int, salt: int, at: datetime) -> int:
    """A stock row at the warehouse for every SKU, in one INSERT ... SELECT; returns how many.
    Quantities are a hash of the SKU's place in the catalog and `salt`, so they vary and are
    reproducible: 20-200 of a serial-tracked (big) item, 20-800 of anything else."""
    connection = connections[router.db_for_write(Stock)]
    stock, location, sku, on_hand, reserved, updated_at = names(
        Stock, "location", "sku", "on_hand", "reserved", "updated_at", write=True
    )
    skus, sku_id, serial_tracked = names(SKU, "id", "serial_tracked")
    statement = (
        f"INSERT INTO {stock} ({location}, {sku}, {on_hand}, {reserved}, {updated_at}) "  # noqa: S608 (model names)
        f"SELECT %s, {sku_id}, 20 + (({sku_id} - %s) * 7919 + %s) %% "
        f"(CASE WHEN {serial_tracked} THEN 181 ELSE 781 END), 0, %s FROM {skus}"
    )
    params = [warehouse_id, first_sku_id, salt, connection.ops.adapt_datetimefield_value(at)]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def opening_receipts_write(
    *, first_store_id: int, last_store_id: int, kind: str, reason: str, reference: str, at: datetime
) -> int:
    """An opening movement (`kind`) of its whole on hand for every stock row with units at the stores
    whose ids are in [first, last] and without a ledger yet, in one INSERT ... SELECT; returns how
    many. One set-wide statement, not one per batch: the planner's row estimates for a table growing
    inside the transaction are stale, and a per-batch lookup could scan the whole table each time."""
    connection = connections[router.db_for_write(StockMovement)]
    ledger, m_stock, m_kind, on_hand_delta, reserved_delta, m_reason, m_reference, created_at = names(
        StockMovement,
        "stock",
        "kind",
        "on_hand_delta",
        "reserved_delta",
        "reason",
        "reference",
        "created_at",
        write=True,
    )
    stock, stock_pk, on_hand, location = names(Stock, "id", "on_hand", "location")
    statement = (
        f"INSERT INTO {ledger} ({m_stock}, {m_kind}, {on_hand_delta}, {reserved_delta}, {m_reason}, "  # noqa: S608 (model names)
        f"{m_reference}, {created_at}) "
        f"SELECT s.{stock_pk}, %s, s.{on_hand}, 0, %s, %s, %s FROM {stock} s "
        f"WHERE s.{on_hand} > 0 AND s.{location} BETWEEN %s AND %s "
        f"AND NOT EXISTS (SELECT 1 FROM {ledger} m WHERE m.{m_stock} = s.{stock_pk})"
    )
    params = [
        kind,
        reason,
        reference,
        connection.ops.adapt_datetimefield_value(at),
        first_store_id,
        last_store_id,
    ]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount
