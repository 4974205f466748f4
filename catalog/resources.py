"""CSV/XLSX import and export of the catalog with django-import-export, all or nothing.

Every row is validated and every error is reported with its row number; one bad row and
the whole file is rolled back. Prices are written through `catalog.services.price_set`,
so an imported price obeys exactly the rules of the admin, the portal and the API.
"""

import json
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from import_export import fields, resources, widgets

from catalog.models import SKU, Category, Channel, Price, Product
from catalog.services import price_set, sku_set_unified
from config.errors import DomainError
from config.money import quantize_money

# No column we import holds more than 15 digits before the point (money: 12), nor an integer past
# PostgreSQL's `integer`; larger cells are refused by the widget, before any arithmetic on them.
MAX_INTEGER_DIGITS = 15
MAX_INTEGER = 2**31 - 1


def domain_validation_error(exc: DomainError, field_names) -> ValidationError:
    """A refused service call as a row's ValidationError, its messages on the columns they name."""
    errors: dict[str, list[str]] = {}
    for name, messages in (exc.fields or {}).items():
        key = name if name in field_names else NON_FIELD_ERRORS
        errors.setdefault(key, []).extend(str(m) for m in messages)
    if not errors:
        errors[NON_FIELD_ERRORS] = [exc.message]
    return ValidationError(errors)


def _text(value) -> str:
    """A cell as text; spreadsheets turn codes such as 6901234567890 into floats."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _is_blank(value) -> bool:
    return value is None or _text(value) == ""


class CodeWidget(widgets.ForeignKeyWidget):
    """A related row looked up by its code; an unknown code is a row error naming it."""

    def clean(self, value, row=None, **kwargs):
        if _is_blank(value):
            return None
        code = _text(value)
        try:
            return super().clean(code, row, **kwargs)
        except self.model.DoesNotExist:
            raise ValueError(
                _("There is no %(model)s with code “%(code)s”.")
                % {"model": self.model._meta.verbose_name, "code": code}
            ) from None

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else getattr(value, self.field)


class TextWidget(widgets.CharWidget):
    """Plain text; with `null=True` a blank cell is None (for unique nullable columns like barcode)."""

    def __init__(self, null: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.null = null

    def clean(self, value, row=None, **kwargs):
        if _is_blank(value):
            return None if self.null else ""
        return _text(value)


class StrictDecimalWidget(widgets.DecimalWidget):
    """A number, or a clear error (the stock widget leaks decimal.InvalidOperation)."""

    def __init__(self, places: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.places = places

    def clean(self, value, row=None, **kwargs):
        if _is_blank(value):
            return None
        try:
            number = Decimal(_text(value).replace(",", ""))
        except InvalidOperation:
            raise ValueError(_("“%(value)s” is not a number.") % {"value": value}) from None
        if not number.is_finite():
            raise ValueError(_("“%(value)s” is not a number.") % {"value": value})
        # A row error, not an exception: an exception (quantize's InvalidOperation on 1e400) made
        # the admin show that row alone and hide every other row's message.
        if number.adjusted() >= MAX_INTEGER_DIGITS:
            raise ValueError(_("“%(value)s” is too large.") % {"value": value})
        if self.places is not None:
            number = number.quantize(Decimal(1).scaleb(-self.places), rounding=ROUND_HALF_UP)
        return number


class MoneyWidget(StrictDecimalWidget):
    """An amount in CNY, rounded by the house rule; `positive` refuses zero and below."""

    def __init__(self, positive: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.positive = positive

    def clean(self, value, row=None, **kwargs):
        number = super().clean(value, row, **kwargs)
        if number is None:
            return None
        if self.positive and number <= 0:
            raise ValueError(_("Must be greater than zero."))
        return quantize_money(number)


class StrictIntegerWidget(widgets.IntegerWidget):
    """A whole number that fits the database's integer column, or a row error."""

    def clean(self, value, row=None, **kwargs):
        number = StrictDecimalWidget().clean(value, row, **kwargs)
        if number is None:
            return None
        if number != number.to_integral_value():
            raise ValueError(_("“%(value)s” is not a whole number.") % {"value": value})
        if abs(number) > MAX_INTEGER:
            raise ValueError(_("“%(value)s” is too large.") % {"value": value})
        return int(number)


class StrictBooleanWidget(widgets.BooleanWidget):
    """1/0, true/false, yes/no; anything else is an error, not a silent False."""

    TRUE = {"1", "true", "yes", "y"}
    FALSE = {"0", "false", "no", "n"}

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, bool):
            return value
        if _is_blank(value):
            return None
        text = _text(value).lower()
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise ValueError(_("“%(value)s” is not yes/no (use 1 or 0).") % {"value": value})


class AwareDateTimeWidget(widgets.DateTimeWidget):
    """ISO 8601 (with or without offset) or "YYYY-MM-DD HH:MM[:SS]"; naive times are Shanghai time."""

    def clean(self, value, row=None, **kwargs):
        if _is_blank(value):
            return None
        if not hasattr(value, "tzinfo"):
            text = _text(value)
            try:
                value = parse_datetime(text)
            except ValueError:
                value = None
            if value is None:
                try:
                    value = super().clean(text, row, **kwargs)
                except ValueError:
                    raise ValueError(
                        _("“%(value)s” is not a date and time (use YYYY-MM-DD HH:MM).") % {"value": text}
                    ) from None
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        return value


class JSONObjectWidget(widgets.JSONWidget):
    def clean(self, value, row=None, **kwargs):
        if _is_blank(value):
            return {}
        if isinstance(value, dict):
            return value
        try:
            data = json.loads(_text(value))
        except ValueError:
            raise ValueError(_("Not valid JSON: %(value)s") % {"value": value}) from None
        if not isinstance(data, dict):
            raise ValueError(_('Must be a JSON object such as {"colour": "black"}.'))
        return data


class ChoiceWidget(widgets.CharWidget):
    """A TextChoices value, accepting its code or its label (any case)."""

    def __init__(self, choices, **kwargs):
        super().__init__(**kwargs)
        self.choices = choices

    def clean(self, value, row=None, **kwargs):
        if _is_blank(value):
            return ""
        text = _text(value).lower()
        for code, label in self.choices.choices:
            if text in (str(code).lower(), str(label).lower()):
                return code
        raise ValueError(
            _("“%(value)s” is not one of: %(allowed)s.")
            % {"value": value, "allowed": ", ".join(self.choices.values)}
        )


class AllOrNothingResource(resources.ModelResource):
    """A file imports whole or not at all, and a missing column stops it before any row.

    import-export rolls back on errors but, by default, keeps the valid rows of a file
    whose other rows failed validation; a partial price list or store list is worse than
    none, so every import runs in one transaction that any bad row rolls back.
    """

    required_columns: tuple[str, ...] = ()

    def import_data(
        self,
        dataset,
        dry_run=False,
        raise_errors=False,
        use_transactions=None,
        collect_failed_rows=False,
        rollback_on_validation_errors=False,
        **kwargs,
    ):
        if use_transactions is False:
            raise ValueError("Imports always run in a transaction: a bad row must roll the file back.")
        if kwargs.get("user") is None:  # the admin passes request.user; scripts pass config.roles.SYSTEM
            raise TypeError("import_data() needs user=: the person importing (the services' actor)")
        return super().import_data(
            dataset,
            dry_run=dry_run,
            raise_errors=raise_errors,
            use_transactions=True,
            collect_failed_rows=collect_failed_rows,
            rollback_on_validation_errors=True,
            **kwargs,
        )

    def before_import(self, dataset, **kwargs):
        headers = [str(h).strip() for h in (dataset.headers or [])]
        missing = [c for c in self.required_columns if c not in headers]
        if missing:
            raise ValueError(
                _("The file has no column %(missing)s; its first row must name the columns %(expected)s.")
                % {"missing": ", ".join(missing), "expected": ", ".join(self.get_export_headers())}
            )
        super().before_import(dataset, **kwargs)


class ProductResource(AllOrNothingResource):
    """Products by code (a known code updates the product), category by code."""

    code = fields.Field(attribute="code", column_name="code", widget=TextWidget())
    category = fields.Field(attribute="category", column_name="category", widget=CodeWidget(Category, "code"))

    required_columns = ("code", "name", "brand", "category")

    class Meta:
        model = Product
        fields = ("code", "name", "brand", "category", "description")
        import_id_fields = ("code",)
        clean_model_instances = True


class SKUResource(AllOrNothingResource):
    """SKUs by code (a known code updates the SKU), product by code.

    The one-price flag is not a plain column: marking a SKU goes through
    `sku_set_unified`, which refuses while the SKU has channel-specific prices.
    """

    code = fields.Field(attribute="code", column_name="code", widget=TextWidget())
    product = fields.Field(attribute="product", column_name="product", widget=CodeWidget(Product, "code"))
    barcode = fields.Field(attribute="barcode", column_name="barcode", widget=TextWidget(null=True))
    attributes = fields.Field(attribute="attributes", column_name="attributes", widget=JSONObjectWidget())
    serial_tracked = fields.Field(
        attribute="serial_tracked", column_name="serial_tracked", widget=StrictBooleanWidget(), default=False
    )
    dealer_cost = fields.Field(
        attribute="dealer_cost", column_name="dealer_cost", widget=MoneyWidget(positive=True)
    )
    is_active = fields.Field(
        attribute="is_active", column_name="is_active", widget=StrictBooleanWidget(), default=True
    )
    unified = fields.Field(
        attribute="unified", column_name="unified", widget=StrictBooleanWidget(), readonly=True
    )

    required_columns = ("code", "product", "name")

    class Meta:
        model = SKU
        fields = (
            "code",
            "product",
            "name",
            "barcode",
            "attributes",
            "serial_tracked",
            "dealer_cost",
            "is_active",
            "unified",
        )
        import_id_fields = ("code",)
        clean_model_instances = True

    def after_save_instance(self, instance, row, **kwargs):
        super().after_save_instance(instance, row, **kwargs)
        try:
            wanted = StrictBooleanWidget().clean(row.get("unified"))
        except ValueError as exc:
            raise ValidationError({"unified": [str(exc)]}) from None
        if wanted is None or wanted == instance.unified:
            return
        try:
            sku_set_unified(skus=[instance], unified=wanted, actor=kwargs["user"])
        except DomainError as exc:
            raise domain_validation_error(exc, self.fields) from exc
        instance.unified = wanted


class PriceResource(AllOrNothingResource):
    """Price versions: sku by code, channel by code (blank: all channels), amount, window.

    Each row is a new price version written by `price_set`, never an edit of an existing
    row, so the unified, overlap and dealer-margin rules apply row by row, and to rows of
    the same file against each other.
    """

    sku = fields.Field(attribute="sku", column_name="sku", widget=CodeWidget(SKU, "code"))
    channel = fields.Field(attribute="channel", column_name="channel", widget=CodeWidget(Channel, "code"))
    amount = fields.Field(attribute="amount", column_name="amount", widget=MoneyWidget())
    valid_from = fields.Field(attribute="valid_from", column_name="valid_from", widget=AwareDateTimeWidget())
    valid_to = fields.Field(attribute="valid_to", column_name="valid_to", widget=AwareDateTimeWidget())

    required_columns = ("sku", "channel", "amount", "valid_from")

    class Meta:
        model = Price
        fields = ("sku", "channel", "amount", "valid_from", "valid_to")
        force_init_instance = True  # a row never edits a stored price

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        # Only "is it there": price_set checks the rest and words the refusal.
        errors = dict(import_validation_errors or {})
        for name, value in (
            ("sku", instance.sku_id),
            ("amount", instance.amount),
            ("valid_from", instance.valid_from),
        ):
            if name not in errors and value is None:
                errors[name] = ValidationError(_("This field is required."), code="required")
        if errors:
            raise ValidationError(errors)

    def save_instance(self, instance, is_create, row, **kwargs):
        self.before_save_instance(instance, row, **kwargs)
        try:
            price = price_set(
                sku=instance.sku,
                channel=instance.channel,
                amount=instance.amount,
                valid_from=instance.valid_from,
                valid_to=instance.valid_to,
                actor=kwargs["user"],
            )
        except DomainError as exc:
            raise domain_validation_error(exc, self.fields) from exc
        for field in Price._meta.concrete_fields:
            setattr(instance, field.attname, getattr(price, field.attname))
        instance._state.adding = False
        self.after_save_instance(instance, row, **kwargs)
