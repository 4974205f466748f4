"""The public pages behind a guide's QR code (mounted at /g/): no login, phone-sized.

/g/<code>/ is what the QR code says, so it must never move."""

from django.urls import path

import config.views  # noqa: F401  (registers the `text` path converter)
from guides import public_views

app_name = "guides_public"

urlpatterns = [
    path("join/", public_views.join, name="join"),
    path("<text:code>/", public_views.landing, name="landing"),
    path("<text:code>/bound/", public_views.bound, name="bound"),
    path("<text:code>/card/", public_views.card, name="card"),
    path("<text:code>/qr.png", public_views.qr_png, name="qr_png"),
    path("<text:code>/qr.svg", public_views.qr_svg, name="qr_svg"),
]
