"""The service ticket's state machine: every allowed move in one table; anything else is refused
with both states named. Every move writes a TicketStatusChange (who, at which store, a note)."""

from aftersales.choices import TicketKind as K
from aftersales.choices import TicketStatus as S
from aftersales.models import Ticket, TicketStatusChange
from config.errors import IllegalTransition

TRANSITIONS: dict[str, set[str]] = {
    S.OPENED: {S.RECEIVED},
    S.RECEIVED: {S.INSPECTED},
    S.INSPECTED: {S.APPROVED, S.REFUSED},
    # Which of the three an approved ticket may reach depends on its kind: RESOLVED_AS below.
    S.APPROVED: {S.REFUNDED, S.EXCHANGED, S.REPAIRED},
    S.REFUSED: {S.CLOSED},
    S.REFUNDED: {S.CLOSED},
    S.EXCHANGED: {S.CLOSED},
    S.REPAIRED: {S.CLOSED},
    S.CLOSED: set(),
}

# The one outcome each kind of ticket is resolved to.
RESOLVED_AS: dict[str, str] = {K.RETURN: S.REFUNDED, K.EXCHANGE: S.EXCHANGED, K.REPAIR: S.REPAIRED}

# Still in the workshop: these tickets hold units of their line (see ticket_open's quantity rule).
IN_PROGRESS = (S.OPENED, S.RECEIVED, S.INSPECTED, S.APPROVED)


def can_move(ticket: Ticket, wanted: str) -> bool:
    if wanted not in TRANSITIONS.get(ticket.status, set()):
        return False
    return ticket.status != S.APPROVED or RESOLVED_AS[ticket.kind] == wanted


def ticket_transition(
    *, ticket: Ticket, to: str, user=None, store=None, note: str = "", extra_fields=()
) -> Ticket:
    """Move a ticket (row already locked by the caller) and write its history row."""
    if not can_move(ticket, to):
        raise IllegalTransition(
            current=S(ticket.status).label, wanted=S(to).label, what=f"ticket {ticket.number}"
        )
    previous = ticket.status
    ticket.status = to
    ticket.save(update_fields=["status", "updated_at", *extra_fields])
    TicketStatusChange.objects.create(
        ticket=ticket,
        from_status=previous,
        to_status=to,
        store=store,
        note=(note or "").strip()[:255],
        changed_by=user,
    )
    return ticket
