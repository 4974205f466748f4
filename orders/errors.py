from config.errors import Conflict, DomainError


class OrderRefused(DomainError):
    code = "order_refused"


class PriceMismatch(OrderRefused):
    code = "price_mismatch"


class NoFulfilmentLocation(Conflict):
    """No store within reach and no warehouse has every line in stock."""

    code = "no_fulfilment_location"


class PaymentRefused(Conflict):
    code = "payment_refused"


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


class AssignmentRefused(Conflict):
    code = "assignment_refused"


class PickupCodeWrong(DomainError):
    code = "pickup_code_wrong"
