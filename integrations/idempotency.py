"""Stripe-style idempotency for every creating request of the API: one middleware for all of them.

A POST under /api/v1/ with an `Idempotency-Key` header is run once per (owner, key), where the owner
is the API key ("key:<id>") or the person ("user:<id>") who sent it:

- the first request claims an `IdempotentRequest` row (owner, key, method, path, fingerprint =
  sha256 of method, path and body) in its own short transaction BEFORE the view runs; its answer
  (status, body bytes, content type) is stored on the row afterwards;
- a retry with the same key and the same request gets those bytes back, with
  `Idempotent-Replayed: true`, for at least 24 hours (`IDEMPOTENCY_TTL`; `manage.py
  idempotency_purge`, run hourly, deletes older rows);
- only answers decided by the request's content are stored (Stripe's rule): a 400, 404 or 409 is
  replayed, but a refusal of the caller (401, 403: a missing scope, a permission), a throttle
  (429) and a server error (5xx, or an exception) delete the row, so the retry runs again once
  the caller may, or the server can;
- the same key with another request is a 409 `idempotency_conflict`; a retry while the first is
  still running (a row without a status) is a 409 `idempotency_in_progress` with `Retry-After: 1`;
- a claim is a lease of `IDEMPOTENCY_LEASE_SECONDS` (the request timeout): a worker killed
  mid-request leaves a row without a status, and once its lease has run out a retry takes the key
  over and runs (the purge command deletes such rows too).

Why a middleware and not a mixin on every viewset: it covers every creating POST the apps have and
will add, without a base class each viewset must remember. It runs in `process_view`, where the
view is known, and authenticates the caller with that view's own DRF authentication classes (so an
API key and a session resolve to the same owner the view will see); a caller who fails to
authenticate is left to the view (its 401/403 is not stored). The request's own `user` is put back
afterwards, so the view authenticates exactly as it would without this middleware.

Views that recognise a retry by meaning rather than by bytes (orders: the same SKU and channel by
id or by code is the same order) are listed in `CHECKS_OWN_BODY`: a byte-for-byte retry is replayed
here, but a different body under a used key goes on to the view, which replays or refuses it."""

import hashlib
import math
from contextlib import nullcontext
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, router, transaction
from django.db.models import Q
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.views import APIView

from config.api.errors import json_error
from config.sql import Batch
from integrations.models import IdempotentRequest
from integrations.sql import answer_store

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
IDEMPOTENCY_TTL = timedelta(hours=24)
API_PREFIX = "/api/v1/"
STORED_HEADERS = ("Content-Type", "Location")
# "<module>.<view class>.<action>" of views that compare retries by meaning themselves.
CHECKS_OWN_BODY = frozenset({"orders.api.views.OrderViewSet.create"})

_ROW = "_idempotent_row"
# Answers about the caller, not the request: never stored, so the retry runs (Stripe's rule).
NOT_STORED = frozenset({401, 403, 429})


def lease() -> timedelta:
    """How long an in-progress claim holds its key: the request timeout (a setting)."""
    return timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS)


def request_fingerprint(request) -> str:
    """sha256 of the method, the path with its query and the body (multipart: fields and files)."""
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b"\n" + request.get_full_path().encode() + b"\n")
    if request.content_type == "multipart/form-data":
        # The raw stream is parsed here (DRF reuses request.POST/FILES); hash what it holds.
        for name in sorted(request.POST):
            for value in request.POST.getlist(name):
                digest.update(f"{name}={value}\n".encode())
        for name in sorted(request.FILES):
            for upload in request.FILES.getlist(name):
                digest.update(f"{name}:{upload.name}:{upload.size}\n".encode())
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
    else:
        digest.update(request.body)
    return digest.hexdigest()


def _owner_of(user) -> str | None:
    """ "key:<id>" for an API key's principal, "user:<id>" for a person (as
    integrations.authentication.owner_of, read from the user so this module needs no key code)."""
    api_key = getattr(user, "api_key", None)
    if api_key is not None:
        return f"key:{api_key.pk}"
    return f"user:{user.pk}" if user.pk is not None else None


def _owner(request, view_class) -> tuple[str | None, Request | None]:
    """The owner the view will see, from the view's own authentication (None if nobody is known),
    and the DRF request that carries that caller for the throttles."""
    saved = {name: request.__dict__[name] for name in ("user", "auth") if name in request.__dict__}
    try:
        drf_request = Request(request, authenticators=[auth() for auth in view_class.authentication_classes])
        user = drf_request.user
        owner = _owner_of(user) if user is not None and user.is_authenticated else None
    except exceptions.APIException:
        owner, drf_request = None, None
    finally:
        # DRF sets request.user/auth on the Django request; the view must start from the original.
        for name in ("user", "auth"):
            request.__dict__.pop(name, None)
        request.__dict__.update(saved)
    return owner, drf_request


def _throttled(drf_request, view_func, view_class, view_args, view_kwargs) -> HttpResponse | None:
    """A replay or a 409 answered here still counts against the caller's rate, as the view's
    answer would (the view's own throttles: per API key); a 429 in the error shape when over it."""
    view = view_class(**(getattr(view_func, "initkwargs", None) or {}))
    view.request, view.args, view.kwargs, view.format_kwarg = drf_request, view_args, view_kwargs, None
    actions = getattr(view_func, "actions", None)
    if actions:
        view.action_map = actions
        view.action = actions.get(drf_request.method.lower())
    waits = [
        throttle.wait() for throttle in view.get_throttles() if not throttle.allow_request(drf_request, view)
    ]
    if not waits:
        return None
    wait = max((w for w in waits if w is not None), default=None)
    headers = {"Retry-After": str(math.ceil(wait))} if wait else {}
    return json_error("throttled", str(exceptions.Throttled(wait).detail), 429, headers=headers)


def _claim(*, owner: str, key: str, method: str, path: str, fingerprint: str):
    """(row, True) when this request claimed the key; (the live row, False) when another did."""
    for _attempt in range(3):
        try:
            # Its own transaction, visible to a concurrent retry at once. Outside any transaction (as
            # under a server) the INSERT commits by itself: one round trip, not BEGIN/INSERT/COMMIT;
            # inside one (tests, ATOMIC_REQUESTS) a savepoint keeps a collision from breaking it.
            row = IdempotentRequest(
                owner=owner, key=key, method=method, path=path[:255], fingerprint=fingerprint
            )
            alias = router.db_for_write(IdempotentRequest)
            in_transaction = transaction.get_connection(alias).in_atomic_block
            with transaction.atomic(using=alias) if in_transaction else nullcontext():
                Batch().rows([row]).run()  # the INSERT's SQL built once, not per request
            return row, True
        except IntegrityError:
            pass
        row = IdempotentRequest.objects.filter(owner=owner, key=key).first()
        if row is None:
            continue  # the first request failed and gave the key back a moment ago
        now = timezone.now()
        if row.status_code is None:
            if row.created_at >= now - lease():
                return row, False
            # Its worker died (or outlived the request timeout): the lease is over, the key is free.
            # Conditional, so of two retries at once only one deletes it and one claims it.
            IdempotentRequest.objects.filter(
                pk=row.pk, created_at=row.created_at, status_code__isnull=True
            ).delete()
            continue
        if row.created_at >= now - IDEMPOTENCY_TTL:
            return row, False
        # Expired but not purged yet: the key is free again.
        IdempotentRequest.objects.filter(pk=row.pk, created_at=row.created_at).delete()
    return row, False


def _replay(row: IdempotentRequest) -> HttpResponse:
    headers = row.response_headers or {}
    response = HttpResponse(
        bytes(row.response_body or b""),
        status=row.status_code,
        content_type=headers.get("Content-Type", "application/json"),
    )
    for name in STORED_HEADERS:
        if name != "Content-Type" and name in headers:
            response[name] = headers[name]
    response[REPLAYED_HEADER] = "true"
    return response


def _view_name(view_func, view_class, method: str) -> str:
    action = (getattr(view_func, "actions", None) or {}).get(method.lower(), method.lower())
    return f"{view_class.__module__}.{view_class.__qualname__}.{action}"


class IdempotencyMiddleware:
    """Store and replay the answers to POSTs under /api/v1/ sent with an Idempotency-Key."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            response = self.get_response(request)
        except BaseException:
            row = request.__dict__.pop(_ROW, None)
            if row is not None:
                IdempotentRequest.objects.filter(pk=row.pk).delete()
            raise
        row = request.__dict__.pop(_ROW, None)
        if row is not None:
            self._finish(row, response)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "POST" or not request.path_info.startswith(API_PREFIX):
            return None
        key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if not key:
            return None
        if len(key) > MAX_KEY_LENGTH or not key.isprintable():
            return json_error(
                "invalid",
                _("An Idempotency-Key is at most %(n)s printable characters.") % {"n": MAX_KEY_LENGTH},
                400,
                fields={IDEMPOTENCY_HEADER: [_("Too long or not printable.")]},
            )
        view_class = getattr(view_func, "cls", None)
        if not (isinstance(view_class, type) and issubclass(view_class, APIView)):
            return None
        owner, drf_request = _owner(request, view_class)
        if owner is None:
            return None  # the view answers 401/403; nothing to store
        try:
            fingerprint = request_fingerprint(request)
        except Exception:  # a body too big to read here: the view refuses it, nothing to store
            return None
        row, claimed = _claim(
            owner=owner, key=key, method=request.method, path=request.path, fingerprint=fingerprint
        )
        if claimed:
            request.__dict__[_ROW] = row
            return None
        answer = self._answer(request, view_func, view_class, row, fingerprint)
        if answer is None:
            return None  # the view runs (and throttles) as usual
        return _throttled(drf_request, view_func, view_class, view_args, view_kwargs) or answer

    def _answer(self, request, view_func, view_class, row, fingerprint) -> HttpResponse | None:
        """The answer to a key already claimed: a replay or a 409; None lets the view decide."""
        if row is None:  # claimed and given back by others three times over: busy
            row = IdempotentRequest(fingerprint=fingerprint)
        if row.fingerprint != fingerprint:
            same_endpoint = (row.method, row.path) == (request.method, request.path[:255])
            if same_endpoint and _view_name(view_func, view_class, request.method) in CHECKS_OWN_BODY:
                return None  # the view tells a retry from a new request by meaning
            return json_error(
                "idempotency_conflict",
                _("This Idempotency-Key was already used for a different request."),
                409,
                fields={IDEMPOTENCY_HEADER: [_("Already used with another method, path or body.")]},
            )
        if row.status_code is None:
            return json_error(
                "idempotency_in_progress",
                _("A request with this Idempotency-Key is still running; retry in a moment."),
                409,
                headers={"Retry-After": "1"},
            )
        return _replay(row)

    def _finish(self, row: IdempotentRequest, response) -> None:
        """Keep the answer for replays; give the key back after a refusal of the caller or a server
        error."""
        status = response.status_code
        if status >= 500 or status in NOT_STORED or getattr(response, "streaming", False):
            IdempotentRequest.objects.filter(pk=row.pk).delete()
            return
        headers = {name: response[name] for name in STORED_HEADERS if response.has_header(name)}
        # The same UPDATE as .filter(pk=...).update(...), as one plain statement (integrations.sql):
        # every API POST with a key runs it, and building it with the ORM was a noticeable part of an
        # order's time.
        answer_store(pk=row.pk, status_code=status, body=response.content, headers=headers)


@transaction.atomic
def idempotency_purge(*, now=None) -> int:
    """Delete stored requests older than the replay window (24 hours) and claims whose lease has
    run out (their worker died); returns how many."""
    now = now or timezone.now()
    expired = Q(created_at__lt=now - IDEMPOTENCY_TTL)
    expired |= Q(status_code__isnull=True, created_at__lt=now - lease())
    deleted, _by_model = IdempotentRequest.objects.filter(expired).delete()
    return deleted


def openapi_idempotency_hook(result, generator, request, public, **kwargs):
    """drf-spectacular postprocessing hook: every POST under /api/v1/ documents the Idempotency-Key
    header, the `Idempotent-Replayed` header of a replayed answer, the 400 for a bad key and the 409s
    (`idempotency_conflict`, `idempotency_in_progress`). Operations that document these themselves
    keep their own text. Wire it with
    SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = ["drf_spectacular.hooks.postprocess_schema_enums",
    "integrations.idempotency.openapi_idempotency_hook"]."""
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for path, item in (result.get("paths") or {}).items():
        operation = item.get("post") if path.startswith(API_PREFIX) else None
        if operation is None:
            continue
        parameters = operation.setdefault("parameters", [])
        if not any(p.get("in") == "header" and p.get("name") == IDEMPOTENCY_HEADER for p in parameters):
            parameters.append(
                {
                    "in": "header",
                    "name": IDEMPOTENCY_HEADER,
                    "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH},
                    "description": (
                        "Makes the request safe to retry (printable, at most 255 characters, unique "
                        "per API key or user): the first answer decided by the request is stored for "
                        "24 hours and a retry with the same key and body gets it back byte for byte, "
                        "with `Idempotent-Replayed: true`. A refusal of the caller (401, 403, 429) or "
                        "a server error (5xx) is not stored: retry once allowed. A request still "
                        "running holds its key for at most the request timeout."
                    ),
                }
            )
        responses = operation.setdefault("responses", {})
        responses.setdefault(
            "400",
            {"description": "Bad input, or an Idempotency-Key that is too long or not printable.", **error},
        )
        responses.setdefault(
            "409",
            {
                "description": (
                    "`idempotency_conflict`: the Idempotency-Key was used for another request; "
                    "`idempotency_in_progress`: the first request with this key is still running "
                    "(Retry-After: 1)."
                ),
                **error,
            },
        )
        for code, response in responses.items():
            if str(code).startswith("2"):
                response.setdefault("headers", {}).setdefault(
                    REPLAYED_HEADER,
                    {
                        "schema": {"type": "string", "enum": ["true"]},
                        "description": "Present when this is the stored answer to an earlier request.",
                    },
                )
    return result
