"""One error shape for the whole API: {"code", "message", "fields"}."""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import DomainError


def _fields_from(detail) -> dict:
    if isinstance(detail, dict):
        return {key: _messages(value) for key, value in detail.items()}
    return {"non_field_errors": _messages(detail)}


def _messages(value) -> list:
    if isinstance(value, list | tuple):
        out = []
        for item in value:
            out.extend(_messages(item) if isinstance(item, list | tuple | dict) else [str(item)])
        return out
    if isinstance(value, dict):
        return [f"{key}: {'; '.join(_messages(val))}" for key, val in value.items()]
    return [str(value)]


def error_response(code: str, message: str, fields: dict | None, status_code: int, headers=None):
    return Response(
        {"code": code, "message": message, "fields": fields or {}},
        status=status_code,
        headers=headers,
    )


def exception_handler(exc, context):
    """Every error leaves the API as {"code", "message", "fields"} - never a traceback."""
    if isinstance(exc, DomainError):
        return error_response(exc.code, exc.message, exc.fields, exc.status)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return error_response("invalid", _("The request is not valid."), fields, status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        return error_response(
            "invalid", _("The request is not valid."), _fields_from(exc.detail), response.status_code
        )
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
    if not isinstance(code, str):
        code = "error"
    headers = {k: v for k, v in response.items() if k in ("Retry-After", "WWW-Authenticate", "Allow")}
    return error_response(code, str(detail), {}, response.status_code, headers)


class ErrorSerializer(serializers.Serializer):
    """The documented shape of every API error."""

    code = serializers.CharField(help_text="Machine-readable error code, e.g. `invalid`, `no_price`.")
    message = serializers.CharField(help_text="Human-readable explanation.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field name -> messages; empty when the error is not about a field.",
    )


_ERROR_DESCRIPTIONS = {
    400: "Bad input or a business rule refused the request; `fields` names the fields.",
    403: "Not logged in, or not allowed to do this.",
    404: "Not found, or not visible to you.",
}


def error_responses(*status_codes: int) -> dict:
    """`responses=` entries for drf-spectacular: each status code documented with the error shape."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=_ERROR_DESCRIPTIONS.get(code, "Error."))
        for code in status_codes
    }
