"""Where an order is fulfilled from ("线上订单,线下发货").

A store is a candidate when the delivery address lies within its own service radius and it has
every line available. Preferred first: the origin store (and, with the guides issue, the bound
guide's store), then the nearest. No store candidate: the nearest warehouse with every line.
Reads only; the reservation that makes the choice real happens in orders.services.
"""

import math
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Max

from stores.choices import StoreKind, StoreStatus
from stores.models import Store
from stores.selectors import EARTH_RADIUS_KM, bounding_box_bounds
from stores.sql import stores_in_reach, warehouses_with_lines

CANDIDATES_KEPT = 10
IN_REACH_READ = 50  # stores in reach read per order, with or without every line
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


# The candidate queries are plain SQL (stores.sql.stores_in_reach, warehouses_with_lines), built
# once per shape and parameterised: building the same ORM expression (bounding box, haversine
# distance, one EXISTS per line, preference CASE) was most of an order's routing time.


def _distance_params(lat: float, lng: float) -> list:
    lat1 = math.radians(lat)
    return [2 * EARTH_RADIUS_KM, lat1, math.cos(lat1), math.radians(lng)]


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
    nearby = stores_in_reach(
        distance=_distance_params(lat, lng),
        lines=lines,
        preferred=list(prefer_store_ids) or [0],
        box=bounding_box_bounds(lat, lng, max_service_radius_km()),
        open_status=StoreStatus.OPEN.value,
        warehouse_kind=StoreKind.WAREHOUSE.value,
        exclude=tuple(exclude_store_ids),
        limit=IN_REACH_READ,
    )
    route = Route()
    for store in nearby:
        if not store.has_all_lines:
            route.in_radius_without_stock += 1
            continue
        if len(route.candidates) < CANDIDATES_KEPT:
            route.candidates.append(Candidate(store, store.distance_km, store.preferred == 0))
    if not route.candidates:
        route.warehouses = warehouse_candidates(
            latitude=lat, longitude=lng, lines=lines, exclude=tuple(exclude_store_ids)
        )
    return route


def warehouse_candidates(
    *, latitude: float, longitude: float, lines: dict[int, int], exclude=()
) -> list[Candidate]:
    """Open warehouses with every line in stock, nearest first: the central fallback."""
    warehouses = warehouses_with_lines(
        distance=_distance_params(float(latitude), float(longitude)),
        lines=lines,
        warehouse_kind=StoreKind.WAREHOUSE.value,
        open_status=StoreStatus.OPEN.value,
        exclude=tuple(exclude),
        limit=CANDIDATES_KEPT,
    )
    return [Candidate(store, store.distance_km, False) for store in warehouses]
