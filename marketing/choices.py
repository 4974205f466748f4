from django.db import models
from django.utils.translation import gettext_lazy as _


class PromotionKind(models.TextChoices):
    # Catalogue promotions lower a SKU's price on the shelf; order promotions look at the basket.
    PERCENT_OFF = "percent_off", _("Percent off SKUs or categories")
    AMOUNT_OFF = "amount_off", _("Amount off each unit")
    SPEND_THRESHOLD = "spend_threshold", _("Spend at least X, take Y off (满减)")
    NTH_ITEM = "nth_item", _("Buy N, the Nth at a percent off")


CATALOGUE_KINDS = (PromotionKind.PERCENT_OFF, PromotionKind.AMOUNT_OFF)


class CouponKind(models.TextChoices):
    AMOUNT = "amount", _("Amount off the basket")
    PERCENT = "percent", _("Percent off the eligible lines")


class IssuedVia(models.TextChoices):
    CAMPAIGN = "campaign", _("Campaign")
    GUIDE = "guide", _("Handed out by a guide")
    STORE_QR = "store_qr", _("Claimed at a store's QR code")
    GUIDE_QR = "guide_qr", _("Claimed at a guide's QR code")
    CLERK = "clerk", _("Given at the clerk's tablet")
    HQ = "hq", _("Given by HQ")


class CodeStatus(models.TextChoices):
    HELD = "held", _("Held")
    REDEEMED = "redeemed", _("Redeemed")


class WalletKind(models.TextChoices):
    TOP_UP = "top_up", _("Top-up")
    SPEND = "spend", _("Paid an order")
    REFUND = "refund", _("Refunded to the wallet")
    ADJUST = "adjust", _("Adjusted by HQ")


class AuditAction(models.TextChoices):
    CREATED = "created", _("Created")
    ENDED = "ended", _("Ended")


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SENT = "sent", _("Sent")


# The colour of each status's badge (config.badges).
CAMPAIGN_STATUS_TONES = {CampaignStatus.SENT: "ok", CampaignStatus.DRAFT: "warn"}
