"""CSV/XLSX import and export of the store network, all or nothing (see catalog.resources)."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from import_export import fields

from catalog.resources import (
    AllOrNothingResource,
    ChoiceWidget,
    CodeWidget,
    StrictDecimalWidget,
    StrictIntegerWidget,
    TextWidget,
)
from stores.choices import StoreKind, StoreStatus
from stores.models import Partner, Store

# The CHECK constraints on Store guarantee these in the database; they are repeated here
# only to word the row error ("latitude 95 is outside -90..90") instead of naming a constraint.
RANGES = {
    "latitude": (Decimal(-90), Decimal(90)),
    "longitude": (Decimal(-180), Decimal(180)),
    "city_tier": (1, 6),
    "service_radius_km": (1, 200),
}


class StoreResource(AllOrNothingResource):
    """Stores by code (a known code updates the store), partner by code (blank: none)."""

    code = fields.Field(attribute="code", column_name="code", widget=TextWidget())
    kind = fields.Field(attribute="kind", column_name="kind", widget=ChoiceWidget(StoreKind))
    partner = fields.Field(attribute="partner", column_name="partner", widget=CodeWidget(Partner, "code"))
    latitude = fields.Field(
        attribute="latitude", column_name="latitude", widget=StrictDecimalWidget(places=6)
    )
    longitude = fields.Field(
        attribute="longitude", column_name="longitude", widget=StrictDecimalWidget(places=6)
    )
    city_tier = fields.Field(attribute="city_tier", column_name="city_tier", widget=StrictIntegerWidget())
    service_radius_km = fields.Field(
        attribute="service_radius_km",
        column_name="service_radius_km",
        widget=StrictIntegerWidget(),
        default=10,
    )
    status = fields.Field(
        attribute="status", column_name="status", widget=ChoiceWidget(StoreStatus), default=StoreStatus.OPEN
    )

    required_columns = ("code", "name", "kind", "city", "latitude", "longitude", "city_tier")

    class Meta:
        model = Store
        fields = (
            "code",
            "name",
            "kind",
            "partner",
            "province",
            "city",
            "address",
            "latitude",
            "longitude",
            "city_tier",
            "service_radius_km",
            "status",
        )
        import_id_fields = ("code",)
        clean_model_instances = True

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        errors = dict(import_validation_errors or {})
        for name, (low, high) in RANGES.items():
            value = getattr(instance, name)
            if name not in errors and value is not None and not low <= value <= high:
                errors[name] = ValidationError(
                    _("%(value)s is outside the allowed range %(low)s to %(high)s.")
                    % {"value": value, "low": low, "high": high},
                    code="out_of_range",
                )
        # full_clean() then checks required fields, choices, uniqueness and the CHECK constraints.
        super().validate_instance(instance, errors, validate_unique)
