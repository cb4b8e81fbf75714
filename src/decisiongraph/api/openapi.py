"""The OpenAPI 3.1 document (HTTP_API 7), generated from the route declarations
(:func:`decisiongraph.api.app.all_operations`) and the Pydantic v2 models.

Invariants:

* Nothing is written by hand per route: paths, operation ids, parameters (query from
  ``Param.openapi()``, path from the ``{name}`` segments, headers), bodies, responses
  (:mod:`decisiongraph.api.openapi_responses`), permission, rate scope and ordering all
  come from the :class:`~decisiongraph.api.operations.Operation` declarations, so the
  document cannot drift from what the server parses and enforces.
* The text is deterministic: keys sorted, two-space indent, ``ensure_ascii=False``,
  final newline. It is served byte for byte as generated (cached) and committed at
  ``docs/api/openapi.json`` (``decisiongraph openapi --output docs/api/openapi.json``).
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from decisiongraph import __version__
from decisiongraph.api.models.common import ErrorEnvelope
from decisiongraph.api.openapi_responses import HEADERS, RAW_ROUTES, responses
from decisiongraph.api.operations import Operation
from decisiongraph.service.settings import ServiceSettings

__all__ = ["build_document", "document_text", "openapi_bytes"]

OPENAPI_VERSION = "3.1.0"
_REF_TEMPLATE = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"\{([^}/]+)\}")

_DESCRIPTION = """\
DecisionGraph: an append-only, multi-tenant decision audit trail for AI agents.

The normative contract is HTTP_API.md (version 1); this document describes exactly it.

- Authentication: `Authorization: Bearer dg_<key_id>_<secret>` (a service-account key).
- Tenancy: every `/api/v1` route but this document acts on one tenant, given by \
`X-Tenant-Id` or implied by a key bound to exactly one tenant.
- Success bodies are `{"data": ..., "request_id": ...}` (except the probes, `/metrics`, \
this document and the event stream); every error is the `ErrorEnvelope`, whose `code` is \
stable: branch on it.
- Every response carries `X-Request-Id` and `Cache-Control: no-store`.
- Deprecation (HTTP_API 1.9): the `Deprecation` header (with `Sunset` and `Link`, see \
`components.headers`) is reserved for every response of a deprecated operation; no \
operation of this version is deprecated.
- Extensions: `x-dg-permission` (the permission a key needs; null: none), \
`x-dg-rate-scope` (HTTP_API 4), `x-dg-ordering` (the total order of a list), \
`x-dg-projection-backed` (HTTP_API 1.8 consistency parameters and header).
"""

_PARAMETERS: dict[str, dict[str, Any]] = {
    "TenantId": {
        "name": "X-Tenant-Id",
        "in": "header",
        "required": False,
        "description": "The request tenant; required when the key is bound to several "
        "tenants or to `*` (HTTP_API 3.3).",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
    },
    "RequestId": {
        "name": "X-Request-Id",
        "in": "header",
        "required": False,
        "description": "Used as the request id when it matches the pattern; otherwise the "
        "server generates one.",
        "schema": {"type": "string"},
    },
    "LastEventId": {
        "name": "Last-Event-ID",
        "in": "header",
        "required": False,
        "description": "Resume after this `log_seq` (decimal); overrides `since_log_seq`.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
}

_SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "dg_<key_id>_<secret>",
        "description": "A service-account API key (HTTP_API 3.2).",
    }
}

_ModelKey = tuple[type[BaseModel], JsonSchemaMode]


def _models(operations: Sequence[Operation]) -> list[_ModelKey]:
    """Every model the document references, once, in first-use order."""
    keys: dict[_ModelKey, None] = {(ErrorEnvelope, "serialization"): None}
    for op in operations:
        if op.body is not None:
            keys[(op.body, "validation")] = None
        models = [op.success_model, *(extra.get("model") for extra in op.extra_responses.values())]
        for model in models:
            if model is not None:
                keys[(model, "serialization")] = None
    return list(keys)


def _tag(path: str) -> str:
    """The area of a route: its first segment after ``/api/v1``; probes, metrics and this
    document are ``service``."""
    segments = path.strip("/").split("/")
    if segments[:2] == ["api", "v1"] and len(segments) > 2 and segments[2] != "openapi.json":
        return segments[2]
    return "service"


def _parameters(op: Operation) -> list[dict[str, Any]]:
    """Path parameters (from the template), then headers, then the declared query."""
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": "One path segment (an id containing `/` cannot be addressed).",
            "schema": {"type": "string"},
        }
        for name in _PATH_PARAM.findall(op.path)
    ]
    refs = ["RequestId"]
    if op.permission is not None and op.tenant_scoped:
        refs.append("TenantId")
    raw = RAW_ROUTES.get(op.path)
    refs.extend(raw.header_params if raw else ())
    params.extend({"$ref": f"#/components/parameters/{name}"} for name in refs)
    params.extend(param.openapi() for param in op.params)
    return params


def _request_body(op: Operation, schema: dict[str, Any]) -> dict[str, Any]:
    limit = ServiceSettings.model_fields[op.body_limit].default
    return {
        "required": True,
        "description": f"JSON (`Content-Type: application/json`), at most {limit} bytes "
        f"by default (setting `{op.body_limit}`); larger bodies are 413.",
        "content": {"application/json": {"schema": schema}},
    }


# Keyed by (model, mode); pydantic types the keys more widely (dataclasses too).
_Refs = Mapping[Any, dict[str, Any]]


def _security(op: Operation) -> list[dict[str, list[str]]]:
    """A key for authenticated routes; none for the others, except that an anonymous
    route able to answer 401 (``/metrics`` when configured so) accepts one."""
    if op.permission is not None:
        return [{"bearerAuth": []}]
    return [{}, {"bearerAuth": []}] if 401 in op.error_statuses else []


def _operation(op: Operation, refs: _Refs) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "description": op.description or op.summary,
        "tags": [_tag(op.path)],
        "parameters": _parameters(op),
        "responses": responses(op, lambda model: refs[(model, "serialization")]),
        "security": _security(op),
        "x-dg-permission": op.permission,
        "x-dg-rate-scope": op.rate_scope,
    }
    if op.body is not None:
        doc["requestBody"] = _request_body(op, refs[(op.body, "validation")])
    if op.ordering:
        doc["x-dg-ordering"] = op.ordering
    if op.projection_backed:
        doc["x-dg-projection-backed"] = True
    return doc


def build_document(operations: Sequence[Operation] | None = None) -> dict[str, Any]:
    """The OpenAPI document of ``operations`` (default: every route of the server)."""
    if operations is None:
        from decisiongraph.api.app import all_operations  # noqa: PLC0415 - import cycle

        operations = all_operations()
    refs, top = models_json_schema(_models(operations), ref_template=_REF_TEMPLATE)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs)
    tags = list(dict.fromkeys(_tag(op.path) for op in operations))
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "DecisionGraph HTTP API",
            "version": __version__,
            "description": _DESCRIPTION,
        },
        "tags": [{"name": tag} for tag in tags],
        "paths": paths,
        # Copies: a caller editing its document must not change the next one.
        "components": copy.deepcopy(
            {
                "schemas": top.get("$defs", {}),
                "headers": HEADERS,
                "parameters": _PARAMETERS,
                "securitySchemes": _SECURITY_SCHEMES,
            }
        ),
    }


def document_text(document: dict[str, Any] | None = None) -> str:
    """The document as committed: keys sorted, two-space indent, final newline."""
    if document is None:
        document = build_document()
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


@functools.cache
def openapi_bytes() -> bytes:
    """The served document (UTF-8), generated once per process."""
    return document_text().encode("utf-8")
