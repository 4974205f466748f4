from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class StoresConfig(AppConfig):
    name = "stores"
    verbose_name = _("Stores and stock")

    def ready(self):
        from config.roles import ensure_role_groups

        post_migrate.connect(ensure_role_groups, sender=self, dispatch_uid="ensure_role_groups")
