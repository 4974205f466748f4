from django.db import models
from django.utils.translation import gettext_lazy as _


class GuideStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")


class ScanOutcome(models.TextChoices):
    OPENED = "opened", _("Page opened, no phone yet")
    BOUND = "bound", _("Bound a new fan")
    REBOUND = "rebound", _("Took the fan over from another guide")
    EXTENDED = "extended", _("Extended the window of an existing fan")
    SUSPENDED = "suspended", _("Guide suspended: nobody bound")
    STORE = "store", _("Store code: nobody bound")


class BindingEnd(models.TextChoices):
    REBOUND = "rebound", _("Another guide's code was scanned")
    SUSPENDED = "suspended", _("Guide suspended")


class EntryKind(models.TextChoices):
    ACCRUAL = "accrual", _("Accrued (held while the return window is open)")
    RELEASE = "release", _("Released to payable")
    CLAWBACK = "clawback", _("Clawed back by a refund")
    REWARD = "reward", _("Partner reward")
    ADJUSTMENT = "adjustment", _("Adjustment")


class StatementParty(models.TextChoices):
    GUIDE = "guide", _("Guide")
    PARTNER = "partner", _("Partner")


class StatementStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    APPROVED = "approved", _("Approved")
    PAID = "paid", _("Paid")


# The colour of each status's badge (config.badges).
GUIDE_STATUS_TONES = {GuideStatus.ACTIVE: "ok", GuideStatus.SUSPENDED: "err"}
STATEMENT_STATUS_TONES = {
    StatementStatus.PAID: "ok",
    StatementStatus.APPROVED: "info",
    StatementStatus.DRAFT: "warn",
}
