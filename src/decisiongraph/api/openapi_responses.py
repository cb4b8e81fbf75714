"""The responses of the OpenAPI document (HTTP_API 7): one per status an operation can
return, with the headers the contract puts on it.

Invariants:

* Every authenticated operation (``permission`` set: every ``/api/v1`` route but the
  document itself) documents the general errors of HTTP_API 2 (400, 401, 403, 404, 405,
  429, 500, 503) plus its ``error_statuses``; unauthenticated ones (probes, metrics, the
  document) only 405, 500 and their ``error_statuses``.
* Every error response references the ONE shared ``ErrorEnvelope`` schema.
* Success bodies are enveloped (``{"data", "request_id"}``) except on the routes 1.4
  lists (:data:`RAW_ROUTES`), whose media type and body are documented as served.
* ``Operation.extra_responses`` adds or refines statuses: ``{status: {"description":
  str, "model": a Pydantic model (enveloped like the success), "content": an OpenAPI
  content object (replaces the generated one), "headers": {name: header object}}}``; a
  2xx extra gets the success headers (e.g. the batch route's 207).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel

from decisiongraph.api.errors import API_CODES, library_code_for, status_for
from decisiongraph.api.models.events import EventEnvelopeIn
from decisiongraph.api.operations import Operation

__all__ = [
    "GENERAL_ERROR_STATUSES",
    "HEADERS",
    "RAW_ROUTES",
    "RawRoute",
    "error_statuses",
    "is_enveloped",
    "responses",
]

#: A model -> its ``{"$ref": ...}`` in ``components.schemas``.
SchemaRef = Callable[[type[BaseModel]], dict[str, Any]]

#: What every authenticated route may answer besides its own statuses (HTTP_API 2).
GENERAL_ERROR_STATUSES = (400, 401, 403, 404, 405, 429, 500, 503)
# Unauthenticated routes run no auth, tenant, rate-limit or parameter step (1.6).
_UNAUTHENTICATED_ERROR_STATUSES = (400, 405, 500)


def _header(description: str, schema: dict[str, Any], *, required: bool) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": schema}


_INT = {"type": "integer", "minimum": 0}

#: ``components.headers``: every response header of the contract.
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-Id": _header(
        "The request id (the client's if it matched the pattern, else 32 hex characters); "
        "also `request_id` in every enveloped body.",
        {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
        required=True,
    ),
    "Cache-Control": _header("Always `no-store`.", {"type": "string"}, required=True),
    "X-DG-Projection-Log-Seq": _header(
        "Projection-backed routes (HTTP_API 1.8): the cursor of the projection state that "
        "answered (the smaller one when two projections are read).",
        _INT,
        required=True,
    ),
    "Idempotent-Replayed": _header(
        "`true` when the append was an idempotent reuse (the original event is returned).",
        {"type": "string", "enum": ["true"]},
        required=False,
    ),
    "RateLimit-Limit": _header(
        "Units per minute of the route's rate scope (HTTP_API 4); sent when the request "
        "reached the rate-limit step.",
        _INT,
        required=False,
    ),
    "RateLimit-Remaining": _header("Units left in the current window.", _INT, required=False),
    "RateLimit-Reset": _header("Seconds until the quota is fully restored.", _INT, required=False),
    "Retry-After": _header(
        "Seconds to wait before retrying.", {"type": "integer", "minimum": 1}, required=True
    ),
    "Allow": _header(
        "The methods of the path, comma-separated.", {"type": "string"}, required=True
    ),
    "WWW-Authenticate": _header(
        "The authentication scheme.", {"type": "string", "enum": ["Bearer"]}, required=True
    ),
    "Deprecation": _header(
        "Reserved (HTTP_API 1.9): `@<unix seconds>` on every response of a deprecated "
        "operation. No v1 operation is deprecated yet.",
        {"type": "string", "pattern": "^@[0-9]+$"},
        required=False,
    ),
    "Sunset": _header(
        "Reserved (HTTP_API 1.9): the removal date of a deprecated operation, once set.",
        {"type": "string"},
        required=False,
    ),
    "Link": _header(
        'Reserved (HTTP_API 1.9): `<changelog URL>; rel="deprecation"` on a deprecated operation.',
        {"type": "string"},
        required=False,
    ),
}

_RATE_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
# Statuses decided before the rate-limit step (1.6 steps 1-3), so never rate headers.
_BEFORE_RATE_LIMIT = (401, 405)
_STATUS_HEADERS = {
    401: ("WWW-Authenticate",),
    405: ("Allow",),
    429: ("Retry-After",),
    503: ("Retry-After",),
}


@dataclass(frozen=True)
class RawRoute:
    """A route whose success body is not enveloped (HTTP_API 1.4)."""

    media_type: str
    schema: dict[str, Any]
    description: str
    header_params: tuple[str, ...] = field(default=())


def _constant(value: str) -> dict[str, Any]:
    return {"type": "string", "enum": [value]}


_CHECK = {"type": "string", "enum": ["ok", "unreachable", "pending", "ahead"]}

#: Path -> how its success body is served; the paths HTTP_API 1.4 names.
RAW_ROUTES: dict[str, RawRoute] = {
    "/healthz": RawRoute(
        "application/json",
        {"type": "object", "required": ["status"], "properties": {"status": _constant("ok")}},
        "The process answers (no dependency is checked).",
    ),
    "/readyz": RawRoute(
        "application/json",
        {
            "type": "object",
            "required": ["status", "checks"],
            "properties": {
                "status": _constant("ready"),
                "checks": {
                    "type": "object",
                    "required": ["database", "migrations"],
                    "properties": {"database": _CHECK, "migrations": _CHECK},
                },
            },
        },
        "The database answers within 1 s and its migrations are this server's.",
    ),
    "/metrics": RawRoute(
        "text/plain",
        {"type": "string"},
        "Prometheus text exposition format (version 0.0.4).",
    ),
    "/api/v1/openapi.json": RawRoute(
        "application/json",
        {"type": "object", "description": "This OpenAPI 3.1 document."},
        "The OpenAPI document of this server.",
    ),
    "/api/v1/events/stream": RawRoute(
        "text/event-stream",
        {"type": "string"},
        "Server-Sent Events: first `retry: 5000` with `id` the start position, then one "
        "frame per event (`id`: log_seq, "
        "`event`: event_type, `data`: the StoredEvent as one-line JSON), `: heartbeat` "
        "comments, and `event: error` with the error envelope before an error close.",
        header_params=("LastEventId",),
    ),
}


def is_enveloped(op: Operation) -> bool:
    """Whether the success body is ``{"data": ..., "request_id": ...}``."""
    return op.path not in RAW_ROUTES


def error_statuses(op: Operation) -> list[int]:
    """Every error status ``op`` can answer, ascending."""
    general = GENERAL_ERROR_STATUSES if op.permission else _UNAUTHENTICATED_ERROR_STATUSES
    extra = [status for status in op.extra_responses if status >= 400]
    return sorted({*general, *op.error_statuses, *extra})


def _codes_by_status() -> dict[int, list[str]]:
    by_status: dict[int, list[str]] = {}
    for code in API_CODES:
        by_status.setdefault(status_for(library_code_for(code)), []).append(code)
    return by_status


_CODES_BY_STATUS = _codes_by_status()


def _header_refs(names: list[str]) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _headers_for(op: Operation, status: int) -> dict[str, Any]:
    names = ["X-Request-Id", "Cache-Control"]
    if op.rate_scope and status not in _BEFORE_RATE_LIMIT:
        names.extend(_RATE_HEADERS)
    if op.projection_backed and (status < 300 or status == 409):
        names.append("X-DG-Projection-Log-Seq")
    if op.body is EventEnvelopeIn and status < 300:
        names.append("Idempotent-Replayed")
    names.extend(_STATUS_HEADERS.get(status, ()))
    return _header_refs(names)


def _success_content(op: Operation, model: type[BaseModel] | None, ref: SchemaRef) -> Any:
    raw = RAW_ROUTES.get(op.path)
    if raw is not None:
        schema = ref(model) if model is not None else raw.schema
        return {raw.media_type: {"schema": schema}}
    data = ref(model) if model is not None else {"description": "The route's payload."}
    envelope = {
        "type": "object",
        "required": ["data", "request_id"],
        "properties": {"data": data, "request_id": {"type": "string"}},
    }
    return {"application/json": {"schema": envelope}}


def _error_codes(op: Operation, status: int) -> list[str]:
    """The API codes ``op`` can answer with ``status``: a staleness 409 only on (and, in
    v1, the only 409 of) projection-backed routes (HTTP_API 1.8)."""
    codes = _CODES_BY_STATUS.get(status, ["internal_error"])
    if status == 409:
        stale = "projection_out_of_date"
        return [stale] if op.projection_backed else [c for c in codes if c != stale]
    return codes


def _error_response(op: Operation, status: int) -> dict[str, Any]:
    codes = ", ".join(f"`{code}`" for code in _error_codes(op, status))
    return {
        "description": f"{HTTPStatus(status).phrase}: {codes} (HTTP_API 1.5).",
        "headers": _headers_for(op, status),
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
    }


def _success_response(
    op: Operation, status: int, model: type[BaseModel] | None, ref: SchemaRef
) -> dict[str, Any]:
    raw = RAW_ROUTES.get(op.path)
    description = raw.description if raw else HTTPStatus(status).phrase
    return {
        "description": description,
        "headers": _headers_for(op, status),
        "content": _success_content(op, model, ref),
    }


def responses(op: Operation, ref: SchemaRef) -> dict[str, Any]:
    """The ``responses`` object of ``op`` (status strings as keys)."""
    result: dict[int, dict[str, Any]] = {
        op.success_status: _success_response(op, op.success_status, op.success_model, ref)
    }
    for status in error_statuses(op):
        result[status] = _error_response(op, status)
    for status, extra in op.extra_responses.items():
        if status not in result:
            result[status] = _success_response(op, status, extra.get("model"), ref)
        elif "model" in extra and status < 400:
            result[status]["content"] = _success_content(op, extra["model"], ref)
        if "content" in extra:
            result[status]["content"] = extra["content"]
        if "description" in extra:
            result[status]["description"] = extra["description"]
        result[status]["headers"].update(extra.get("headers", {}))
    return {str(status): result[status] for status in sorted(result)}
