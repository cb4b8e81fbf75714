"""Precedent search: ``GET /api/v1/precedents`` (2.11), projection-backed
(``trace_summary`` and ``precedent_index``; the header reports the smaller cursor).

A ranked result bounded by ``limit``, not paged. ``policy_version`` without
``policy_id`` and ``entity_id`` without ``entity_type`` are 400 on the dependent
parameter.
"""

from __future__ import annotations

from decisiongraph.api.consistency import CONSISTENCY_PARAMS, projected_result, read_options
from decisiongraph.api.models.reads import PrecedentListOut
from decisiongraph.api.operations import Call, Operation, Result
from decisiongraph.api.params import Param, query_error
from decisiongraph.query import MAX_QUERY_LIMIT, PrecedentQuery, find_precedents

__all__ = ["OPERATIONS"]

#: (dependent parameter, the parameter it requires)
_REQUIRES = (("policy_version", "policy_id"), ("entity_id", "entity_type"))


def search_precedents(call: Call) -> Result:
    """Finished traces matching the filters, by ``last_log_seq`` descending then
    ``trace_id``; with ``policy_id`` one hit per trace (its best index row)."""
    params = call.params
    for dependent, required in _REQUIRES:
        if params[dependent] is not None and params[required] is None:
            raise query_error(dependent, f"requires {required}")
    query = PrecedentQuery(
        policy_id=params["policy_id"],
        policy_version=params["policy_version"],
        entity_type=params["entity_type"],
        entity_id=params["entity_id"],
        outcome=params["outcome"],
        limit=params["limit"],
    )
    result = find_precedents(call.state.store, call.tenant, query, options=read_options(call))
    return projected_result(result.to_dict(), result)


OPERATIONS = [
    Operation(
        operation_id="findPrecedents",
        method="GET",
        path="/api/v1/precedents",
        summary="Search precedents among finished traces",
        handler=search_precedents,
        permission="precedents:read",
        rate_scope="read",
        params=(
            Param("policy_id", description="Traces whose precedent index holds this policy."),
            Param("policy_version", description="Exact policy version; requires policy_id."),
            Param("entity_type", description="Primary entity type of the trace."),
            Param("entity_id", description="Primary entity id; requires entity_type."),
            Param("outcome", description="Exact outcome of the trace."),
            Param(
                "limit",
                kind="int",
                default=100,
                minimum=1,
                maximum=MAX_QUERY_LIMIT,
                description="Hits at most (a ranked result, not paged).",
            ),
            *CONSISTENCY_PARAMS,
        ),
        success_model=PrecedentListOut,
        error_statuses=(409,),
        projection_backed=True,
        ordering=(
            "last_log_seq descending, then trace_id ascending; with policy_id one hit per "
            "trace: exception rows first, then log_seq descending, then source_event_id"
        ),
        description=(
            "Projection-backed (`trace_summary`, `precedent_index`): the reference "
            "precedent search; a ranked result bounded by `limit`, not paged."
        ),
    ),
]
