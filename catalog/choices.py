from django.db import models
from django.utils.translation import gettext_lazy as _


class ChannelKind(models.TextChoices):
    OWN_MALL = "own_mall", _("Own online mall")
    MARKETPLACE = "marketplace", _("Marketplace flagship store")
    OWN_STORE = "own_store", _("Own store")
    PARTNER_STORE = "partner_store", _("Partner store")
    DEALER = "dealer", _("Dealer")


class PriceAction(models.TextChoices):
    SET = "set", _("Set")
    ENDED = "ended", _("Ended")
