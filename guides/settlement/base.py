"""Settlement: the statement's state machine, its refusals and what a run returns."""

from dataclasses import dataclass

from config.errors import DomainError
from guides.choices import StatementStatus

# The statement's state machine: every allowed move; anything else is refused naming both states.
TRANSITIONS: dict[str, set[str]] = {
    StatementStatus.DRAFT: {StatementStatus.APPROVED},
    StatementStatus.APPROVED: {StatementStatus.PAID},
    StatementStatus.PAID: set(),
}


class StatementRefused(DomainError):
    """A statement cannot be approved or paid as asked."""

    code = "statement_refused"


class StatementForbidden(StatementRefused):
    """Only HQ approves and pays statements."""

    code = "statement_forbidden"
    status = 403


class RewardRefused(DomainError):
    """A partner reward cannot be computed (yet)."""

    code = "partner_reward_refused"


@dataclass(frozen=True)
class DraftResult:
    """What one drafting run did: statements it started and ledger entries it put on them."""

    guide_statements: int
    partner_statements: int
    entries_claimed: int


@dataclass(frozen=True)
class MonthEndResult:
    """A month-end run: entries released, then the statements drafted."""

    released: int
    drafts: DraftResult
