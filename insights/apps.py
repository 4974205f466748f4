from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InsightsConfig(AppConfig):
    """Read models: the order's and the member's 360° timelines, the member's suggestions and the
    search box's reads. They read the flows and the base apps and write nothing of theirs (the
    suggestion tables they refresh are members' models); no models of their own."""

    name = "insights"
    verbose_name = _("Timelines, suggestions and search")
