"""Renderers the API's views share."""

import json

from rest_framework import renderers


class CSVRenderer(renderers.BaseRenderer):
    """Lets a client ask for text/csv; the export answers with its own CSV, errors stay JSON text."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, str | bytes) else json.dumps(data)
