"""Orders: serial numbers of the units sold, recorded when lines are delivered."""

from collections import Counter

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from integrations.outbox import order_event
from orders import reactions
from orders.choices import (
    OrderStatus,
)
from orders.errors import (
    OrderRefused,
)
from orders.models import (
    Order,
    OrderLine,
    SoldUnit,
)
from orders.states import order_transition

SERIAL_MAX_LENGTH = 64


def normalise_serial(serial) -> str:
    """Serials are compared as typed or scanned, without surrounding blanks and case-insensitively."""
    return str(serial).strip().upper()


def _serial_errors(line: OrderLine, given) -> tuple[list[str], list[str]]:
    """The line's serials, normalised, and what is wrong with them."""
    if isinstance(given, str):
        given = [given]
    if given is not None and not isinstance(given, list | tuple):
        return [], [_("A list of serial numbers, one per unit.")]
    serials = [normalise_serial(s) for s in (given or []) if normalise_serial(s)]
    errors = []
    for serial in serials:
        if len(serial) > SERIAL_MAX_LENGTH or not serial.isprintable() or any(c.isspace() for c in serial):
            errors.append(
                _("“%(serial)s” is not a serial number (at most %(n)s characters, no spaces).")
                % {"serial": serial[:80], "n": SERIAL_MAX_LENGTH}
            )
    twice = sorted(serial for serial, n in Counter(serials).items() if n > 1)
    if twice:
        errors.append(_("Given twice: %(serials)s.") % {"serials": ", ".join(twice)})
    if len(serials) != line.quantity:
        errors.append(
            ngettext(
                "%(sku)s needs %(n)s serial number, one per unit; %(given)s given.",
                "%(sku)s needs %(n)s serial numbers, one per unit; %(given)s given.",
                line.quantity,
            )
            % {"sku": line.sku.code, "n": line.quantity, "given": len(serials)}
        )
    return serials, errors


def sold_units_record(*, order: Order, lines: list[OrderLine], serials: dict | None) -> list[SoldUnit]:
    """The serial of every unit of a serial-tracked line that leaves (shipped, collected, carried out).

    `serials` maps a line id (int or its text) to that line's serials: exactly `quantity`
    distinct ones per serial-tracked line; other lines need none and ignore them. A serial of
    the SKU sold and not returned is refused. All or nothing: a refusal names each line's fields
    (`serials[<line id>]`) and writes no row. No query when no line is serial-tracked.
    """
    serials = serials or {}
    if not isinstance(serials, dict):
        raise OrderRefused(
            _("Serial numbers come as {line id: [serial, ...]}."),
            code="serials_refused",
            fields={"serials": [_("A mapping of line ids to lists of serial numbers.")]},
        )
    by_id = {line.pk: line for line in lines}
    errors: dict[str, list[str]] = {}
    wanted: dict[int, list[str]] = {}
    given: dict[int, object] = {}
    for key, values in serials.items():
        try:
            line_id = int(key)
        except (TypeError, ValueError):
            line_id = None
        if line_id not in by_id:
            errors[f"serials[{key}]"] = [_("Not a line of order %(number)s.") % {"number": order.number}]
        else:
            given[line_id] = values
    for line in lines:
        if line.sku.serial_tracked:
            wanted[line.pk], line_errors = _serial_errors(line, given.get(line.pk))
            if line_errors:
                errors[f"serials[{line.pk}]"] = line_errors
    if errors:
        raise OrderRefused(
            " ".join(message for messages in errors.values() for message in messages),
            code="serials_refused",
            fields=errors,
        )
    if not wanted:
        return []
    units = [
        SoldUnit(line=by_id[line_id], sku_id=by_id[line_id].sku_id, serial=serial)
        for line_id, line_serials in wanted.items()
        for serial in line_serials
    ]
    pairs = {(unit.sku_id, unit.serial) for unit in units}
    still_sold = [
        unit
        for unit in SoldUnit.objects.filter(
            sku_id__in={sku for sku, _serial in pairs},
            serial__in={serial for _sku, serial in pairs},
            returned_at__isnull=True,
        ).select_related("line__order")
        if (unit.sku_id, unit.serial) in pairs
    ]
    if still_sold:
        for unit in still_sold:
            line_id = next(u.line.pk for u in units if (u.sku_id, u.serial) == (unit.sku_id, unit.serial))
            errors.setdefault(f"serials[{line_id}]", []).append(
                _("Serial %(serial)s was sold on order %(number)s and not returned.")
                % {"serial": unit.serial, "number": unit.line.order.number}
            )
        raise OrderRefused(
            " ".join(message for messages in errors.values() for message in messages),
            code="serials_refused",
            fields=errors,
        )
    try:
        with transaction.atomic():  # a concurrent sale of the same unit: the partial unique index says no
            return SoldUnit.objects.bulk_create(units)
    except IntegrityError:
        message = _("One of these serial numbers was sold on another order a moment ago; check them.")
        raise OrderRefused(
            message,
            code="serials_refused",
            fields={f"serials[{line_id}]": [message] for line_id in wanted},
        ) from None


def order_delivered(*, order: Order, lines: list[OrderLine], user=None, reason: str = "", at=None) -> Order:
    """The customer has the goods (delivered, collected or carried out): the warranty and return
    windows start now, with the policy in force now (the row is locked by the caller)."""
    order.delivered_at = at or timezone.now()
    order_transition(
        order=order, to=OrderStatus.COMPLETED, user=user, reason=reason, extra_fields=["delivered_at"]
    )
    reactions.lines_delivered(lines=lines, delivered_at=order.delivered_at)
    order_event("order.completed", order, delivered_at=order.delivered_at.isoformat())
    return order
