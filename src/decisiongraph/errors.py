"""The one exception tree of DecisionGraph.

Every failure a caller can act on is a :class:`DecisionGraphError` carrying a stable
``code`` (the spec's ``DG_ERR_*`` vocabulary), a human message saying what to fix, and a
``details`` mapping of machine-readable facts (never secrets)::

    DecisionGraphError                      code
    ├── InvalidArgument                     DG_ERR_INVALID_ARGUMENT
    ├── SchemaViolation                     DG_ERR_SCHEMA_VIOLATION
    │   └── FloatFoundError                 DG_ERR_SCHEMA_VIOLATION
    ├── PiiPolicyViolation                  DG_ERR_PII_POLICY_VIOLATION
    ├── IdempotencyConflict                 DG_ERR_IDEMPOTENCY_CONFLICT
    ├── EventSequenceInvalid                DG_ERR_EVENT_SEQUENCE_INVALID
    ├── Conflict                            DG_ERR_CONFLICT
    ├── NotFound                            DG_ERR_NOT_FOUND
    ├── ProjectionOutOfDate                 DG_ERR_PROJECTION_OUT_OF_DATE
    ├── StorageError                        DG_ERR_STORAGE
    │
    │   service errors (HTTP API, client SDK; not among the nine library codes):
    ├── Unauthorized                        DG_ERR_UNAUTHORIZED
    ├── Forbidden                           DG_ERR_FORBIDDEN
    ├── RateLimited                         DG_ERR_RATE_LIMITED
    ├── PayloadTooLarge                     DG_ERR_PAYLOAD_TOO_LARGE
    ├── UnsupportedMediaType                DG_ERR_UNSUPPORTED_MEDIA_TYPE
    ├── MethodNotAllowed                    DG_ERR_METHOD_NOT_ALLOWED
    ├── Unavailable                         DG_ERR_UNAVAILABLE
    └── InternalError                       DG_ERR_INTERNAL

"The request was wrong" errors (everything but ``StorageError``) leave the store
untouched. ``StorageError`` means the database failed; retrying an append with the same
idempotency key is always safe.

``str(e)`` is ``"{code}: {message}"`` and ``repr(e)`` is
``DecisionGraphError('CODE', 'message')`` (spec section 4.4), whatever the subclass.
This module imports nothing from the rest of the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "ERROR_CODES",
    "SERVICE_ERROR_CODES",
    "Conflict",
    "DecisionGraphError",
    "EventSequenceInvalid",
    "FloatFoundError",
    "Forbidden",
    "IdempotencyConflict",
    "InternalError",
    "InvalidArgument",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "PiiPolicyViolation",
    "ProjectionOutOfDate",
    "RateLimited",
    "SchemaViolation",
    "StorageError",
    "Unauthorized",
    "Unavailable",
    "UnsupportedMediaType",
    "error_class_for_code",
    "make_error",
]

INVALID_ARGUMENT = "DG_ERR_INVALID_ARGUMENT"
SCHEMA_VIOLATION = "DG_ERR_SCHEMA_VIOLATION"
PII_POLICY_VIOLATION = "DG_ERR_PII_POLICY_VIOLATION"
IDEMPOTENCY_CONFLICT = "DG_ERR_IDEMPOTENCY_CONFLICT"
EVENT_SEQUENCE_INVALID = "DG_ERR_EVENT_SEQUENCE_INVALID"
CONFLICT = "DG_ERR_CONFLICT"
NOT_FOUND = "DG_ERR_NOT_FOUND"
PROJECTION_OUT_OF_DATE = "DG_ERR_PROJECTION_OUT_OF_DATE"
STORAGE = "DG_ERR_STORAGE"
UNAUTHORIZED = "DG_ERR_UNAUTHORIZED"
FORBIDDEN = "DG_ERR_FORBIDDEN"
RATE_LIMITED = "DG_ERR_RATE_LIMITED"
PAYLOAD_TOO_LARGE = "DG_ERR_PAYLOAD_TOO_LARGE"
UNSUPPORTED_MEDIA_TYPE = "DG_ERR_UNSUPPORTED_MEDIA_TYPE"
METHOD_NOT_ALLOWED = "DG_ERR_METHOD_NOT_ALLOWED"
UNAVAILABLE = "DG_ERR_UNAVAILABLE"
INTERNAL = "DG_ERR_INTERNAL"

#: The nine library codes of spec section 4.4, in the spec's order.
ERROR_CODES: tuple[str, ...] = (
    INVALID_ARGUMENT,
    SCHEMA_VIOLATION,
    PII_POLICY_VIOLATION,
    IDEMPOTENCY_CONFLICT,
    EVENT_SEQUENCE_INVALID,
    CONFLICT,
    NOT_FOUND,
    PROJECTION_OUT_OF_DATE,
    STORAGE,
)

#: Codes of the service's own conditions (HTTP_API 1.5 rows without a library code).
SERVICE_ERROR_CODES: tuple[str, ...] = (
    UNAUTHORIZED,
    FORBIDDEN,
    RATE_LIMITED,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    METHOD_NOT_ALLOWED,
    UNAVAILABLE,
    INTERNAL,
)


class DecisionGraphError(Exception):
    """Base of every DecisionGraph error: a stable code, a message and details.

    Constructed directly it takes the code as first argument, exactly like the
    reference library (``DecisionGraphError(code, message)``); the subclasses fix their
    code and take only the message and details.
    """

    default_code: ClassVar[str] = ""
    #: Set by the HTTP client SDK on errors it raises from a response: the HTTP status,
    #: the response's request id and the envelope's API code (None otherwise).
    status: int | None = None
    request_id: str | None = None
    api_code: str | None = None

    def __init__(self, code: str, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"DecisionGraphError({self.code!r}, {self.message!r})"

    def with_details(self, **extra: Any) -> DecisionGraphError:
        """Return a copy of this error (same class) with ``extra`` merged into details."""
        return make_error(self.code, self.message, {**self.details, **extra})

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (multiprocessing tests, worker pools).
        return (make_error, (self.code, self.message, self.details))


class _CodedError(DecisionGraphError):
    """A subclass whose code is fixed by the class."""

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(self.default_code, message, details)


class InvalidArgument(_CodedError):
    """A bad argument: idempotency key, limits, filters, cursors, U+0000."""

    default_code = INVALID_ARGUMENT


class SchemaViolation(_CodedError):
    """The event does not have the required shape (type, payload keys, floats)."""

    default_code = SCHEMA_VIOLATION


class FloatFoundError(SchemaViolation):
    """A float was found in a payload; the message names its JSON path."""


class PiiPolicyViolation(_CodedError):
    """A scanned string looks like a credential; details name the rule and path."""

    default_code = PII_POLICY_VIOLATION


class IdempotencyConflict(_CodedError):
    """The (tenant, producer, idempotency key) was already used with other content."""

    default_code = IDEMPOTENCY_CONFLICT


class EventSequenceInvalid(_CodedError):
    """The trace_seq is not the next one of the trace, or the trace starts wrongly."""

    default_code = EVENT_SEQUENCE_INVALID


class Conflict(_CodedError):
    """The append conflicts with stored state (finished trace, duplicate event id)."""

    default_code = CONFLICT


class NotFound(_CodedError):
    """The trace, event or resource does not exist in this tenant."""

    default_code = NOT_FOUND


class ProjectionOutOfDate(_CodedError):
    """A strict projection-backed read found a projection behind the log."""

    default_code = PROJECTION_OUT_OF_DATE


class StorageError(_CodedError):
    """The database failed or was unreachable; nothing can be said about the write."""

    default_code = STORAGE


class Unauthorized(_CodedError):
    """Missing, malformed, unknown, revoked or expired API key, or a disabled account."""

    default_code = UNAUTHORIZED


class Forbidden(_CodedError):
    """The key is not bound to the request tenant or lacks the route's permission."""

    default_code = FORBIDDEN


class RateLimited(_CodedError):
    """A rate limit, stream cap or failed-authentication throttle refused the request."""

    default_code = RATE_LIMITED


class PayloadTooLarge(_CodedError):
    """A request body (or a batch's event count) is over the service's limit."""

    default_code = PAYLOAD_TOO_LARGE


class UnsupportedMediaType(_CodedError):
    """A request body without ``Content-Type: application/json``."""

    default_code = UNSUPPORTED_MEDIA_TYPE


class MethodNotAllowed(_CodedError):
    """The HTTP method is not defined for the path."""

    default_code = METHOD_NOT_ALLOWED


class Unavailable(_CodedError):
    """The service is overloaded, shutting down or not ready; retry later."""

    default_code = UNAVAILABLE


class InternalError(_CodedError):
    """An unexpected failure of the service (no detail is ever disclosed)."""

    default_code = INTERNAL


_CLASS_BY_CODE: dict[str, type[_CodedError]] = {
    cls.default_code: cls
    for cls in (
        InvalidArgument,
        SchemaViolation,
        PiiPolicyViolation,
        IdempotencyConflict,
        EventSequenceInvalid,
        Conflict,
        NotFound,
        ProjectionOutOfDate,
        StorageError,
        Unauthorized,
        Forbidden,
        RateLimited,
        PayloadTooLarge,
        UnsupportedMediaType,
        MethodNotAllowed,
        Unavailable,
        InternalError,
    )
}


def error_class_for_code(code: str) -> type[DecisionGraphError]:
    """Return the subclass registered for ``code``, or the base class for unknown codes."""
    return _CLASS_BY_CODE.get(code, DecisionGraphError)


def make_error(
    code: str, message: str, details: Mapping[str, Any] | None = None
) -> DecisionGraphError:
    """Build the most specific error class for ``code``."""
    cls = _CLASS_BY_CODE.get(code)
    if cls is None:
        return DecisionGraphError(code, message, details)
    return cls(message, details)
