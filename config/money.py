"""Money: one field definition and one rounding rule for every amount in the product."""

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import models

CENT = Decimal(1).scaleb(-settings.MONEY_DECIMAL_PLACES)


def quantize_money(value: Decimal | int | str) -> Decimal:
    """Round an amount to the currency's places with the house rounding mode (half-up)."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not an amount of money") from exc
    return amount.quantize(CENT, rounding=settings.MONEY_ROUNDING)


class MoneyField(models.DecimalField):
    """A DecimalField with the product's money precision (settings.MONEY_*)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", settings.MONEY_MAX_DIGITS)
        kwargs.setdefault("decimal_places", settings.MONEY_DECIMAL_PLACES)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        # Migrations record a plain DecimalField so they do not depend on this module's path.
        return name, "django.db.models.DecimalField", args, kwargs
