"""Commission rules and the append-only commission ledger, per order.

Rules
- A rule sets a rate (% of the paid line amount) and an optional fixed amount per unit for a
  channel / category / guide level; an empty dimension means "any".
- The most specific rule in force wins: more set dimensions first; on a tie channel beats
  category beats level; a category rule matches the category's descendants too, and a rule on
  a nearer ancestor beats one on a farther ancestor.
- Rules are never edited. `commission_rule_set` ends the rule of the same key (channel,
  category, level) in force at `valid_from` and starts the new one, which runs until the next
  rule of that key already scheduled (open-ended if none). Windows are [valid_from, valid_to).
  Both moves are audited in CommissionRuleChange with who and the before/after values.
- A rule may start (or end) in the past only while no commission booked since then would have
  been computed differently: accruals are never recomputed, so history cannot be rewritten.

Ledger (CommissionEntry; balances are sums, a correction is a new row)
- accrual when the order is paid: amount = quantize_money(line_total x rate / 100)
  + fixed_per_unit x quantity, capped at the line total, held (+held_change).
- release (guides.settlement, once the line's return window has closed): -held +payable.
- clawback on a refund: in proportion to the refunded share of the line; the refund that brings
  the line's refunded total to the whole line takes exactly what is left of the accrual, so
  partial refunds sum to the accrual. Before release it reduces held; after release it is a
  negative payable entry carried into the next statement.
- a return that keeps back a threshold discount on the units the customer keeps (aftersales,
  docs/marketing.md) makes their line worth more: a clawback row with a negative base grows that
  line's commission in the same proportion (+held, or +payable after release), and a later
  return of those units claws it back with the rest. Clawbacks' bases are signed: a line's base
  standing is its accrual's base less their sum, which is what the customer still pays for it.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Category
from config.errors import DomainError, Forbidden
from config.money import quantize_money
from guides.choices import EntryKind, StatementStatus
from guides.models import CommissionEntry, CommissionRule, CommissionRuleChange, Guide
from guides.policies import commission_rules_managed_by
from guides.sql import category_ancestors, is_released, settlement_wait
from integrations.authentication import actor as person_of
from orders.models import OrderLine

ZERO = Decimal("0.00")


class CommissionRuleRefused(DomainError):
    """A commission rule change that the rules above do not allow."""

    code = "commission_rule_refused"


class ClawbackRefused(DomainError):
    """A refund that cannot be clawed back (a negative amount)."""

    code = "commission_clawback_refused"


@dataclass(frozen=True)
class Balances:
    """A guide's or partner's commission: held (return window open), payable (released, not yet
    paid out) and paid (on paid statements). held + payable + paid is everything earned, net."""

    held: Decimal
    payable: Decimal
    paid: Decimal


# --- rules ------------------------------------------------------------------------------------


def in_force(at: datetime) -> Q:
    """Rules whose window [valid_from, valid_to) contains `at`."""
    return Q(valid_from__lte=at) & (Q(valid_to__isnull=True) | Q(valid_to__gt=at))


def _rule_values(rule: CommissionRule | None) -> dict | None:
    if rule is None:
        return None
    return {
        "id": rule.pk,
        "channel": rule.channel_id,
        "category": rule.category_id,
        "level": rule.level_id,
        "rate_percent": str(rule.rate_percent),
        "fixed_per_unit": str(rule.fixed_per_unit),
        "valid_from": rule.valid_from.isoformat(),
        "valid_to": rule.valid_to.isoformat() if rule.valid_to else None,
    }


def _refuse(message, field):
    raise CommissionRuleRefused(message, fields={field: [message]})


def _checked_rate(rate_percent) -> Decimal:
    try:
        rate = Decimal(str(rate_percent))
    except InvalidOperation:
        _refuse(_("The rate must be a number."), "rate_percent")
    if not rate.is_finite() or rate < 0 or rate > 100:
        _refuse(_("The rate must be between 0 and 100 percent."), "rate_percent")
    if rate != rate.quantize(Decimal("0.01")):
        _refuse(_("The rate has at most two decimal places."), "rate_percent")
    return rate.quantize(Decimal("0.01"))


def _checked_fixed(fixed_per_unit) -> Decimal:
    try:
        fixed = quantize_money(fixed_per_unit if fixed_per_unit is not None else 0)
    except ValueError:
        _refuse(_("The fixed amount must be an amount of money."), "fixed_per_unit")
    if fixed < 0:
        _refuse(_("The fixed amount cannot be negative."), "fixed_per_unit")
    return fixed


def _history_would_change(*, since: datetime, rule: CommissionRule | None, channel, level) -> bool:
    """Was commission booked since `since` under `rule`, or on the key's channel and level (where
    a new rule could have applied)? Category is not narrowed: a conservative answer."""
    candidates = Q(pk__isnull=False)
    if channel is not None:
        candidates &= Q(order__channel=channel)
    if level is not None:
        candidates &= Q(guide__level=level)
    if rule is not None:
        candidates |= Q(rule=rule)
    return CommissionEntry.objects.filter(candidates, kind=EntryKind.ACCRUAL, created_at__gte=since).exists()


def _require_rules_manager(actor) -> None:
    if not commission_rules_managed_by(actor):
        raise Forbidden(_("Only HQ starts and ends commission rules."))


@transaction.atomic
def commission_rule_set(
    *,
    rate_percent: Decimal,
    fixed_per_unit: Decimal = Decimal(0),
    channel=None,
    category=None,
    level=None,
    valid_from: datetime | None = None,
    actor,
) -> CommissionRule:
    """Start a commission rule for (channel, category, level) at `valid_from` (default now),
    ending the rule of the same key in force then; both moves are audited. HQ only
    (guides.policies); demo data passes SYSTEM."""
    user = person_of(actor)
    _require_rules_manager(actor)
    now = timezone.now()
    valid_from = valid_from or now
    if timezone.is_naive(valid_from):
        _refuse(_("Rule windows need a time zone."), "valid_from")
    rate = _checked_rate(rate_percent)
    fixed = _checked_fixed(fixed_per_unit)

    # Lock the key's rules so two changes of one key cannot both end the same rule. HQ changes
    # rules rarely; the very first rule of a key has nothing to lock and relies on that.
    same_key = list(
        CommissionRule.objects.select_for_update()
        .filter(channel=channel, category=category, level=level)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=valid_from))
        .order_by("valid_from", "pk")
    )
    if any(r.valid_from == valid_from for r in same_key):
        _refuse(_("A rule for the same channel, category and level already starts then."), "valid_from")
    current = next((r for r in same_key if r.valid_from < valid_from), None)
    following = next((r for r in same_key if r.valid_from > valid_from), None)
    if valid_from < now and _history_would_change(
        since=valid_from, rule=current, channel=channel, level=level
    ):
        _refuse(
            _("Commission has been booked since %(when)s under the rules then in force; start the rule now.")
            % {"when": timezone.localtime(valid_from).strftime("%Y-%m-%d %H:%M")},
            "valid_from",
        )

    before = _rule_values(current)
    if current is not None:
        current.valid_to = valid_from
        current.save(update_fields=["valid_to"])
    rule = CommissionRule(
        channel=channel,
        category=category,
        level=level,
        rate_percent=rate,
        fixed_per_unit=fixed,
        valid_from=valid_from,
        valid_to=following.valid_from if following else None,
        created_by=user,
    )
    rule.full_clean()
    rule.save()
    changes = [
        CommissionRuleChange(
            rule=rule,
            action="started",
            detail={"before": before, "after": _rule_values(rule)},
            changed_by=user,
        )
    ]
    if current is not None:
        changes.append(
            CommissionRuleChange(
                rule=current,
                action="ended",
                detail={"before": before, "after": _rule_values(current), "replaced_by": rule.pk},
                changed_by=user,
            )
        )
    CommissionRuleChange.objects.bulk_create(changes)
    return rule


@transaction.atomic
def commission_rule_end(*, rule: CommissionRule, at: datetime | None = None, actor) -> CommissionRule:
    """End a rule at `at` (default now): from then the next most specific rule applies."""
    user = person_of(actor)
    _require_rules_manager(actor)
    now = timezone.now()
    at = at or now
    if timezone.is_naive(at):
        _refuse(_("Rule windows need a time zone."), "valid_to")
    rule = CommissionRule.objects.select_for_update().get(pk=rule.pk)
    if at <= rule.valid_from or (rule.valid_to is not None and at >= rule.valid_to):
        _refuse(_("A rule can only be ended inside its window."), "valid_to")
    if at < now and CommissionEntry.objects.filter(rule=rule, created_at__gte=at).exists():
        _refuse(_("Commission has been booked under this rule since then; end it now."), "valid_to")
    before = _rule_values(rule)
    rule.valid_to = at
    rule.save(update_fields=["valid_to"])
    CommissionRuleChange.objects.create(
        rule=rule, action="ended", detail={"before": before, "after": _rule_values(rule)}, changed_by=user
    )
    return rule


def _chain(category) -> list[int]:
    """Category ids, the category first and then its ancestors, nearest first."""
    if category is None:
        return []
    if isinstance(category, int):
        return [category]
    if isinstance(category, Category):
        chain, node, seen = [], category, set()
        while node is not None and node.pk not in seen:
            seen.add(node.pk)
            chain.append(node.pk)
            node = node.parent
        return chain
    return list(category)


def rule_for(*, rules, channel_id, category, level_id) -> CommissionRule | None:
    """The most specific of `rules` (already filtered to those in force) that applies.

    `category` is a Category (its parents are walked: pass a chain in loops), a category id, or
    the chain of ids nearest first (the line's category, its parent, ...), as accrual builds it.
    """
    chain = _chain(category)
    best, best_key = None, None
    for rule in rules:
        if rule.channel_id is not None and rule.channel_id != channel_id:
            continue
        if rule.level_id is not None and rule.level_id != level_id:
            continue
        nearness = 0
        if rule.category_id is not None:
            if rule.category_id not in chain:
                continue
            nearness = -chain.index(rule.category_id)
        has = (rule.channel_id is not None, rule.category_id is not None, rule.level_id is not None)
        key = (sum(has), *has, nearness, rule.valid_from, rule.pk or 0)
        if best_key is None or key > best_key:
            best, best_key = rule, key
    return best


def _line_categories(lines) -> dict[int, int]:
    """Line id -> its product's category id; free when the lines came with sku__product."""
    if all(OrderLine.sku.is_cached(line) and type(line.sku).product.is_cached(line.sku) for line in lines):
        return {line.pk: line.sku.product.category_id for line in lines}
    return dict(
        OrderLine.objects.filter(pk__in=[line.pk for line in lines]).values_list(
            "pk", "sku__product__category"
        )
    )


# --- ledger -----------------------------------------------------------------------------------


@transaction.atomic(savepoint=False)  # inside order_pay's transaction; no savepoint round trips
def commission_accrue(*, order, lines, at: datetime) -> list[CommissionEntry]:
    """Accrue the attributed guide's commission on each paid line (held), once per line.

    Runs inside order_pay's transaction. Queries: the guide, the rules in force, the lines
    already accrued, the categories (only when a category rule is in force), one insert.
    """
    if not order.guide_id or not lines:
        return []
    guide = Guide.objects.select_related("store").get(pk=order.guide_id)
    rules = list(
        CommissionRule.objects.filter(in_force(at))
        .filter(Q(channel__isnull=True) | Q(channel_id=order.channel_id))
        .filter(Q(level__isnull=True) | Q(level_id=guide.level_id))
    )
    if not rules:
        return []
    done = set(
        CommissionEntry.objects.filter(
            kind=EntryKind.ACCRUAL, line_id__in=[line.pk for line in lines]
        ).values_list("line_id", flat=True)
    )
    lines = [line for line in lines if line.pk not in done]
    if any(line.returnable_until is not None and line.returnable_until <= at for line in lines):
        wait_for_settlement()  # paid after its return window closed: see wait_for_settlement
    chains: dict[int, list[int]] = {}
    line_category: dict[int, int] = {}
    if lines and any(rule.category_id for rule in rules):
        line_category = _line_categories(lines)
        chains = category_ancestors(list(line_category.values()))
    partner_id = guide.partner_id or (guide.store.partner_id if guide.store else None)

    entries = []
    for line in lines:
        chain = chains.get(line_category.get(line.pk), [])
        rule = rule_for(rules=rules, channel_id=order.channel_id, category=chain, level_id=guide.level_id)
        if rule is None:
            continue
        amount = (
            quantize_money(line.line_total * rule.rate_percent / 100) + rule.fixed_per_unit * line.quantity
        )
        amount = min(amount, line.line_total)
        if amount <= 0:
            continue
        entries.append(
            CommissionEntry(
                kind=EntryKind.ACCRUAL,
                guide=guide,
                partner_id=partner_id,
                store_id=guide.store_id,
                order=order,
                line=line,
                rule=rule,
                base_amount=line.line_total,
                held_change=amount,
                created_at=at,
            )
        )
    # No full_clean per row: every value is computed above and the table's constraints hold the
    # rest (one accrual per line); validating each row would query per line.
    return CommissionEntry.objects.bulk_create(entries)


def commission_clawback(
    *, order, refunds: dict[int, Decimal], user=None, reason: str = ""
) -> list[CommissionEntry]:
    """Claw back commission for refunded amounts per line id, in proportion to the line.

    The accruals are locked in id order, so concurrent refunds of one line queue up and the
    second sees the first's clawback: the sum never exceeds the accrual.
    """
    amounts: dict[int, Decimal] = {}
    for line_id, refunded in refunds.items():
        refunded = quantize_money(refunded)
        if refunded < 0:
            message = _("A refund cannot be negative.")
            raise ClawbackRefused(message, fields={"refunds": [message]})
        if refunded:
            amounts[int(line_id)] = refunded
    return _booked(order=order, amounts=amounts, user=user, reason=reason)


def commission_rebase(
    *, order, changes: dict[int, Decimal], user=None, reason: str = ""
) -> list[CommissionEntry]:
    """Move each line's commission base down by changes[line id] after a return: a positive
    change is claimed back as commission_clawback does, a negative one (the line's kept units now
    cost more: a threshold discount was kept back on them) grows the line's commission in the
    same proportion, held or (after release) payable."""
    amounts = {int(line_id): quantize_money(change) for line_id, change in changes.items()}
    return _booked(order=order, amounts={k: v for k, v in amounts.items() if v}, user=user, reason=reason)


def _booked(*, order, amounts: dict[int, Decimal], user, reason: str) -> list[CommissionEntry]:
    if not amounts:
        return []
    # Checked before the transaction: a refused refund leaves the caller's transaction usable.
    # No savepoint: inside order_cancel / ticket_resolve this is part of their transaction.
    with transaction.atomic(savepoint=False):
        return _clawback(order=order, amounts=amounts, user=user, reason=reason)


def wait_for_settlement() -> None:
    """Take the settlement key shared (PostgreSQL; SQLite has one writer at a time): wait for a
    release run under way, and make the next one wait for this transaction.

    A refund takes it before it reads whether its accruals are released, so its clawback is
    "held" only if no release has been or can be written meanwhile; an accrual booked for a line
    whose return window has already closed takes it too, so a run never counts as released an
    accrual it could not see yet (the release rows name accruals by a rule, see the models). The
    key is guides.sql.SETTLEMENT_LOCK, which guides.settlement's release runs take exclusively."""
    settlement_wait()


def _clawback(*, order, amounts: dict[int, Decimal], user, reason: str) -> list[CommissionEntry]:
    wait_for_settlement()
    accruals = list(
        CommissionEntry.objects.select_for_update(of=("self",))
        .select_related("line")
        .filter(kind=EntryKind.ACCRUAL, order_id=order.pk, line_id__in=amounts)
        .annotate(is_released=is_released())
        .order_by("pk")
    )
    if not accruals:
        return []
    followups = (
        CommissionEntry.objects.filter(accrual__in=accruals, kind=EntryKind.CLAWBACK)
        .values("accrual_id")
        .annotate(base=Sum("base_amount"), held=Sum("held_change"), payable=Sum("payable_change"))
        .order_by()
    )
    refunded_before, clawed_before = {}, {}
    for row in followups:
        refunded_before[row["accrual_id"]] = row["base"]
        clawed_before[row["accrual_id"]] = -(row["held"] + row["payable"])
    released = {accrual.pk for accrual in accruals if accrual.is_released}

    now = timezone.now()
    entries = []
    for accrual in accruals:
        refunded = amounts[accrual.line_id]
        remaining = accrual.held_change - clawed_before.get(accrual.pk, ZERO)
        proportional = quantize_money(accrual.held_change * refunded / accrual.base_amount)
        if refunded < 0:  # the line is worth more (commission_rebase): the commission grows with it
            share = proportional
        else:
            if remaining <= 0:
                continue
            line = accrual.line
            whole = (
                refunded_before.get(accrual.pk, ZERO) + refunded >= accrual.base_amount
                or line.returned_quantity >= line.quantity
            )
            share = min(remaining if whole else proportional, remaining)
            if share <= 0:
                continue
        if not share:
            continue
        after_release = accrual.pk in released
        entries.append(
            CommissionEntry(
                kind=EntryKind.CLAWBACK,
                guide_id=accrual.guide_id,
                partner_id=accrual.partner_id,
                store_id=accrual.store_id,
                order_id=accrual.order_id,
                line_id=accrual.line_id,
                accrual=accrual,
                rule_id=accrual.rule_id,
                base_amount=refunded,
                held_change=ZERO if after_release else -share,
                payable_change=-share if after_release else ZERO,
                note=(reason or "").strip()[:255],
                created_by=user,
                created_at=now,
            )
        )
    return CommissionEntry.objects.bulk_create(entries)


def commission_balances(*, guide=None, partner=None) -> Balances:
    """Held, payable (not yet paid) and paid commission of a guide, a partner or (neither) all.

    Paid means on a paid statement of that party: a guide's statements for a guide, a partner's
    for a partner; for everyone, guide statements, and partner statements for partner-only rows.
    """
    entries = CommissionEntry.objects.all()
    if guide is not None:
        entries = entries.filter(guide=guide)
    if partner is not None:
        entries = entries.filter(partner=partner)
    if guide is not None:
        on_paid = Q(statement__status=StatementStatus.PAID)
    elif partner is not None:
        on_paid = Q(partner_statement__status=StatementStatus.PAID)
    else:
        on_paid = Q(statement__status=StatementStatus.PAID) | Q(
            guide__isnull=True, partner_statement__status=StatementStatus.PAID
        )
    zero = Value(ZERO, output_field=DecimalField())
    sums = entries.aggregate(
        held=Coalesce(Sum("held_change"), zero),
        payable=Coalesce(Sum("payable_change"), zero),
        paid=Coalesce(Sum("payable_change", filter=on_paid), zero),
    )
    paid = quantize_money(sums["paid"])
    return Balances(
        held=quantize_money(sums["held"]),
        payable=quantize_money(sums["payable"]) - paid,
        paid=paid,
    )
