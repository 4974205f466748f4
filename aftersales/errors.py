from config.errors import Conflict, DomainError


class PolicyRefused(DomainError):
    """A warranty policy version that breaks a rule (windows not nested, out of range, overlap)."""

    code = "policy_refused"


class NotEligible(DomainError):
    """The policy does not allow this request on this line today; the message says why."""

    code = "not_eligible"


class SerialRefused(DomainError):
    """A serial number that was not sold on this line, or was already returned."""

    code = "serial_refused"


class TicketRefused(Conflict):
    """A ticket step the ticket's state or the request does not allow."""

    code = "ticket_refused"


class PhotoRefused(DomainError):
    """Not an image, not an allowed type, or too big."""

    code = "photo_refused"
