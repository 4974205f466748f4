from django.db import models
from django.utils.translation import gettext_lazy as _


class TicketKind(models.TextChoices):
    RETURN = "return", _("Return")
    EXCHANGE = "exchange", _("Exchange")
    REPAIR = "repair", _("Repair")


class TicketStatus(models.TextChoices):
    OPENED = "opened", _("Opened")
    RECEIVED = "received", _("Unit received")
    INSPECTED = "inspected", _("Inspected")
    APPROVED = "approved", _("Approved")
    REFUSED = "refused", _("Refused")
    REFUNDED = "refunded", _("Refunded")
    EXCHANGED = "exchanged", _("Exchanged")
    REPAIRED = "repaired", _("Repaired")
    CLOSED = "closed", _("Closed")


# The colour of each ticket status's badge (config.badges): resolved, refused, waiting for the
# unit; the steps in between are "info".
TICKET_STATUS_TONES = {
    TicketStatus.REFUNDED: "ok",
    TicketStatus.EXCHANGED: "ok",
    TicketStatus.REPAIRED: "ok",
    TicketStatus.CLOSED: "ok",
    TicketStatus.REFUSED: "err",
    TicketStatus.OPENED: "warn",
}


class OpenedVia(models.TextChoices):
    STORE = "store", _("Store staff portal")
    HQ = "hq", _("HQ customer service")
    API = "api", _("Channel API")
