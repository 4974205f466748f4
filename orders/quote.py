"""The basket quote: what an order would cost and how it could be paid, without creating anything.

The same steps as orders.services.order_create (live prices, then marketing.pricing.price_basket)
and orders.services.order_pay (marketing.tenders.tender_plan), so a quote and the order it leads
to always agree; it reads and writes nothing. It lives with orders, not marketing, because who
may quote is who may place the order (orders.policies.order_place_require)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Channel
from catalog.selectors import live_prices_read
from config.errors import NotFound
from config.sql import Batch
from marketing.errors import TenderRefused
from marketing.pricing import Quote, codes_read, price_basket
from marketing.services import wallet_balance_read
from marketing.tenders import Tender, points_cap, points_for, points_rule_for, tender_plan
from members.models import Member
from members.policies import member_visible
from orders.policies import order_place_require
from orders.services import LineRequest, _check_lines, _priced
from stores.models import Store

# The rest of the basket after points and stored value, paid by whatever external method the
# customer picks at payment.
EXTERNAL = "external"


@dataclass
class PointsCap:
    """How far points may pay this basket: HQ's rate and cap, and the member's balance."""

    points_per_yuan: int
    cap_percent: Decimal
    max_amount: Decimal  # the cap, in yuan
    max_points: int  # the cap in points, within the member's balance (in whole cents' steps)
    balance: int | None


@dataclass
class BasketQuote:
    channel: Channel
    member: Member | None
    quote: Quote
    tenders: list[Tender]
    points_cap: PointsCap | None
    wallet_balance: Decimal | None

    @property
    def lines(self):
        return self.quote.lines

    @property
    def applied(self):
        return self.quote.applied

    @property
    def subtotal(self) -> Decimal:
        return self.quote.subtotal

    @property
    def discount_total(self) -> Decimal:
        return self.quote.discount_total

    @property
    def total(self) -> Decimal:
        return self.quote.total


def _points_cap(channel, total: Decimal, member: Member | None) -> PointsCap | None:
    rule = points_rule_for(channel)
    if rule is None:
        return None
    cap = points_cap(total, rule)
    most = points_for(cap, rule)
    balance = member.points_balance if member is not None else None
    if balance is not None:
        step = rule.points_per_yuan // 100
        most = min(most, balance - balance % step)
    return PointsCap(
        points_per_yuan=rule.points_per_yuan,
        cap_percent=rule.cap_percent,
        max_amount=cap,
        max_points=max(most, 0),
        balance=balance,
    )


def basket_quote(
    *,
    channel: Channel,
    lines: list[LineRequest],
    member: Member | None = None,
    origin_store: Store | None = None,
    coupons: tuple | list = (),
    points: int = 0,
    stored_value: Decimal | int = 0,
    actor,
    at: datetime | None = None,
) -> BasketQuote:
    """Price `lines` for `member` on `channel` with promotions and the member's `coupons`, and plan
    the tenders (`points`, `stored_value`, the rest external) as the order would be paid. Whoever
    may place the order may quote it; a member the actor may not see is unknown (404)."""
    order_place_require(actor, channel=channel, origin_store=origin_store)
    if member is not None and not member_visible(actor, member):
        raise NotFound(_("No such member."), fields={"member": [_("Unknown member.")]})
    if (points or stored_value) and member is None:
        raise TenderRefused(
            _("Points and stored value pay only a member's order."),
            fields={"points" if points else "stored_value": [_("No member on this order.")]},
        )
    at = at or timezone.now()
    _check_lines(lines)
    # The prices, the coupon codes and the wallet: one round trip.
    reads = Batch()
    prices = live_prices_read(reads, skus=[line.sku for line in lines], channel=channel, at=at)
    found = codes_read(reads, coupons) if coupons else None
    wallet = wallet_balance_read(reads, member) if member is not None else None
    if len(reads):
        reads.run()
    priced = _priced(lines, channel, prices.value)
    quote = price_basket(
        channel=channel,
        lines=[(line.sku, line.quantity, line.unit_price) for line in priced],
        member=member,
        codes=coupons,
        at=at,
        found_codes=found.value if found is not None else None,
    )
    balance = wallet.value if wallet is not None else None
    tenders = tender_plan(
        total=quote.total,
        channel=channel,
        points=points,
        stored_value=stored_value,
        points_balance=member.points_balance if member is not None else 0,
        wallet_balance=balance or Decimal(0),
        external_method=EXTERNAL,
    )
    return BasketQuote(
        channel=channel,
        member=member,
        quote=quote,
        tenders=tenders,
        points_cap=_points_cap(channel, quote.total, member),
        wallet_balance=balance,
    )
