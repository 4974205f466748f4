"""Every write of marketing and the wallet. Promotions and coupons are HQ's; codes are given by HQ,
a store's staff, a guide or the product (a customer's own QR claim, a campaign); the order's
intake redeems codes and spends tenders through `redeem_codes` and `wallet_spend` inside the
order's transaction, and its cancellation gives them back."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import SKU
from config.money import quantize_money
from config.sql import Batch, Pending
from integrations.outbox import event_emit
from marketing import sql
from marketing.choices import (
    CATALOGUE_KINDS,
    AuditAction,
    CampaignStatus,
    CodeStatus,
    CouponKind,
    IssuedVia,
    PromotionKind,
    WalletKind,
)
from marketing.errors import (
    CampaignRefused,
    CouponBudgetSpent,
    CouponRefused,
    InsufficientBalance,
    PromotionRefused,
    TenderRefused,
)
from marketing.models import (
    Campaign,
    CampaignRecipient,
    Coupon,
    CouponCode,
    CouponRedemption,
    Promotion,
    PromotionChange,
    Wallet,
    WalletEntry,
)
from marketing.policies import code_giver_require, marketing_require, person_of, wallet_topup_require
from marketing.pricing import Quote
from members.models import Member
from members.selectors import segment_members
from stores.models import Store
from stores.selectors import bounding_box, distance_km_expression

MAX_MONEY = Decimal("99999999.99")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at a counter
EXTERNAL_TOPUP_METHODS = ("wechat", "alipay", "card", "cash")


def _money(value, field: str, *, error=PromotionRefused, allow_zero: bool = False) -> Decimal:
    try:
        amount = quantize_money(value)
    except (ValueError, TypeError, ArithmeticError):
        raise error(_("Enter an amount of money."), fields={field: [_("Not an amount.")]}) from None
    if not amount.is_finite() or amount > MAX_MONEY or amount < 0 or (amount == 0 and not allow_zero):
        raise error(
            _("Enter an amount above zero and at most %(max)s.") % {"max": MAX_MONEY},
            fields={field: [_("Out of range.")]},
        )
    return amount


def _percent(value, field: str, error=PromotionRefused) -> Decimal:
    try:
        percent = Decimal(str(value))
    except ArithmeticError:
        percent = None
    if percent is None or not percent.is_finite() or not 0 < percent <= 100:
        raise error(_("A percent above 0 and at most 100."), fields={field: [_("Out of range.")]})
    return percent.quantize(Decimal("0.01"))


SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,40}$")


def _code_and_name(code, name, error) -> tuple[str, str]:
    """A code (a slug of at most 40 characters) and a name (at most 120 printable characters)."""
    code = code.strip() if isinstance(code, str) else ""
    name = name.strip() if isinstance(name, str) else ""
    fields = {f: [_("This field is required.")] for f, v in (("code", code), ("name", name)) if not v}
    if code and not SLUG.match(code):
        fields["code"] = [_("Letters, digits, - and _, at most 40.")]
    if name and (len(name) > 120 or not name.isprintable()):
        fields["name"] = [_("At most 120 printable characters.")]
    if fields:
        raise error(_("Give a code and a name."), fields=fields)
    return code, name


def _window(valid_from, valid_to, error) -> None:
    if valid_to is not None and valid_to <= valid_from:
        raise error(_("The window ends before it starts."), fields={"valid_to": [_("Before the start.")]})


# --- promotions -------------------------------------------------------------------------------


@transaction.atomic
def promotion_set(
    *,
    code: str,
    name: str,
    kind: str,
    valid_from: datetime,
    valid_to: datetime | None = None,
    percent=None,
    amount=None,
    threshold=None,
    nth: int | None = None,
    skus=(),
    categories=(),
    channels=(),
    actor,
) -> Promotion:
    """A new version of promotion `code` from `valid_from` (the open version before it closes
    there). On a unified SKU ("one product, one price", directly or through its category) a
    catalogue promotion must cover every channel, so the promotional price is one price too."""
    marketing_require(actor)
    user = person_of(actor)
    if kind not in PromotionKind.values:
        raise PromotionRefused(_("Choose a kind of promotion."), fields={"kind": [_("Unknown.")]})
    code, name = _code_and_name(code, name, PromotionRefused)
    _window(valid_from, valid_to, PromotionRefused)
    values = {"percent": None, "amount": None, "threshold": None, "nth": None}
    if kind == PromotionKind.PERCENT_OFF:
        values["percent"] = _percent(percent, "percent")
    elif kind == PromotionKind.AMOUNT_OFF:
        values["amount"] = _money(amount, "amount")
    elif kind == PromotionKind.SPEND_THRESHOLD:
        values["threshold"] = _money(threshold, "threshold")
        values["amount"] = _money(amount, "amount")
        if values["amount"] >= values["threshold"]:
            raise PromotionRefused(
                _("The amount off must be below the threshold."),
                fields={"amount": [_("Not below the threshold.")]},
            )
    else:
        if not isinstance(nth, int) or isinstance(nth, bool) or not 2 <= nth <= 100:
            raise PromotionRefused(
                _("N is a whole number from 2 to 100."), fields={"nth": [_("Out of range.")]}
            )
        values["nth"] = nth
        values["percent"] = _percent(percent, "percent")
    skus, categories, channels = list(skus), list(categories), list(channels)
    if kind in CATALOGUE_KINDS and not skus and not categories:
        raise PromotionRefused(
            _("Name the SKUs or categories the promotion lowers."),
            fields={"skus": [_("This field is required.")]},
        )
    if channels and (skus or categories):
        # Any kind that names a unified SKU (directly, or through its category or an ancestor of it,
        # as pricing reads them) changes what it costs: limited to some channels, that is two prices.
        covered = Q(pk__in=[s.pk for s in skus])
        for depth in range(4):
            covered |= Q(**{"product__category" + "__parent" * depth + "__in": categories})
        unified = SKU.objects.filter(unified=True).filter(covered)
        first = unified.order_by("code").first()
        if first is not None:
            raise PromotionRefused(
                _("%(sku)s is one product, one price: a promotion on it covers every channel.")
                % {"sku": first.code},
                fields={"channels": [_("Leave empty: every channel.")]},
            )
    # Versions follow each other: a new one starts after the latest (else two versions of one
    # promotion would both be live, and both apply).
    latest = Promotion.objects.select_for_update().filter(code=code).order_by("-valid_from").first()
    if latest is not None and latest.valid_from >= valid_from:
        raise PromotionRefused(
            _("Promotion %(code)s has a version from %(start)s; a new version starts after it.")
            % {"code": code, "start": timezone.localtime(latest.valid_from).strftime("%Y-%m-%d %H:%M")},
            fields={"valid_from": [_("Not after the latest version.")]},
        )
    previous = (
        Promotion.objects.select_for_update()
        .filter(code=code, valid_from__lt=valid_from)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=valid_from))
        .first()
    )
    if previous is not None:
        previous.valid_to = valid_from
        previous.save(update_fields=["valid_to"])
        PromotionChange.objects.create(promotion=previous, action=AuditAction.ENDED, changed_by=user)
    promotion = Promotion.objects.create(
        code=code[:40],
        name=name[:120],
        kind=kind,
        valid_from=valid_from,
        valid_to=valid_to,
        created_by=user,
        **values,
    )
    promotion.skus.set(skus)
    promotion.categories.set(categories)
    promotion.channels.set(channels)
    PromotionChange.objects.create(promotion=promotion, action=AuditAction.CREATED, changed_by=user)
    return promotion


@transaction.atomic
def promotion_end(*, promotion: Promotion, actor, at: datetime | None = None) -> Promotion:
    """Close a promotion's window now (or at `at`); an ended one stays, for the orders it priced."""
    marketing_require(actor)
    at = at or timezone.now()
    promotion = Promotion.objects.select_for_update().get(pk=promotion.pk)
    if promotion.valid_to is not None and promotion.valid_to <= at:
        raise PromotionRefused(_("This promotion has already ended."), fields={"valid_to": [_("Ended.")]})
    promotion.valid_to = max(at, promotion.valid_from + timezone.timedelta(seconds=1))
    promotion.save(update_fields=["valid_to"])
    PromotionChange.objects.create(promotion=promotion, action=AuditAction.ENDED, changed_by=person_of(actor))
    return promotion


# --- coupons ----------------------------------------------------------------------------------


@transaction.atomic
def coupon_define(
    *,
    code: str,
    name: str,
    kind: str,
    value,
    valid_from: datetime,
    valid_to: datetime | None = None,
    min_spend=0,
    per_member_limit: int = 1,
    claimable: bool = False,
    budget_count: int | None = None,
    budget_amount=None,
    skus=(),
    categories=(),
    channels=(),
    actor,
) -> Coupon:
    marketing_require(actor)
    code, name = _code_and_name(code, name, CouponRefused)
    if Coupon.objects.filter(code=code).exists():
        raise CouponRefused(
            _("Coupon %(code)s exists.") % {"code": code}, fields={"code": [_("Already used.")]}
        )
    if kind not in CouponKind.values:
        raise CouponRefused(_("Choose a kind of coupon."), fields={"kind": [_("Unknown.")]})
    value = (
        _percent(value, "value", CouponRefused)
        if kind == CouponKind.PERCENT
        else _money(value, "value", error=CouponRefused)
    )
    min_spend = _money(min_spend or 0, "min_spend", error=CouponRefused, allow_zero=True)
    if kind == CouponKind.AMOUNT and min_spend and value > min_spend:
        raise CouponRefused(
            _("The coupon is worth more than its minimum spend."),
            fields={"value": [_("Above the minimum spend.")]},
        )
    _window(valid_from, valid_to, CouponRefused)
    for field, number, top in (
        ("per_member_limit", per_member_limit, 100),
        ("budget_count", budget_count, 100_000_000),
    ):
        if number is None and field == "budget_count":
            continue
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= top:
            raise CouponRefused(
                _("A whole number from 1 to %(max)s.") % {"max": top}, fields={field: [_("Out of range.")]}
            )
    if budget_amount not in (None, ""):
        budget_amount = _money(budget_amount, "budget_amount", error=CouponRefused)
    else:
        budget_amount = None
    coupon = Coupon.objects.create(
        code=code[:40],
        name=name[:120],
        kind=kind,
        value=value,
        min_spend=min_spend,
        valid_from=valid_from,
        valid_to=valid_to,
        per_member_limit=per_member_limit,
        claimable=bool(claimable),
        budget_count=budget_count,
        budget_amount=budget_amount,
        created_by=person_of(actor),
    )
    coupon.skus.set(list(skus))
    coupon.categories.set(list(categories))
    coupon.channels.set(list(channels))
    return coupon


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))


def _issue(
    *, coupon: Coupon, member: Member, via: str, user=None, guide=None, store=None, campaign=None, at=None
):
    """A new code for the member, numbered within the coupon's per-member limit (the unique
    (coupon, member, seq) refuses a concurrent second claim past the limit)."""
    at = at or timezone.now()
    if member.is_merged:
        raise CouponRefused(
            _("This member was merged; give the coupon to the survivor."), fields={"member": [_("Merged.")]}
        )
    if coupon.valid_to is not None and coupon.valid_to <= at:
        raise CouponRefused(
            _("Coupon %(code)s has ended.") % {"code": coupon.code}, fields={"coupon": [_("Ended.")]}
        )
    held = CouponCode.objects.filter(coupon=coupon, member=member).count()
    if held >= coupon.per_member_limit:
        raise CouponRefused(
            _("This member already has %(n)s of %(coupon)s, the most one member may hold.")
            % {"n": held, "coupon": coupon.name},
            code="coupon_limit",
            fields={"coupon": [_("Limit reached.")]},
        )
    for _attempt in range(3):
        try:
            with transaction.atomic():
                code = CouponCode.objects.create(
                    code=_new_code(),
                    coupon=coupon,
                    member=member,
                    seq=held + 1,
                    issued_via=via,
                    guide=guide,
                    store=store,
                    campaign=campaign,
                    issued_by=user,
                )
        except IntegrityError:
            if CouponCode.objects.filter(coupon=coupon, member=member, seq=held + 1).exists():
                raise CouponRefused(
                    _("This member was just given this coupon."),
                    code="coupon_limit",
                    fields={"coupon": [_("Limit reached.")]},
                ) from None
            continue  # the random code collided: draw again
        Coupon.objects.filter(pk=coupon.pk).update(issued_count=F("issued_count") + 1)
        return code
    raise CouponRefused(_("Could not draw a code; try again."), fields={"coupon": [_("Try again.")]})


@transaction.atomic
def code_give(*, coupon: Coupon, member: Member, via: str, actor, guide=None, store=None) -> CouponCode:
    """Give a member a code: HQ; a clerk at their store's tablet; a guide to a fan; the product
    (SYSTEM) for the customer's own claim at a store's or guide's QR code."""
    if via not in IssuedVia.values or via == IssuedVia.CAMPAIGN:
        raise CouponRefused(_("Say how the coupon is given."), fields={"via": [_("Unknown.")]})
    code_giver_require(actor, member=member, store=store, guide=guide)
    if via in (IssuedVia.STORE_QR, IssuedVia.GUIDE_QR, IssuedVia.GUIDE) and not coupon.claimable:
        # A campaign's or a counter's coupon is not for anyone who learns its code, nor for whoever
        # signs up as a guide to hand out: a guide gives what their fans could claim, attributed.
        raise CouponRefused(
            _("%(coupon)s is not offered at QR codes or by guides.") % {"coupon": coupon.name},
            fields={"coupon": [_("Not claimable.")]},
        )
    return _issue(coupon=coupon, member=member, via=via, user=person_of(actor), guide=guide, store=store)


def codes_of(member: Member, *, usable_at: datetime | None = None) -> QuerySet[CouponCode]:
    codes = CouponCode.objects.filter(member=member).select_related("coupon")
    if usable_at is not None:
        codes = codes.filter(status=CodeStatus.HELD, coupon__valid_from__lte=usable_at).filter(
            Q(coupon__valid_to__isnull=True) | Q(coupon__valid_to__gt=usable_at)
        )
    return codes


def _code_used(code: CouponCode) -> CouponRefused:
    return CouponRefused(
        _("Coupon %(code)s was used a moment ago.") % {"code": code.code},
        fields={"coupons": [_("Already used.")]},
    )


def _budget_spent(code: CouponCode) -> CouponBudgetSpent:
    message = _("%(coupon)s has been given out in full; it cannot be used any more.")
    return CouponBudgetSpent(message % {"coupon": code.coupon.name}, fields={"coupons": [_("Budget spent.")]})


def _taken_or_refused(code: CouponCode, rows) -> None:
    """The answer of sql.code_and_coupon_take: (codes taken, coupons counted)."""
    taken, counted = rows[0]
    if not taken:
        raise _code_used(code)
    if not counted:
        raise _budget_spent(code)


def redeem_codes(
    *,
    quote: Quote,
    batch: Batch,
    order_number: str,
    member_id: int,
    channel,
    store_id,
    guide_id,
    at,
    rows_batch: Batch | None = None,
) -> list[CouponRedemption]:
    """Queue on the order's batch: each code marked used and its coupon's budgets counted, by
    conditional UPDATEs that refuse when the code was used meanwhile or the budget is spent, and
    a redemption row and a `coupon.redeemed` event each (on `rows_batch` when given: the order
    writes them before it takes the hot rows, which are then held for the UPDATEs alone). Coupons
    in id order: two orders never lock them crosswise."""
    rows_batch = batch if rows_batch is None else rows_batch
    per_code: dict[int, Decimal] = {}
    codes = {}
    for line in quote.lines:
        for discount in line.discounts:
            if discount.code is not None:
                per_code[discount.code.pk] = per_code.get(discount.code.pk, Decimal(0)) + discount.amount
                codes[discount.code.pk] = discount.code
    rows = []
    for code in sorted(codes.values(), key=lambda c: c.coupon_id):
        amount = per_code[code.pk]
        both = sql.code_and_coupon_take(code.pk, member_id, order_number, at, code.coupon_id, amount)
        if both is not None:  # one statement (PostgreSQL)
            batch.read(*both, partial(_taken_or_refused, code))
        else:
            batch.sql(*sql.code_take(code.pk, member_id, order_number, at), refuse=partial(_code_used, code))
            batch.sql(*sql.coupon_take(code.coupon_id, amount), refuse=partial(_budget_spent, code))
        rows.append(
            CouponRedemption(
                code=code,
                coupon_id=code.coupon_id,
                order_number=order_number,
                channel=channel,
                store_id=store_id,
                guide_id=guide_id,
                discount=amount,
                net_sales=quote.total,
            )
        )
    # The events first: they join the order's own event in one INSERT (Batch.rows).
    for row in rows:
        event_emit(
            type="coupon.redeemed",
            payload={
                "code": row.code.code,
                "coupon": row.code.coupon.code,
                "order": order_number,
                "member": member_id,
                "discount": str(row.discount),
            },
            channel=channel,
            batch=rows_batch,
        )
    rows_batch.rows(rows)
    return rows


def release_codes(*, order_number: str) -> int:
    """A cancelled order gives its codes back: each code usable again, its coupon's budgets
    freed, a negative redemption row each (the report counts net). Coupons in id order, as the
    intake locks them."""
    first: dict[int, CouponRedemption] = {}
    standing: dict[int, Decimal] = {}
    for row in CouponRedemption.objects.filter(order_number=order_number).order_by("id"):
        first.setdefault(row.code_id, row)
        standing[row.code_id] = standing.get(row.code_id, Decimal(0)) + row.discount
    batch, rows = Batch(), []
    for code_id in sorted(
        (c for c, amount in standing.items() if amount > 0), key=lambda c: first[c].coupon_id
    ):
        row, amount = first[code_id], standing[code_id]
        batch.sql(*sql.coupon_give_back(row.coupon_id, amount))
        rows.append(
            CouponRedemption(
                code_id=code_id,
                coupon_id=row.coupon_id,
                order_number=order_number,
                channel_id=row.channel_id,
                store_id=row.store_id,
                guide_id=row.guide_id,
                discount=-amount,
                net_sales=-row.net_sales,
            )
        )
    if rows:
        batch.rows(rows).run()
        CouponCode.objects.filter(pk__in=[r.code_id for r in rows], order_number=order_number).update(
            status=CodeStatus.HELD, redeemed_at=None, order_number=""
        )
    return len(rows)


# --- wallet -----------------------------------------------------------------------------------


def wallet_balance(member: Member) -> Decimal:
    return sql.wallet_balance(member.pk) or Decimal(0)


def wallet_balance_read(batch, member: Member) -> Pending:
    """`wallet_balance` queued on `batch` (a config.sql.Batch; its `value` once the batch ran)."""
    statement, params = sql.wallet_balance_statement(member.pk)
    return batch.read(statement, params, lambda rows: sql.wallet_balance_from_rows(rows) or Decimal(0))


def _wallet(member_id: int) -> Wallet:
    wallet = Wallet.objects.filter(member_id=member_id).first()
    if wallet is None:
        try:
            with transaction.atomic():
                wallet = Wallet.objects.create(member_id=member_id)
        except IntegrityError:
            wallet = Wallet.objects.get(member_id=member_id)
    return wallet


def _wallet_entry(*, member_id: int, kind: str, amount: Decimal, **fields) -> WalletEntry:
    """Move the balance by a conditional UPDATE (a debit only if covered) and write its row."""
    wallet = _wallet(member_id)
    now = timezone.now()
    statement, params = sql.wallet_move(member_id, amount, now)
    answered = Batch().sql(statement, params).run()[0]
    if not answered:
        raise InsufficientBalance(
            _("The wallet holds %(balance)s; %(wanted)s cannot be taken.")
            % {"balance": wallet_balance(Member(pk=member_id)), "wanted": -amount},
            fields={"stored_value": [_("More than the balance.")]},
        )
    return WalletEntry.objects.create(wallet=wallet, kind=kind, amount=amount, **fields)


@transaction.atomic
def wallet_top_up(
    *, member: Member, amount, method: str, actor, reference: str = "", client_reference: str | None = None
) -> WalletEntry:
    """Money in: paid by an external method (cash, card, WeChat Pay, Alipay), never by the
    wallet itself or by points. Idempotent by `client_reference`."""
    wallet_topup_require(actor, member)
    amount = _money(amount, "amount", error=TenderRefused)
    if method not in EXTERNAL_TOPUP_METHODS:
        raise TenderRefused(
            _("A top-up is paid by cash, card, WeChat Pay or Alipay; not by the wallet or points."),
            fields={"method": [_("Not a way to top up.")]},
        )
    if member.is_merged:
        raise TenderRefused(
            _("This member was merged; top up the survivor."), fields={"member": [_("Merged.")]}
        )
    for field, text in (("reference", reference), ("client_reference", client_reference)):
        if text is not None and (not isinstance(text, str) or len(text) > 64 or not text.isprintable()):
            raise TenderRefused(
                _("A reference is at most 64 printable characters."), fields={field: [_("Not a reference.")]}
            )
    replay = _top_up_replayed(client_reference, member=member, amount=amount)
    if replay is not None:
        return replay
    try:
        with transaction.atomic():
            return _wallet_entry(
                member_id=member.pk,
                kind=WalletKind.TOP_UP,
                amount=amount,
                method=method,
                reference=(reference or "")[:64],
                client_reference=client_reference or None,
                created_by=person_of(actor),
            )
    except IntegrityError:
        # The same request at the same moment: the other one committed first; answer it (the
        # savepoint undid this one's move of the balance).
        replay = _top_up_replayed(client_reference, member=member, amount=amount)
        if replay is None:
            raise
        return replay


def _top_up_replayed(client_reference, *, member: Member, amount: Decimal) -> WalletEntry | None:
    """The top-up made before with this client reference (marked `replayed`), or None; the same
    reference for a different request is refused."""
    if not client_reference:
        return None
    existing = WalletEntry.objects.filter(client_reference=client_reference).select_related("wallet").first()
    if existing is None:
        return None
    if (
        existing.wallet.member_id == member.pk
        and existing.amount == amount
        and existing.kind == WalletKind.TOP_UP
    ):
        existing.replayed = True
        return existing
    raise TenderRefused(
        _("Client reference %(ref)s was already used for a different request.") % {"ref": client_reference},
        code="idempotency_conflict",
        fields={"client_reference": [_("Already used.")]},
    )


def wallet_spend(*, member_id: int, amount: Decimal, order_number: str, user=None) -> WalletEntry:
    """An order paid from the wallet (inside the order's transaction): never below zero."""
    return _wallet_entry(
        member_id=member_id, kind=WalletKind.SPEND, amount=-amount, order_number=order_number, created_by=user
    )


def wallet_refund(
    *, member_id: int, amount: Decimal, order_number: str, reference: str = "", user=None
) -> WalletEntry:
    return _wallet_entry(
        member_id=member_id,
        kind=WalletKind.REFUND,
        amount=amount,
        order_number=order_number,
        reference=reference[:64],
        created_by=user,
    )


# --- campaigns --------------------------------------------------------------------------------


def last_store_of_member():
    """The store of each member's latest order credited to a store (a subquery on `pk`): where
    they last shopped. Orders are a later app's table, reached through the `orders` relation."""
    order_model = Member._meta.get_field("orders").related_model
    return Subquery(
        order_model.objects.filter(member=OuterRef("pk"), origin_store__isnull=False)
        .order_by("-created_at", "-id")
        .values("origin_store")[:1]
    )


def campaign_audience(campaign: Campaign) -> QuerySet[Member]:
    """Who the campaign reaches: the segment's members (every member without one), narrowed to a
    city and/or to members whose home store or last store (their latest order's) is within
    `radius_km` of `near_store`; consenting, not merged. The distance is worked out by the
    database (stores.selectors.distance_km_expression)."""
    members = Member.objects.filter(marketing_consent=True, merged_into__isnull=True)
    if campaign.segment_id:
        members = segment_members(campaign.segment.filters, members)
    if campaign.city:
        members = members.filter(Q(city=campaign.city) | Q(home_store__city=campaign.city))
    if campaign.near_store_id and campaign.radius_km:
        centre = campaign.near_store
        lat, lng, radius = float(centre.latitude), float(centre.longitude), float(campaign.radius_km)
        near = (
            Store.objects.filter(bounding_box(lat, lng, radius))
            .annotate(distance=distance_km_expression(lat, lng, "latitude", "longitude"))
            .filter(distance__lte=radius)
            .values("pk")
        )
        members = members.alias(last_store=last_store_of_member()).filter(
            Q(home_store__in=near) | Q(last_store__in=near)
        )
    return members


@dataclass
class CampaignPreview:
    recipients: int
    coupon_value: Decimal | None  # the most the coupons could cost if every one is redeemed
    budget_left: int | None


def campaign_preview(campaign: Campaign) -> CampaignPreview:
    recipients = campaign_audience(campaign).count()
    coupon = campaign.coupon
    value = None
    left = None
    if coupon is not None:
        if coupon.kind == CouponKind.AMOUNT:
            value = coupon.value * recipients
            if coupon.budget_amount is not None:
                value = min(value, coupon.budget_amount - coupon.redeemed_amount)
        elif coupon.budget_amount is not None:
            value = coupon.budget_amount - coupon.redeemed_amount
        if coupon.budget_count is not None:
            left = coupon.budget_count - coupon.redeemed_count
    return CampaignPreview(recipients=recipients, coupon_value=value, budget_left=left)


@transaction.atomic
def campaign_create(
    *,
    name: str,
    actor,
    segment=None,
    near_store=None,
    radius_km=None,
    city: str = "",
    coupon=None,
    message: str = "",
) -> Campaign:
    marketing_require(actor)
    name, city, message = (name or "").strip(), (city or "").strip(), (message or "").strip()
    if not name:
        raise CampaignRefused(_("A campaign needs a name."), fields={"name": [_("This field is required.")]})
    if len(name) > 120 or len(city) > 40 or len(message) > 500:
        raise CampaignRefused(_("Too long."), fields={"name": [_("At most 120 characters.")]})
    if (near_store is None) != (radius_km in (None, "")):
        raise CampaignRefused(
            _("Name a store and a distance together."), fields={"radius_km": [_("With a store.")]}
        )
    if radius_km not in (None, ""):
        try:
            radius_km = Decimal(str(radius_km)).quantize(Decimal("0.1"))
        except ArithmeticError:
            radius_km = None
        if radius_km is None or not radius_km.is_finite() or not 0 < radius_km <= 5000:
            raise CampaignRefused(
                _("A distance from 0.1 to 5,000 km."), fields={"radius_km": [_("Out of range.")]}
            )
    else:
        radius_km = None
    if coupon is None and not message:
        raise CampaignRefused(
            _("A campaign gives a coupon, sends a message, or both."),
            fields={"message": [_("This field is required.")]},
        )
    return Campaign.objects.create(
        name=name,
        segment=segment,
        near_store=near_store,
        radius_km=radius_km,
        city=city,
        coupon=coupon,
        message=message,
        created_by=person_of(actor),
    )


# Members a campaign reaches per transaction: each chunk commits its codes, recipients and events
# together, so a send of a big segment holds the campaign's lock for one chunk at a time, and a send
# cut short is finished by sending again (it reaches only members not reached yet).
CAMPAIGN_CHUNK = 500


def campaign_send(*, campaign: Campaign, actor, at: datetime | None = None) -> int:
    """Issue the coupon and write one `campaign.message` event per member (the brand's SMS or
    WeChat provider delivers it from the webhook), `CAMPAIGN_CHUNK` members per transaction.
    Sending again reaches only members it has not reached (a member gets one code and one message
    per campaign). Answers how many it reached."""
    marketing_require(actor)
    at = at or timezone.now()
    total = 0
    while True:
        reached = _campaign_send_chunk(campaign.pk, user=person_of(actor), at=at)
        total += reached
        if reached < CAMPAIGN_CHUNK:
            return total


@transaction.atomic
def _campaign_send_chunk(campaign_id: int, *, user, at: datetime) -> int:
    # Lock the campaign row only: PostgreSQL refuses FOR UPDATE on the nullable side of the coupon's join.
    campaign = Campaign.objects.select_for_update(of=("self",)).select_related("coupon").get(pk=campaign_id)
    done = CampaignRecipient.objects.filter(campaign=campaign, member=OuterRef("pk"))
    members = list(campaign_audience(campaign).exclude(Exists(done)).order_by("pk")[:CAMPAIGN_CHUNK])
    for member in members:
        code = None
        if campaign.coupon is not None:
            try:
                with transaction.atomic():
                    code = _issue(
                        coupon=campaign.coupon,
                        member=member,
                        via=IssuedVia.CAMPAIGN,
                        user=user,
                        campaign=campaign,
                        at=at,
                    )
            except CouponRefused:
                code = None  # this member holds the most they may: the message still goes
        CampaignRecipient.objects.create(campaign=campaign, member=member, code=code)
        event_emit(
            type="campaign.message",
            payload={
                "event_key": f"campaign-{campaign.pk}-member-{member.pk}",
                "campaign": campaign.pk,
                "member": member.pk,
                "phone": member.phone,
                "message": campaign.message,
                "coupon_code": code.code if code else None,
            },
        )
    campaign.recipients = CampaignRecipient.objects.filter(campaign=campaign).count()
    campaign.status = CampaignStatus.SENT
    campaign.sent_at = at
    campaign.save(update_fields=["recipients", "status", "sent_at"])
    return len(members)


def campaign_report(campaign: Campaign) -> dict:
    """Issued and redeemed codes, net sales of redeeming orders and the discount cost, in all
    and by store, guide and channel (cancelled orders count net: their rows cancel out)."""
    codes = CouponCode.objects.filter(campaign=campaign)
    redemptions = CouponRedemption.objects.filter(code__campaign=campaign)

    def by(field):
        return list(
            redemptions.values(field)
            .annotate(discount=Sum("discount"), net_sales=Sum("net_sales"))
            .order_by(field)
        )

    totals = redemptions.aggregate(discount=Sum("discount"), net_sales=Sum("net_sales"))
    return {
        "issued": codes.count(),
        "redeemed": codes.filter(status=CodeStatus.REDEEMED).count(),
        "net_sales": totals["net_sales"] or Decimal(0),
        "discount": totals["discount"] or Decimal(0),
        "by_store": by("store__name"),
        "by_guide": by("guide__code"),
        "by_channel": by("channel__name"),
        "redemptions": redemptions.aggregate(n=Count("id"))["n"],
    }
