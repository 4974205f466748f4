"""Demo store network for `manage.py seed_demo`: partners, stores, warehouses, opening stock, logins.

Stock does not go through `stock_receive` (one transaction per row would take an hour at 10,000
stores): store stock goes in with bulk_create, and the rows that need no Python at all (a
warehouse's whole catalog, an opening receipt per stock row) with INSERT ... SELECT. The ledger
invariant still holds because every stock row is written in the same transaction as the
movements that explain it: a receipt of what came in, a sale for the rows that sold out, a
reservation for the rows with units on hold.
"""

import math
import random
from collections.abc import Callable, Iterator
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.utils import timezone

from catalog.models import SKU
from config.roles import Role, ensure_role_groups
from stores.choices import MovementKind, StaffRole, StoreKind, StoreStatus
from stores.models import Partner, StaffMembership, Stock, StockMovement, Store
from stores.selectors import stores_near
from stores.sql import opening_receipts_write, warehouse_stock_fill

STORES_PER_SCALE = {"small": 50, "medium": 400, "large": 10_000}  # warehouses included
WAREHOUSES_PER_SCALE = {"small": 2, "medium": 3, "large": 5}
STORES_PER_PARTNER = 20
STORE_SKUS = (30, 100)  # each store stocks a subset of the catalog; warehouses stock all of it
BATCH_SIZE = 5000
DEMO_PASSWORD = "demo-pass-2026"
OPENING_REFERENCE = "demo-opening"
OPENING_REASON = "Opening stock"

# (city, province, latitude, longitude, tier): real cities, approximate centres.
CITIES = [
    ("Beijing", "Beijing", 39.9042, 116.4074, 1),
    ("Shanghai", "Shanghai", 31.2304, 121.4737, 1),
    ("Guangzhou", "Guangdong", 23.1291, 113.2644, 1),
    ("Shenzhen", "Guangdong", 22.5431, 114.0579, 1),
    ("Chengdu", "Sichuan", 30.5728, 104.0668, 2),
    ("Hangzhou", "Zhejiang", 30.2741, 120.1551, 2),
    ("Wuhan", "Hubei", 30.5928, 114.3055, 2),
    ("Chongqing", "Chongqing", 29.5630, 106.5516, 2),
    ("Nanjing", "Jiangsu", 32.0603, 118.7969, 2),
    ("Tianjin", "Tianjin", 39.3434, 117.3616, 2),
    ("Suzhou", "Jiangsu", 31.2990, 120.5853, 2),
    ("Xi'an", "Shaanxi", 34.3416, 108.9398, 2),
    ("Changsha", "Hunan", 28.2282, 112.9388, 2),
    ("Zhengzhou", "Henan", 34.7466, 113.6254, 2),
    ("Dongguan", "Guangdong", 23.0207, 113.7518, 2),
    ("Qingdao", "Shandong", 36.0671, 120.3826, 2),
    ("Shenyang", "Liaoning", 41.8057, 123.4315, 2),
    ("Ningbo", "Zhejiang", 29.8683, 121.5440, 2),
    ("Kunming", "Yunnan", 25.0389, 102.7183, 2),
    ("Hefei", "Anhui", 31.8206, 117.2272, 2),
    ("Foshan", "Guangdong", 23.0215, 113.1214, 2),
    ("Xiamen", "Fujian", 24.4798, 118.0894, 3),
    ("Fuzhou", "Fujian", 26.0745, 119.2965, 3),
    ("Wuxi", "Jiangsu", 31.4912, 120.3119, 3),
    ("Jinan", "Shandong", 36.6512, 117.1201, 3),
    ("Dalian", "Liaoning", 38.9140, 121.6147, 3),
    ("Harbin", "Heilongjiang", 45.8038, 126.5349, 3),
    ("Changchun", "Jilin", 43.8171, 125.3235, 3),
    ("Wenzhou", "Zhejiang", 27.9939, 120.6994, 3),
    ("Shijiazhuang", "Hebei", 38.0428, 114.5149, 3),
    ("Nanning", "Guangxi", 22.8170, 108.3665, 3),
    ("Changzhou", "Jiangsu", 31.8107, 119.9741, 3),
    ("Quanzhou", "Fujian", 24.8741, 118.6757, 3),
    ("Nanchang", "Jiangxi", 28.6820, 115.8579, 3),
    ("Guiyang", "Guizhou", 26.6470, 106.6302, 3),
    ("Taiyuan", "Shanxi", 37.8706, 112.5489, 3),
    ("Jiaxing", "Zhejiang", 30.7522, 120.7550, 3),
    ("Nantong", "Jiangsu", 31.9802, 120.8943, 3),
    ("Jinhua", "Zhejiang", 29.0790, 119.6474, 3),
    ("Zhuhai", "Guangdong", 22.2710, 113.5767, 3),
    ("Huizhou", "Guangdong", 23.1115, 114.4152, 3),
    ("Xuzhou", "Jiangsu", 34.2044, 117.2858, 3),
    ("Haikou", "Hainan", 20.0440, 110.1999, 3),
    ("Urumqi", "Xinjiang", 43.8256, 87.6168, 3),
    ("Shaoxing", "Zhejiang", 30.0023, 120.5810, 3),
    ("Zhongshan", "Guangdong", 22.5176, 113.3926, 3),
    ("Lanzhou", "Gansu", 36.0611, 103.8343, 3),
    ("Yantai", "Shandong", 37.4638, 121.4479, 3),
    ("Weifang", "Shandong", 36.7069, 119.1619, 4),
    ("Baoding", "Hebei", 38.8740, 115.4646, 4),
    ("Zhenjiang", "Jiangsu", 32.1878, 119.4250, 4),
    ("Yangzhou", "Jiangsu", 32.3942, 119.4129, 4),
    ("Guilin", "Guangxi", 25.2736, 110.2900, 4),
    ("Tangshan", "Hebei", 39.6305, 118.1802, 4),
    ("Sanya", "Hainan", 18.2528, 109.5119, 4),
    ("Huzhou", "Zhejiang", 30.8930, 120.0868, 4),
    ("Hohhot", "Inner Mongolia", 40.8426, 111.7492, 4),
    ("Langfang", "Hebei", 39.5380, 116.6838, 4),
    ("Luoyang", "Henan", 34.6197, 112.4540, 4),
    ("Weihai", "Shandong", 37.5131, 122.1204, 4),
    ("Yancheng", "Jiangsu", 33.3476, 120.1633, 4),
    ("Linyi", "Shandong", 35.1041, 118.3564, 4),
    ("Jiangmen", "Guangdong", 22.5787, 113.0819, 4),
    ("Shantou", "Guangdong", 23.3541, 116.6819, 4),
    ("Zhangzhou", "Fujian", 24.5130, 117.6471, 4),
    ("Handan", "Hebei", 36.6256, 114.5391, 4),
    ("Jining", "Shandong", 35.4146, 116.5871, 4),
    ("Wuhu", "Anhui", 31.3525, 118.4331, 4),
    ("Zibo", "Shandong", 36.8131, 118.0548, 4),
    ("Yinchuan", "Ningxia", 38.4872, 106.2309, 4),
    ("Liuzhou", "Guangxi", 24.3264, 109.4286, 4),
    ("Mianyang", "Sichuan", 31.4675, 104.6796, 4),
    ("Zhanjiang", "Guangdong", 21.2707, 110.3594, 4),
    ("Anshan", "Liaoning", 41.1087, 122.9946, 4),
    ("Ganzhou", "Jiangxi", 25.8310, 114.9336, 4),
    ("Daqing", "Heilongjiang", 46.5893, 125.1035, 4),
    ("Yichang", "Hubei", 30.6919, 111.2865, 4),
    ("Baotou", "Inner Mongolia", 40.6571, 109.8404, 4),
    ("Xianyang", "Shaanxi", 34.3296, 108.7093, 4),
    ("Qinhuangdao", "Hebei", 39.9354, 119.5996, 4),
    ("Zhuzhou", "Hunan", 27.8274, 113.1340, 4),
    ("Xining", "Qinghai", 36.6171, 101.7782, 4),
    ("Xiangyang", "Hubei", 32.0090, 112.1226, 4),
    ("Kaifeng", "Henan", 34.7972, 114.3075, 5),
    ("Xinxiang", "Henan", 35.3030, 113.9268, 5),
    ("Pingdingshan", "Henan", 33.7662, 113.1927, 5),
    ("Jiaozuo", "Henan", 35.2159, 113.2419, 5),
    ("Shangqiu", "Henan", 34.4144, 115.6564, 5),
    ("Zhoukou", "Henan", 33.6259, 114.6965, 5),
    ("Zhumadian", "Henan", 32.9800, 114.0220, 5),
    ("Xinyang", "Henan", 32.1470, 114.0913, 5),
    ("Anqing", "Anhui", 30.5430, 117.0634, 5),
    ("Bengbu", "Anhui", 32.9163, 117.3894, 5),
    ("Jiujiang", "Jiangxi", 29.7050, 116.0019, 5),
    ("Yueyang", "Hunan", 29.3570, 113.1289, 5),
    ("Changde", "Hunan", 29.0317, 111.6985, 5),
    ("Hengyang", "Hunan", 26.8938, 112.5720, 5),
    ("Jingzhou", "Hubei", 30.3349, 112.2390, 5),
    ("Nanchong", "Sichuan", 30.8373, 106.1107, 5),
    ("Yibin", "Sichuan", 28.7513, 104.6417, 5),
    ("Zunyi", "Guizhou", 27.7254, 106.9272, 5),
    ("Qujing", "Yunnan", 25.4900, 103.7962, 5),
    ("Tianshui", "Gansu", 34.5809, 105.7249, 5),
    ("Chifeng", "Inner Mongolia", 42.2578, 118.8869, 5),
    ("Cangzhou", "Hebei", 38.3044, 116.8388, 5),
    ("Heze", "Shandong", 35.2336, 115.4807, 5),
    ("Liaocheng", "Shandong", 36.4570, 115.9854, 5),
    ("Suqian", "Jiangsu", 33.9630, 118.2752, 5),
    ("Lu'an", "Anhui", 31.7349, 116.5077, 5),
    ("Shaoguan", "Guangdong", 24.8104, 113.5972, 5),
    ("Meizhou", "Guangdong", 24.2886, 116.1226, 5),
    ("Yan'an", "Shaanxi", 36.5853, 109.4898, 5),
    ("Lankao", "Henan", 34.8225, 114.8214, 6),
    ("Caoxian", "Shandong", 34.8257, 115.5423, 6),
    ("Wuyuan", "Jiangxi", 29.2484, 117.8612, 6),
    ("Fenghuang", "Hunan", 27.9483, 109.5994, 6),
    ("Yangshuo", "Guangxi", 24.7781, 110.4966, 6),
    ("Pingyao", "Shanxi", 37.1890, 112.1754, 6),
    ("Shouguang", "Shandong", 36.8800, 118.7906, 6),
    ("Dengzhou", "Henan", 32.6877, 112.0873, 6),
    ("Linzhou", "Henan", 36.0834, 113.8202, 6),
    ("Huangmei", "Hubei", 30.0705, 115.9446, 6),
    ("Liuyang", "Hunan", 28.1634, 113.6434, 6),
    ("Anxi", "Fujian", 25.0559, 118.1863, 6),
    ("Tengchong", "Yunnan", 25.0206, 98.4972, 6),
    ("Lichuan", "Hubei", 30.2911, 108.9364, 6),
    ("Jiangyou", "Sichuan", 31.7780, 104.7455, 6),
    ("Renhuai", "Guizhou", 27.7918, 106.4015, 6),
    ("Puning", "Guangdong", 23.2979, 116.1659, 6),
    ("Wuzhi", "Henan", 35.0995, 113.4012, 6),
]
# Stores spread a few km around the centre: wider in big cities, tighter in county towns.
SPREAD_KM = {1: 20, 2: 15, 3: 12, 4: 9, 5: 7, 6: 5}
RADIUS_KM = {1: 10, 2: 10, 3: 20, 4: 20, 5: 30, 6: 30}  # store-as-warehouse delivery radius
# Central warehouses sit outside big cities and serve as the routing fallback for a region.
WAREHOUSES = [
    ("North China warehouse", "Langfang"),
    ("East China warehouse", "Suzhou"),
    ("South China warehouse", "Dongguan"),
    ("Southwest warehouse", "Chengdu"),
    ("Central China warehouse", "Wuhan"),
]
WAREHOUSE_RADIUS_KM = 200  # the model's ceiling: a warehouse ships across its region
# The first flagship and its neighbour, where the demo manager and clerk work: fixed, ~11 km apart.
FIRST_FLAGSHIPS = [
    ("Wangfujing", "Beijing", 39.913900, 116.410900),
    ("Zhongguancun", "Beijing", 39.983600, 116.316400),
]
STREETS = (
    "Renmin", "Zhongshan", "Jiefang", "Jianshe", "Heping", "Xinhua", "Wenhua", "Chang'an", "Yingbin",
    "Jiangbin", "Binhe", "Dongfeng", "Xingfu", "Shengli", "Fuxing", "Chaoyang", "Huaihai", "Gongyuan",
)  # fmt: skip
COMPANY_WORDS = (
    "Hengtong", "Jiahe", "Xinda", "Huamei", "Jinyuan", "Ruifeng", "Tianyi", "Yongsheng", "Dingxin",
    "Baida", "Lianhe", "Zhongxing", "Hongyun", "Fuhai", "Shengshi", "Kaiyuan",
)  # fmt: skip
TRADES = ("Electronics", "Digital", "Trading", "Technology", "Home Appliances")
SURNAMES = ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun")
GIVEN_NAMES = ("Wei", "Fang", "Na", "Min", "Jing", "Lei", "Qiang", "Jun", "Yan", "Jie", "Tao", "Hui")


def loaded_scale() -> str | None:
    """The scale already loaded, if the demo warehouses are there (the marker), else None."""
    if not Store.objects.filter(code="WH01").exists():
        return None
    stores = Store.objects.count()
    return min(STORES_PER_SCALE, key=lambda scale: abs(STORES_PER_SCALE[scale] - stores))


def _jitter(rng: random.Random, lat: float, lng: float, spread_km: float) -> tuple[Decimal, Decimal]:
    """A point uniformly spread within `spread_km` of (lat, lng)."""
    distance = spread_km * math.sqrt(rng.random())
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = distance * math.cos(bearing) / 111.32
    dlng = distance * math.sin(bearing) / (111.32 * math.cos(math.radians(lat)))
    return Decimal(f"{lat + dlat:.6f}"), Decimal(f"{lng + dlng:.6f}")


def _company(rng: random.Random, city: str) -> str:
    return f"{city} {rng.choice(COMPANY_WORDS)} {rng.choice(TRADES)} Co., Ltd."


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice(('38', '39', '58', '86', '88', '36', '37', '77'))}{rng.randrange(10**8):08d}"


def _address(rng: random.Random, city: str) -> str:
    return f"{rng.randint(1, 999)} {rng.choice(STREETS)} Road, {city}"


def _store(rng: random.Random, *, city: tuple, at=None, spread_km=None, radius_km=None, **fields) -> Store:
    """A store in `city`, at `at` or a few km from its centre."""
    name, province, lat, lng, tier = city
    if at is None:
        at = _jitter(rng, lat, lng, SPREAD_KM[tier] if spread_km is None else spread_km)
    return Store(
        city=name,
        province=province,
        address=_address(rng, name),
        latitude=at[0],
        longitude=at[1],
        city_tier=tier,
        service_radius_km=radius_km or RADIUS_KM[tier],
        **fields,
    )


class _StoreSeeder:
    """Builds partners, stores and their opening stock, keeping the running counts."""

    def __init__(self, rng: random.Random, log: Callable[[str], None]):
        self.rng = rng
        self.log = log
        self.counts = {
            "partners": 0,
            "stores": 0,
            "of them warehouses": 0,
            "stock rows": 0,
            "stock movements": 0,
        }

    def run(self, scale: str) -> dict[str, int]:
        stores = self._stores(scale)
        Store.objects.bulk_create(stores, batch_size=BATCH_SIZE)
        self.counts["stores"] = len(stores)
        self.counts["of them warehouses"] = sum(s.kind == StoreKind.WAREHOUSE for s in stores)
        self._stock(stores)
        return self.counts

    def _stores(self, scale: str) -> list[Store]:
        rng = self.rng
        total = STORES_PER_SCALE[scale]
        warehouses = WAREHOUSES_PER_SCALE[scale]
        flagships = max(3, total * 5 // 100)
        dealers = total * 15 // 100
        partner_stores = total - warehouses - flagships - dealers
        cities = {c[0]: c for c in CITIES}
        big = [c for c in CITIES if c[4] <= 2]
        mid = [c for c in CITIES if 2 <= c[4] <= 5]
        small = [c for c in CITIES if c[4] >= 3]  # LePar's partners cover tier 3-6 cities

        stores = []
        for n, (label, city_name) in enumerate(WAREHOUSES[:warehouses], start=1):
            stores.append(
                _store(
                    rng,
                    code=f"WH{n:02d}",
                    name=label,
                    kind=StoreKind.WAREHOUSE,
                    city=cities[city_name],
                    spread_km=15,
                    radius_km=WAREHOUSE_RADIUS_KM,
                )
            )
        for n in range(1, flagships + 1):
            if n <= len(FIRST_FLAGSHIPS):
                district, city_name, latitude, longitude = FIRST_FLAGSHIPS[n - 1]
                city, at = cities[city_name], (Decimal(f"{latitude:.6f}"), Decimal(f"{longitude:.6f}"))
            else:  # one in every tier 1-2 city first, then more in the biggest
                city, at, district = big[(n - 1) % len(big)], None, rng.choice(STREETS) + " Road"
            stores.append(
                _store(
                    rng,
                    code=f"FS{n:05d}",
                    name=f"LeTV Flagship Store {city[0]} {district}",
                    kind=StoreKind.OWN_FLAGSHIP,
                    city=city,
                    at=at,
                )
            )
        partners = self._partners(math.ceil(total / STORES_PER_PARTNER), small)
        for n in range(1, partner_stores + 1):
            partner, home = partners[(n - 1) % len(partners)]
            # Half of a partner's stores are in its home city, the rest in other small cities.
            city = home if rng.random() < 0.5 else rng.choice(small)
            stores.append(
                _store(
                    rng,
                    code=f"PS{n:05d}",
                    name=f"LePar {city[0]} {rng.choice(STREETS)} Road",
                    kind=StoreKind.PARTNER,
                    city=city,
                    partner=partner,
                )
            )
        for n in range(1, dealers + 1):
            city = rng.choice(mid)
            stores.append(
                _store(
                    rng,
                    code=f"DL{n:05d}",
                    name=f"{_company(rng, city[0])} (dealer)",
                    kind=StoreKind.DEALER,
                    city=city,
                )
            )
        # A few stores are still being fitted out and a few have closed; never the demo logins' stores.
        for store in stores[warehouses + len(FIRST_FLAGSHIPS) :]:
            roll = rng.random()
            if roll < 0.03:
                store.status = StoreStatus.PREPARING
            elif roll < 0.05:
                store.status = StoreStatus.CLOSED
        return stores

    def _partners(self, count: int, cities: list[tuple]) -> list[tuple[Partner, tuple]]:
        rng = self.rng
        homes = [rng.choice(cities) for _ in range(count)]
        partners = [
            Partner(
                code=f"partner-{n:04d}",
                name=_company(rng, home[0]),
                contact_name=f"{rng.choice(SURNAMES)} {rng.choice(GIVEN_NAMES)}",
                phone=_phone(rng),
            )
            for n, home in enumerate(homes, start=1)
        ]
        Partner.objects.bulk_create(partners, batch_size=BATCH_SIZE)
        self.counts["partners"] = len(partners)
        return list(zip(partners, homes, strict=True))

    def _stock(self, stores: list[Store]) -> None:
        """Opening stock: rows first, then one receipt per row with units, then the odd sale or hold."""
        now = timezone.now()
        first_sku = SKU.objects.order_by("pk").values_list("pk", flat=True).first()
        for warehouse in (s for s in stores if s.kind == StoreKind.WAREHOUSE):
            self._stock_warehouse(warehouse, first_sku, now)
        later: list[StockMovement] = []
        batch: list[tuple[int, int, int, int, int]] = []
        for row in self._store_stock_plan([s for s in stores if s.kind != StoreKind.WAREHOUSE]):
            batch.append(row)
            if len(batch) >= BATCH_SIZE:
                later.extend(self._write_store_stock(batch))
                batch = []
        if batch:
            later.extend(self._write_store_stock(batch))
        self._receipts(min(s.pk for s in stores), max(s.pk for s in stores), now)
        StockMovement.objects.bulk_create(later, batch_size=BATCH_SIZE)
        self.counts["stock movements"] += len(later)

    def _stock_warehouse(self, warehouse: Store, first_sku: int, now) -> None:
        """A warehouse carries the whole catalog: one INSERT ... SELECT, no row passes through Python.

        Quantities are a hash of the SKU's place in the catalog and a per-warehouse salt, so they
        vary and are reproducible: 20-200 of a serial-tracked (big) item, 20-800 of anything else.
        """
        self.counts["stock rows"] += warehouse_stock_fill(
            warehouse_id=warehouse.pk, first_sku_id=first_sku, salt=self.rng.randrange(10**6), at=now
        )
        self.log(f"  stores: {self.counts['stock rows']:,} stock rows")

    def _receipts(self, first_store: int, last_store: int, now) -> None:
        """An opening receipt of its whole on hand for every new stock row with units: one statement.

        New rows are the ones without a ledger yet (every other row has one: the invariant), at
        the stores just created. One set-wide statement, not one per batch: the planner's row
        estimates for a table growing inside this transaction are stale, and a per-batch lookup
        could turn into a scan of the whole table each time.
        """
        self.counts["stock movements"] += opening_receipts_write(
            first_store_id=first_store,
            last_store_id=last_store,
            kind=MovementKind.RECEIPT.value,
            reason=OPENING_REASON,
            reference=OPENING_REFERENCE,
            at=now,
        )

    def _store_stock_plan(self, stores: list[Store]) -> Iterator[tuple[int, int, int, int, int]]:
        """(location id, SKU id, received, sold, reserved) for every store stock row, store by store."""
        rng = self.rng
        skus = list(SKU.objects.order_by("pk").values_list("pk", "serial_tracked"))
        # Stores mostly carry a shared core range, so nearby stores stock the same SKUs.
        core = rng.sample(skus, min(len(skus), 300))
        for store in stores:
            if store.status == StoreStatus.CLOSED:
                continue
            wanted = rng.randint(*STORE_SKUS)
            picked = set(rng.sample(core, min(len(core), wanted * 7 // 10)))
            while len(picked) < min(wanted, len(skus)):
                picked.add(rng.choice(skus))
            for sku_id, serial_tracked in sorted(picked):
                received = rng.randint(1, 8) if serial_tracked else rng.randint(5, 40)
                roll = rng.random()
                sold = received if roll < 0.04 else 0  # sold out: the clerk looks next door
                reserved = rng.randint(1, min(2, received)) if 0.04 <= roll < 0.08 else 0
                yield store.pk, sku_id, received, sold, reserved

    def _write_store_stock(self, plan: list[tuple[int, int, int, int, int]]) -> list[StockMovement]:
        """Insert a batch of store stock rows; returns the movements that go after the receipts."""
        stock = [
            Stock(location_id=loc, sku_id=sku, on_hand=received - sold, reserved=reserved)
            for loc, sku, received, sold, reserved in plan
        ]
        Stock.objects.bulk_create(stock, batch_size=BATCH_SIZE)
        if stock[-1].pk is None:  # PostgreSQL and SQLite 3.35+ return them
            raise RuntimeError("This database does not return primary keys from bulk inserts.")
        self.counts["stock rows"] += len(stock)
        if self.counts["stock rows"] % 100_000 < len(stock):
            self.log(f"  stores: {self.counts['stock rows']:,} stock rows")
        # A sold-out row has nothing on hand for the set-wide receipt: it gets its own, then the sale.
        movements = []
        for row, (_loc, _sku, received, sold, reserved) in zip(stock, plan, strict=True):
            if sold:
                movements.append(_movement(row, MovementKind.RECEIPT, on_hand_delta=received))
                movements.append(_movement(row, MovementKind.SALE, on_hand_delta=-sold))
            if reserved:
                movements.append(_movement(row, MovementKind.RESERVATION, reserved_delta=reserved))
        return movements


MOVEMENT_REASONS = {
    MovementKind.RECEIPT: OPENING_REASON,
    MovementKind.SALE: "Sold in store",
    MovementKind.RESERVATION: "Held for a customer order",
}


def _movement(stock: Stock, kind: MovementKind, **deltas) -> StockMovement:
    return StockMovement(
        stock_id=stock.pk, kind=kind, reason=MOVEMENT_REASONS[kind], reference=OPENING_REFERENCE, **deltas
    )


def seed(*, scale: str, rng: random.Random, log: Callable[[str], None] = print) -> dict[str, int]:
    """Create the demo partners, stores and opening stock for `scale`; returns rows created per kind."""
    return _StoreSeeder(rng, log).run(scale)


# .test is reserved (RFC 2606), so these never reach a real mailbox. Not "demo.o2o": a top-level
# domain with a digit fails Django's email validation, so allauth's login form would refuse it.
DEMO_EMAIL_DOMAIN = "o2o.test"
DEMO_USERS = [
    # (email, role, first name, last name)
    (f"hq@{DEMO_EMAIL_DOMAIN}", Role.HQ_ADMIN, "Hua", "Qiao"),
    (f"manager@{DEMO_EMAIL_DOMAIN}", Role.STORE_MANAGER, "Wang", "Fang"),
    (f"clerk@{DEMO_EMAIL_DOMAIN}", Role.STORE_CLERK, "Li", "Na"),
    (f"partner@{DEMO_EMAIL_DOMAIN}", Role.PARTNER, "Zhang", "Wei"),
    (f"guide@{DEMO_EMAIL_DOMAIN}", Role.GUIDE, "Chen", "Jing"),
]


def seed_users() -> dict[str, int]:
    """The demo logins (password DEMO_PASSWORD), each with its role and workplace; get-or-create.

    A second run changes nothing, not even a password someone has changed since.
    """
    ensure_role_groups()  # normally done by post_migrate; harmless to repeat
    groups = {g.name: g for g in Group.objects.filter(name__in=[r.value for r in Role])}
    User = get_user_model()
    password = make_password(DEMO_PASSWORD)  # hashed once: each hash costs ~1 s by design
    created = {"users": 0, "staff memberships": 0}
    users = {}
    for email, role, first, last in DEMO_USERS:
        user, made = User.objects.get_or_create(
            email=email,
            defaults={
                "username": email,
                "password": password,
                "first_name": first,
                "last_name": last,
                "is_staff": role == Role.HQ_ADMIN,
                "is_superuser": role == Role.HQ_ADMIN,
            },
        )
        created["users"] += made
        user.groups.add(groups[role.value])
        EmailAddress.objects.get_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        users[role] = user

    flagship = Store.objects.filter(kind=StoreKind.OWN_FLAGSHIP).order_by("code").first()
    if flagship is not None:
        neighbour = (
            stores_near(
                latitude=flagship.latitude,
                longitude=flagship.longitude,
                radius_km=flagship.service_radius_km * 3,
                queryset=Store.objects.exclude(pk=flagship.pk).exclude(kind=StoreKind.WAREHOUSE),
            )
            .filter(status=StoreStatus.OPEN)
            .first()
        )
        places = [(users[Role.STORE_MANAGER], flagship, StaffRole.MANAGER)]
        places.append((users[Role.STORE_CLERK], flagship, StaffRole.CLERK))
        if neighbour is not None:
            places.append((users[Role.STORE_CLERK], neighbour, StaffRole.CLERK))
        for user, store, role in places:
            _membership, made = StaffMembership.objects.get_or_create(
                user=user, store=store, defaults={"role": role}
            )
            created["staff memberships"] += made
    partner = Partner.objects.order_by("code").first()
    if partner is not None:
        partner.users.add(users[Role.PARTNER])
    return created
