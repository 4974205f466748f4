"""The refusals of marketing and the wallet (config.errors: the API answers 400/409 with fields)."""

from config.errors import Conflict, DomainError


class PromotionRefused(DomainError):
    code = "promotion_refused"


class CouponRefused(DomainError):
    code = "coupon_refused"


class CouponBudgetSpent(Conflict):
    code = "coupon_budget_spent"


class TenderRefused(DomainError):
    code = "tender_refused"


class InsufficientBalance(Conflict):
    code = "insufficient_balance"


class CampaignRefused(DomainError):
    code = "campaign_refused"
