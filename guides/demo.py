"""Demo guides for `manage.py seed_demo`: levels, commission rules, a marketplace's own attribution
window, guides for the demo logins, "fan" guides without logins, and scans and bindings of
existing members. It runs after the members demo and before the orders demo, so demo orders by
bound members are attributed to their guides and accrue commission.

Rules, windows and the demo logins' guides go through the services. Fan guides (up to 5,000) are
bulk-created: they only need a unique code in the service's alphabet, a name and a level (no
login, no role). Every scan that binds goes through scan_open and member_bind / scan_bind, in
the order they happened, so last-scan-wins, same-guide extensions and the windows are the
services' own; only each scan's time is set afterwards in one bulk update (scan_open stamps
now). Scans that bound nobody (no mobile given, the store's own code) are plain records and are
bulk-inserted. Everything is drawn from the seeded rng.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from catalog.models import Category, Channel
from guides.choices import GuideStatus, ScanOutcome
from guides.commission import commission_rule_set
from guides.models import Binding, Guide, GuideLevel, ScanEvent
from guides.selectors import active_binding_q
from guides.services import (
    CODE_ALPHABET,
    CODE_LENGTH,
    DEFAULT_LEVEL_CODE,
    attribution_window_set,
    guide_register,
    guide_suspend,
    member_bind,
    scan_bind,
    scan_open,
)
from members.demo import GIVEN, MOBILE_PREFIXES, SURNAME_WEIGHTS, SURNAMES, demo_people, keep_given_dates
from members.models import Member
from stores.choices import StoreKind, StoreStatus
from stores.demo import DEMO_EMAIL_DOMAIN
from stores.models import Partner, Store

SENIOR = ("senior", "Senior", 2)  # the demo's marker: (code, name, rank)
FAN_GUIDES_PER_SCALE = {"small": 20, "medium": 500, "large": 5_000}
BINDINGS_PER_SCALE = {"small": 60, "medium": 5_000, "large": 20_000}
BIG_CATEGORY = "tv"  # TVs earn a higher rate
# (category code or None, senior?, rate %): 3 % everywhere, 5 % on TVs, one point more for seniors.
RULES = [
    (None, False, "3.00"),
    (BIG_CATEGORY, False, "5.00"),
    (None, True, "4.00"),
    (BIG_CATEGORY, True, "6.00"),
]
RULES_SINCE_DAYS = 90
MARKETPLACE_WINDOW = ("jd", 7)  # JD buyers are attributed for a week only
SENIOR_SHARE = 0.15
# Of the new fans (take-overs aside): the demo logins' fans, drawn from the demo store's regulars
# (its home members, who place the demo clerk's walk-in and nearby orders), so their portals and
# the orders demo's attributed orders have something to show.
DEMO_GUIDE_SHARE = 0.6
# Of the demo logins' fans: the guide, the clerk, the manager.
DEMO_SPLIT = (("guide", 40), ("clerk", 35), ("manager", 25))
HISTORY_DAYS = 45  # scans spread over this many days: about a third of the fans have run out
DEMO_HISTORY_DAYS = 12  # the demo logins' fans are fresher: inside the 15-day window (JD's 7 days: half)
EXTEND_SHARE = 0.1  # a fan scans the same guide again
REBIND_SHARE = 0.08  # a fan scans another guide: last scan wins
# Scans bound by the mobile the customer typed on the landing page (scan_bind finds the member),
# the rest as the app does it for a known member (member_bind).
BY_PHONE_SHARE = 0.3
OPENED_ONLY_PER_BINDING = 1.0  # scans that never got a mobile (scan-to-fan conversion)
STORE_SCANS_PER_BINDING = 0.1  # scans of the demo store's own QR code
SUSPENDED_REASON = "Demo: reported for buying fake fans"
USER_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 MicroMessenger/8.0.47",
    "Mozilla/5.0 (Linux; Android 14; 23116PN5BC) AppleWebKit/537.36 MicroMessenger/8.0.46",
    "Mozilla/5.0 (Linux; Android 13; V2227A) AppleWebKit/537.36 Chrome/116.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 AlipayClient/10.5.36",
    "Mozilla/5.0 (Linux; Android 12; HarmonyOS; NOH-AN00) AppleWebKit/537.36 MicroMessenger/8.0.44",
)
BATCH_SIZE = 2000


def loaded_scale() -> str | None:
    """The scale already loaded, if the demo's senior level is there (the marker), else None."""
    if not GuideLevel.objects.filter(code=SENIOR[0]).exists():
        return None
    fans = Guide.objects.filter(user__isnull=True).count()
    return min(FAN_GUIDES_PER_SCALE, key=lambda scale: abs(FAN_GUIDES_PER_SCALE[scale] - fans))


@dataclass(frozen=True)
class _Event:
    """One scan to replay: a guide's code opened at `at` by a member."""

    at: datetime
    guide: Guide
    member_id: int
    by_phone: bool = False


class _GuideSeeder:
    def __init__(self, rng: random.Random, log: Callable[[str], None]):
        self.rng = rng
        self.log = log
        self.now = timezone.now()
        self.counts = {
            "guide levels": 0,
            "commission rules": 0,
            "attribution windows": 0,
            "guides": 0,
            "of them with a login": 0,
            "of them suspended": 0,
            "scans": 0,
            "bindings": 0,
            "of them still open": 0,
        }

    def run(self, scale: str) -> dict[str, int]:
        before = {"guides": Guide.objects.count(), "scans": ScanEvent.objects.count()}
        before["bindings"] = Binding.objects.count()
        self.people = demo_people()
        self._levels()
        self._rules()
        self._window()
        demo_guides = self._demo_guides()
        fans = self._fan_guides(FAN_GUIDES_PER_SCALE[scale])
        self._scans(demo_guides, fans, BINDINGS_PER_SCALE[scale])
        self._suspend_one(fans)
        for kind, model in (("guides", Guide), ("scans", ScanEvent), ("bindings", Binding)):
            self.counts[kind] = model.objects.count() - before[kind]
        self.counts["of them still open"] = Binding.objects.filter(active_binding_q()).count()
        return self.counts

    # --- reference data ---------------------------------------------------------------------

    def _levels(self) -> None:
        self.standard, made = GuideLevel.objects.get_or_create(
            code=DEFAULT_LEVEL_CODE, defaults={"name": "Standard", "rank": 0}
        )
        self.counts["guide levels"] += made
        code, name, rank = SENIOR
        self.senior = GuideLevel.objects.create(code=code, name=name, rank=rank)
        self.counts["guide levels"] += 1

    def _rules(self) -> None:
        since = self.now - timedelta(days=RULES_SINCE_DAYS)
        big = Category.objects.filter(code=BIG_CATEGORY).first()
        for category_code, senior, rate in RULES:
            if category_code and big is None:
                continue
            commission_rule_set(
                rate_percent=Decimal(rate),
                category=big if category_code else None,
                level=self.senior if senior else None,
                valid_from=since,
                actor=self.people.hq,
            )
            self.counts["commission rules"] += 1

    def _window(self) -> None:
        code, days = MARKETPLACE_WINDOW
        channel = Channel.objects.filter(code=code).first()
        if channel is not None:
            attribution_window_set(days=days, channel=channel, actor=self.people.hq)
            self.counts["attribution windows"] += 1

    # --- guides ---------------------------------------------------------------------------

    def _phone(self) -> str:
        return f"{self.rng.choice(MOBILE_PREFIXES)}{self.rng.randrange(10**8):08d}"

    def _name(self) -> str:
        rng = self.rng
        pool = GIVEN[rng.choice(tuple(GIVEN))]
        given = "".join(rng.choice(pool) for _ in range(2 if rng.random() < 0.6 else 1))
        return rng.choices(SURNAMES, SURNAME_WEIGHTS)[0] + given

    def _demo_guides(self) -> dict[str, Guide]:
        """Guides for the demo guide (at a store of the demo partner), clerk and manager (at their
        store), through guide_register; a login that is a guide already keeps its guide."""
        people = self.people
        User = get_user_model()
        guide_user = User.objects.filter(email=f"guide@{DEMO_EMAIL_DOMAIN}").first()
        partner = Partner.objects.filter(users__email=f"partner@{DEMO_EMAIL_DOMAIN}").order_by("code").first()
        partner = partner or Partner.objects.order_by("code").first()
        partner_store = None
        if partner is not None:
            stores = Store.objects.filter(partner=partner, kind=StoreKind.PARTNER, status=StoreStatus.OPEN)
            # Nearest in spirit to the demo flagship: the same city first, then by code.
            partner_store = min(stores, key=lambda s: (s.city != people.store.city, s.code), default=None)
        places = {
            "guide": (guide_user, partner_store, partner, self.standard),
            "clerk": (people.clerk, people.store, None, self.standard),
            "manager": (people.manager, people.store, None, self.senior),
        }
        guides = {}
        for role, (user, store, guide_partner, level) in places.items():
            if user is None:
                continue
            existing = Guide.objects.filter(user=user).first()
            if existing is not None:
                guides[role] = existing
                continue
            guides[role] = guide_register(
                user=user,
                name=user.get_full_name() or user.get_username(),
                phone=self._phone(),
                store=store,
                partner=guide_partner,
                level=level,
            )
            self.counts["of them with a login"] += 1
        return guides

    def _fan_guides(self, count: int) -> list[Guide]:
        """Guides without logins: customers with a busy social circle who signed up."""
        rng = self.rng
        taken = set(Guide.objects.values_list("code", flat=True))
        fans = []
        while len(fans) < count:
            code = "".join(rng.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if code in taken:
                continue
            taken.add(code)
            joined = self.now - timedelta(days=rng.randint(HISTORY_DAYS, 365), seconds=rng.randrange(86400))
            fans.append(
                Guide(
                    code=code,
                    name=self._name(),
                    phone=self._phone(),
                    level=self.senior if rng.random() < SENIOR_SHARE else self.standard,
                    status=GuideStatus.ACTIVE,
                    created_at=joined,
                )
            )
        with keep_given_dates(Guide._meta.get_field("created_at")):
            Guide.objects.bulk_create(fans, batch_size=BATCH_SIZE)
        return fans

    # --- scans and bindings -----------------------------------------------------------------

    def _when(self, days: int) -> datetime:
        return self.now - timedelta(seconds=self.rng.uniform(60, days * 86400))

    def _events(self, demo_guides: dict[str, Guide], fans: list[Guide], total: int) -> list[_Event]:
        rng = self.rng
        members = list(
            Member.objects.filter(merged_into__isnull=True, phone__isnull=False)
            .order_by("pk")
            .values_list("pk", "city", "home_store_id")
        )
        if not members:
            return []
        city = self.people.store.city
        # The demo store's regulars first (each once, in a random order), then its city's members.
        local = [pk for pk, _city, home in members if home == self.people.store.pk]
        rng.shuffle(local)
        local += [
            pk for pk, member_city, home in members if member_city == city and home != self.people.store.pk
        ]
        everyone = [pk for pk, _city, _home in members]
        demo_roles = [(demo_guides[role], weight) for role, weight in DEMO_SPLIT if role in demo_guides]
        every_guide = fans + [g for g, _w in demo_roles]

        events: list[_Event] = []
        bound: dict[int, Guide] = {}  # the member's guide so far, to draw extensions and take-overs
        bound_ids: list[int] = []
        regulars = made = 0
        while made < total:  # `made`: scans that start a binding (extensions do not)
            roll = rng.random()
            if bound_ids and roll < EXTEND_SHARE:
                member_id = rng.choice(bound_ids)
                guide = bound[member_id]
            elif bound_ids and roll < EXTEND_SHARE + REBIND_SHARE:
                member_id = rng.choice(bound_ids)
                guide = rng.choice(every_guide)
                if guide is bound[member_id]:
                    continue  # that would be an extension: draw again
                made += 1
            elif demo_roles and local and rng.random() < DEMO_GUIDE_SHARE:
                guides, weights = zip(*demo_roles, strict=True)
                guide = rng.choices(guides, weights)[0]
                member_id = local[regulars % len(local)]
                regulars += 1
                made += 1
            else:
                guide = rng.choice(every_guide)
                member_id = rng.choice(everyone)
                made += 1
            fresh = guide in demo_guides.values()
            events.append(
                _Event(
                    at=self._when(DEMO_HISTORY_DAYS if fresh else HISTORY_DAYS),
                    guide=guide,
                    member_id=member_id,
                    by_phone=rng.random() < BY_PHONE_SHARE,
                )
            )
            if member_id not in bound:
                bound_ids.append(member_id)
            bound[member_id] = guide
        # Replayed in the order they happened: the last scan of a member is the one that wins.
        events.sort(key=lambda e: e.at)
        return events

    def _unbound_scans(self, guides: list[Guide], total: int) -> None:
        """Scans that bound nobody: the page opened and no mobile given, and the demo store's own
        QR code. Records only (what scan_open writes), so they go in with one bulk insert."""
        rng, store = self.rng, self.people.store
        scans = [
            ScanEvent(
                guide=guide,
                store_id=guide.store_id,
                outcome=ScanOutcome.OPENED,
                user_agent=rng.choice(USER_AGENTS),
                scanned_at=self._when(HISTORY_DAYS),
            )
            for guide in (rng.choice(guides) for _ in range(int(total * OPENED_ONLY_PER_BINDING)))
        ]
        scans += [
            ScanEvent(
                store=store,
                outcome=ScanOutcome.STORE,
                user_agent=rng.choice(USER_AGENTS),
                scanned_at=self._when(HISTORY_DAYS),
            )
            for _ in range(int(total * STORE_SCANS_PER_BINDING))
        ]
        with keep_given_dates(ScanEvent._meta.get_field("scanned_at")):
            ScanEvent.objects.bulk_create(scans, batch_size=BATCH_SIZE)

    def _scans(self, demo_guides: dict[str, Guide], fans: list[Guide], total: int) -> None:
        rng = self.rng
        events = self._events(demo_guides, fans, total)
        members = Member.objects.in_bulk([e.member_id for e in events])
        stamped: list[ScanEvent] = []
        for n, event in enumerate(events, start=1):
            scan = scan_open(guide=event.guide, user_agent=rng.choice(USER_AGENTS))
            member = members[event.member_id]
            if event.by_phone:
                scan_bind(scan=scan, phone=member.phone, at=event.at)
            else:
                member_bind(member=member, guide=event.guide, scan=scan, at=event.at)
            scan.scanned_at = event.at
            stamped.append(scan)
            if n % 5000 == 0:
                self.log(f"  scans: {n:,} of {len(events):,}")
        ScanEvent.objects.bulk_update(stamped, ["scanned_at"], batch_size=BATCH_SIZE)
        self._unbound_scans(fans + list(demo_guides.values()), total)

    def _suspend_one(self, fans: list[Guide]) -> None:
        """One fan guide suspended, and a few scans of their code since (they bind nobody)."""
        if not fans:
            return
        guide = guide_suspend(guide=self.rng.choice(fans), reason=SUSPENDED_REASON, actor=self.people.hq)
        for _ in range(3):
            scan_open(guide=guide, user_agent=self.rng.choice(USER_AGENTS))
        self.counts["of them suspended"] = 1


def seed(*, scale: str, rng: random.Random, log: Callable[[str], None] = print) -> dict[str, int]:
    """Create the demo guide levels, commission rules, a marketplace window, guides, scans and
    bindings for `scale`; returns the number of rows created per kind."""
    return _GuideSeeder(rng, log).run(scale)
