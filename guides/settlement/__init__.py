"""Settlement: held commission is released once the return window has closed; payable entries
are gathered into monthly statements per guide and per partner (draft -> approved -> paid); the
yearly partner reward is computed from the ledger.

Rules (written here and tested in tests/guides/test_settlement.py)
- Release: an accrual is released when its line's `returnable_until` (exclusive end of the
  return window, Shanghai midnight) is <= now, moving what is still held (the accrual net of
  its held clawbacks) to payable; nothing if that is 0. A run writes one release row per guide,
  partner and store with the sums; the row says which accruals it releases by a rule (see
  CommissionEntry and guides.sql.covered_by_rule): those of its guide, partner and store whose window
  closed by `released_through`, up to `accruals_through`, not released by an earlier row.
- A statement is for one month: `period` is the first day of the month (Asia/Shanghai). It
  claims its party's payable entries (payable_change != 0) booked at or before `now` that are
  on no statement of that party yet: a guide's statement its guide's entries, a partner's
  statement the entries of its stores and guides (the entry's partner) and its rewards.
- Only drafts take entries. Approved and paid statements never change: entries booked later
  (a clawback after the payout, a late release) wait for the party's next draft.
- draft -> approved (HQ) -> paid (with a payment reference); any other move is refused.
- Everything large is set-based SQL (guides.sql: INSERT ... SELECT, UPDATE ... FROM; SQLite
  3.33+), the same text on SQLite and PostgreSQL: a month of a million orders never comes into
  Python. Each run reads the ledger once for the due accruals and once for the unclaimed entries
  into temporary tables; on PostgreSQL runs take turns and refunds wait for a run under way (see
  guides.sql.SETTLEMENT_LOCK).
"""

from guides.settlement.base import (
    TRANSITIONS,
    DraftResult,
    MonthEndResult,
    RewardRefused,
    StatementForbidden,
    StatementRefused,
)
from guides.settlement.partner_rewards import partner_rewards_compute, partner_sales
from guides.settlement.periods import month_start, previous_period
from guides.settlement.release import commission_release, released_accruals, releases_of
from guides.settlement.statements import (
    STATEMENT_ROW_KEYS,
    month_end,
    statement_approve,
    statement_entries,
    statement_pay,
    statement_rows,
    statements_draft,
)

__all__ = [
    "TRANSITIONS",
    "StatementRefused",
    "StatementForbidden",
    "RewardRefused",
    "DraftResult",
    "MonthEndResult",
    "month_start",
    "previous_period",
    "commission_release",
    "releases_of",
    "released_accruals",
    "statements_draft",
    "month_end",
    "statement_approve",
    "statement_pay",
    "statement_entries",
    "statement_rows",
    "STATEMENT_ROW_KEYS",
    "partner_sales",
    "partner_rewards_compute",
]
