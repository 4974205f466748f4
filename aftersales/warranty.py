"""Warranty policies as data, the one eligibility function, and the deadlines a delivery sets.

How days are counted (Asia/Shanghai, the business time zone):
- Day 1 is the day after delivery (or collection, or carry-out); the delivery date itself is
  day 0. The Consumer Protection Law counts from the day after receipt.
- A window of N days includes day N and closes at the Shanghai midnight that starts day N + 1:
  a 15-day return window allows day 15 and refuses day 16, whatever the hour of delivery
  (a TV delivered at 23:50 Shanghai, 15:50 UTC, is on day 1 ten minutes later).
- The warranty of M months is counted by the calendar: its last day is the same date M months
  after the delivery date, clamped to the end of a shorter month (delivered 31 January with a
  one-month warranty: last day 28 or 29 February). `warranty_last_day` turns it into a day
  number, so every window is compared the same way: `day <= last day`.
"""

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from aftersales.choices import TicketKind
from aftersales.errors import PolicyRefused
from aftersales.models import WarrantyPolicy, WarrantyPolicyChange
from catalog.models import Category
from config.dates import SHANGHAI, shanghai_date, shanghai_midnight
from integrations.authentication import actor as person_of
from orders.models import OrderLine, SoldUnit
from orders.services import normalise_serial

# Sensible bounds for a policy version (a typo of 150 instead of 15 is refused, not stored).
MAX_WINDOW_DAYS = 365
MAX_REPAIR_DAYS = 3650
MAX_WARRANTY_MONTHS = 120
# A version starts now or later: lines delivered before keep the policy they were given, so a
# back-dated version would only rewrite history. A minute of slack for a form posted "now".
BACKDATE_SLACK = timedelta(minutes=1)


def day_end(delivered_at: datetime, days: int) -> datetime:
    """The exclusive end of a window of `days` days after delivery: Shanghai midnight."""
    last_day = shanghai_date(delivered_at) + timedelta(days=days)
    return shanghai_midnight(last_day + timedelta(days=1))


def day_number(delivered_at: datetime, at: datetime) -> int:
    """Which day after delivery `at` falls on (0 = the delivery date itself, in Shanghai)."""
    return (shanghai_date(at) - shanghai_date(delivered_at)).days


def add_months(start: date, months: int) -> date:
    """The same date `months` later, clamped to the end of a shorter month."""
    years, month_index = divmod(start.month - 1 + months, 12)
    year, month = start.year + years, month_index + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def warranty_last_day(delivered_at: datetime, months: int) -> tuple[date, int]:
    """The warranty's last date and its day number after delivery."""
    delivered_on = shanghai_date(delivered_at)
    last = add_months(delivered_on, months)
    return last, (last - delivered_on).days


# --- which policy applies -----------------------------------------------------------------------


def policies_in_force(at: datetime) -> list[WarrantyPolicy]:
    return list(
        WarrantyPolicy.objects.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at), valid_from__lte=at)
    )


def category_parents() -> dict[int, int | None]:
    """Every category's parent id, in one query (the tree is small: hundreds of nodes)."""
    return dict(Category.objects.values_list("pk", "parent_id"))


def policy_for(
    category, policies: list[WarrantyPolicy], *, parents: dict[int, int | None] | None = None
) -> WarrantyPolicy | None:
    """The category's own policy, else its nearest ancestor's, else the default (no category).

    `category` is a Category, its id or None. The ancestors are walked in `parents` (from
    `category_parents()`; loaded here when not given and a category-specific policy exists), so
    a loop over many lines queries nothing.
    """
    by_category = {p.category_id: p for p in policies}
    category_id = getattr(category, "pk", category)
    has_category_policies = any(key is not None for key in by_category)
    if category_id is not None and has_category_policies:
        parents = parents if parents is not None else category_parents()
        seen = set()
        node = category_id
        while node is not None and node not in seen:  # `seen`: a broken tree never loops forever
            if node in by_category:
                return by_category[node]
            seen.add(node)
            node = parents.get(node)
    return by_category.get(None)


def policy_in_force_for(category, at: datetime) -> WarrantyPolicy | None:
    return policy_for(category, policies_in_force(at))


def lines_delivered(*, lines, delivered_at: datetime) -> None:
    """Give each delivered line the policy in force now and the end of its return window.

    Two queries for any number of lines (policies, then the update), a third only when some
    category has its own policy (the category tree, once). The lines' SKU and product must be
    loaded (callers select_related "sku__product").
    """
    policies = policies_in_force(delivered_at)
    parents = category_parents() if any(p.category_id for p in policies) else {}
    for line in lines:
        policy = policy_for(line.sku.product.category_id, policies, parents=parents)
        line.warranty_policy = policy
        line.returnable_until = day_end(delivered_at, policy.return_days) if policy else delivered_at
    OrderLine.objects.bulk_update(lines, ["warranty_policy", "returnable_until"])


# --- HQ changes the policies --------------------------------------------------------------------


def _snapshot(policy: WarrantyPolicy) -> dict:
    return {
        "id": policy.pk,
        "code": policy.code,
        "name": policy.name,
        "category": policy.category_id,
        "return_days": policy.return_days,
        "exchange_days": policy.exchange_days,
        "repair_days": policy.repair_days,
        "warranty_months": policy.warranty_months,
        "no_fault_return_days": policy.no_fault_return_days,
        "valid_from": policy.valid_from.isoformat(),
        "valid_to": policy.valid_to.isoformat() if policy.valid_to else None,
    }


def _window_text(policy: WarrantyPolicy) -> str:
    start = timezone.localtime(policy.valid_from, SHANGHAI)
    if policy.valid_to is None:
        return _("from %(start)s") % {"start": f"{start:%Y-%m-%d %H:%M}"}
    end = timezone.localtime(policy.valid_to, SHANGHAI)
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"


def _check_windows(
    *, return_days, exchange_days, repair_days, warranty_months, no_fault_return_days
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def whole(name, value, low, high):
        if isinstance(value, bool) or not isinstance(value, int):
            errors[name] = [_("A whole number.")]
            return False
        if not low <= value <= high:
            errors[name] = [_("Between %(low)s and %(high)s.") % {"low": low, "high": high}]
            return False
        return True

    ok = whole("return_days", return_days, 0, MAX_WINDOW_DAYS)
    ok &= whole("exchange_days", exchange_days, 0, MAX_WINDOW_DAYS)
    ok &= whole("repair_days", repair_days, 0, MAX_REPAIR_DAYS)
    whole("warranty_months", warranty_months, 0, MAX_WARRANTY_MONTHS)
    nofault_ok = no_fault_return_days is None or whole(
        "no_fault_return_days", no_fault_return_days, 0, MAX_WINDOW_DAYS
    )
    if ok and exchange_days < return_days:
        errors["exchange_days"] = [
            _("At least the return window (%(days)s days): what may be returned may be exchanged.")
            % {"days": return_days}
        ]
    if ok and repair_days < exchange_days:
        errors["repair_days"] = [
            _("At least the exchange window (%(days)s days): what may be exchanged may be repaired.")
            % {"days": exchange_days}
        ]
    if ok and nofault_ok and no_fault_return_days is not None and no_fault_return_days > return_days:
        # Commission is held until the return window closes; a longer no-fault window would
        # release it while the customer could still return the goods.
        errors["no_fault_return_days"] = [
            _("At most the return window (%(days)s days).") % {"days": return_days}
        ]
    return errors


@transaction.atomic
def policy_set(
    *,
    code: str,
    name: str,
    category=None,
    return_days: int,
    exchange_days: int,
    repair_days: int,
    warranty_months: int,
    no_fault_return_days: int | None = None,
    valid_from: datetime | None = None,
    actor,
) -> WarrantyPolicy:
    """Start a policy version for a category (None: the default) from `valid_from` (default now).

    The version in force for the same category is ended where the new one starts; any other
    overlap is refused, so one version per category is in force at any instant. Lines delivered
    before keep their policy; lines delivered from `valid_from` get this one. Audited.
    """
    user = person_of(actor)
    now = timezone.now()
    valid_from = valid_from or now
    errors = _check_windows(
        return_days=return_days,
        exchange_days=exchange_days,
        repair_days=repair_days,
        warranty_months=warranty_months,
        no_fault_return_days=no_fault_return_days,
    )
    if timezone.is_naive(valid_from):
        errors["valid_from"] = [_("Give a time zone.")]
    elif valid_from < now - BACKDATE_SLACK:
        errors["valid_from"] = [_("Now or later: lines delivered before keep the policy they were given.")]
    if not (code or "").strip():
        errors["code"] = [_("This field is required.")]
    if not (name or "").strip():
        errors["name"] = [_("This field is required.")]
    if errors:
        raise PolicyRefused(_("The warranty policy was not saved; correct the marked fields."), fields=errors)

    # Lock the category's versions: two HQ users changing one policy at once are serialised.
    scope = Q(category__isnull=True) if category is None else Q(category=category)
    # (ordered by id: the default ordering joins the category, which FOR UPDATE refuses on PG)
    versions = list(WarrantyPolicy.objects.select_for_update().filter(scope).order_by("pk"))
    overlapping = [p for p in versions if p.valid_to is None or p.valid_to > valid_from]
    superseded = None
    if len(overlapping) == 1 and overlapping[0].valid_to is None and overlapping[0].valid_from < valid_from:
        superseded = overlapping[0]
    elif overlapping:
        scope_name = category.name if category is not None else _("the default")
        message = _(
            "%(scope)s already has a policy in %(windows)s; end it first or start the new one later."
        ) % {"scope": scope_name, "windows": ", ".join(_window_text(p) for p in overlapping)}
        raise PolicyRefused(message, fields={"valid_from": [message]})

    policy = WarrantyPolicy(
        code=code.strip(),
        name=name.strip(),
        category=category,
        return_days=return_days,
        exchange_days=exchange_days,
        repair_days=repair_days,
        warranty_months=warranty_months,
        no_fault_return_days=no_fault_return_days,
        valid_from=valid_from,
        created_by=user,
    )
    try:
        policy.full_clean()
    except ValidationError as error:  # e.g. a code that is not a slug, a name too long
        raise PolicyRefused(
            _("The warranty policy was not saved; correct the marked fields."),
            fields={name: list(messages) for name, messages in error.message_dict.items()},
        ) from None
    before = None
    if superseded is not None:
        before = _snapshot(superseded)
        superseded.valid_to = valid_from
        superseded.save(update_fields=["valid_to"])
    policy.save()
    changes = [
        WarrantyPolicyChange(
            policy=policy,
            action="set",
            detail={"before": before, "after": _snapshot(policy)},
            changed_by=user,
        )
    ]
    if superseded is not None:
        changes.append(
            WarrantyPolicyChange(
                policy=superseded,
                action="ended",
                detail={"before": before, "after": _snapshot(superseded), "replaced_by": policy.pk},
                changed_by=user,
            )
        )
    WarrantyPolicyChange.objects.bulk_create(changes)
    return policy


@transaction.atomic
def policy_end(*, policy: WarrantyPolicy, at: datetime | None = None, actor) -> WarrantyPolicy:
    """End a policy version at `at` (default now). Ending a category's policy hands its lines
    back to the nearest ancestor's (or the default); lines delivered before keep it. Audited."""
    user = person_of(actor)
    now = timezone.now()
    at = at or now
    policy = WarrantyPolicy.objects.select_for_update().get(pk=policy.pk)
    if timezone.is_naive(at) or at < now - BACKDATE_SLACK:
        raise PolicyRefused(
            _("A policy can be ended now or later, not in the past."),
            fields={"valid_to": [_("Now or later.")]},
        )
    if at <= policy.valid_from or (policy.valid_to is not None and at >= policy.valid_to):
        raise PolicyRefused(
            _("A policy can only be ended inside its window (%(window)s).")
            % {"window": _window_text(policy)},
            fields={"valid_to": [_("Outside the policy's window.")]},
        )
    if (
        policy.category_id is None
        and not WarrantyPolicy.objects.filter(category__isnull=True, valid_from=at)
        .exclude(pk=policy.pk)
        .exists()
    ):
        # Without a default, products with no category policy would be delivered with no
        # return window at all (and their commission released at once): start the next one.
        raise PolicyRefused(
            _("The default policy can only end when its successor starts; set the new default instead."),
            fields={"valid_to": [_("No default would follow.")]},
        )
    before = _snapshot(policy)
    policy.valid_to = at
    policy.save(update_fields=["valid_to"])
    WarrantyPolicyChange.objects.create(
        policy=policy, action="ended", detail={"before": before, "after": _snapshot(policy)}, changed_by=user
    )
    return policy


# --- eligibility --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """One thing the policy allows, up to and including day `last`."""

    kind: str  # a TicketKind value
    last: int
    warranty: bool = False  # repair under the warranty (after the free repair window)
    no_fault: bool = False  # a return without a fault


@dataclass(frozen=True)
class Eligibility:
    """The policy's answer for one request on one line (and unit) at one instant, in words."""

    allowed: bool
    reason: str
    day: int | None
    policy: WarrantyPolicy | None
    kinds_allowed: list[str] = field(default_factory=list)
    unit: object = None  # the SoldUnit checked (found by serial when one was given)

    @property
    def under_warranty(self) -> bool:
        """An allowed repair after the policy's repair window: inside the warranty."""
        return bool(
            self.allowed and self.policy and self.day is not None and self.day > self.policy.repair_days
        )


KIND_WORDS = {
    frozenset({TicketKind.RETURN}): gettext_lazy("return"),
    frozenset({TicketKind.EXCHANGE}): gettext_lazy("exchange"),
    frozenset({TicketKind.REPAIR}): gettext_lazy("repair"),
    frozenset({TicketKind.RETURN, TicketKind.EXCHANGE}): gettext_lazy("return or exchange"),
    frozenset({TicketKind.RETURN, TicketKind.REPAIR}): gettext_lazy("return or repair"),
    frozenset({TicketKind.EXCHANGE, TicketKind.REPAIR}): gettext_lazy("exchange or repair"),
    frozenset(TicketKind.values): gettext_lazy("return, exchange or repair"),
}


def policy_windows(policy: WarrantyPolicy, delivered_at: datetime, *, fault: bool) -> list[Window]:
    """What the policy allows and until which day, for a faulty product or one without a fault.

    A faulty product: return to `return_days`, exchange to `exchange_days`, free repair to
    `repair_days`, then repair under the warranty to its last day. Without a fault: a return
    only, to `no_fault_return_days` (none when the policy leaves it empty); exchange and repair
    are for faults.
    """
    if not fault:
        if policy.no_fault_return_days is None:
            return []
        return [Window(TicketKind.RETURN, policy.no_fault_return_days, no_fault=True)]
    windows = [
        Window(TicketKind.RETURN, policy.return_days),
        Window(TicketKind.EXCHANGE, policy.exchange_days),
        Window(TicketKind.REPAIR, policy.repair_days),
    ]
    warranty_last = warranty_last_day(delivered_at, policy.warranty_months)[1]
    if warranty_last > policy.repair_days:
        windows.append(Window(TicketKind.REPAIR, warranty_last, warranty=True))
    return windows


def _day_words(day: int) -> str:
    if day == 0:
        return _("Delivery day (day 0)")
    return _("Day %(day)s after delivery") % {"day": day}


def _open_words(windows: list[Window], *, policy, delivered_at) -> str:
    """'return allowed until day 15; exchange or repair allowed until day 30; ...'"""
    groups: dict[tuple, set] = {}
    for window in windows:
        groups.setdefault((window.last, window.warranty, window.no_fault), set()).add(window.kind)
    parts = []
    for (last, warranty, no_fault), kinds in sorted(groups.items()):
        if warranty:
            last_date, _day = warranty_last_day(delivered_at, policy.warranty_months)
            parts.append(
                _("repair under the %(months)s-month warranty allowed until %(date)s (day %(last)s)")
                % {"months": policy.warranty_months, "date": last_date.isoformat(), "last": last}
            )
        elif no_fault:
            parts.append(_("return without a fault allowed until day %(last)s") % {"last": last})
        else:
            parts.append(
                _("%(kinds)s allowed until day %(last)s")
                % {"kinds": KIND_WORDS[frozenset(kinds)], "last": last}
            )
    return "; ".join(parts)


def _closed_words(window: Window, *, policy, delivered_at) -> str:
    if window.warranty:
        last_date, _day = warranty_last_day(delivered_at, policy.warranty_months)
        return _("the %(months)s-month warranty ended on %(date)s (day %(last)s)") % {
            "months": policy.warranty_months,
            "date": last_date.isoformat(),
            "last": window.last,
        }
    if window.no_fault:
        return _("the %(days)s-day window for returns without a fault has closed") % {"days": window.last}
    return _("the %(days)s-day %(kind)s window has closed") % {
        "days": window.last,
        "kind": KIND_WORDS[frozenset({window.kind})],
    }


def _policy_answer(*, policy, delivered_at, at, kind, fault) -> tuple[bool, str, int, list[str]]:
    """Allowed?, the reason in words, the day number and the kinds allowed that day."""
    day = day_number(delivered_at, at)
    windows = policy_windows(policy, delivered_at, fault=fault)
    still_open = [w for w in windows if day <= w.last]
    kinds_allowed = [k for k in TicketKind.values if any(w.kind == k for w in still_open)]
    mine = [w for w in windows if w.kind == kind]
    words = {"policy": policy, "delivered_at": delivered_at}
    head = _day_words(day)
    if kind in kinds_allowed:
        said = _open_words(still_open, **words)
        if kind == TicketKind.REPAIR and day > policy.repair_days:  # a warranty repair now
            said += "; " + _("the %(days)s-day repair window closed on day %(days)s") % {
                "days": policy.repair_days
            }
        return True, f"{head}: {said}.", day, kinds_allowed

    if mine:  # the request had a window, and it has closed
        said = _closed_words(max(mine, key=lambda w: w.last), **words)
    elif kind == TicketKind.RETURN:
        said = _("under “%(policy)s” a return needs a fault") % {"policy": policy.name}
    else:
        said = _("%(kind)s is for a faulty product") % {"kind": KIND_WORDS[frozenset({kind})]}
    parts = [said]
    if still_open:
        parts.append(_open_words(still_open, **words))
    if not fault:  # what a fault would still allow: the clerk checks the product
        faulty = [w for w in policy_windows(policy, delivered_at, fault=True) if day <= w.last]
        if faulty:
            parts.append(_("with a fault: %(allowed)s") % {"allowed": _open_words(faulty, **words)})
    if not still_open and not (not fault and faulty):
        parts.append(_("no return, exchange or repair is possible any more"))
    return False, f"{head}: {'; '.join(parts)}.", day, kinds_allowed


def eligibility(
    *,
    line,
    kind: str,
    fault: bool,
    at: datetime | None = None,
    unit=None,
    serial: str = "",
    quantity: int = 1,
) -> Eligibility:
    """May this line (and unit) be returned, exchanged or repaired at `at` (default now)? Why?

    Refused, with the reason in words: a line not delivered yet, everything on it returned
    already, a serial-tracked product without the serial of a unit sold on this line (or with
    one already returned), and a request outside the policy's windows (see `policy_windows`).
    `serial` finds the unit when no `unit` is given. Load the line with select_related("order",
    "sku__product", "warranty_policy"): then it costs no query (one with a serial, two for a
    line delivered before lines stored their policy).
    """
    at = at or timezone.now()
    order = line.order
    if kind not in TicketKind.values:
        return Eligibility(False, _("Unknown request type %(kind)s.") % {"kind": kind}, None, None)
    if order.delivered_at is None or at < order.delivered_at:
        return Eligibility(
            False,
            _("Order %(number)s is not delivered yet: service starts when the customer has the goods.")
            % {"number": order.number},
            None,
            line.warranty_policy,
        )
    left = line.quantity - line.returned_quantity
    if left <= 0:
        return Eligibility(
            False,
            _("Every unit of this line (%(n)s) was returned already.") % {"n": line.quantity},
            day_number(order.delivered_at, at),
            line.warranty_policy,
        )
    if quantity > left:
        return Eligibility(
            False,
            _("Only %(left)s of %(n)s units of this line are still with the customer.")
            % {"left": left, "n": line.quantity},
            day_number(order.delivered_at, at),
            line.warranty_policy,
        )

    policy = line.warranty_policy
    if policy is None:  # delivered before lines stored their policy: the one in force that day
        policy = policy_in_force_for(line.sku.product.category_id, order.delivered_at)
    if policy is None:
        return Eligibility(
            False, _("No warranty policy covers this product."), day_number(order.delivered_at, at), None
        )

    allowed, reason, day, kinds = _policy_answer(
        policy=policy, delivered_at=order.delivered_at, at=at, kind=kind, fault=fault
    )
    serial = (serial or "").strip()
    if unit is None and serial:
        unit = _unit_by_serial(line, serial)
        if isinstance(unit, str):
            return Eligibility(False, unit, day, policy)
    if unit is not None:
        refusal = _unit_refusal(line, unit)
        if refusal:
            return Eligibility(False, refusal, day, policy, unit=unit)
    elif line.sku.serial_tracked:
        message = _("%(sku)s is serial-tracked: give the serial number of the unit.") % {"sku": line.sku.code}
        return Eligibility(False, message, day, policy, kinds, unit=None)
    return Eligibility(allowed, reason, day, policy, kinds, unit=unit)


def _unit_by_serial(line, serial: str):
    """The unit of this SKU with this serial (the one on this line first), or a refusal in words."""
    serial = normalise_serial(serial)
    units = sorted(
        SoldUnit.objects.filter(sku_id=line.sku_id, serial=serial).select_related("line__order"),
        key=lambda u: (u.line_id != line.pk, u.returned_at is not None),
    )
    if not units:
        return _("Serial %(serial)s was never sold as %(sku)s.") % {"serial": serial, "sku": line.sku.code}
    return units[0]


def _unit_refusal(line, unit) -> str:
    if unit.line_id != line.pk:
        return _("Serial %(serial)s was not sold on this order line.") % {"serial": unit.serial}
    if unit.returned_at is not None:
        return _("Serial %(serial)s was returned on %(date)s.") % {
            "serial": unit.serial,
            "date": shanghai_date(unit.returned_at).isoformat(),
        }
    return ""
