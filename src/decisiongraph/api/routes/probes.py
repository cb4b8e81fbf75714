"""Probes and the OpenAPI document (HTTP_API 2.1): no authentication, not enveloped.

``/metrics`` lives in :mod:`decisiongraph.api.routes.metrics`.
"""

from __future__ import annotations

import anyio
import anyio.to_thread
from starlette.responses import Response

from decisiongraph.api.operations import Call, Operation
from decisiongraph.api.rendering import render_json
from decisiongraph.errors import DecisionGraphError, Unavailable
from decisiongraph.store.migrations import latest_version

__all__ = ["OPERATIONS"]

_JSON = "application/json; charset=utf-8"
# Readiness: the database must answer within this many seconds (HTTP_API 2.1).
READY_TIMEOUT_S = 1.0


async def healthz(call: Call) -> Response:
    """Liveness: the process answers; no dependency is checked."""
    return Response(render_json({"status": "ok"}), media_type=_JSON)


def _migration_state(applied: int, newest: int) -> str:
    if applied == newest:
        return "ok"
    return "pending" if applied < newest else "ahead"


async def readyz(call: Call) -> Response:
    """Ready when the database answers within 1 s and its schema is this server's."""
    store = call.state.store
    checks = {"database": "unreachable", "migrations": "pending"}
    try:
        with anyio.fail_after(READY_TIMEOUT_S):
            # abandon_on_cancel: the timeout answers at once; a hung query finishes (or
            # times out in the pool) in its thread without holding the probe.
            applied = await anyio.to_thread.run_sync(store.schema_version, abandon_on_cancel=True)
        checks["database"] = "ok"
        checks["migrations"] = _migration_state(applied, latest_version(store.dialect))
    except (TimeoutError, DecisionGraphError, OSError):
        pass
    if all(value == "ok" for value in checks.values()):
        return Response(render_json({"status": "ready", "checks": checks}), media_type=_JSON)
    raise Unavailable("Not ready: see details.checks", {"checks": checks, "retry_after_s": 1})


async def openapi_document(call: Call) -> Response:
    """The OpenAPI 3.1 document of this server (HTTP_API 7)."""
    from decisiongraph.api.openapi import openapi_bytes  # noqa: PLC0415 - import cycle

    return Response(openapi_bytes(), media_type=_JSON)


OPERATIONS = [
    Operation(
        operation_id="healthz",
        method="GET",
        path="/healthz",
        summary="Liveness probe",
        handler=healthz,
        tenant_scoped=False,
    ),
    Operation(
        operation_id="readyz",
        method="GET",
        path="/readyz",
        summary="Readiness probe (database reachable, migrations current)",
        handler=readyz,
        tenant_scoped=False,
        error_statuses=(503,),
    ),
    Operation(
        operation_id="getOpenApi",
        method="GET",
        path="/api/v1/openapi.json",
        summary="This OpenAPI document",
        handler=openapi_document,
        tenant_scoped=False,
    ),
]
