from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

from config.roles import ensure_role_groups


class StoresConfig(AppConfig):
    name = "stores"
    verbose_name = _("Stores and stock")

    def ready(self):
        # After every app migrates (not just this one), so HQ also gets apps migrated later.
        post_migrate.connect(ensure_role_groups, dispatch_uid="ensure_role_groups")
