from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The surface: no models; its management commands (seed_demo) work across every app."""

    name = "portal"
