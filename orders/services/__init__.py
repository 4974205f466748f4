"""Every write to an order: create, pay, cancel. Store-side steps (accept, reject, ship, pickup)
are in orders/fulfilment.py; where an order goes is decided by orders/routing.py.

Hot path (flash sales): an order is a handful of statements and the stock rows are touched
last, in SKU order, so two orders never deadlock and a hot row is locked only until COMMIT.
"""

from orders.services.cancelling import CANCELLABLE, cancel_as, order_cancel
from orders.services.intake import (
    MAX_LINE_QUANTITY,
    MAX_LINES,
    REASON_MAX_LENGTH,
    LineRequest,
    _check_lines,
    _priced,
    clip,
    order_create,
    request_fingerprint,
    reserve_at_first_candidate,
    route_reason,
)
from orders.services.paying import (
    line_share_reversals,
    order_pay,
    revenue_split,
    share_moves,
    share_reversals,
    tender_refund,
)
from orders.services.serial_numbers import (
    SERIAL_MAX_LENGTH,
    normalise_serial,
    order_delivered,
    sold_units_record,
)

__all__ = [
    "MAX_LINES",
    "MAX_LINE_QUANTITY",
    "REASON_MAX_LENGTH",
    "clip",
    "LineRequest",
    "request_fingerprint",
    "_check_lines",
    "_priced",
    "reserve_at_first_candidate",
    "order_create",
    "route_reason",
    "revenue_split",
    "share_reversals",
    "share_moves",
    "line_share_reversals",
    "order_pay",
    "tender_refund",
    "SERIAL_MAX_LENGTH",
    "normalise_serial",
    "sold_units_record",
    "order_delivered",
    "CANCELLABLE",
    "order_cancel",
    "cancel_as",
]
