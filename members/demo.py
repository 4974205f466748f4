"""Demo members for `manage.py seed_demo`: tiers, points rules, members with identities and points.

Members go in with bulk_create in batches (member_upsert and points_earn would take hours for
500,000 members), so this module keeps the services' invariants itself as it builds:
- every phone is a normalised, unique mainland mobile number;
- the points ledger explains every balance: a member's `points_balance` is the sum of their
  entries, `total_spend` the sum of the amounts paid, `last_purchase_at` their latest earn, and
  the tier is what `tiers_refresh` would set from the 12-month spend (every purchase here is
  less than a year old, so no points are due to expire yet);
- earn entries are what `points_earn` writes (the rule's points per yuan, rounded down, with the
  rule's life), and a redeem never takes more than the balance at its time.
A handful of deliberate duplicates give the duplicate finder something to show.

It first adds three open stores a few km from the demo flagship (with opening stock explained by
receipts, as the store network's is), so the clerk's stock lookup has neighbours, then creates
the demo logins (seed_users, get-or-create) to act as for the segments and the VIP list.
"""

import math
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import SKU, Channel
from config.roles import Role
from members.choices import Gender, IdentitySource, PointsKind
from members.models import ExternalIdentity, Member, PointsEntry, PointsRule, Tier
from members.services import segment_create, static_group_add, static_group_create
from members.sql import rows_insert
from stores.choices import MovementKind, StaffRole, StoreKind, StoreStatus
from stores.demo import DEMO_USERS, OPENING_REASON, OPENING_REFERENCE, seed_users
from stores.models import Partner, StaffMembership, Stock, StockMovement, Store

MEMBERS_PER_SCALE = {"small": 2_000, "medium": 50_000, "large": 500_000}
BATCH_SIZE = 5000
# (code, name, 12-month spend from which the tier applies)
TIERS = [
    ("silver", "Silver", Decimal("0")),
    ("gold", "Gold", Decimal("5000")),
    ("black", "Black", Decimal("20000")),
]
POINTS_LIFE_DAYS = 365
OWN_STORES = "own-stores"  # the channel whose purchases earn double points
POINTS_PER_YUAN = {None: Decimal("1"), OWN_STORES: Decimal("2")}  # None: every other channel
HISTORY_DAYS = 360  # purchases within the points' life: nothing is due to expire on the seed day
CONSENT_SHARE = 0.6
HOME_STORE_SHARE = 0.75  # the rest shop online only
DEMO_STORE_SHARE = 0.03  # of all members: the demo clerk's and manager's store is a busy one
VIP_LIST_SIZE = 15
DUPLICATES = 6  # of each kind: same name + birthday + city; an identity reporting another's phone

# Where members buy, with weights: store channels for members with a home store, online for all.
STORE_CHANNELS = (("own-stores", 3), ("partner-stores", 2))
ONLINE_CHANNELS = (("own-mall", 3), ("tmall", 3), ("jd", 2))
REFERENCE_PREFIX = {
    "own-stores": "POS",
    "partner-stores": "POS",
    "own-mall": "MALL",
    "tmall": "TM",
    "jd": "JD",
}
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155",
    "156", "157", "158", "159", "166", "173", "176", "177", "180", "181", "182", "183", "185", "186",
    "187", "188", "189", "191", "198", "199",
)  # fmt: skip
# The most common surnames, roughly by frequency, and given-name characters.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
SURNAME_WEIGHTS = [max(1.0, 20.0 - i * 0.5) for i in range(len(SURNAMES))]
GIVEN = {
    Gender.MALE: "伟强磊军洋勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林阳文博峰晨睿泽宏志建国海东亮成",
    Gender.FEMALE: "芳娜敏静丽艳娟霞秀玲婷雪慧颖琳倩洁晶燕萍红梅莉兰欣怡佳悦雯璐瑶萱涵琪蕾薇菲露月丹",
}
SEGMENTS = [
    ("Beijing gold and black members", {"city": ["Beijing"], "tier": ["gold", "black"]}),
    ("Tmall buyers who welcome offers", {"identity_source": ["tmall"], "consent": True}),
    ("Own-store shoppers with 1,000+ points", {"channel_used": [OWN_STORES], "points_min": 1000}),
]
QUIET_SEGMENT = "Big spenders quiet for 90 days"
OPENID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Neighbours of the demo flagship (Wangfujing, Beijing), 1.5-4 km away: the store network puts
# its nearest store ~11 km away, and the clerk's stock lookup and re-routing need stores nearby.
# (name, kind, latitude, longitude); the nearest becomes the demo clerk's second store.
NEIGHBOURS = [
    ("LeTV Flagship Store Beijing Dongdan", StoreKind.OWN_FLAGSHIP, "39.910500", "116.429000"),
    ("Beijing Xidan Hengtong Electronics Co., Ltd. (dealer)", StoreKind.DEALER, "39.909700", "116.374000"),
    ("LePar Beijing Tiantan Road", StoreKind.PARTNER, "39.880000", "116.410000"),
]
NEIGHBOUR_SKUS = 60
NEIGHBOUR_STREETS = ("Dongdan North", "Xidan North", "Tiantan East", "Chongwenmen Outer")


def loaded_scale() -> str | None:
    """The scale already loaded, if the demo tiers are there (the marker), else None."""
    if not Tier.objects.filter(code__in=[t[0] for t in TIERS]).exists():
        return None
    members = Member.objects.count()
    return min(MEMBERS_PER_SCALE, key=lambda scale: abs(MEMBERS_PER_SCALE[scale] - members))


@dataclass(frozen=True)
class DemoPeople:
    """The demo logins the members and orders demos act as, and the store they work at."""

    hq: object
    manager: object
    clerk: object
    store: Store  # the clerk's and the manager's flagship
    clerk_stores: tuple[Store, ...]


def demo_people() -> DemoPeople:
    """The demo logins (created if missing: seed_users is get-or-create) and their store."""
    seed_users()
    User = get_user_model()
    emails = {role: email for email, role, _first, _last in DEMO_USERS}
    users = {u.email: u for u in User.objects.filter(email__in=emails.values())}
    hq, manager, clerk = (
        users[emails[role]] for role in (Role.HQ_ADMIN, Role.STORE_MANAGER, Role.STORE_CLERK)
    )
    store = StaffMembership.objects.select_related("store").get(user=manager, role=StaffRole.MANAGER).store
    clerk_stores = tuple(
        m.store
        for m in StaffMembership.objects.filter(user=clerk).select_related("store").order_by("store__code")
    )
    return DemoPeople(hq=hq, manager=manager, clerk=clerk, store=store, clerk_stores=clerk_stores)


@contextmanager
def keep_given_dates(*fields):
    """Let bulk_create store the `created_at` we give (a member joined years ago) instead of now.

    auto_now_add fields are stamped in pre_save; a demo history needs its own dates, and an UPDATE
    afterwards would rewrite every row a second time.
    """
    saved = [(f, f.auto_now_add) for f in fields]
    for f, _auto in saved:
        f.auto_now_add = False
    try:
        yield
    finally:
        for f, auto in saved:
            f.auto_now_add = auto


# Ledger rows and identities are plain tuples in these columns (after the member's id): they need
# no primary key back, so they go in with executemany, skipping a model instance per row.
ENTRY_FIELDS = ("kind", "points", "channel", "paid_amount", "reference", "expires_at", "reason", "created_at")
IDENTITY_FIELDS = ("source", "external_id", "reported_phone", "created_at")


@dataclass
class _Person:
    member: Member
    entries: list[tuple] = field(default_factory=list)  # ENTRY_FIELDS
    identities: list[tuple] = field(default_factory=list)  # IDENTITY_FIELDS


class _MemberSeeder:
    """Builds members in batches with their identities and points, keeping the running counts."""

    def __init__(self, rng: random.Random, log: Callable[[str], None]):
        self.rng = rng
        self.log = log
        self.now = timezone.now()
        self.phones: set[str] = set()
        self.serial = 0  # makes every external id unique by construction
        self.counts = {
            "stores added near the demo flagship": 0,
            "tiers": 0,
            "points rules": 0,
            "members": 0,
            "of them deliberate duplicates": 0,
            "external identities": 0,
            "points entries": 0,
            "segments": 0,
            "store lists": 0,
        }

    def run(self, scale: str) -> dict[str, int]:
        # Before the logins: the demo clerk's second store is the flagship's nearest open store.
        self._neighbours()
        people = demo_people()
        self.tiers = Tier.objects.bulk_create([Tier(code=c, name=n, min_spend_12m=s) for c, n, s in TIERS])
        self.tiers.sort(key=lambda t: t.min_spend_12m, reverse=True)
        self.channels = {c.code: c for c in Channel.objects.filter(code__in=REFERENCE_PREFIX)}
        rules = [PointsRule(channel=None, points_per_yuan=POINTS_PER_YUAN[None], life_days=POINTS_LIFE_DAYS)]
        if OWN_STORES in self.channels:
            rules.append(
                PointsRule(
                    channel=self.channels[OWN_STORES],
                    points_per_yuan=POINTS_PER_YUAN[OWN_STORES],
                    life_days=POINTS_LIFE_DAYS,
                )
            )
        PointsRule.objects.bulk_create(rules)
        # The reason points_earn writes on an earn entry, once per channel.
        self.earn_reasons = {
            code: _("%(rate)s points per yuan on %(channel)s")
            % {"rate": f"{POINTS_PER_YUAN.get(code, POINTS_PER_YUAN[None]):.2f}", "channel": channel.name}
            for code, channel in self.channels.items()
        }
        self.counts.update(tiers=len(self.tiers), **{"points rules": len(rules)})

        stores = list(
            Store.objects.filter(status=StoreStatus.OPEN)
            .exclude(kind=StoreKind.WAREHOUSE)
            .order_by("code")
            .values_list("pk", "city")
        )
        self.store_city = dict(stores)
        self.store_ids = [pk for pk, _city in stores]
        self.cities = [city for _pk, city in stores]  # weighted by stores: people live where shops are
        self.demo_store = people.store

        target = MEMBERS_PER_SCALE[scale]
        samples: list[Member] = []
        batch: list[_Person] = []
        for person in self._people(target):
            batch.append(person)
            if len(batch) >= BATCH_SIZE:
                self._write(batch)
                samples.extend(self._samples(batch))
                batch = []
                self.log(f"  members: {self.counts['members']:,} of {target:,}")
        if batch:
            self._write(batch)
            samples.extend(self._samples(batch))
        self._write(list(self._duplicates(samples)), duplicates=True)
        self._segments(people)
        return self.counts

    # --- the store network near the demo flagship -----------------------------------------

    def _neighbours(self) -> None:
        """Open stores a few km from the first flagship, stocking much of its range.

        Stock goes in as the store network's does: the rows and an opening receipt explaining each.
        """
        rng = self.rng
        flagship = Store.objects.filter(kind=StoreKind.OWN_FLAGSHIP).order_by("code").first()
        if flagship is None:
            return
        partner = Partner.objects.order_by("code").first()
        prefixes = {StoreKind.OWN_FLAGSHIP: "FS", StoreKind.PARTNER: "PS", StoreKind.DEALER: "DL"}
        stores = []
        for (name, kind, lat, lng), street in zip(NEIGHBOURS, NEIGHBOUR_STREETS, strict=False):
            if kind == StoreKind.PARTNER and partner is None:
                continue
            prefix = prefixes[kind]
            last = (
                Store.objects.filter(code__startswith=prefix).order_by("-code").values_list("code", flat=True)
            )
            number = int(last[0][len(prefix) :]) + 1 if last else 1
            stores.append(
                Store.objects.create(
                    code=f"{prefix}{number:05d}",
                    name=name,
                    kind=kind,
                    partner=partner if kind == StoreKind.PARTNER else None,
                    city=flagship.city,
                    province=flagship.province,
                    address=f"{rng.randint(1, 300)} {street} Street, {flagship.city}",
                    latitude=Decimal(lat),
                    longitude=Decimal(lng),
                    city_tier=flagship.city_tier,
                    service_radius_km=flagship.service_radius_km,
                    status=StoreStatus.OPEN,
                )
            )
        flagship_range = list(
            Stock.objects.filter(location=flagship).order_by("sku_id").values_list("sku_id", flat=True)
        )
        serial_tracked = dict(SKU.objects.order_by("pk").values_list("pk", "serial_tracked"))
        every_sku = list(serial_tracked)
        stock = []
        for store in stores:
            picked = set(rng.sample(flagship_range, min(len(flagship_range), NEIGHBOUR_SKUS * 7 // 10)))
            while len(picked) < min(NEIGHBOUR_SKUS, len(every_sku)):
                picked.add(rng.choice(every_sku))
            for sku_id in sorted(picked):
                on_hand = rng.randint(1, 8) if serial_tracked[sku_id] else rng.randint(5, 40)
                stock.append(Stock(location=store, sku_id=sku_id, on_hand=on_hand, reserved=0))
        Stock.objects.bulk_create(stock, batch_size=BATCH_SIZE)
        StockMovement.objects.bulk_create(
            [
                StockMovement(
                    stock_id=row.pk,
                    kind=MovementKind.RECEIPT,
                    on_hand_delta=row.on_hand,
                    reason=OPENING_REASON,
                    reference=OPENING_REFERENCE,
                )
                for row in stock
            ],
            batch_size=BATCH_SIZE,
        )
        self.counts["stores added near the demo flagship"] = len(stores)

    # --- one member -----------------------------------------------------------------------

    def _phone(self) -> str:
        while True:
            phone = f"{self.rng.choice(MOBILE_PREFIXES)}{self.rng.randrange(10**8):08d}"
            if phone not in self.phones:
                self.phones.add(phone)
                return phone

    def _name(self, gender: str) -> str:
        rng = self.rng
        pool = GIVEN[gender or rng.choice((Gender.MALE, Gender.FEMALE))]
        given = "".join(rng.choice(pool) for _ in range(2 if rng.random() < 0.6 else 1))
        return rng.choices(SURNAMES, SURNAME_WEIGHTS)[0] + given

    def _birthday(self) -> date | None:
        if self.rng.random() < 0.3:
            return None
        age_days = self.rng.randint(18 * 365, 70 * 365)
        return (self.now - timedelta(days=age_days)).date()

    def _people(self, target: int) -> Iterator[_Person]:
        rng = self.rng
        for _n in range(target):
            gender = rng.choices((Gender.FEMALE, Gender.MALE, Gender.UNKNOWN), (46, 44, 10))[0]
            roll = rng.random()
            if roll < DEMO_STORE_SHARE:
                home_store_id = self.demo_store.pk
            elif roll < HOME_STORE_SHARE:
                home_store_id = rng.choice(self.store_ids)
            else:
                home_store_id = None
            city = self.store_city[home_store_id] if home_store_id else rng.choice(self.cities)
            joined = self.now - timedelta(days=rng.randint(1, 5 * 365), seconds=rng.randrange(86400))
            member = Member(
                phone=self._phone(),
                name=self._name(gender),
                gender=gender,
                birthday=self._birthday(),
                city=city,
                home_store_id=home_store_id,
                created_at=joined,
            )
            person = _Person(member)
            self._consent(person, joined)
            self._purchases(person)
            self._identities(person)
            yield person

    def _consent(self, person: _Person, joined: datetime) -> None:
        rng, member = self.rng, person.member
        channel = OWN_STORES if member.home_store_id else rng.choice(ONLINE_CHANNELS)[0]
        if rng.random() < CONSENT_SHARE:
            member.marketing_consent = True
            member.consent_changed_at = joined
            member.consent_channel = self.channels.get(channel)
        elif rng.random() < 0.1:  # said yes once, then withdrew
            member.consent_changed_at = joined + (self.now - joined) * rng.random()
            member.consent_channel = self.channels.get(channel)

    def _purchases(self, person: _Person) -> None:
        """Earn entries as points_earn writes them, maybe a redeem, and the member columns to match."""
        rng, member = self.rng, person.member
        count = 0 if rng.random() < 0.25 else min(12, 1 + int(rng.expovariate(0.45)))
        start = max(member.created_at, self.now - timedelta(days=HISTORY_DAYS))
        when = sorted(start + (self.now - start) * rng.random() for _ in range(count))
        channels = (STORE_CHANNELS if member.home_store_id else ()) + ONLINE_CHANNELS
        names, weights = zip(*channels, strict=True)
        balance, spend = 0, Decimal(0)
        for at in when:
            code = rng.choices(names, weights)[0]
            if code not in self.channels:
                continue
            paid = _shelf_price(rng)
            rate = POINTS_PER_YUAN.get(code, POINTS_PER_YUAN[None])
            points = math.floor(paid * rate)
            self.serial += 1
            person.entries.append(
                (
                    PointsKind.EARN.value,
                    points,
                    self.channels[code].pk,
                    paid,
                    f"{REFERENCE_PREFIX[code]}{at:%y%m%d}{self.serial:07d}",
                    at + timedelta(days=POINTS_LIFE_DAYS),
                    self.earn_reasons[code],
                    at,
                )
            )
            balance += points
            spend += paid
        if balance >= 500 and rng.random() < 0.3:
            # A coupon bought with points, some time after the last purchase.
            spent = 100 * rng.randint(1, min(20, balance // 100))
            at = when[-1] + (self.now - when[-1]) * rng.random()
            channel = self.channels.get(rng.choice(ONLINE_CHANNELS)[0])
            person.entries.append(
                (
                    PointsKind.REDEEM.value,
                    -spent,
                    channel.pk if channel else None,
                    None,
                    f"COUPON-{self.serial:07d}",
                    None,
                    "",
                    at,
                )
            )
            balance -= spent
        member.points_balance = balance
        member.total_spend = spend
        member.last_purchase_at = when[-1] if when else None
        member.tier = next(t for t in self.tiers if t.min_spend_12m <= spend)  # as tiers_refresh would

    def _identities(self, person: _Person) -> None:
        rng, member = self.rng, person.member
        self.serial += 1
        n = self.serial
        at = member.created_at
        if member.home_store_id and rng.random() < 0.5:
            person.identities.append((IdentitySource.STORE_CARD.value, f"LC{n:010d}", "", at))
        if rng.random() < 0.3:
            phone = member.phone if rng.random() < 0.7 else ""
            person.identities.append(
                (IdentitySource.TMALL.value, f"tb{rng.randrange(10**4):04d}{n:08d}", phone, at)
            )
        if rng.random() < 0.2:
            phone = member.phone if rng.random() < 0.7 else ""
            person.identities.append(
                (IdentitySource.JD.value, f"jd_{rng.getrandbits(32):08x}{n:08d}", phone, at)
            )
        if rng.random() < 0.4:
            openid = "o" + "".join(rng.choice(OPENID_ALPHABET) for _ in range(19)) + f"{n:08d}"
            person.identities.append((IdentitySource.WECHAT.value, openid, "", at))

    # --- duplicates, segments, lists ------------------------------------------------------

    def _samples(self, batch: list[_Person]) -> list[Member]:
        """A few members of a batch a duplicate can copy: with a phone, birthday and no twin yet."""
        pool = [p.member for p in batch if p.member.birthday]
        return self.rng.sample(pool, min(len(pool), 2 * DUPLICATES))

    def _duplicates(self, samples: list[Member]) -> Iterator[_Person]:
        """Duplicates from other member systems, for HQ to find and merge.

        The same person registered again with a second number (same name, birthday and city),
        and a Tmall buyer imported without a phone whose Tmall account reports a member's phone.
        """
        picked = self.rng.sample(samples, min(len(samples), 2 * DUPLICATES))
        for index, original in enumerate(picked):
            joined = self.now - timedelta(days=self.rng.randint(1, 300))
            twin = Member(
                name=original.name,
                gender=original.gender,
                city=original.city,
                created_at=joined,
            )
            person = _Person(twin)
            self.serial += 1
            if index < DUPLICATES:
                twin.phone = self._phone()
                twin.birthday = original.birthday
                person.identities.append(
                    (IdentitySource.JD.value, f"jd_dup{self.serial:08d}", twin.phone, joined)
                )
            else:
                twin.phone = None
                person.identities.append(
                    (IdentitySource.TMALL.value, f"tb_dup{self.serial:08d}", original.phone, joined)
                )
            self._purchases(person)
            yield person

    def _write(self, batch: list[_Person], duplicates: bool = False) -> None:
        members = [p.member for p in batch]
        with keep_given_dates(Member._meta.get_field("created_at")):
            Member.objects.bulk_create(members, batch_size=BATCH_SIZE)
        if members and members[-1].pk is None:  # PostgreSQL and SQLite 3.35+ return them
            raise RuntimeError("This database does not return primary keys from bulk inserts.")
        identities = [(p.member.pk, *row) for p in batch for row in p.identities]
        entries = [(p.member.pk, *row) for p in batch for row in p.entries]
        # Plain INSERTs (members.sql): hundreds of thousands of rows that need no model instance.
        rows_insert(ExternalIdentity, ("member", *IDENTITY_FIELDS), identities, batch_size=BATCH_SIZE)
        rows_insert(PointsEntry, ("member", *ENTRY_FIELDS), entries, batch_size=BATCH_SIZE)
        self.counts["members"] += len(members)
        if duplicates:
            self.counts["of them deliberate duplicates"] += len(members)
        self.counts["external identities"] += len(identities)
        self.counts["points entries"] += len(entries)

    def _segments(self, people: DemoPeople) -> None:
        quiet_since = (self.now - timedelta(days=90)).replace(microsecond=0)
        segments = [
            *SEGMENTS,
            (QUIET_SEGMENT, {"spend_min": 5000, "last_purchase_before": quiet_since.isoformat()}),
        ]
        for name, filters in segments:
            segment_create(name=name, filters=filters, actor=people.hq)
        self.counts["segments"] = len(segments)
        group = static_group_create(name="VIP", store=people.store, user=people.manager)
        vips = Member.objects.filter(home_store=people.store, merged_into__isnull=True).order_by(
            "-total_spend", "pk"
        )[:VIP_LIST_SIZE]
        for member in vips:
            static_group_add(group=group, member=member, user=people.manager)
        self.counts["store lists"] = 1


def _shelf_price(rng: random.Random) -> Decimal:
    """What a purchase costs: mostly accessories and mid-range goods, now and then a big TV."""
    amount = math.exp(rng.uniform(math.log(29), math.log(12000)))
    step = 100 if amount >= 100 else 10
    return Decimal(int(amount // step) * step + step - 1)


def seed(*, scale: str, rng: random.Random, log: Callable[[str], None] = print) -> dict[str, int]:
    """Create the demo tiers, points rules, members, their identities and points, segments and a
    store's VIP list for `scale`; returns the number of rows created per kind."""
    return _MemberSeeder(rng, log).run(scale)
