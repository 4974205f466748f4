"""Renderers the API's views share."""

from rest_framework import renderers


class CSVRenderer(renderers.BaseRenderer):
    """Lets a client ask for text/csv. The exports answer with their own CSV response (never rendered
    here), and config.api.errors.exception_handler renders every error as JSON."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data
