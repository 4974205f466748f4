"""The API's AutoSchema: every operation documents the errors the shared machinery can give it, in
the one error shape - 401 (a bad, revoked or expired API key), 403 (not signed in, not allowed,
scope missing), 429 (throttled, with Retry-After), 404 for paths with ids, 400 for writes and
filtered lists - on top of what each view documents itself with `error_responses`."""

from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiResponse
from rest_framework.permissions import AllowAny

from config.api.errors import ERROR_DESCRIPTIONS, ErrorSerializer

BACKEND_INT_LIMITS = {2**15 - 1, -(2**15), 2**31 - 1, -(2**31), 2**63 - 1, -(2**63)}


class AutoSchema(BaseAutoSchema):
    def _shared_error_codes(self) -> list[int]:
        codes = []
        permissions = self.view.get_permissions() if hasattr(self.view, "get_permissions") else []
        if not all(isinstance(permission, AllowAny) for permission in permissions):
            codes += [401, 403]
        if getattr(self.view, "throttle_classes", None):
            codes.append(429)
        if "{" in self.path or (self.method == "GET" and self._is_list_view()):
            codes.append(404)  # an unknown id, or a page number past the last page
        if self.method in ("POST", "PUT", "PATCH") or (self.method == "GET" and self._is_list_view()):
            codes.append(400)
        return codes

    def _insert_field_validators(self, field, schema):
        """Leave out the integer limits that come from the database backend (SQLite's 64-bit,
        PostgreSQL's 32-bit columns), so the checked-in schema is the same whichever one made it;
        the server still answers 400 past its column's range."""
        super()._insert_field_validators(field, schema)
        if schema.get("maximum") in BACKEND_INT_LIMITS:
            del schema["maximum"]
            if schema.get("format") == "int64":
                del schema["format"]
        if schema.get("minimum") in BACKEND_INT_LIMITS:
            del schema["minimum"]

    def _map_basic_serializer(self, serializer, direction):
        """A read-only field declared `required=False` may be left out of a response (e.g. a store's
        `distance_km`, present only when searching near a point): don't list it as required."""
        result = super()._map_basic_serializer(serializer, direction)
        optional = {
            name
            for name, field in force_instance(serializer).fields.items()
            if field.read_only and getattr(field, "_kwargs", {}).get("required") is False
        }
        if optional and "required" in result:
            result["required"] = [name for name in result["required"] if name not in optional]
            if not result["required"]:
                del result["required"]
        return result

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._shared_error_codes():
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]),
                    str(code),
                    media_types=["application/json"],
                    direction=direction,
                )
        return dict(sorted(responses.items()))
