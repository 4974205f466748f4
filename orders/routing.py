"""Where an order is fulfilled from ("线上订单,线下发货").

A store is a candidate when the delivery address lies within its own service radius and it has
every line available. Preferred first: the origin store (and, with the guides issue, the bound
guide's store), then the nearest. No store candidate: the nearest warehouse with every line.
Reads only; the reservation that makes the choice real happens in orders.services.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Case, Exists, F, IntegerField, Max, OuterRef, Value, When

from stores.choices import StoreKind, StoreStatus
from stores.models import Stock, Store
from stores.selectors import bounding_box, distance_km_expression

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


def _has_all_lines(lines: dict[int, int]):
    """True where the store has every line available: one EXISTS per line, each a lookup on the
    (location, sku) unique index, so a store's other thousands of SKUs cost nothing."""
    checks = [
        Exists(
            Stock.objects.filter(
                location_id=OuterRef("pk"), sku_id=sku_id, on_hand__gte=F("reserved") + quantity
            )
        )
        for sku_id, quantity in lines.items()
    ]
    combined = checks[0]
    for check in checks[1:]:
        combined = combined & check
    return combined


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
    max_radius = max_service_radius_km()
    nearby = (
        Store.objects.filter(bounding_box(lat, lng, max_radius), status=StoreStatus.OPEN)
        .exclude(kind=StoreKind.WAREHOUSE)
        .exclude(pk__in=exclude_store_ids)
        .annotate(distance_km=distance_km_expression(lat, lng, "latitude", "longitude"))
        .filter(distance_km__lte=F("service_radius_km"))
        .annotate(
            has_all_lines=_has_all_lines(lines),
            preferred=Case(
                When(pk__in=prefer_store_ids or [0], then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
        )
        .order_by("-has_all_lines", "preferred", "distance_km", "code")
    )
    route = Route()
    for store in nearby[:50]:
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
    rows = (
        Store.objects.filter(kind=StoreKind.WAREHOUSE, status=StoreStatus.OPEN)
        .exclude(pk__in=exclude)
        .annotate(
            distance_km=distance_km_expression(latitude, longitude, "latitude", "longitude"),
        )
        .filter(_has_all_lines(lines))
        .order_by("distance_km", "code")[:CANDIDATES_KEPT]
    )
    return [Candidate(store, store.distance_km, False) for store in rows]
