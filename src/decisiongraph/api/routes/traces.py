"""Trace reads: ``GET /api/v1/traces`` (2.6), ``GET /api/v1/traces/{trace_id}`` (2.7)
and ``GET /api/v1/traces/{trace_id}/events`` (2.8).

The list and the summary of a trace are projection-backed (``trace_summary``, HTTP_API
1.8); timelines come from the log and never check freshness. Handlers only translate
parameters and render the query layer's results.
"""

from __future__ import annotations

from decisiongraph.api.consistency import CONSISTENCY_PARAMS, projected_result, read_options
from decisiongraph.api.models.events import EventPageOut
from decisiongraph.api.models.reads import TracePageOut, TraceViewOut
from decisiongraph.api.operations import Call, Operation, Result
from decisiongraph.api.params import Param, query_error
from decisiongraph.api.rendering import event_json
from decisiongraph.errors import InvalidArgument
from decisiongraph.query import (
    MAX_QUERY_LIMIT,
    TraceFilter,
    get_trace,
    list_trace_events,
    list_traces,
)
from decisiongraph.query.instants import instant_key
from decisiongraph.query.traces import MAX_PAGE_LIMIT

__all__ = ["OPERATIONS"]

_INCLUDE_PAYLOAD = Param(
    "include_payload",
    kind="bool",
    default=True,
    description="`false` omits each event's `payload`.",
)


def _trace_filter(call: Call) -> TraceFilter:
    params = call.params
    if params["primary_entity_id"] is not None and params["primary_entity_type"] is None:
        raise query_error("primary_entity_id", "requires primary_entity_type")
    for name in ("started_after", "started_before"):
        if params[name] is not None:
            try:
                instant_key(params[name])
            except InvalidArgument as exc:
                raise query_error(name, exc.message) from exc
    return TraceFilter(
        workflows=params["workflow"],
        outcomes=params["outcome"],
        primary_entity_type=params["primary_entity_type"],
        primary_entity_id=params["primary_entity_id"],
        finished=params["finished"],
        started_after=params["started_after"],
        started_before=params["started_before"],
    )


def list_trace_summaries(call: Call) -> Result:
    """Trace summaries, newest first, filtered and paged with an opaque cursor bound to
    the tenant and the filters (``limit`` may change between pages)."""
    filters = _trace_filter(call)
    page = list_traces(
        call.state.store,
        call.tenant,
        filters,
        codec=call.state.cursors,
        cursor=call.params["cursor"],
        limit=call.params["limit"],
        options=read_options(call),
    )
    return projected_result(page.to_dict(), page)


def _trace_id(call: Call) -> str:
    return str(call.request.path_params["trace_id"])


def read_trace(call: Call) -> Result:
    """The trace's timeline (log, at most 10000 events) and its summary (projection;
    null while the projection has not reached the trace's start). 404: no event."""
    view = get_trace(call.state.store, call.tenant, _trace_id(call), options=read_options(call))
    include_payload = call.params["include_payload"]
    data = {
        "events": [event_json(e, include_payload=include_payload) for e in view.events],
        "events_truncated": view.events_truncated,
        "summary": None if view.summary is None else view.summary.to_dict(),
    }
    return projected_result(data, view)


def read_trace_events(call: Call) -> Result:
    """A page of the trace's events from the log; the decimal cursor is the last
    ``trace_seq`` (same meaning as ``since_trace_seq``). 404 only for a trace without
    events; an existing trace with nothing after the position gives empty items."""
    params = call.params
    since = params["since_trace_seq"]
    if params["cursor"] is not None:
        if since is not None:
            raise query_error("cursor", "cannot be combined with since_trace_seq")
        since = params["cursor"]
    page = list_trace_events(
        call.state.store, call.tenant, _trace_id(call), since_trace_seq=since, limit=params["limit"]
    )
    include_payload = params["include_payload"]
    data = {
        "items": [event_json(e, include_payload=include_payload) for e in page.items],
        "next_cursor": page.next_cursor,
    }
    return Result(data)


_LIST_PARAMS = (
    Param("workflow", kind="list", description="Any of these workflows."),
    Param(
        "outcome",
        kind="list",
        description="Any of these outcomes (documented domain: success, failure, abandoned).",
    ),
    Param("primary_entity_type", description="Exact primary entity type."),
    Param("primary_entity_id", description="Exact primary entity id; requires the type."),
    Param("finished", kind="bool", description="`true`: outcome not null; `false`: null."),
    Param("started_after", kind="timestamp", description="`started_at` >= (as instants)."),
    Param("started_before", kind="timestamp", description="`started_at` < (as instants)."),
    Param("cursor", description="The `next_cursor` of the previous page (opaque)."),
    Param(
        "limit",
        kind="int",
        default=100,
        minimum=1,
        maximum=MAX_PAGE_LIMIT,
        description="Page size.",
    ),
    *CONSISTENCY_PARAMS,
)

OPERATIONS = [
    Operation(
        operation_id="listTraces",
        method="GET",
        path="/api/v1/traces",
        summary="List trace summaries",
        handler=list_trace_summaries,
        permission="traces:read",
        rate_scope="read",
        params=_LIST_PARAMS,
        success_model=TracePageOut,
        error_statuses=(409,),
        projection_backed=True,
        ordering="started_log_seq descending (newest first)",
        description="Projection-backed (`trace_summary`); filters are ANDed.",
    ),
    Operation(
        operation_id="getTrace",
        method="GET",
        path="/api/v1/traces/{trace_id}",
        summary="Trace timeline and summary",
        handler=read_trace,
        permission="traces:read",
        rate_scope="read",
        params=(_INCLUDE_PAYLOAD, *CONSISTENCY_PARAMS),
        success_model=TraceViewOut,
        error_statuses=(404, 409),
        projection_backed=True,
        ordering="events: trace_seq ascending",
        description=(
            "Events from the log (at most 10000; `events_truncated` tells that more "
            "exist) and the summary from `trace_summary` (the 1.8 parameters apply to "
            "it). 404 when the tenant has no event with this trace id."
        ),
    ),
    Operation(
        operation_id="listTraceEvents",
        method="GET",
        path="/api/v1/traces/{trace_id}/events",
        summary="Page through a trace's events",
        handler=read_trace_events,
        permission="traces:read",
        rate_scope="read",
        params=(
            Param("since_trace_seq", kind="int", minimum=0, description="Exclusive position."),
            Param(
                "cursor",
                kind="int",
                minimum=0,
                description="Decimal trace_seq of the last item (`next_cursor`); same "
                "meaning as since_trace_seq, not both.",
            ),
            Param(
                "limit",
                kind="int",
                default=100,
                minimum=1,
                maximum=MAX_QUERY_LIMIT,
                description="Page size.",
            ),
            _INCLUDE_PAYLOAD,
        ),
        success_model=EventPageOut,
        error_statuses=(404,),
        ordering="trace_seq ascending",
        description="From the log; no freshness check. 404 only when the trace has no events.",
    ),
]
