"""How an order is paid and refunded: tenders.

An order is paid by one or more tenders: points (at the HQ rate, at most the cap of the order),
stored value (the member's wallet), and an external payment (cash, card, WeChat Pay, ...) for the
rest. A coupon is a discount, not a tender.

Refunds go back to the tenders that paid, in proportion to what each paid, in this stated order:
points to points (in whole cents' worth of points), stored value to the wallet, and the rest to
the external payment; no tender ever gets back more than it paid. The last refund of an order
gives each tender exactly what it still holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from config.money import CENT, quantize_money
from marketing.errors import TenderRefused
from marketing.models import PointsTenderRule
from marketing.pricing import allocate
from marketing.rules import points_rules

POINTS = "points"
STORED_VALUE = "stored_value"
# The order refunds follow: points first, then the wallet, then every external method.
REFUND_ORDER = (POINTS, STORED_VALUE)


@dataclass(frozen=True)
class Tender:
    method: str
    amount: Decimal
    points: int | None = None  # points tenders: how many points pay `amount`


def points_rule_for(channel) -> PointsTenderRule | None:
    """The channel's own rule, else the every-channel one (marketing.rules keeps them in memory)."""
    rules = points_rules()
    return rules.get(getattr(channel, "pk", None)) or rules.get(None)


def points_value(points: int, rule: PointsTenderRule) -> Decimal:
    """What `points` pay, in yuan (whole cents: the rate is a multiple of 100 points a yuan)."""
    return quantize_money(Decimal(points) / rule.points_per_yuan)


def points_for(amount: Decimal, rule: PointsTenderRule) -> int:
    """How many points `amount` is worth (a whole number: a cent is rate/100 points)."""
    return int(quantize_money(amount) * rule.points_per_yuan)


def points_cap(total: Decimal, rule: PointsTenderRule | None) -> Decimal:
    if rule is None:
        return Decimal(0)
    return quantize_money(total * rule.cap_percent / 100)


def tender_plan(
    *,
    total: Decimal,
    channel,
    points: int = 0,
    stored_value: Decimal = Decimal(0),
    points_balance: int = 0,
    wallet_balance: Decimal = Decimal(0),
    external_method: str = "",
) -> list[Tender]:
    """The tenders that pay `total`: `points` points, `stored_value` from the wallet, the rest by
    `external_method`. Refuses what the member does not have, points above the cap or not worth a
    whole cent, a tender above what is left to pay, and a rest with no external method."""
    if not isinstance(points, int) or isinstance(points, bool) or points < 0:
        raise TenderRefused(_("Points are a whole number, zero or more."), fields={"points": [_("Invalid.")]})
    try:
        stored_value = quantize_money(stored_value if stored_value not in (None, "") else 0)
    except (ValueError, TypeError, ArithmeticError):
        stored_value = None
    if stored_value is None or not stored_value.is_finite() or stored_value < 0:
        raise TenderRefused(
            _("Stored value is an amount, zero or more."), fields={"stored_value": [_("Invalid.")]}
        )
    tenders: list[Tender] = []
    left = total
    if points:
        rule = points_rule_for(channel)
        if rule is None:
            raise TenderRefused(
                _("Points cannot pay on %(channel)s.") % {"channel": channel.name},
                fields={"points": [_("Not on this channel.")]},
            )
        step = rule.points_per_yuan // 100
        if points % step:
            raise TenderRefused(
                _("Points pay in steps of %(step)s (one cent).") % {"step": step},
                fields={"points": [_("Use a multiple of %(step)s.") % {"step": step}]},
            )
        if points > points_balance:
            raise TenderRefused(
                _("The member has %(balance)s points; %(wanted)s cannot be spent.")
                % {"balance": points_balance, "wanted": points},
                fields={"points": [_("More than the balance.")]},
            )
        value = points_value(points, rule)
        cap = points_cap(total, rule)
        if value > cap:
            raise TenderRefused(
                _("Points may pay at most %(cap)s of this order (%(percent)s%%), that is %(points)s points.")
                % {"cap": cap, "percent": rule.cap_percent, "points": points_for(cap, rule)},
                fields={"points": [_("Above the cap.")]},
            )
        tenders.append(Tender(POINTS, value, points))
        left -= value
    if stored_value:
        if stored_value > wallet_balance:
            raise TenderRefused(
                _("The wallet holds %(balance)s; %(wanted)s cannot be spent.")
                % {"balance": wallet_balance, "wanted": stored_value},
                fields={"stored_value": [_("More than the balance.")]},
            )
        if stored_value > left:
            raise TenderRefused(
                _("Only %(left)s is left to pay.") % {"left": left},
                fields={"stored_value": [_("More than is left to pay.")]},
            )
        tenders.append(Tender(STORED_VALUE, stored_value))
        left -= stored_value
    if left > 0:
        if not external_method or external_method in REFUND_ORDER:
            raise TenderRefused(
                _("%(left)s is left to pay: say how (cash, card, ...).") % {"left": left},
                fields={"method": [_("This field is required.")]},
            )
        tenders.append(Tender(external_method, left))
    return tenders


def refund_split(
    *, amount: Decimal, paid: list[Tender], refunded: dict[str, Decimal], rule=None
) -> list[Tender]:
    """How a refund of `amount` goes back to the tenders that `paid` (each already refunded
    `refunded[method]`): in proportion to what each paid, in the stated order, never more than
    a tender still holds. Points get whole cents' worth of points (a cent is a whole number of
    points at any allowed rate), so the split is exact."""
    holding = {t.method: t.amount - refunded.get(t.method, Decimal(0)) for t in paid}
    left_total = sum(holding.values(), Decimal(0))
    amount = min(quantize_money(amount), left_total)
    if amount <= 0:
        return []
    order = sorted(paid, key=lambda t: REFUND_ORDER.index(t.method) if t.method in REFUND_ORDER else 9)
    if amount == left_total:  # the last refund: each tender gets exactly what it still holds
        parts = [holding[t.method] for t in order]
    else:
        parts = allocate(amount, [t.amount for t in order])
        # Never above what a tender still holds: the excess moves on to the next one with room.
        excess = Decimal(0)
        for i, t in enumerate(order):
            if parts[i] > holding[t.method]:
                excess += parts[i] - holding[t.method]
                parts[i] = holding[t.method]
        for i, t in enumerate(order):
            room = holding[t.method] - parts[i]
            take = min(room, excess)
            parts[i] += take
            excess -= take
    result = []
    for t, part in zip(order, parts, strict=True):
        if part > 0:
            points = None
            if t.method == POINTS and t.points:
                points = int(part / CENT) * (t.points // int(t.amount / CENT)) if t.amount else 0
            result.append(Tender(t.method, part, points))
    return result
