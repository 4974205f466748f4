"""Mainland China mobile numbers: the one key of a member."""

import re

from django.utils.translation import gettext as _

from members.errors import InvalidPhone

_SEPARATORS = re.compile(r"[\s\-().]")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def normalise_phone(raw: str) -> str:
    """'138 0013 8000', '+86 13800138000', '8613800138000', '0086-138…' -> '13800138000'."""
    digits = _SEPARATORS.sub("", raw or "")
    international = digits.startswith(("+", "00"))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    elif international:  # another country's number: +1 415…, 0044…
        digits = ""
    if not _MOBILE.match(digits):
        raise InvalidPhone(
            _("%(raw)s is not a mainland China mobile number (11 digits starting with 13-19).")
            % {"raw": raw},
            fields={"phone": [_("Not a valid mainland mobile number.")]},
        )
    return digits


def normalise_phone_or_blank(raw: str) -> str:
    try:
        return normalise_phone(raw)
    except InvalidPhone:
        return ""


def masked_phone(phone: str | None) -> str:
    """13812345678 -> 138****5678, for people who need to recognise a customer, not to call them
    (a guide's fans); anything too short to keep digits of is all stars, nothing stays empty."""
    phone = (phone or "").strip()
    if len(phone) < 8:
        return "****" if phone else ""
    return f"{phone[:3]}****{phone[-4:]}"
