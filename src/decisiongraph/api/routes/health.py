"""Projection health: ``GET /api/v1/projections/health`` (2.12, 6.7).

Never fails for staleness (a projection behind the log is reported, not refused), so
it takes no consistency parameters and never answers 409. Everything, digests
included, comes from one database snapshot.
"""

from __future__ import annotations

from typing import Any

from decisiongraph.api.models.reads import ProjectionHealthOut
from decisiongraph.api.operations import Call, Operation, Result
from decisiongraph.api.params import Param
from decisiongraph.query import ProjectionHealth, get_projection_health

__all__ = ["OPERATIONS"]


def health_json(health: ProjectionHealth) -> dict[str, Any]:
    """The ``ProjectionHealth`` object of the contract (HTTP_API 6.7), plus the
    reference fields of spec 7 as additive members (``event_count``, ``trace_count``,
    ...), so the client SDK rebuilds exactly the library's object."""
    return health.to_dict()


def projection_health(call: Call) -> Result:
    """Per projection: cursor, tenant tail, lag, status, last error, open failures;
    the four reference digests of the live versions when asked."""
    health = get_projection_health(
        call.state.store, call.tenant, include_digests=call.params["include_digests"]
    )
    return Result(health_json(health))


OPERATIONS = [
    Operation(
        operation_id="getProjectionHealth",
        method="GET",
        path="/api/v1/projections/health",
        summary="Projection health of the tenant",
        handler=projection_health,
        permission="health:read",
        rate_scope="read",
        params=(
            Param(
                "include_digests",
                kind="bool",
                default=False,
                description="Add the four reference digests of the live projections.",
            ),
        ),
        success_model=ProjectionHealthOut,
        ordering="projections by name",
        description="Never fails for staleness; one database snapshot.",
    ),
]
