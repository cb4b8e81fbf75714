"""Read models (HTTP_API 6.2-6.4, 6.7): what the trace, graph, precedent and health
routes return inside ``data``.

These models document the responses (OpenAPI); the routes render the query layer's
objects directly (``to_dict()``), and ``tests/api/test_read_models.py`` validates real
responses against these models, member for member, so the two cannot drift. Unknown
members are not forbidden: clients must ignore members they do not know (HTTP_API 1.3).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from decisiongraph.api.models.events import StoredEventOut

__all__ = [
    "CenterOut",
    "ContextSubgraphOut",
    "DigestsOut",
    "EdgeOut",
    "EdgePageOut",
    "NodeOut",
    "PrecedentHitOut",
    "PrecedentListOut",
    "ProjectionErrorOut",
    "ProjectionHealthOut",
    "ProjectionStatusOut",
    "TracePageOut",
    "TraceSummaryOut",
    "TraceViewOut",
]

_SHA256 = r"^sha256:[0-9a-f]{64}$"


class TraceSummaryOut(BaseModel):
    """A trace summary (HTTP_API 6.2): the ten reference digest fields, then the service
    fields ``started_log_seq`` and ``event_total`` (not in the digest)."""

    trace_id: str
    workflow: str
    title: str
    primary_entity_type: str | None
    primary_entity_id: str | None = Field(description='Null when absent (no `""` conversion).')
    outcome: str | None = Field(description="Null until TraceFinished is projected.")
    started_at: str = Field(description="`occurred_at` of TraceStarted, verbatim.")
    finished_at: str | None = Field(description="`occurred_at` of TraceFinished, verbatim.")
    event_count: int = Field(description="Reference value: TraceStarted and TraceFinished only.")
    last_log_seq: int = Field(description="`log_seq` of the later of those two events.")
    started_log_seq: int = Field(description="`log_seq` of TraceStarted.")
    event_total: int = Field(description="Real number of events in the trace.")


class TracePageOut(BaseModel):
    items: list[TraceSummaryOut]
    next_cursor: str | None = Field(description="Opaque; null when no more items existed.")


class TraceViewOut(BaseModel):
    """A trace's timeline from the log and its summary (HTTP_API 2.7)."""

    events: list[StoredEventOut] = Field(description="trace_seq ascending, at most 10000.")
    events_truncated: bool = Field(description="More events exist (read them via /events).")
    summary: TraceSummaryOut | None = Field(
        description="Null while trace_summary has not reached the trace's TraceStarted."
    )


class NodeOut(BaseModel):
    node_id: str = Field(description="`<node_type>:<identifier>`.")
    node_type: str
    trace_id: str
    log_seq: int
    created_at: str = Field(description="`occurred_at` of the creating event.")
    attrs: dict[str, Any] = Field(description="`{}` in v1.")


class EdgeOut(BaseModel):
    edge_id: str = Field(description="`<edge_type>:<from_node_id>:<to_node_id>:<event_id>`.")
    edge_type: str
    from_node_id: str
    to_node_id: str
    trace_id: str
    log_seq: int
    created_at: str
    attrs: dict[str, Any] = Field(description="`{}` in v1.")


class CenterOut(BaseModel):
    node_type: str
    node_id: str
    node_key: str = Field(description="`<node_type>:<node_id>`.")


class ContextSubgraphOut(BaseModel):
    """The bounded breadth-first search result (HTTP_API 2.9, 6.3)."""

    center: CenterOut
    nodes: list[NodeOut] = Field(description="Ordered by node_id (code points).")
    edges: list[EdgeOut] = Field(description="Ordered by edge_id (code points).")
    truncated: bool = Field(description="A bound stopped the search.")


class EdgePageOut(BaseModel):
    items: list[EdgeOut]
    next_cursor: str | None = Field(description="Opaque, bound to tenant and node.")


class PrecedentHitOut(BaseModel):
    """A precedent (HTTP_API 6.4); the policy fields and ``source_event_id`` are null when
    the query had no ``policy_id``."""

    trace_id: str
    workflow: str
    title: str
    outcome: str
    policy_id: str | None
    policy_version: str | None
    finished_at: str | None
    last_log_seq: int
    source_event_id: str | None


class PrecedentListOut(BaseModel):
    items: list[PrecedentHitOut] = Field(description="Ranked, bounded by limit; not paged.")


class ProjectionErrorOut(BaseModel):
    code: str
    message: str
    log_seq: int
    at: str


class ProjectionStatusOut(BaseModel):
    """One projection of the tenant (HTTP_API 6.7)."""

    projection: Literal["context_graph", "precedent_index", "trace_summary"]
    cursor: int = Field(description="Last log_seq applied to the live version.")
    tail_log_seq: int
    lag_events: int = Field(description="The tenant's events after the cursor (a count).")
    lag_seconds: float = Field(description="Age of the oldest unprojected event; 0 without lag.")
    status: Literal["rebuilding", "failed", "catching_up", "ok"]
    last_error: ProjectionErrorOut | None
    open_failures: int
    active_run_id: str | None
    updated_at: str | None


class DigestsOut(BaseModel):
    context_graph: str = Field(pattern=_SHA256)
    trace_summary: str = Field(pattern=_SHA256)
    precedent_index: str = Field(pattern=_SHA256)
    full_projection: str = Field(pattern=_SHA256)


class ProjectionHealthOut(BaseModel):
    """Projection health of the request tenant (HTTP_API 2.12, 6.7)."""

    tenant_id: str
    tail_log_seq: int
    checked_at: str
    projections: list[ProjectionStatusOut] = Field(description="Ordered by name.")
    digests: DigestsOut | None = Field(description="Null unless include_digests=true.")
    # The reference library's health fields (REFERENCE_SEMANTICS 7), additive members
    # so the client SDK returns the same ProjectionHealth object as the library.
    event_count: int = Field(description="Events of the tenant (reference field).")
    trace_count: int = Field(description="Traces of the tenant (reference field).")
    event_log_last_seq: int = Field(description="Same as tail_log_seq (reference field).")
    projected_last_seq: int = Field(description="Smallest projection cursor (reference).")
    pending_events: int = Field(description="tail minus projected_last_seq (reference).")
    is_stale: bool = Field(description="pending_events > 0 (reference field).")
