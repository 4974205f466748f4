"""A guide's QR code and printable card. The images come from orders/qr.py (one QR style for the
whole brand); this module only decides what the code says and what the card shows."""

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse

from guides.models import Guide
from orders.qr import qr_png, qr_svg

# The images never change for a given code and host, so phones and print shops may keep them.
IMAGE_CACHE_SECONDS = 24 * 60 * 60


def brand_name() -> str:
    return getattr(settings, "BRAND_NAME", "") or "O2O"


def landing_url(request, guide: Guide) -> str:
    """What the QR code says: the absolute /g/<code>/ address. Short and stable, because the guide
    code never changes; suspending or moving the guide to another store does not reprint cards."""
    return request.build_absolute_uri(reverse("guides_public:landing", kwargs={"code": guide.code}))


def _image(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = f"public, max-age={IMAGE_CACHE_SECONDS}"
    return response


def png_response(request, guide: Guide) -> HttpResponse:
    return _image(qr_png(landing_url(request, guide)), "image/png", f"guide-qr-{guide.code}.png")


def svg_response(request, guide: Guide) -> HttpResponse:
    return _image(qr_svg(landing_url(request, guide)), "image/svg+xml", f"guide-qr-{guide.code}.svg")


@dataclass(frozen=True)
class Card:
    """What the printable card shows: brand, QR (by URL of its SVG), the code and who it is."""

    brand: str
    guide: Guide
    url: str
    svg_url: str
    png_url: str


def card_for(request, guide: Guide) -> Card:
    return Card(
        brand=brand_name(),
        guide=guide,
        url=landing_url(request, guide),
        svg_url=reverse("guides_public:qr_svg", kwargs={"code": guide.code}),
        png_url=reverse("guides_public:qr_png", kwargs={"code": guide.code}),
    )
