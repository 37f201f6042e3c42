"""Errors as RFC 9457 problem details, mapped from fabcore's error tree in one table.

Refusals get 4xx with what to change (the field, the model's rejection
reason); a lost race after the core's retries gets 409; a backend that is
down gets 503 with ``Retry-After``. Anything else is a bug: 500, logged
with its traceback, and the client sees only that something went wrong.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from fabcore.domain import errors as e
from fabcore.entrypoints.web.dto import FILLED_PATTERN

log = logging.getLogger("fabcore.web")

PROBLEM_JSON = "application/problem+json"

# The first matching class wins: subclasses before their bases.
STATUS: tuple[tuple[type[e.FabcoreError], int, str], ...] = (
    (e.CatalogError, 422, "invalid-catalog"),
    (e.ModelRejected, 422, "model-rejected"),
    (e.ConfigurationError, 422, "invalid-input"),
    (e.InvalidInput, 422, "invalid-input"),
    (e.NotAuthenticated, 401, "not-authenticated"),
    (e.PermissionDenied, 403, "permission-denied"),
    (e.NotFound, 404, "not-found"),
    (e.AlreadyExists, 409, "already-exists"),
    (e.GuardFailed, 409, "guard-failed"),
    (e.InvalidTransition, 409, "invalid-transition"),
    (e.OfferLinkInvalid, 404, "link-invalid"),
    (e.PaymentEventRejected, 400, "payment-event-rejected"),
    (e.TooManyAttempts, 429, "too-many-attempts"),
    (e.Refusal, 400, "refused"),
    (e.ConcurrencyConflict, 409, "conflict"),
    (e.Conflict, 409, "conflict"),
    (e.StorageError, 503, "storage-unavailable"),
    (e.DeliveryError, 503, "mail-unavailable"),
    (e.PaymentGatewayError, 503, "payments-unavailable"),
    (e.InfrastructureError, 503, "unavailable"),
)
_TITLES = {400: "Bad request", 401: "Not signed in", 403: "Forbidden", 404: "Not found",
           405: "Method not allowed", 409: "Conflict", 413: "Too large",
           415: "Unsupported media type", 422: "Invalid input", 429: "Too many attempts",
           500: "Internal error", 503: "Service unavailable"}
# Seconds a client should wait before retrying an infrastructure outage.
RETRY_AFTER_OUTAGE = 30


def problem(status: int, kind: str, detail: str, request: Request[Any, Any, Any],
            **extra: Any) -> Response[dict[str, Any]]:
    """A problem details response."""
    body: dict[str, Any] = {"type": f"urn:fabcore:problem:{kind}",
                            "title": _TITLES.get(status, "Error"), "status": status,
                            "detail": detail, "instance": request.url.path, **extra}
    headers: dict[str, str] = {}
    if status == 503:
        headers["Retry-After"] = str(RETRY_AFTER_OUTAGE)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def fabcore_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    assert isinstance(exc, e.FabcoreError)
    status, kind = next((s, k) for cls, s, k in STATUS if isinstance(exc, cls))
    extra: dict[str, Any] = {}
    if isinstance(exc, e.CatalogError):
        extra = {"key": exc.key, "reason": exc.reason}
    elif isinstance(exc, e.ModelRejected):
        extra = {"filename": exc.filename, "reason": exc.reason}
    if status >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, exc, exc_info=exc)
    response = problem(status, kind, str(exc), request, **extra)
    if isinstance(exc, e.TooManyAttempts):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


# What the decoder says of a text with nothing but white space.
_BLANK = f"Expected `str` matching regex {FILLED_PATTERN!r}"


def validation_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    assert isinstance(exc, ValidationException)
    extra = exc.extra if isinstance(exc.extra, list) else []
    fields = [{"field": item.get("key"), "message": item.get("message"),
               "location": item.get("source")}
              for item in extra if isinstance(item, dict)]
    for item in fields:
        # A missing body is reported by the decoder as its own key.
        if item["field"] == "data" and item["message"] == "'data'":
            item["message"] = "the request needs a JSON body"
        elif item["message"] == _BLANK:
            item["message"] = "must not be blank"
    detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields) or str(exc.detail)
    return problem(422, "invalid-input", detail, request, errors=fields)


def http_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status == 400 and "Request Entity Too Large" in str(exc.detail):
        status = 413
    kind = {404: "not-found", 405: "method-not-allowed", 413: "too-large"}.get(status, "http")
    response = problem(status, kind, str(exc.detail), request)
    response.headers.update(exc.headers or {})
    return response


def undecodable_form(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """A form field that is not text in its charset: the client's mistake, if the parser says so."""
    frames = traceback.extract_tb(exc.__traceback__)
    if frames and frames[-1].filename.endswith(("litestar/_multipart.py", "litestar/_parsers.py")):
        return problem(400, "invalid-form", "a form field is not valid text in its charset",
                       request)
    return unexpected(request, exc)


def unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return problem(HTTP_500_INTERNAL_SERVER_ERROR, "internal",
                   "something went wrong on our side; it was logged", request)


ExceptionHandler = Callable[[Request[Any, Any, Any], Any], Response[Any]]

EXCEPTION_HANDLERS: dict[int | type[Exception], ExceptionHandler] = {
    e.FabcoreError: fabcore_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    UnicodeDecodeError: undecodable_form,
    Exception: unexpected,
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_JSON", "problem"]
