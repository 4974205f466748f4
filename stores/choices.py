from django.db import models
from django.utils.translation import gettext_lazy as _


class StoreKind(models.TextChoices):
    OWN_FLAGSHIP = "own_flagship", _("Own flagship store")
    PARTNER = "partner", _("Partner experience store")
    DEALER = "dealer", _("Dealer")
    WAREHOUSE = "warehouse", _("Warehouse")


class StoreStatus(models.TextChoices):
    PREPARING = "preparing", _("Preparing to open")
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


# The colour of each store status's badge (config.badges).
STORE_STATUS_TONES = {StoreStatus.OPEN: "ok", StoreStatus.CLOSED: "err", StoreStatus.PREPARING: "warn"}


class StaffRole(models.TextChoices):
    MANAGER = "manager", _("Store manager")
    CLERK = "clerk", _("Store clerk")


class MovementKind(models.TextChoices):
    RECEIPT = "receipt", _("Receipt")
    SALE = "sale", _("Sale")
    RESERVATION = "reservation", _("Reservation")
    RELEASE = "release", _("Release")
    TRANSFER_OUT = "transfer_out", _("Transfer out")
    TRANSFER_IN = "transfer_in", _("Transfer in")
    RETURN = "return", _("Return")
    ADJUSTMENT = "adjustment", _("Adjustment")
