from django.apps import AppConfig

from orders import reactions


class AftersalesConfig(AppConfig):
    name = "aftersales"

    def ready(self):
        # Here, not at the top: apps.py is imported before the app registry is ready, and these
        # modules import models.
        from aftersales.warranty import lines_delivered

        # After-sales reacts to orders: the warranty and return windows start when the customer
        # has the goods (orders.reactions).
        reactions.register(lines_delivered=lines_delivered)
