"""Errors over HTTP (HTTP_API 1.4, 1.5): the one place HTTP statuses live.

Every error response, of every route (unknown routes, wrong methods and unexpected
failures included), is the contract's envelope::

    {"error": {"code": ..., "message": ..., "details": {...}}, "request_id": ...}

:func:`error_response` turns any exception into it. A :class:`DecisionGraphError`
keeps its message and details; anything else becomes a generic 500 whose body holds
no exception text, stack, SQL or host detail (the exception is logged with the
request id instead).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from decisiongraph.api.rendering import render_json
from decisiongraph.errors import DecisionGraphError

__all__ = [
    "API_CODES",
    "api_code_for",
    "error_body",
    "error_response",
    "library_code_for",
    "status_for",
]

logger = logging.getLogger("decisiongraph.api")

#: library code -> (API code, HTTP status); HTTP_API 1.5, in the table's order.
_BY_LIBRARY_CODE: dict[str, tuple[str, int]] = {
    "DG_ERR_INVALID_ARGUMENT": ("invalid_argument", 400),
    "DG_ERR_UNAUTHORIZED": ("unauthorized", 401),
    "DG_ERR_FORBIDDEN": ("forbidden", 403),
    "DG_ERR_NOT_FOUND": ("not_found", 404),
    "DG_ERR_METHOD_NOT_ALLOWED": ("method_not_allowed", 405),
    "DG_ERR_CONFLICT": ("conflict", 409),
    "DG_ERR_IDEMPOTENCY_CONFLICT": ("idempotency_conflict", 409),
    "DG_ERR_EVENT_SEQUENCE_INVALID": ("event_sequence_invalid", 409),
    "DG_ERR_PROJECTION_OUT_OF_DATE": ("projection_out_of_date", 409),
    "DG_ERR_PAYLOAD_TOO_LARGE": ("payload_too_large", 413),
    "DG_ERR_UNSUPPORTED_MEDIA_TYPE": ("unsupported_media_type", 415),
    "DG_ERR_SCHEMA_VIOLATION": ("schema_violation", 422),
    "DG_ERR_PII_POLICY_VIOLATION": ("pii_policy_violation", 422),
    "DG_ERR_RATE_LIMITED": ("rate_limited", 429),
    "DG_ERR_STORAGE": ("storage", 503),
    "DG_ERR_UNAVAILABLE": ("unavailable", 503),
    "DG_ERR_INTERNAL": ("internal_error", 500),
}
_INTERNAL = ("internal_error", 500)

#: Every API error code, in the contract's order (the OpenAPI enum).
API_CODES: tuple[str, ...] = tuple(code for code, _ in _BY_LIBRARY_CODE.values())

_LIBRARY_BY_API_CODE = {api: lib for lib, (api, _) in _BY_LIBRARY_CODE.items()}

_STORAGE_MESSAGE = (
    "The database failed or is unreachable; retry later (resending an append with the "
    "same idempotency key is safe)"
)

# Seconds a client should wait before retrying a 503.
_RETRY_AFTER_S = 1


def api_code_for(library_code: str) -> str:
    """The API code of a library code; unknown codes are ``internal_error``."""
    return _BY_LIBRARY_CODE.get(library_code, _INTERNAL)[0]


def status_for(library_code: str) -> int:
    """The HTTP status of a library code; unknown codes are 500 (never fails)."""
    return _BY_LIBRARY_CODE.get(library_code, _INTERNAL)[1]


def library_code_for(api_code: str) -> str:
    """The library code of an API code (the client's reverse mapping)."""
    return _LIBRARY_BY_API_CODE.get(api_code, "DG_ERR_INTERNAL")


def error_body(error: DecisionGraphError) -> dict[str, Any]:
    """The ``error`` object of the envelope for a library error."""
    code, status = _BY_LIBRARY_CODE.get(error.code, _INTERNAL)
    if status == 500:
        return {"code": code, "message": "Internal error; the request id is logged.", "details": {}}
    if code == "storage":
        # The driver's text names tables and server state: logged, never sent.
        return {"code": code, "message": _STORAGE_MESSAGE, "details": {}}
    return {"code": code, "message": error.message, "details": dict(error.details)}


def _headers_for(error: DecisionGraphError, status: int) -> dict[str, str]:
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    elif status == 405:
        allowed = error.details.get("allowed") or []
        headers["Allow"] = ", ".join(allowed)
    elif status in (429, 503):
        retry = error.details.get("retry_after_s", _RETRY_AFTER_S)
        headers["Retry-After"] = str(max(1, int(retry)))
    return headers


def error_response(
    exc: BaseException,
    request_id: str,
    *,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The envelope response for ``exc`` (with ``X-Request-Id`` and no-store)."""
    if not isinstance(exc, DecisionGraphError):
        logger.error("unexpected failure (request_id=%s)", request_id, exc_info=exc)
        exc = DecisionGraphError("DG_ERR_INTERNAL", "unexpected failure")
    status = status_for(exc.code)
    if exc.code == "DG_ERR_STORAGE":
        logger.error("storage failure (request_id=%s): %s", request_id, exc.message)
    if status == 500 and exc.code != "DG_ERR_INTERNAL":
        logger.error("unmapped error code %s (request_id=%s): %s", exc.code, request_id, exc)
    all_headers = _headers_for(exc, status)
    if headers:
        all_headers.update(headers)
    all_headers["X-Request-Id"] = request_id
    all_headers["Cache-Control"] = "no-store"
    body = {"error": error_body(exc), "request_id": request_id}
    return Response(
        render_json(body),
        status_code=status,
        headers=all_headers,
        media_type="application/json; charset=utf-8",
    )
