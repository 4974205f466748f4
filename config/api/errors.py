"""One error shape for the whole API: {"code", "message", "fields"}."""

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.renderers import JSONRenderer
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
    """Every error leaves the API as {"code", "message", "fields"} - never a traceback - and as
    JSON, also from endpoints that answer CSV when they succeed."""
    response = _handle(exc, context)
    request = context.get("request")
    if response is not None and request is not None:
        renderer = getattr(request, "accepted_renderer", None)
        if renderer is None or renderer.media_type != "application/json":
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
    return response


def _too_large_message() -> str:
    return _("The request body is larger than %(n)s bytes.") % {"n": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}


def _handle(exc, context):
    if isinstance(exc, RequestDataTooBig):  # past DATA_UPLOAD_MAX_MEMORY_SIZE: refused unread
        return error_response("too_large", _too_large_message(), {}, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, DomainError):
        return error_response(exc.code, exc.message, exc.fields, exc.status)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return error_response("invalid", _("The request is not valid."), fields, status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, OverflowError):  # an id past the database's integer range (SQLite)
        return error_response(
            "invalid",
            _("A number in the request is out of range."),
            {"non_field_errors": [_("A number in the request is out of range.")]},
            status.HTTP_400_BAD_REQUEST,
        )
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


ERROR_DESCRIPTIONS = {
    400: "Bad input or a business rule refused the request; `fields` names the fields.",
    401: "The API key presented is unknown, revoked or expired "
    "(`key_invalid`, `key_revoked`, `key_expired`).",
    403: "Not logged in, or not allowed to do this (a key without the scope: `scope_missing`).",
    404: "Not found, or not visible to you.",
    409: "Conflicts with the current state (or an `Idempotency-Key` reused with another request).",
    413: "The request body is too large (`too_large`).",
    429: "Too many requests for this key; retry after `Retry-After` seconds.",
}


def error_responses(*status_codes: int) -> dict:
    """`responses=` entries for drf-spectacular: each status code documented with the error shape."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS.get(code, "Error."))
        for code in status_codes
    }


def json_error(
    code: str, message: str, status_code: int, *, fields: dict | None = None, headers: dict | None = None
):
    """The error shape as a plain response, for answers made outside a DRF view (URL resolver,
    middleware); rendered as DRF renders it (UTF-8, not \\u escapes)."""
    from django.http import HttpResponse
    from rest_framework.renderers import JSONRenderer

    body = JSONRenderer().render({"code": code, "message": message, "fields": fields or {}})
    response = HttpResponse(body, status=status_code, content_type="application/json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def handler404(request, exception=None):
    """Unknown URLs under /api/ answer in the API's error shape; pages keep Django's 404 page."""
    if _is_api(request):
        return json_error("not_found", _("Not found."), status.HTTP_404_NOT_FOUND)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler400(request, exception=None):
    """Under /api/, a request Django refuses before any view (a body past
    DATA_UPLOAD_MAX_MEMORY_SIZE: 413 `too_large`; another SuspiciousOperation: 400 `bad_request`)
    answers in the API's error shape; pages keep Django's 400 page."""
    if _is_api(request):
        if isinstance(exception, RequestDataTooBig):
            return json_error("too_large", _too_large_message(), status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        return json_error("bad_request", _("The request could not be read."), status.HTTP_400_BAD_REQUEST)
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def handler500(request):
    """A crash under /api/ answers {"code": "server_error", ...} - no traceback, no SQL - and is
    logged by Django as usual; pages keep Django's 500 page."""
    if _is_api(request):
        return json_error(
            "server_error", _("Something went wrong on our side."), status.HTTP_500_INTERNAL_SERVER_ERROR
        )
    from django.views.defaults import server_error

    return server_error(request)
