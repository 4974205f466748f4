"""Reads of stores and stock. Who may see or act on a store is `stores.policies`: every view
starts from `stores_visible_to(actor)` there."""

import math
from decimal import Decimal

from django.db.models import F, FloatField, Q, QuerySet
from django.db.models.functions import ASin, Cast, Cos, Power, Radians, Sin, Sqrt

from catalog.choices import ChannelKind
from catalog.models import SKU, Channel
from stores import sql
from stores.choices import StoreKind, StoreStatus
from stores.models import Stock, Store
from stores.policies import stock_visible_to, stores_managed_by, stores_visible_to  # noqa: F401 (moved; callers move to stores.policies)

EARTH_RADIUS_KM = 6371.0
KM_PER_DEGREE_LAT = 111.32
MAX_SEARCH_RADIUS_KM = 500


def distance_km_expression(lat: float, lng: float, lat_field: str, lng_field: str):
    """Haversine distance as a database expression (SQLite gets these functions from Django)."""
    lat1, lng1 = math.radians(lat), math.radians(lng)
    lat2 = Radians(Cast(F(lat_field), FloatField()))
    lng2 = Radians(Cast(F(lng_field), FloatField()))
    a = Power(Sin((lat2 - lat1) / 2), 2) + math.cos(lat1) * Cos(lat2) * Power(Sin((lng2 - lng1) / 2), 2)
    return 2 * EARTH_RADIUS_KM * ASin(Sqrt(a))


def bounding_box_bounds(lat: float, lng: float, radius_km: float) -> tuple[Decimal, ...]:
    """(lat_low, lat_high, lng_low, lng_high): degrees covering the radius around a point."""
    dlat = radius_km / KM_PER_DEGREE_LAT
    dlng = radius_km / (KM_PER_DEGREE_LAT * max(math.cos(math.radians(lat)), 0.01))
    return tuple(Decimal(str(round(v, 6))) for v in (lat - dlat, lat + dlat, lng - dlng, lng + dlng))


def bounding_box(lat: float, lng: float, radius_km: float, prefix: str = "") -> Q:
    """A cheap indexed pre-filter before the exact distance: degrees covering the radius."""
    lat_low, lat_high, lng_low, lng_high = bounding_box_bounds(lat, lng, radius_km)
    return Q(
        **{
            f"{prefix}latitude__range": (lat_low, lat_high),
            f"{prefix}longitude__range": (lng_low, lng_high),
        }
    )


def stores_near(*, latitude: float, longitude: float, radius_km: float, queryset=None) -> QuerySet[Store]:
    """Stores within `radius_km` of a point, nearest first, each annotated with `distance_km`."""
    latitude, longitude = float(latitude), float(longitude)
    radius_km = min(float(radius_km), MAX_SEARCH_RADIUS_KM)
    queryset = Store.objects.all() if queryset is None else queryset
    return (
        queryset.filter(bounding_box(latitude, longitude, radius_km))
        .annotate(distance_km=distance_km_expression(latitude, longitude, "latitude", "longitude"))
        .filter(distance_km__lte=radius_km)
        .order_by("distance_km", "code")
    )


def sku_find(query: str) -> SKU | None:
    """A SKU by its code or barcode (what a clerk types or scans); an exact code or barcode wins
    over a code in other letter case."""
    query = (query or "").strip()
    if not query or "\x00" in query:  # no code holds a NUL, and PostgreSQL refuses one in a query
        return None
    # The exact code or barcode first, on their unique indexes, in plain SQL built once (it runs on
    # every availability request: stores.sql); a code in other letter case, which no index serves,
    # only when nothing matched exactly.
    sku = sql.sku_by_code_or_barcode(query)
    if sku is None:
        return SKU.objects.select_related("product").filter(code__iexact=query).first()
    return sku


def stock_nearby(*, sku: SKU, store: Store, limit: int = 20) -> list[Stock]:
    """Stock of a SKU here and in open stores within this store's service radius, nearest first.

    One query, whatever the number of stores: bounding box on the indexed coordinates, then the
    exact distance. Only availability leaves the store boundary; the ledger stays private. Each
    row carries its store (`location`) and `distance_km`.

    The query is plain SQL built once and the distance is worked out here for the few rows in the
    box: the ORM spent more Python building the distance expression, and PostgreSQL more time
    planning it, than either spends on the rows. Same bounds as `bounding_box`, same haversine
    and float operations as `distance_km_expression`.
    """
    latitude, longitude = float(store.latitude), float(store.longitude)
    radius = float(store.service_radius_km)
    box = bounding_box_bounds(latitude, longitude, radius)
    found = []
    for stock in sql.stock_in_box(
        sku_id=sku.pk, box=box, store_id=store.pk, open_status=StoreStatus.OPEN.value
    ):
        stock.distance_km = distance_km(
            latitude, longitude, float(stock.location.latitude), float(stock.location.longitude)
        )
        if stock.distance_km <= radius:
            found.append(stock)
    found.sort(key=lambda stock: (stock.distance_km, stock.location.code))
    return found[:limit]


def distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Haversine km between two points: `distance_km_expression`'s formula, operation for
    operation, so the database and Python agree on the same coordinates."""
    lat1, lat2 = math.radians(lat1), math.radians(lat2)
    lng1, lng2 = math.radians(lng1), math.radians(lng2)
    a = math.pow(math.sin((lat2 - lat1) / 2), 2) + math.cos(lat1) * math.cos(lat2) * math.pow(
        math.sin((lng2 - lng1) / 2), 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def channel_for_store(store=None) -> Channel | None:
    """The channel a sale or a consent in a store is recorded on: own stores sell on the
    own-store channel, partner stores on the partner-store one, dealers on a dealer channel;
    the own-store channel when there is no store or no channel of its kind."""
    kind = {
        StoreKind.OWN_FLAGSHIP: ChannelKind.OWN_STORE,
        StoreKind.PARTNER: ChannelKind.PARTNER_STORE,
        StoreKind.DEALER: ChannelKind.DEALER,
    }.get(store.kind if store else None, ChannelKind.OWN_STORE)
    channels: dict[str, Channel] = {}
    for channel in Channel.objects.filter(kind__in={kind, ChannelKind.OWN_STORE}, is_active=True).order_by(
        "code"
    ):
        channels.setdefault(channel.kind, channel)
    return channels.get(kind) or channels.get(ChannelKind.OWN_STORE)
