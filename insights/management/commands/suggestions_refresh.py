"""Rebuild the tables behind "what to show this member" (co-purchases and best sellers).

Run it once a day (cron or the task worker), after `members_daily` sets tiers:
`manage.py suggestions_refresh`.
"""

from django.core.management.base import BaseCommand

from insights.suggestions import suggestions_refresh


class Command(BaseCommand):
    help = "Rebuild the SKU co-purchase and category/tier best-seller tables the member page suggests from."

    def handle(self, *args, **options):
        result = suggestions_refresh()
        self.stdout.write(
            f"{result.affinities} SKU pairs, {result.category_best_sellers} category and "
            f"{result.tier_best_sellers} tier best sellers in {result.seconds:.2f}s"
        )
