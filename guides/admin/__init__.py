"""HQ's admin for guides, attribution windows, commission rules, the commission ledger and the
settlement statements.

Every business move goes through the guides services, never a plain save: a guide is created by
guide_register (which draws the code) and suspended or reinstated by the actions; a window is set
by attribution_window_set (which also moves open bindings when the default changes); a commission
rule is started by commission_rule_set and ended by commission_rule_end, never edited; statements
are approved and paid by guides.settlement. Scans, bindings, the ledger, rule changes and partner
rewards are records written by those services: view only. A refusal is shown as the service's
message.
"""

# Django's admin autodiscovery imports this package: importing each section's module here is what
# registers its ModelAdmins (the names stay importable from guides.admin as before).
from guides.admin.attribution_windows import AttributionWindowAdmin, AttributionWindowForm
from guides.admin.base import ACTION_FORM_LISTED, ACTION_FORM_TEMPLATE
from guides.admin.commission_rules import (
    CommissionRuleAdmin,
    CommissionRuleChangeAdmin,
    CommissionRuleChangeInline,
    CommissionRuleForm,
    LiveNowFilter,
)
from guides.admin.ledger import CommissionEntryAdmin
from guides.admin.levels_and_guides import GuideAdmin, GuideForm, GuideLevelAdmin, GuideSuspendForm
from guides.admin.partner_rewards import PartnerRewardAdmin, PartnerRewardInline, PartnerRewardRuleAdmin
from guides.admin.scans_and_fans import BindingAdmin, ScanEventAdmin
from guides.admin.statements import STATEMENT_CSV_PREFIX, PaymentReferenceForm, StatementAdmin

__all__ = [
    "ACTION_FORM_TEMPLATE",
    "ACTION_FORM_LISTED",
    "GuideLevelAdmin",
    "GuideForm",
    "GuideSuspendForm",
    "GuideAdmin",
    "AttributionWindowForm",
    "AttributionWindowAdmin",
    "ScanEventAdmin",
    "BindingAdmin",
    "CommissionRuleChangeInline",
    "CommissionRuleForm",
    "LiveNowFilter",
    "CommissionRuleAdmin",
    "CommissionRuleChangeAdmin",
    "CommissionEntryAdmin",
    "PaymentReferenceForm",
    "STATEMENT_CSV_PREFIX",
    "StatementAdmin",
    "PartnerRewardInline",
    "PartnerRewardRuleAdmin",
    "PartnerRewardAdmin",
]
