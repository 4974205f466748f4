from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MarketingConfig(AppConfig):
    name = "marketing"
    verbose_name = _("Marketing and wallet")

    def ready(self):
        # Here, not at the top: apps.py is imported before the app registry is ready, and these
        # modules import models.
        from catalog.selectors import SHELF_PRICE_ADJUSTERS
        from marketing import rules
        from marketing.pricing import ShelfPrices

        rules.connect()
        if ShelfPrices not in SHELF_PRICE_ADJUSTERS:  # the report compares prices after promotions
            SHELF_PRICE_ADJUSTERS.append(ShelfPrices)
