"""Move routed orders that a store did not answer in time to the next store.

Run it every few minutes (cron or the task worker): `manage.py orders_expire_offers`.
The answer time is settings.ORDERS_ACCEPT_MINUTES (env ORDERS_ACCEPT_MINUTES, default 30).
"""

from django.core.management.base import BaseCommand

from orders.fulfilment import assignments_expire


class Command(BaseCommand):
    help = "Re-route orders whose store did not accept or reject them in time."

    def handle(self, *args, **options):
        moved = assignments_expire()
        self.stdout.write(f"{moved} unanswered orders moved to the next store")
