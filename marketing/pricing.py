"""Pricing a basket: catalogue promotions, order promotions and coupons, allocated to lines to the
cent. The same function prices the quote (API, clerk's "check price") and the order, so the two
always agree. It reads; it writes nothing (redeeming is marketing.services).

The rules, in the order they apply:
1. A catalogue promotion (percent or amount off a SKU or category) lowers each unit of a line;
   a line takes the one catalogue promotion that gives most, never below one cent a unit.
2. Order promotions look at the basket after step 1: a spend threshold (满300减50) takes its
   amount off once when the eligible lines reach it; buy-N takes x% off every Nth unit (the
   cheapest units of the eligible lines). All that qualify apply.
3. Coupons (at most one code of each coupon) look at the basket after step 2: a minimum spend on
   the eligible lines, then an amount (at most what those lines cost) or a percent of them.
Each order-level discount is allocated to its eligible lines in proportion to what they cost at
that step, by largest remainder, so the parts are whole cents and sum exactly to the discount.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

from django.db.models import Q
from django.utils.translation import gettext as _

from catalog.models import SKU
from config.money import CENT, quantize_money
from config.sql import Pending
from marketing.choices import CATALOGUE_KINDS, CodeStatus, CouponKind, PromotionKind
from marketing.errors import CouponRefused
from marketing.models import Coupon, CouponCode, Promotion
from marketing.rules import Scope, coupon_scope, promotions_at
from marketing.sql import category_chains, codes_from_rows, codes_statement, codes_with_coupons

MAX_CODES = 5


def allocate(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """`amount` split over `weights` in proportion, in whole cents, by largest remainder: the parts
    sum exactly to `amount`; no part exceeds its weight when `amount` ≤ Σ weights."""
    amount = quantize_money(amount)
    total = sum(weights, Decimal(0))
    if not weights or amount <= 0 or total <= 0:
        return [Decimal(0)] * len(weights)
    cents = int(amount / CENT)
    exact = [Decimal(cents) * w / total for w in weights]
    floors = [int(e.to_integral_value(rounding=ROUND_FLOOR)) for e in exact]
    left = cents - sum(floors)
    # Largest remainder first; ties to the earlier line, so the result does not depend on luck.
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [Decimal(n) * CENT for n in floors]


@dataclass
class Discount:
    """One discount on one line: which rule gave it and how much of it this line carries."""

    source: str  # "promotion" or "coupon"
    amount: Decimal
    promotion: Promotion | None = None
    code: CouponCode | None = None
    threshold: Decimal | None = None  # the basket minimum this discount depended on, if any

    @property
    def label(self) -> str:
        return str(self.promotion.name if self.promotion else self.code.coupon.name)


@dataclass
class PricedLine:
    sku: object
    quantity: int
    unit_price: Decimal
    discounts: list[Discount] = field(default_factory=list)

    @property
    def gross(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def discount(self) -> Decimal:
        return sum((d.amount for d in self.discounts), Decimal(0))

    @property
    def net(self) -> Decimal:
        return self.gross - self.discount


@dataclass
class Applied:
    """A rule that took money off the basket, with the sum of its parts."""

    source: str
    name: str
    amount: Decimal
    promotion: Promotion | None = None
    code: CouponCode | None = None


@dataclass
class Quote:
    lines: list[PricedLine]
    applied: list[Applied]

    @property
    def subtotal(self) -> Decimal:
        return sum((line.gross for line in self.lines), Decimal(0))

    @property
    def discount_total(self) -> Decimal:
        return sum((line.discount for line in self.lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.subtotal - self.discount_total

    @property
    def codes(self) -> list[CouponCode]:
        return [a.code for a in self.applied if a.code is not None]


class _Chains:
    """Each line's category and its ancestors (a promotion on 'TV' covers 'TV > UHD'), read in
    one query the first time a rule names categories."""

    def __init__(self, lines: list[PricedLine]):
        self._skus = [line.sku.pk for line in lines]
        self._chains: dict[int, set[int]] | None = None

    def __getitem__(self, sku_id: int) -> set[int]:
        if self._chains is None:
            self._chains = category_chains(self._skus) if self._skus else {}
        return self._chains.get(sku_id, set())


def live_promotions(*, channel, at: datetime) -> list[tuple[Promotion, Scope]]:
    """[(promotion, scope)] running at `at` on `channel` (marketing.rules keeps them in memory)."""
    return [(p, scope) for p, scope in promotions_at(at) if scope.covers_channel(channel)]


def wanted_codes(codes) -> list[str]:
    """The codes an order or quote names, normalised (upper case, stripped, each once); refuses
    what is not a list of codes or names more than MAX_CODES."""
    wanted = []
    if isinstance(codes, str):  # one code, not its letters
        codes = [codes]
    if codes is not None and not isinstance(codes, (list, tuple, set, frozenset)):
        raise CouponRefused(_("That is not a coupon code."), fields={"coupons": [_("Not a coupon code.")]})
    for raw in codes or ():
        text = str(raw).strip().upper()
        if text and text not in wanted:
            wanted.append(text)
    if len(wanted) > MAX_CODES:
        raise CouponRefused(
            _("At most %(n)s coupons on one order.") % {"n": MAX_CODES}, fields={"coupons": [_("Too many.")]}
        )
    if any(len(text) > 20 or not text.isprintable() for text in wanted):
        raise CouponRefused(_("That is not a coupon code."), fields={"coupons": [_("Not a coupon code.")]})
    return wanted


def codes_read(batch, codes) -> Pending:
    """The codes named, read on `batch` (a config.sql.Batch) with the caller's other reads: its
    `value` once the batch ran is what `price_basket(found_codes=...)` takes. Refuses at once
    what wanted_codes refuses."""
    wanted = wanted_codes(codes)
    if not wanted:
        return Pending.of([])
    return batch.read(*codes_statement(wanted), codes_from_rows)


def _codes_for(codes, member, channel, at, found_codes=None) -> list[tuple[CouponCode, Scope]]:
    wanted = wanted_codes(codes)
    if not wanted:
        return []
    # One query for the codes and their coupons (unless the caller read them with its own reads);
    # each coupon's scope comes from marketing.rules.
    found = {c.code: c for c in (codes_with_coupons(wanted) if found_codes is None else found_codes)}
    result, seen_coupons = [], set()
    for text in wanted:
        code = found.get(text)
        # Another member's code is answered as an unknown one: it says nothing about them.
        if code is None or member is None or code.member_id != member.pk:
            raise CouponRefused(
                _("Coupon %(code)s is not one of this member's coupons.") % {"code": text},
                fields={"coupons": [_("Unknown coupon %(code)s.") % {"code": text}]},
            )
        if code.status != CodeStatus.HELD:
            raise CouponRefused(
                _("Coupon %(code)s was already used.") % {"code": text},
                fields={"coupons": [_("Already used.")]},
            )
        coupon: Coupon = code.coupon
        if not coupon.is_live_at(at):
            raise CouponRefused(
                _("Coupon %(code)s is not valid now.") % {"code": text},
                fields={"coupons": [_("Not valid now.")]},
            )
        scope = coupon_scope(coupon)
        if not scope.covers_channel(channel):
            raise CouponRefused(
                _("Coupon %(code)s is not valid on %(channel)s.") % {"code": text, "channel": channel.name},
                fields={"coupons": [_("Not on this channel.")]},
            )
        if coupon.pk in seen_coupons:
            raise CouponRefused(
                _("One code of %(coupon)s per order.") % {"coupon": coupon.name},
                fields={"coupons": [_("Two codes of one coupon.")]},
            )
        seen_coupons.add(coupon.pk)
        result.append((code, scope))
    return result


def _catalogue_off(promotion: Promotion, unit_price: Decimal) -> Decimal:
    """What a catalogue promotion takes off one unit, leaving at least a cent."""
    if promotion.kind == PromotionKind.PERCENT_OFF:
        off = quantize_money(unit_price * promotion.percent / 100)
    else:
        off = promotion.amount
    return max(Decimal(0), min(off, unit_price - CENT))


def _spread(lines: list[PricedLine], amount: Decimal, make, weights: list[Decimal] | None = None) -> Decimal:
    """Allocate `amount` over `lines` by their net (or `weights`); add one Discount per line."""
    weights = weights if weights is not None else [line.net for line in lines]
    amount = min(quantize_money(amount), sum(weights, Decimal(0)))
    for line, part in zip(lines, allocate(amount, weights), strict=True):
        if part:
            line.discounts.append(make(part))
    return amount


def price_basket(
    *, channel, lines: list[tuple], member=None, codes=(), at: datetime, found_codes=None
) -> Quote:
    """Price `lines` ([(sku, quantity, unit_price)]) for
    `member` on `channel` at `at`, with the member's coupon `codes`. Refuses (CouponRefused) a
    code that is unknown, not the member's, used, out of its window or channel, or whose basket
    falls short of its minimum spend; a promotion that does not qualify simply does not apply.
    `found_codes`: the codes' rows as codes_read answered them (else they are read here)."""
    priced = [PricedLine(sku=sku, quantity=q, unit_price=p) for sku, q, p in lines]
    chains = _Chains(priced)
    applied: list[Applied] = []
    promotions = live_promotions(channel=channel, at=at)

    # 1. Catalogue promotions: the best one per line.
    totals: dict[int, Decimal] = {}
    for line in priced:
        best, best_off = None, Decimal(0)
        for promotion, scope in promotions:
            if promotion.kind in CATALOGUE_KINDS and scope.covers(line.sku.pk, chains):
                off = _catalogue_off(promotion, line.unit_price)
                if off > best_off:
                    best, best_off = promotion, off
        if best is not None:
            amount = best_off * line.quantity
            line.discounts.append(Discount("promotion", amount, promotion=best))
            totals[best.pk] = totals.get(best.pk, Decimal(0)) + amount
    for promotion, _scope in promotions:
        if promotion.pk in totals:
            applied.append(Applied("promotion", promotion.name, totals[promotion.pk], promotion=promotion))

    # 2. Order promotions.
    for promotion, scope in promotions:
        eligible = [line for line in priced if scope.covers(line.sku.pk, chains) and line.net > 0]
        if not eligible:
            continue
        if promotion.kind == PromotionKind.SPEND_THRESHOLD:
            if sum((line.net for line in eligible), Decimal(0)) < promotion.threshold:
                continue
            amount = _spread(
                eligible,
                promotion.amount,
                lambda part, p=promotion: Discount("promotion", part, promotion=p, threshold=p.threshold),
            )
        elif promotion.kind == PromotionKind.NTH_ITEM:
            units = sum(line.quantity for line in eligible)
            free = units // promotion.nth
            if not free:
                continue
            # The cheapest units (by net unit price) are the Nth ones.
            amount = Decimal(0)
            for line in sorted(eligible, key=lambda line: (line.net / line.quantity, line.sku.pk)):
                if not free:
                    break
                take = min(free, line.quantity)
                free -= take
                off = min(quantize_money(line.net * take / line.quantity * promotion.percent / 100), line.net)
                if off > 0:
                    line.discounts.append(Discount("promotion", off, promotion=promotion))
                    amount += off
        else:
            continue
        if amount > 0:
            applied.append(Applied("promotion", promotion.name, amount, promotion=promotion))

    # 3. Coupons.
    for code, scope in _codes_for(codes, member, channel, at, found_codes):
        coupon = code.coupon
        eligible = [line for line in priced if scope.covers(line.sku.pk, chains) and line.net > 0]
        base = sum((line.net for line in eligible), Decimal(0))
        if not eligible or base < coupon.min_spend or base <= 0:
            raise CouponRefused(
                _("Coupon %(code)s needs %(min)s of eligible goods; this basket has %(base)s.")
                % {"code": code.code, "min": coupon.min_spend, "base": base},
                fields={"coupons": [_("Minimum spend not reached.")]},
            )
        value = (
            coupon.value if coupon.kind == CouponKind.AMOUNT else quantize_money(base * coupon.value / 100)
        )
        threshold = coupon.min_spend or None
        amount = _spread(
            eligible, value, lambda part, c=code, t=threshold: Discount("coupon", part, code=c, threshold=t)
        )
        applied.append(Applied("coupon", coupon.name, amount, code=code))
    return Quote(lines=priced, applied=applied)


class ShelfPrices:
    """Catalogue promotions in the price consistency report (catalog.selectors registers us):
    each channel's shelf price is its price less the best catalogue promotion running there, as
    an order would get it, so a promotion limited to some channels shows as a gap. One per report:
    the running promotions are read once."""

    def __init__(self, at: datetime):
        self.catalogue = [(p, s) for p, s in promotions_at(at) if p.kind in CATALOGUE_KINDS]

    def candidates(self) -> set[int]:
        """SKUs under a catalogue promotion limited to some channels (their own or their
        categories', four levels deep): only these can differ because of a promotion."""
        skus, categories = set(), set()
        for _promotion, scope in self.catalogue:
            if scope.channels:
                skus |= scope.skus
                categories |= scope.categories
        if categories:
            path = "product__category"
            q = Q(**{f"{path}__in": categories})
            for depth in range(1, 4):
                q |= Q(**{f"{path}{'__parent' * depth}__in": categories})
            skus |= set(SKU.objects.filter(q).values_list("pk", flat=True))
        return skus

    def adjust(self, prices: dict) -> None:
        if not self.catalogue or not prices:
            return
        chains = _Chains(
            [PricedLine(sku=SKU(pk=sku_id), quantity=1, unit_price=Decimal(0)) for sku_id in prices]
        )
        for sku_id, by_channel in prices.items():
            for channel_id, amount in by_channel.items():
                offs = [
                    _catalogue_off(promotion, amount)
                    for promotion, scope in self.catalogue
                    if (not scope.channels or channel_id in scope.channels) and scope.covers(sku_id, chains)
                ]
                if offs:
                    by_channel[channel_id] = amount - max(offs)
