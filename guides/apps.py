from django.apps import AppConfig

from orders import reactions


class GuidesConfig(AppConfig):
    name = "guides"

    def ready(self):
        # Here, not at the top: apps.py is imported before the app registry is ready, and these
        # modules import models.
        from guides.commission import commission_accrue, commission_clawback
        from guides.services import attribution_read

        # Guides react to orders: the order's attribution at intake, commission when it is paid
        # and clawed back when it is cancelled (orders.reactions).
        reactions.register(
            attribution_read=attribution_read,
            commission_accrue=commission_accrue,
            commission_clawback=commission_clawback,
        )
