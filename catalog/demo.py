"""Demo catalog for `manage.py seed_demo`: channels, a category tree, products, SKUs and prices.

Rows go in with bulk_create in batches (the per-row services would take an hour for 160,000
SKUs), so this module applies the services' rules itself and checks them as it builds: every
all-channel price clears every dealer floor (`dealer_floor`), unified SKUs get no
channel-specific price, and every price row has its audit row, as `price_set` would write.
"""

import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from catalog.choices import ChannelKind, PriceAction
from catalog.models import SKU, Category, Channel, Price, PriceChange, Product
from catalog.services import dealer_floor
from config.money import quantize_money

SKUS_PER_SCALE = {"small": 500, "medium": 20_000, "large": 160_000}
BATCH_SIZE = 5000
PILOT_CATEGORY = "phone"  # one product, one price is piloted on every phone

# (code, name, kind, dealer margin floor %)
CHANNELS = [
    ("own-mall", "LeTV Mall (online)", ChannelKind.OWN_MALL, None),
    ("tmall", "Tmall flagship store", ChannelKind.MARKETPLACE, None),
    ("jd", "JD flagship store", ChannelKind.MARKETPLACE, None),
    ("own-stores", "Own flagship stores", ChannelKind.OWN_STORE, None),
    ("partner-stores", "LePar partner stores", ChannelKind.PARTNER_STORE, None),
    ("dealer-north", "North China dealers", ChannelKind.DEALER, Decimal("8.00")),
    ("dealer-south", "South China dealers", ChannelKind.DEALER, Decimal("10.00")),
]
MARKETPLACES = ("tmall", "jd")
DEALERS = ("dealer-north", "dealer-south")

# (code, name, parent code)
CATEGORIES = [
    ("tv", "TVs", None),
    ("tv-uhd", "4K UHD TVs", "tv"),
    ("tv-miniled", "Mini LED TVs", "tv"),
    ("tv-oled", "OLED TVs", "tv"),
    ("tv-laser", "Laser TVs", "tv"),
    ("phone", "Phones", None),
    ("phone-flagship", "Flagship phones", "phone"),
    ("phone-midrange", "Mid-range phones", "phone"),
    ("tablet", "Tablets", None),
    ("tablet-pro", "Pro tablets", "tablet"),
    ("tablet-kids", "Kids' learning tablets", "tablet"),
    ("appliance", "Home appliances", None),
    ("appliance-ac", "Air conditioners", "appliance"),
    ("appliance-fridge", "Refrigerators", "appliance"),
    ("appliance-washer", "Washing machines", "appliance"),
    ("appliance-purifier", "Air purifiers", "appliance"),
    ("accessory", "Accessories", None),
    ("accessory-audio", "Audio", "accessory"),
    ("accessory-charging", "Chargers and cables", "accessory"),
    ("accessory-case", "Cases and screen protection", "accessory"),
    ("accessory-mount", "TV mounts and stands", "accessory"),
]

COLOURS = ("Midnight black", "Starlight silver", "Glacier blue", "Jade green", "Rose gold", "Titanium grey")


@dataclass(frozen=True)
class Line:
    """A product line: how its products are named, which variants its SKUs have, what they cost."""

    category: str
    prefix: str  # product code prefix
    brands: tuple[str, ...]
    series: tuple[str, ...]
    models: tuple[str, ...]
    suffixes: tuple[str, ...]
    axes: tuple[tuple[str, tuple[str, ...]], ...]  # SKU attributes; the first axis raises the price
    price: tuple[int, int]  # yuan, for the cheapest variant
    serial_tracked: bool
    weight: int  # share of the catalog's SKUs
    model_axis: str = ""  # the attribute the model stands for (a TV's screen size), if any
    model_unit: str = ""


LINES = [
    Line(
        "tv-uhd", "TV", brands=("LeTV",), series=("Super TV X", "Super TV Y", "Super TV G"),
        models=("43", "50", "55", "65", "75", "85"), suffixes=("", " Pro", " 2026", " Pro 2026"),
        axes=(("colour", ("Midnight black", "Starlight silver")),),
        price=(1599, 6999), serial_tracked=True, weight=9, model_axis="size", model_unit='"',
    ),
    Line(
        "tv-miniled", "TV", brands=("LeTV",), series=("Super TV uMax", "Super TV Max"),
        models=("55", "65", "75", "85", "100"), suffixes=("", " Pro", " Ultra"),
        axes=(("colour", ("Midnight black", "Titanium grey")),),
        price=(4999, 19999), serial_tracked=True, weight=4, model_axis="size", model_unit='"',
    ),
    Line(
        "tv-oled", "TV", brands=("LeTV",), series=("Super TV OLED S",),
        models=("55", "65", "77"), suffixes=("", " Pro"),
        axes=(("colour", ("Midnight black",)),),
        price=(6999, 15999), serial_tracked=True, weight=2, model_axis="size", model_unit='"',
    ),
    Line(
        "tv-laser", "TV", brands=("LeTV",), series=("Laser Cinema L",),
        models=("80", "88", "100", "120"), suffixes=("", " Pro"),
        axes=(("colour", ("Midnight black", "Starlight silver")),),
        price=(7999, 24999), serial_tracked=True, weight=1, model_axis="size", model_unit='"',
    ),
    Line(
        "phone-flagship", "PH", brands=("LeTV",), series=("Le Max ", "Le Pro "),
        models=("5", "6", "7"), suffixes=("", " Plus", " Ultra"),
        axes=(("storage", ("256 GB", "512 GB", "1 TB")), ("colour", COLOURS[:5])),
        price=(3999, 7999), serial_tracked=True, weight=7,
    ),
    Line(
        "phone-midrange", "PH", brands=("LeTV",), series=("Le S", "Le Y"),
        models=("3", "5", "7", "9"), suffixes=("", " 5G", " Lite"),
        axes=(("storage", ("128 GB", "256 GB", "512 GB")), ("colour", COLOURS[:4])),
        price=(999, 2999), serial_tracked=True, weight=8,
    ),
    Line(
        "tablet-pro", "TB", brands=("LeTV",), series=("LePad Pro ",),
        models=("11", "12.4", "13"), suffixes=("", " 2026"),
        axes=(
            ("storage", ("128 GB", "256 GB", "512 GB")),
            ("colour", COLOURS[:3]),
            ("connectivity", ("Wi-Fi", "5G")),
        ),
        price=(2499, 5999), serial_tracked=True, weight=5,
    ),
    Line(
        "tablet-kids", "TB", brands=("LeTV",), series=("LePad Kids ",),
        models=("8", "10"), suffixes=("", " Study"),
        axes=(("storage", ("64 GB", "128 GB")), ("colour", ("Glacier blue", "Rose gold", "Jade green"))),
        price=(899, 1999), serial_tracked=True, weight=3,
    ),
    Line(
        "appliance-ac", "AP", brands=("LeHome", "Kunlun"), series=("Cool Breeze ", "Quiet Wind "),
        models=("1 HP", "1.5 HP", "2 HP", "3 HP"), suffixes=(" wall-mounted", " floor-standing"),
        axes=(("energy class", ("Class 1", "Class 3")),),
        price=(1999, 8999), serial_tracked=False, weight=6, model_axis="capacity",
    ),
    Line(
        "appliance-fridge", "AP", brands=("LeHome", "Kunlun"), series=("FreshKeep ",),
        models=("245 L", "410 L", "520 L", "650 L"), suffixes=(" two-door", " French-door", " side-by-side"),
        axes=(("colour", ("Starlight silver", "Titanium grey")),),
        price=(1499, 9999), serial_tracked=False, weight=5, model_axis="capacity",
    ),
    Line(
        "appliance-washer", "AP", brands=("LeHome", "Pearl River"), series=("PureWash ",),
        models=("8 kg", "10 kg", "12 kg"), suffixes=(" front-loader", " washer-dryer", " top-loader"),
        axes=(("colour", ("Starlight silver", "Titanium grey")),),
        price=(1299, 5999), serial_tracked=False, weight=5, model_axis="capacity",
    ),
    Line(
        "appliance-purifier", "AP", brands=("LeHome",), series=("AirPure ",),
        models=("A1", "A3", "A5", "A7"), suffixes=("", " Pro", " Max"),
        axes=(("colour", ("Starlight silver", "Midnight black")),),
        price=(599, 2999), serial_tracked=False, weight=4,
    ),
    Line(
        "accessory-audio", "AC", brands=("LeSound", "Huaxia Audio"), series=("Soundbar ", "Buds ", "Bass "),
        models=("S1", "S3", "S5", "S7", "S9"), suffixes=("", " Pro", " Lite"),
        axes=(("colour", COLOURS[:4]),),
        price=(99, 1999), serial_tracked=False, weight=12,
    ),
    Line(
        "accessory-charging", "AC", brands=("LeTV", "Orbit"), series=("GaN charger ", "Charger with cable "),
        models=("20 W", "33 W", "65 W", "120 W"), suffixes=("", " 2-pack"),
        axes=(("cable length", ("0.5 m", "1 m", "2 m")), ("colour", ("Midnight black", "Starlight silver"))),
        price=(29, 299), serial_tracked=False, weight=12,
    ),
    Line(
        "accessory-case", "AC", brands=("Orbit",), series=("Shield case for ", "Screen protector for "),
        models=("Le Max 7", "Le Pro 6", "Le S 9", "Le Y 7", "LePad Pro 11", "LePad Kids 10"),
        suffixes=("", " 2-pack"),
        axes=(("colour", COLOURS),),
        price=(29, 199), serial_tracked=False, weight=10,
    ),
    Line(
        "accessory-mount", "AC", brands=("LeTV", "Orbit"), series=("Wall mount ", "Floor stand "),
        models=('32-55"', '55-85"', '75-120"'), suffixes=("", " tilting", " full-motion"),
        axes=(("colour", ("Midnight black", "Starlight silver")),),
        price=(99, 899), serial_tracked=False, weight=7, model_axis="screen size",
    ),
]  # fmt: skip


def loaded_scale() -> str | None:
    """The scale already loaded, if the demo channels are there (the marker), else None."""
    if not Channel.objects.filter(code__in=[c[0] for c in CHANNELS]).exists():
        return None
    skus = SKU.objects.count()
    return min(SKUS_PER_SCALE, key=lambda scale: abs(SKUS_PER_SCALE[scale] - skus))


def _retail(amount: float) -> Decimal:
    """A shelf price: 4,321.50 -> 4,399; 57.20 -> 59."""
    step = 100 if amount >= 100 else 10
    return Decimal(int(amount // step) * step + step - 1)


def ean13(number: int) -> str:
    """A 13-digit barcode in China's GS1 range (690-699) with its check digit."""
    body = f"692{number:09d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def _products(rng: random.Random, target: int) -> Iterator[tuple[dict, list[dict]]]:
    """Products with their SKUs' fields, in a reproducible order, until `target` SKUs."""
    weights = [line.weight for line in LINES]
    counters: dict[str, int] = {}
    made = 0
    while made < target:
        line = rng.choices(LINES, weights)[0]
        counters[line.prefix] = counters.get(line.prefix, 0) + 1
        code = f"{line.prefix}{counters[line.prefix]:06d}"
        brand = rng.choice(line.brands)
        model = rng.choice(line.models)
        name = f"{rng.choice(line.series)}{model}{rng.choice(line.suffixes)}"
        # A model number keeps names apart at 160,000 SKUs, as real catalogs do.
        name = f"{brand} {name} ({code[:2]}-{counters[line.prefix]:05d})"
        combos = list(itertools.product(*(values for _axis, values in line.axes)))
        picked = sorted(rng.sample(range(len(combos)), rng.randint(1, min(len(combos), 6))))
        picked = picked[: target - made]
        base = rng.uniform(*line.price)
        skus = []
        for index, combo_index in enumerate(picked):
            combo = combos[combo_index]
            attributes = {axis: value for (axis, _values), value in zip(line.axes, combo, strict=True)}
            if line.model_axis:
                attributes[line.model_axis] = f"{model}{line.model_unit}"
            step = line.axes[0][1].index(combo[0])  # bigger storage / size costs more
            skus.append(
                {
                    "code": f"{code}-{index + 1:02d}",
                    "name": f"{name} {' / '.join(combo)}",
                    "attributes": attributes,
                    "serial_tracked": line.serial_tracked,
                    "unified": line.category.split("-")[0] == PILOT_CATEGORY,
                    "price": _retail(base * (1 + 0.2 * step)),
                }
            )
        made += len(skus)
        product = {"code": code, "name": name, "brand": brand, "category": line.category}
        yield product, skus


def _start_of_day(at: datetime) -> datetime:
    local = timezone.localtime(at)
    return timezone.make_aware(datetime.combine(local.date(), time.min), local.tzinfo)


class _CatalogSeeder:
    """Builds the catalog in batches of products, keeping the running counts."""

    def __init__(self, rng: random.Random, log: Callable[[str], None]):
        self.rng = rng
        self.log = log
        self.today = _start_of_day(timezone.now())
        self.launched = self.today - timedelta(days=120)
        self.counts = {"channels": 0, "categories": 0, "products": 0, "SKUs": 0, "prices": 0}
        self.counts.update({"of them channel-specific": 0, "of them future-dated": 0})

    def run(self, target_skus: int) -> dict[str, int]:
        channels = Channel.objects.bulk_create(
            [Channel(code=c, name=n, kind=k, margin_floor_percent=m) for c, n, k, m in CHANNELS]
        )
        self.channels = {c.code: c for c in channels}
        self.dealers = [self.channels[code] for code in DEALERS]
        categories: dict[str, Category] = {}
        for code, name, parent in CATEGORIES:
            categories[code] = Category(code=code, name=name, parent=categories.get(parent))
        # Parents first so that the children's parent_id is known: one insert per tree level.
        Category.objects.bulk_create([c for c in categories.values() if c.parent is None])
        Category.objects.bulk_create([c for c in categories.values() if c.parent is not None])
        self.counts.update(channels=len(channels), categories=len(categories))

        products: list[Product] = []
        sku_rows: list[list[dict]] = []
        pending = 0
        for product_fields, rows in _products(self.rng, target_skus):
            category = categories[product_fields.pop("category")]
            products.append(Product(category=category, **product_fields))
            sku_rows.append(rows)
            pending += len(rows)
            if pending >= BATCH_SIZE:
                self._flush(products, sku_rows)
                self.log(f"  catalog: {self.counts['SKUs']:,} of {target_skus:,} SKUs")
                products, sku_rows, pending = [], [], 0
        if products:
            self._flush(products, sku_rows)
        self.counts["price audit rows"] = self.counts["prices"]
        return self.counts

    def _flush(self, products: list[Product], sku_rows: list[list[dict]]) -> None:
        Product.objects.bulk_create(products, batch_size=BATCH_SIZE)
        _require_pks(products)
        skus, retail = [], []
        barcode = self.counts["SKUs"] + 100_000
        for product, rows in zip(products, sku_rows, strict=True):
            for row in rows:
                price = row.pop("price")
                # Dealers buy at 68-80% of retail, so retail clears a 10% floor with room to spare.
                cost = quantize_money(price * Decimal(str(round(self.rng.uniform(0.68, 0.80), 3))))
                skus.append(SKU(product_id=product.pk, barcode=ean13(barcode), dealer_cost=cost, **row))
                retail.append(price)
                barcode += 1
        SKU.objects.bulk_create(skus, batch_size=BATCH_SIZE)
        _require_pks(skus)
        prices, olds = self._prices(skus, retail)
        Price.objects.bulk_create(prices, batch_size=BATCH_SIZE)
        _require_pks(prices)
        # The audit rows price_set would have written: old amount is the price it supersedes.
        PriceChange.objects.bulk_create(
            [
                PriceChange(
                    price_id=p.pk,
                    sku_id=p.sku_id,
                    channel_id=p.channel_id,
                    action=PriceAction.SET,
                    old_amount=old,
                    new_amount=p.amount,
                    valid_from=p.valid_from,
                    valid_to=p.valid_to,
                )
                for p, old in zip(prices, olds, strict=True)
            ],
            batch_size=BATCH_SIZE,
        )
        self.counts["products"] += len(products)
        self.counts["SKUs"] += len(skus)
        self.counts["prices"] += len(prices)

    def _prices(self, skus: list[SKU], retail: list[Decimal]) -> tuple[list[Price], list[Decimal | None]]:
        """Price rows for a batch of SKUs, with the old amount each one's audit row records."""
        rng, today, launched = self.rng, self.today, self.launched
        prices: list[Price] = []
        olds: list[Decimal | None] = []
        for sku, amount in zip(skus, retail, strict=True):
            floor = max(dealer_floor(sku=sku, channel=d) for d in self.dealers)
            if amount < floor:  # cannot happen with the cost ratios above; price_set would refuse it
                raise ValueError(f"demo price {amount} of {sku.code} is below the dealer floor {floor}")
            base = Price(sku_id=sku.pk, channel=None, amount=amount, valid_from=launched)
            prices.append(base)
            olds.append(None)
            roll = rng.random()
            if roll < 0.04:
                # A change already announced: the current price ends where the new one starts.
                new_amount = _retail(float(amount) * rng.choice((0.9, 0.95, 1.05)))
                if new_amount >= floor and new_amount != amount:
                    starts = today + timedelta(days=rng.randint(3, 30))
                    base.valid_to = starts
                    prices.append(Price(sku_id=sku.pk, channel=None, amount=new_amount, valid_from=starts))
                    olds.append(amount)
                    self.counts["of them future-dated"] += 1
            elif roll < 0.14 and not sku.unified:
                # A marketplace promotion below list price: the consistency report shows these.
                channel = self.channels[rng.choice(MARKETPLACES)]
                promo = _retail(float(amount) * rng.uniform(0.85, 0.97))
                starts = today - timedelta(days=rng.randint(1, 10))
                ends = today + timedelta(days=rng.randint(7, 45)) if rng.random() < 0.7 else None
                if promo != amount:
                    prices.append(
                        Price(sku_id=sku.pk, channel=channel, amount=promo, valid_from=starts, valid_to=ends)
                    )
                    olds.append(None)
                    self.counts["of them channel-specific"] += 1
            elif roll < 0.16 and not sku.unified:
                # A dealer price between the dealer's floor and list price.
                channel = rng.choice(self.dealers)
                dealer_price = max(
                    quantize_money(amount * Decimal("0.95")), dealer_floor(sku=sku, channel=channel)
                )
                prices.append(Price(sku_id=sku.pk, channel=channel, amount=dealer_price, valid_from=launched))
                olds.append(None)
                self.counts["of them channel-specific"] += 1
        return prices, olds


def _require_pks(objs) -> None:
    # bulk_create returns primary keys on PostgreSQL and SQLite 3.35+, the backends we run on.
    if objs and objs[-1].pk is None:
        raise RuntimeError("This database does not return primary keys from bulk inserts.")


def seed(*, scale: str, rng: random.Random, log: Callable[[str], None] = print) -> dict[str, int]:
    """Create the demo catalog for `scale`; returns the number of rows created per kind."""
    return _CatalogSeeder(rng, log).run(SKUS_PER_SCALE[scale])
