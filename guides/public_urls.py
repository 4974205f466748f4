"""The public pages behind a guide's QR code (mounted at /g/): no login, phone-sized.

/g/<code>/ is what the QR code says, so it must never move."""

from django.urls import path

from guides import public_views

app_name = "guides_public"

urlpatterns = [
    path("join/", public_views.join, name="join"),
    path("<str:code>/", public_views.landing, name="landing"),
    path("<str:code>/bound/", public_views.bound, name="bound"),
    path("<str:code>/card/", public_views.card, name="card"),
    path("<str:code>/qr.png", public_views.qr_png, name="qr_png"),
    path("<str:code>/qr.svg", public_views.qr_svg, name="qr_svg"),
]
