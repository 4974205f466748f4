"""Where an order is fulfilled from ("线上订单,线下发货").

A store is a candidate when the delivery address lies within its own service radius and it has
every line available. Preferred first: the origin store (and, with the guides issue, the bound
guide's store), then the nearest. No store candidate: the nearest warehouse with every line.
Reads only; the reservation that makes the choice real happens in orders.services.
"""

import math
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache as memoize

from django.core.cache import cache
from django.db import connection
from django.db.models import Max

from config.sql import columns_of, from_row
from stores.choices import StoreKind, StoreStatus
from stores.models import Store
from stores.selectors import EARTH_RADIUS_KM, bounding_box_bounds

CANDIDATES_KEPT = 10
WAREHOUSE_SEARCH_KM = 5000  # the whole country: warehouses are the fallback


@dataclass
class Candidate:
    store: Store
    distance_km: float
    preferred: bool

    def as_record(self) -> dict:
        return {
            "store": self.store.code,
            "distance_km": round(self.distance_km, 2),
            "preferred": self.preferred,
            "radius_km": self.store.service_radius_km,
        }


@dataclass
class Route:
    candidates: list[Candidate] = field(default_factory=list)
    warehouses: list[Candidate] = field(default_factory=list)
    in_radius_without_stock: int = 0


# The candidate queries are plain SQL, built once per shape (lines, preferred and excluded stores
# counted) and parameterised: an order's routing used to spend most of its Python time building the
# same ORM expression (bounding box, haversine distance, one EXISTS per line, preference CASE).
# Same semantics as stores.selectors.bounding_box / distance_km_expression on both databases.


def _distance_sql(vendor: str) -> str:
    """Haversine km from the point (params: lat1, lng1, cos(lat1), 2R) to "s"'s coordinates."""
    real = "double precision" if vendor == "postgresql" else "real"
    lat2 = f'RADIANS(CAST(s."latitude" AS {real}))'
    lng2 = f'RADIANS(CAST(s."longitude" AS {real}))'
    return (
        f"(%s * ASIN(SQRT(POWER(SIN(({lat2} - %s) / 2), 2) "
        f"+ %s * COS({lat2}) * POWER(SIN(({lng2} - %s) / 2), 2))))"
    )


def _all_lines_sql(count: int) -> str:
    """True where store "s" has every line available (params: sku, quantity per line): one EXISTS
    per line, each a lookup on the (location, sku) unique index."""
    return " AND ".join(
        'EXISTS(SELECT 1 FROM "stores_stock" k WHERE k."location_id" = s."id" AND k."sku_id" = %s '
        'AND k."on_hand" >= k."reserved" + %s)'
        for _ in range(count)
    )


def _in_sql(count: int) -> str:
    return ", ".join(["%s"] * count)


@memoize
def _nearby_sql(vendor: str, lines: int, preferred: int, excluded: int) -> str:
    columns = columns_of(Store, "s")
    exclude = f' AND s."id" NOT IN ({_in_sql(excluded)})' if excluded else ""
    return (
        f"SELECT * FROM (SELECT {columns}, {_distance_sql(vendor)} AS distance_km, "  # noqa: S608 (no input)
        f"({_all_lines_sql(lines)}) AS has_all_lines, "
        f'CASE WHEN s."id" IN ({_in_sql(max(preferred, 1))}) THEN 0 ELSE 1 END AS preferred '
        'FROM "stores_store" s WHERE s."latitude" BETWEEN %s AND %s AND s."longitude" BETWEEN %s AND %s '
        f'AND s."status" = %s AND s."kind" <> %s{exclude}) c '
        'WHERE c.distance_km <= c."service_radius_km" '
        'ORDER BY c.has_all_lines DESC, c.preferred, c.distance_km, c."code" LIMIT 50'
    )


@memoize
def _warehouses_sql(vendor: str, lines: int, excluded: int) -> str:
    columns = columns_of(Store, "s")
    exclude = f' AND s."id" NOT IN ({_in_sql(excluded)})' if excluded else ""
    return (
        f'SELECT {columns}, {_distance_sql(vendor)} AS distance_km FROM "stores_store" s '  # noqa: S608 (no input)
        f'WHERE s."kind" = %s AND s."status" = %s{exclude} AND {_all_lines_sql(lines)} '
        f'ORDER BY distance_km, s."code" LIMIT {CANDIDATES_KEPT}'
    )


def _distance_params(lat: float, lng: float) -> list:
    lat1 = math.radians(lat)
    return [2 * EARTH_RADIUS_KM, lat1, math.cos(lat1), math.radians(lng)]


def _line_params(lines: dict[int, int]) -> list:
    return [value for sku_id, quantity in lines.items() for value in (sku_id, quantity)]


def max_service_radius_km() -> int:
    """The widest radius of any open store: how far around an address to look. Cached a minute."""
    return cache.get_or_set(
        "orders:max_service_radius_km",
        lambda: Store.objects.filter(status=StoreStatus.OPEN).aggregate(r=Max("service_radius_km"))["r"] or 0,
        timeout=60,
    )


def route_candidates(
    *,
    latitude: Decimal | float,
    longitude: Decimal | float,
    lines: dict[int, int],
    prefer_store_ids: tuple[int, ...] = (),
    exclude_store_ids: tuple[int, ...] = (),
) -> Route:
    """Stores that can fulfil every line within their service radius, best first (two queries),
    and the warehouses that could (one more query, only when no store can)."""
    lat, lng = float(latitude), float(longitude)
    lat_low, lat_high, lng_low, lng_high = bounding_box_bounds(lat, lng, max_service_radius_km())
    preferred, exclude_store_ids = list(prefer_store_ids) or [0], tuple(exclude_store_ids)
    params = [
        *_distance_params(lat, lng),
        *_line_params(lines),
        *preferred,
        lat_low,
        lat_high,
        lng_low,
        lng_high,
        StoreStatus.OPEN.value,
        StoreKind.WAREHOUSE.value,
        *exclude_store_ids,
    ]
    sql = _nearby_sql(connection.vendor, len(lines), len(preferred), len(exclude_store_ids))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    width = len(Store._meta.concrete_fields)
    nearby = []
    for row in rows:
        store = from_row(Store, row[:width])
        store.distance_km, store.has_all_lines, store.preferred = (
            row[width],
            bool(row[width + 1]),
            row[width + 2],
        )
        nearby.append(store)
    route = Route()
    for store in nearby:
        if not store.has_all_lines:
            route.in_radius_without_stock += 1
            continue
        if len(route.candidates) < CANDIDATES_KEPT:
            route.candidates.append(Candidate(store, store.distance_km, store.preferred == 0))
    if not route.candidates:
        route.warehouses = warehouse_candidates(
            latitude=lat, longitude=lng, lines=lines, exclude=exclude_store_ids
        )
    return route


def warehouse_candidates(
    *, latitude: float, longitude: float, lines: dict[int, int], exclude=()
) -> list[Candidate]:
    """Open warehouses with every line in stock, nearest first: the central fallback."""
    exclude = tuple(exclude)
    sql = _warehouses_sql(connection.vendor, len(lines), len(exclude))
    params = [
        *_distance_params(float(latitude), float(longitude)),
        StoreKind.WAREHOUSE.value,
        StoreStatus.OPEN.value,
        *exclude,
        *_line_params(lines),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    width = len(Store._meta.concrete_fields)
    candidates = []
    for row in rows:
        store = from_row(Store, row[:width])
        store.distance_km = row[width]
        candidates.append(Candidate(store, store.distance_km, False))
    return candidates
