"""JSON objects of the contract (HTTP_API 6) back into the library's read types.

Each converter is the inverse of the model's ``to_dict()``: for every model ``m``,
``x_from_dict(m.to_dict())`` equals ``m`` apart from ``projection_log_seq``, which is
not part of the body and is passed in from the ``X-DG-Projection-Log-Seq`` header.
Unknown members are ignored (HTTP_API 1.3: clients MUST ignore them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from decisiongraph.client._errors import error_from_body
from decisiongraph.domain.envelope import ActorRef, SourceRef, StoredEvent
from decisiongraph.errors import DecisionGraphError
from decisiongraph.query.health import ProjectionError, ProjectionHealth, ProjectionStatus
from decisiongraph.query.models import (
    ContextSubgraph,
    Edge,
    EdgePage,
    EventPage,
    Node,
    NodeRef,
    PrecedentHit,
    TracePage,
    TraceSummary,
    TraceView,
)

__all__ = [
    "AppendResult",
    "BatchItem",
    "append_result_from_dict",
    "batch_item_from_dict",
    "context_subgraph_from_dict",
    "edge_from_dict",
    "edge_page_from_dict",
    "event_page_from_dict",
    "precedent_hit_from_dict",
    "projection_health_from_dict",
    "stored_event_from_dict",
    "trace_page_from_dict",
    "trace_summary_from_dict",
    "trace_view_from_dict",
]

_Obj = Mapping[str, Any]


def stored_event_from_dict(data: _Obj) -> StoredEvent:
    """A ``StoredEvent`` (HTTP_API 6.1); ``payload`` must be present."""
    source, actor = data["source"], data["actor"]
    return StoredEvent(
        tenant_id=data["tenant_id"],
        log_seq=data["log_seq"],
        event_id=data["event_id"],
        trace_id=data["trace_id"],
        trace_seq=data["trace_seq"],
        event_type=data["event_type"],
        occurred_at=data["occurred_at"],
        recorded_at=data["recorded_at"],
        source=SourceRef(source["producer_id"], source["system"], source.get("subsystem")),
        actor=ActorRef(actor["actor_type"], actor["actor_id"]),
        idempotency_key=data["idempotency_key"],
        payload=data["payload"],
        payload_hash=data["payload_hash"],
        correlation_id=data.get("correlation_id"),
        causation_event_id=data.get("causation_event_id"),
        schema_version=data.get("schema_version", 1),
        tags=tuple(data.get("tags", ())),
    )


@dataclass(frozen=True, slots=True)
class AppendResult:
    """An accepted append (HTTP_API 2.2): the stored event, and whether it is the
    original of an idempotent reuse (nothing was written)."""

    event: StoredEvent
    reused: bool


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One result of ``append_batch`` (HTTP_API 2.3), in index order: ``event`` and
    ``reused`` when ``status`` is 201, else ``error`` (the library exception, with
    ``status``, ``request_id`` and ``api_code`` set)."""

    index: int
    status: int
    event: StoredEvent | None = None
    reused: bool | None = None
    error: DecisionGraphError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def append_result_from_dict(data: _Obj) -> AppendResult:
    return AppendResult(stored_event_from_dict(data["event"]), bool(data["reused"]))


def batch_item_from_dict(data: _Obj, request_id: str | None) -> BatchItem:
    status: int = data["status"]
    if data.get("error") is not None:
        error = error_from_body(status, {"error": data["error"]}, request_id)
        return BatchItem(data["index"], status, error=error)
    event = stored_event_from_dict(data["event"])
    return BatchItem(data["index"], status, event, bool(data.get("reused", False)))


def event_page_from_dict(data: _Obj) -> EventPage:
    return EventPage([stored_event_from_dict(e) for e in data["items"]], data["next_cursor"])


def trace_summary_from_dict(data: _Obj) -> TraceSummary:
    """A ``TraceSummary`` (HTTP_API 6.2): nulls kept as the service sends them."""
    return TraceSummary(
        trace_id=data["trace_id"],
        workflow=data["workflow"],
        title=data["title"],
        primary_entity_type=data["primary_entity_type"],
        primary_entity_id=data["primary_entity_id"],
        outcome=data["outcome"],
        started_at=data["started_at"],
        finished_at=data["finished_at"],
        event_count=data["event_count"],
        last_log_seq=data["last_log_seq"],
        started_log_seq=data["started_log_seq"],
        event_total=data["event_total"],
    )


def trace_view_from_dict(data: _Obj, projection_log_seq: int) -> TraceView:
    summary = data.get("summary")
    return TraceView(
        events=[stored_event_from_dict(e) for e in data["events"]],
        events_truncated=data["events_truncated"],
        summary=None if summary is None else trace_summary_from_dict(summary),
        projection_log_seq=projection_log_seq,
    )


def trace_page_from_dict(data: _Obj, projection_log_seq: int) -> TracePage:
    items = [trace_summary_from_dict(s) for s in data["items"]]
    return TracePage(items, data["next_cursor"], projection_log_seq)


def _node(data: _Obj) -> Node:
    return Node(
        node_id=data["node_id"],
        node_type=data["node_type"],
        trace_id=data["trace_id"],
        log_seq=data["log_seq"],
        created_at=data["created_at"],
        attrs=dict(data.get("attrs") or {}),
    )


def edge_from_dict(data: _Obj) -> Edge:
    return Edge(
        edge_id=data["edge_id"],
        edge_type=data["edge_type"],
        from_node_id=data["from_node_id"],
        to_node_id=data["to_node_id"],
        trace_id=data["trace_id"],
        log_seq=data["log_seq"],
        created_at=data["created_at"],
        attrs=dict(data.get("attrs") or {}),
    )


def context_subgraph_from_dict(data: _Obj, projection_log_seq: int) -> ContextSubgraph:
    center = data["center"]
    return ContextSubgraph(
        center=NodeRef(center["node_type"], center["node_id"]),
        nodes=[_node(n) for n in data["nodes"]],
        edges=[edge_from_dict(e) for e in data["edges"]],
        truncated=data["truncated"],
        projection_log_seq=projection_log_seq,
    )


def edge_page_from_dict(data: _Obj, projection_log_seq: int) -> EdgePage:
    items = [edge_from_dict(e) for e in data["items"]]
    return EdgePage(items, data["next_cursor"], projection_log_seq)


def precedent_hit_from_dict(data: _Obj) -> PrecedentHit:
    return PrecedentHit(
        trace_id=data["trace_id"],
        workflow=data["workflow"],
        title=data["title"],
        outcome=data["outcome"],
        policy_id=data.get("policy_id"),
        policy_version=data.get("policy_version"),
        finished_at=data.get("finished_at"),
        last_log_seq=data["last_log_seq"],
        source_event_id=data.get("source_event_id"),
    )


def _projection_status(data: _Obj) -> ProjectionStatus:
    error = data.get("last_error")
    return ProjectionStatus(
        projection=data["projection"],
        cursor=data["cursor"],
        tail_log_seq=data["tail_log_seq"],
        lag_events=data["lag_events"],
        lag_seconds=float(data["lag_seconds"]),
        status=data["status"],
        last_error=None
        if error is None
        else ProjectionError(error["code"], error["message"], error["log_seq"], error["at"]),
        open_failures=data["open_failures"],
        active_run_id=data.get("active_run_id"),
        updated_at=data.get("updated_at"),
    )


def projection_health_from_dict(data: _Obj) -> ProjectionHealth:
    """``ProjectionHealth`` (HTTP_API 6.7). The reference fields of spec 7 are taken
    from the body when the service sends them, else derived from the HTTP fields:
    ``log_seq`` is gap-free from 1 per tenant, so the tenant's event count is its tail."""
    projections = tuple(_projection_status(p) for p in data["projections"])
    tail: int = data["tail_log_seq"]
    projected = min((p.cursor for p in projections), default=tail)
    digests = data.get("digests")
    return ProjectionHealth(
        tenant_id=data["tenant_id"],
        tail_log_seq=tail,
        checked_at=data["checked_at"],
        projections=projections,
        digests=None if digests is None else dict(digests),
        event_count=data.get("event_count", tail),
        trace_count=data.get("trace_count", 0),
        event_log_last_seq=data.get("event_log_last_seq", tail),
        projected_last_seq=data.get("projected_last_seq", projected),
        pending_events=data.get("pending_events", max(tail - projected, 0)),
        is_stale=data.get("is_stale", projected < tail),
    )
