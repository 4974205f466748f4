"""A shop over the shared world (tests/world.py): promotions, coupons, points and stored value, and
orders placed, paid, delivered and returned through the services, as the marketing tests need them."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from aftersales.choices import OpenedVia, TicketKind
from aftersales.services import ticket_approve, ticket_inspect, ticket_open, ticket_receive, ticket_resolve
from catalog.services import price_set
from config.money import quantize_money
from config.roles import SYSTEM
from guides.choices import EntryKind
from guides.models import CommissionEntry
from marketing.choices import CouponKind, IssuedVia, PromotionKind
from marketing.models import Coupon, CouponRedemption, PointsTenderRule, Wallet, WalletEntry
from marketing.services import code_give, coupon_define, promotion_set, wallet_top_up
from members.models import Member, PointsEntry, PointsRule
from members.services import points_adjust
from orders.choices import DeliveryMethod, PaymentKind
from orders.models import Order, Payment, RevenueShare
from orders.services import LineRequest, order_create, order_pay
from tests.factories import MemberFactory, SKUFactory
from tests.world import north

D = Decimal


def ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)


@dataclass
class Shop:
    world: object

    def sku(self, price, code=None, **fields):
        """A SKU priced `price` on every channel since yesterday."""
        sku = SKUFactory(**({"code": code} if code else {}), **fields)
        price_set(sku=sku, channel=None, amount=D(price), valid_from=ago(days=1), actor=SYSTEM)
        return sku

    def promo(self, kind, *, code=None, name=None, valid_from=None, **fields):
        code = code or f"P-{kind}"
        return promotion_set(
            code=code,
            name=name or code,
            kind=kind,
            valid_from=valid_from or ago(hours=1),
            actor=SYSTEM,
            **fields,
        )

    def threshold(self, threshold="300", amount="50", **fields):
        return self.promo(PromotionKind.SPEND_THRESHOLD, threshold=D(threshold), amount=D(amount), **fields)

    def coupon(self, code="C1", kind=CouponKind.AMOUNT, value="30", **fields):
        fields.setdefault("valid_from", ago(hours=1))
        return coupon_define(
            code=code, name=f"Coupon {code}", kind=kind, value=D(value), actor=SYSTEM, **fields
        )

    def give(self, coupon, member) -> str:
        return code_give(coupon=coupon, member=member, via=IssuedVia.HQ, actor=SYSTEM).code

    def member(self, points=0, wallet=None, **fields):
        member = MemberFactory(**fields)
        if points:
            points_adjust(member=member, points=points, reason="Opening balance", actor=SYSTEM)
        if wallet:
            self.top_up(member, wallet)
        member.refresh_from_db()
        return member

    def top_up(self, member, amount, **fields):
        return wallet_top_up(member=member, amount=D(amount), method="card", actor=SYSTEM, **fields)

    def points_rule(self, points_per_yuan=100, cap_percent="50", channel=None):
        return PointsTenderRule.objects.create(
            channel=channel, points_per_yuan=points_per_yuan, cap_percent=D(cap_percent)
        )

    def earn_rule(self):
        """One point per yuan paid, on every channel."""
        return PointsRule.objects.create(channel=None, points_per_yuan=D("1"))

    def order(self, member=None, lines=None, coupons=(), channel=None, stock=True, **fields):
        """A home-delivery order near store A of `lines` ([(sku, quantity)], default one TV), with
        the stock put at A first."""
        lines = lines or [(self.world.tv, 1)]
        if stock:
            for sku, quantity in lines:
                self.world.stock(self.world.a, sku, quantity)
        lat, lng = north(0.1)
        return order_create(
            channel=channel or self.world.mall,
            lines=[LineRequest(sku=sku, quantity=quantity) for sku, quantity in lines],
            delivery_method=DeliveryMethod.SHIP,
            member=member,
            coupons=coupons,
            address="1 Chang'an Avenue",
            latitude=lat,
            longitude=lng,
            **({"actor": SYSTEM} | fields),
        )

    def pay(self, order, *, points=0, stored_value=0, method="card", amount=None):
        """Pay with `points` and `stored_value`, the rest by `method` (amount: exactly the rest)."""
        order.refresh_from_db()
        if amount is None:
            amount = order.total - self.points_value(order, points) - D(stored_value)
        payment = order_pay(
            order=order,
            amount=amount,
            method=method if amount else "",
            points=points,
            stored_value=D(stored_value),
            actor=SYSTEM,
        )
        order.refresh_from_db()
        return payment

    def points_value(self, order, points):
        if not points:
            return D(0)
        rule = PointsTenderRule.objects.filter(channel__isnull=True).first()
        if rule is None:
            return D(0)
        return (D(points) / rule.points_per_yuan).quantize(D("0.01"))

    def deliver(self, order):
        return self.world.deliver(order)

    def return_units(self, line, quantity=1):
        """A return of `quantity` units of `line`, opened by HQ, received at A and refunded there."""
        ticket = ticket_open(
            line=line, kind=TicketKind.RETURN, quantity=quantity, opened_via=OpenedVia.HQ, actor=SYSTEM
        )
        ticket_receive(ticket=ticket, store=self.world.a, actor=SYSTEM)
        ticket_inspect(ticket=ticket, actor=SYSTEM, note="Checked")
        ticket_approve(ticket=ticket, actor=SYSTEM, note="OK")
        return ticket_resolve(ticket=ticket, actor=SYSTEM)


def paid(order) -> dict:
    """What each tender paid: {method: amount}."""
    return {p.method: p.amount for p in order.payments.filter(kind=PaymentKind.PAYMENT)}


def refunded(order) -> dict:
    """What went back to each tender: {method: amount}."""
    out = {}
    for p in order.payments.filter(kind=PaymentKind.REFUND):
        out[p.method] = out.get(p.method, D(0)) + p.amount
    return out


def split_standing(order) -> dict:
    """{line id: its revenue split still standing} (every share and every row moving it)."""
    out = {line.pk: D(0) for line in order.lines.all()}
    for share in RevenueShare.objects.filter(line__order=order):
        out[share.line_id] += share.amount
    return {pk: quantize_money(amount) for pk, amount in out.items()}


def net_after_refunds(order) -> Decimal:
    """Everything paid (all tenders) less everything refunded."""
    rows = order.payments.all()
    paid_in = sum((p.amount for p in rows if p.kind == PaymentKind.PAYMENT), D(0))
    return paid_in - sum((p.amount for p in rows if p.kind == PaymentKind.REFUND), D(0))


def credited(order, guide):
    """The guide put on the order by hand before it is paid (accrual happens on payment)."""
    Order.objects.filter(pk=order.pk).update(guide=guide)
    order.refresh_from_db()
    return order


def commission_by_line(order) -> dict:
    """{line id: (base still standing, commission still standing)} of the guide's ledger."""
    out = {}
    for accrual in CommissionEntry.objects.filter(order=order, kind=EntryKind.ACCRUAL):
        base, amount = accrual.base_amount, accrual.held_change
        for entry in accrual.followups.filter(kind=EntryKind.CLAWBACK):
            base -= entry.base_amount
            amount += entry.held_change + entry.payable_change
        out[accrual.line_id] = (base, amount)
    return out


def assert_split_and_commission_follow_the_money(order, *, rate_percent=None):
    """Σ standing split == paid - refunded, and each line's commission base is its split.

    The base is written on the ledger row that moves the commission, so a change whose
    commission rounds to 0.00 leaves no row (a row moves money): the tests that check it use rates
    where every change moves at least a cent. At 100 % the commission is the split, to the cent."""
    by_line = split_standing(order)
    assert sum(by_line.values(), D(0)) == net_after_refunds(order)
    for line_id, (base, amount) in commission_by_line(order).items():
        assert base == by_line[line_id], (line_id, base, by_line)
        if rate_percent == 100:
            assert amount == by_line[line_id], (line_id, amount, by_line)


def assert_everything_nets_to_zero(order):
    for share in RevenueShare.objects.filter(line__order=order, reverses__isnull=True):
        assert share.amount + sum(r.amount for r in share.reversed_by.all()) == 0, share
    assert all(figures == (0, 0) for figures in commission_by_line(order).values())


def assert_ledgers_add_up():
    """Every cached balance is the sum of its ledger; every coupon's counters are its redemptions'."""
    for member in Member.objects.all():
        total = PointsEntry.objects.filter(member=member).aggregate(s=Sum("points"))["s"] or 0
        assert member.points_balance == total >= 0, member
    for wallet in Wallet.objects.all():
        # quantized: SQLite sums decimals as floats (-2.8e-17 for 0.30 - 0.10 - 0.20)
        total = quantize_money(WalletEntry.objects.filter(wallet=wallet).aggregate(s=Sum("amount"))["s"] or 0)
        assert wallet.balance == total >= 0, (wallet, total)
    for coupon in Coupon.objects.all():
        rows = CouponRedemption.objects.filter(coupon=coupon)
        count = sum(1 if r.discount > 0 else -1 for r in rows)
        amount = quantize_money(rows.aggregate(s=Sum("discount"))["s"] or 0)
        assert (coupon.redeemed_count, coupon.redeemed_amount) == (count, amount), coupon
        assert coupon.codes.filter(status="redeemed").count() == count


@pytest.fixture
def shop(world):
    return Shop(world)


__all__ = ["D", "Order", "Payment", "PromotionKind", "CouponKind"]
