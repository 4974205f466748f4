"""Photos of a fault: checked before anything is written. Pillow must open and verify the file,
which must be JPEG, PNG or WebP, at most 5 MB, and at most 6 per ticket. The stored name is
random (the customer's file name is never used as a path)."""

import secrets
from dataclasses import dataclass

from django.core.files import File
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from aftersales.errors import PhotoRefused

MAX_BYTES = 5 * 1024 * 1024
MAX_PHOTOS = 6
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


@dataclass(frozen=True)
class CheckedPhoto:
    file: File
    name: str  # random, with the extension of the format Pillow found


def _size(photo) -> int:
    size = getattr(photo, "size", None)
    if size is None:
        photo.seek(0, 2)
        size = photo.tell()
    return size


def _format(photo) -> str | None:
    """The image format Pillow finds after a full verify, or None when it is not an image."""
    try:
        photo.seek(0)
        with Image.open(photo) as image:
            found = image.format
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    finally:
        photo.seek(0)
    return found


def photos_check(photos) -> list[CheckedPhoto]:
    """Every photo checked; any refusal names the file and writes nothing (DomainError on `photos`)."""
    photos = list(photos or ())
    if len(photos) > MAX_PHOTOS:
        raise PhotoRefused(
            _("Attach at most %(n)s photos.") % {"n": MAX_PHOTOS},
            fields={"photos": [_("At most %(n)s photos.") % {"n": MAX_PHOTOS}]},
        )
    checked, errors = [], []
    for index, photo in enumerate(photos):
        label = getattr(photo, "name", "") or _("photo %(n)s") % {"n": index + 1}
        if _size(photo) > MAX_BYTES:
            errors.append(_("%(name)s is larger than 5 MB.") % {"name": label})
            continue
        found = _format(photo)
        if found is None:
            errors.append(_("%(name)s is not an image.") % {"name": label})
        elif found not in EXTENSIONS:
            errors.append(
                _("%(name)s is a %(format)s image; send JPEG, PNG or WebP.")
                % {"name": label, "format": found}
            )
        else:
            name = f"{secrets.token_hex(8)}.{EXTENSIONS[found]}"
            checked.append(CheckedPhoto(file=photo if isinstance(photo, File) else File(photo), name=name))
    if errors:
        raise PhotoRefused(" ".join(errors), fields={"photos": errors})
    return checked
