"""Error envelopes (HTTP_API 1.4, 1.5) back into the library's exception classes.

Every failure the client reports is a :class:`~decisiongraph.errors.DecisionGraphError`
built by :func:`~decisiongraph.errors.make_error` from the *library* code of the
envelope's API code, so ``except NotFound`` works the same against the embedded
``DecisionGraph`` and against the service. The instance also carries:

* ``status``: the HTTP status (None when no response arrived),
* ``request_id``: the response's request id (else the id the client sent),
* ``api_code``: the envelope's ``error.code`` (None when the body was no envelope).

The API -> library table below duplicates the contract's table (HTTP_API 1.5) on
purpose: the client is an edge module and never imports ``decisiongraph.api``; a test
asserts both tables agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from decisiongraph.errors import DecisionGraphError, make_error

__all__ = [
    "LIBRARY_CODE_BY_API_CODE",
    "error_from_body",
    "library_code_for",
    "transport_error",
]

#: API error code -> library code (HTTP_API 1.5, in the table's order).
LIBRARY_CODE_BY_API_CODE: dict[str, str] = {
    "invalid_argument": "DG_ERR_INVALID_ARGUMENT",
    "unauthorized": "DG_ERR_UNAUTHORIZED",
    "forbidden": "DG_ERR_FORBIDDEN",
    "not_found": "DG_ERR_NOT_FOUND",
    "method_not_allowed": "DG_ERR_METHOD_NOT_ALLOWED",
    "conflict": "DG_ERR_CONFLICT",
    "idempotency_conflict": "DG_ERR_IDEMPOTENCY_CONFLICT",
    "event_sequence_invalid": "DG_ERR_EVENT_SEQUENCE_INVALID",
    "projection_out_of_date": "DG_ERR_PROJECTION_OUT_OF_DATE",
    "payload_too_large": "DG_ERR_PAYLOAD_TOO_LARGE",
    "unsupported_media_type": "DG_ERR_UNSUPPORTED_MEDIA_TYPE",
    "schema_violation": "DG_ERR_SCHEMA_VIOLATION",
    "pii_policy_violation": "DG_ERR_PII_POLICY_VIOLATION",
    "rate_limited": "DG_ERR_RATE_LIMITED",
    "storage": "DG_ERR_STORAGE",
    "unavailable": "DG_ERR_UNAVAILABLE",
    "internal_error": "DG_ERR_INTERNAL",
}

# A response that is not an envelope (a proxy's page, a truncated body) is judged by
# its status alone; gateway failures mean the service could not be reached.
_CODE_BY_STATUS: dict[int, str] = {
    400: "invalid_argument",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "schema_violation",
    429: "rate_limited",
    502: "unavailable",
    503: "unavailable",
    504: "unavailable",
}


def library_code_for(api_code: str) -> str:
    """The library code of an API code; unknown codes are ``DG_ERR_INTERNAL``."""
    return LIBRARY_CODE_BY_API_CODE.get(api_code, "DG_ERR_INTERNAL")


def _annotate(
    error: DecisionGraphError, status: int | None, request_id: str | None, api_code: str | None
) -> DecisionGraphError:
    # The library classes declare no such attributes; they are set per instance so the
    # raised object stays exactly the class make_error() picks.
    error.status = status
    error.request_id = request_id
    error.api_code = api_code
    return error


def _envelope_error(body: Any) -> tuple[str, str, dict[str, Any]] | None:
    """``(code, message, details)`` of an error envelope, None if ``body`` is not one."""
    if not isinstance(body, Mapping):
        return None
    error = body.get("error")
    if not isinstance(error, Mapping) or not isinstance(error.get("code"), str):
        return None
    message = error.get("message")
    details = error.get("details")
    return (
        error["code"],
        message if isinstance(message, str) else "",
        dict(details) if isinstance(details, Mapping) else {},
    )


def error_from_body(status: int | None, body: Any, request_id: str | None) -> DecisionGraphError:
    """The exception for an error response (or a batch item's ``error`` object, whose
    ``body`` is then ``{"error": item_error}``)."""
    parsed = _envelope_error(body)
    if isinstance(body, Mapping) and isinstance(body.get("request_id"), str):
        request_id = body["request_id"]
    if parsed is None:
        api_code = _CODE_BY_STATUS.get(status or 0, "internal_error")
        message = f"HTTP {status} without an error envelope"
        return _annotate(make_error(library_code_for(api_code), message), status, request_id, None)
    api_code, message, details = parsed
    error = make_error(library_code_for(api_code), message, details)
    return _annotate(error, status, request_id, api_code)


def transport_error(exc: Exception, request_id: str | None) -> DecisionGraphError:
    """``Unavailable`` for a request that got no response (connection refused or lost,
    timeout). A write that failed this way may or may not have committed; resending it
    with the same idempotency key is always safe."""
    message = f"The service could not be reached: {type(exc).__name__}: {exc}"
    error = make_error("DG_ERR_UNAVAILABLE", message, {"reason": "transport"})
    return _annotate(error, None, request_id, None)
