"""Read models of the query layer: what reads return (spec 5, 6.7, 6.8; HTTP_API 6.2-6.4).

Every model is a frozen, slotted dataclass with a ``to_dict()`` giving the JSON object of
the HTTP contract. Results of projection-backed reads carry ``projection_log_seq``: the
cursor of the projection state that answered (the smaller one when a read touches two
projections), which the HTTP layer returns as ``X-DG-Projection-Log-Seq``; it is never
part of ``to_dict()``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from decisiongraph.domain.envelope import StoredEvent
from decisiongraph.errors import InvalidArgument

__all__ = [
    "EDGE_DIRECTIONS",
    "ContextSubgraph",
    "Edge",
    "EdgePage",
    "EventPage",
    "GraphEdgeCursor",
    "GraphEdgePage",
    "Node",
    "NodeRef",
    "PrecedentHit",
    "PrecedentResult",
    "TracePage",
    "TraceSummary",
    "TraceSummaryResult",
    "TraceView",
]

#: The directions of ``list_node_edges`` (spec 6.7).
EDGE_DIRECTIONS: tuple[str, ...] = ("outgoing", "incoming", "both")


# --------------------------------------------------------------------- traces


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """A ``dg_trace_summary`` row: the ten digest fields (nulls kept as null), then the
    service fields ``started_log_seq`` and ``event_total`` (HTTP_API 6.2)."""

    trace_id: str
    workflow: str
    title: str
    primary_entity_type: str | None
    primary_entity_id: str | None
    outcome: str | None
    started_at: str
    finished_at: str | None
    event_count: int
    last_log_seq: int
    started_log_seq: int
    event_total: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # flat: every field, in declaration order

    def as_reference(self) -> TraceSummary:
        """The summary as the reference library's ``get_trace_summary`` returns it
        (spec 5): a missing primary entity type or id reads as ``""``."""
        return replace(
            self,
            primary_entity_type=self.primary_entity_type or "",
            primary_entity_id=self.primary_entity_id or "",
        )


@dataclass(frozen=True, slots=True)
class TraceSummaryResult:
    """``get_trace_summary``: the summary and the cursor that answered."""

    summary: TraceSummary
    projection_log_seq: int


@dataclass(frozen=True, slots=True)
class TracePage:
    """A page of ``list_traces`` (newest first) and the opaque cursor of the next one."""

    items: list[TraceSummary]
    next_cursor: str | None
    projection_log_seq: int

    def to_dict(self) -> dict[str, Any]:
        return {"items": [s.to_dict() for s in self.items], "next_cursor": self.next_cursor}


@dataclass(frozen=True, slots=True)
class TraceView:
    """``get_trace`` (HTTP_API 2.7): the timeline from the log and the summary, which is
    None while the ``trace_summary`` projection has not reached the trace's start."""

    events: list[StoredEvent]
    events_truncated: bool
    summary: TraceSummary | None
    projection_log_seq: int

    def to_dict(self, *, include_payload: bool = True) -> dict[str, Any]:
        return {
            "events": [e.to_dict(include_payload=include_payload) for e in self.events],
            "events_truncated": self.events_truncated,
            "summary": None if self.summary is None else self.summary.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class EventPage:
    """A page of log events with the decimal cursor of the next page (HTTP_API 1.7)."""

    items: list[StoredEvent]
    next_cursor: str | None

    def to_dict(self, *, include_payload: bool = True) -> dict[str, Any]:
        return {
            "items": [e.to_dict(include_payload=include_payload) for e in self.items],
            "next_cursor": self.next_cursor,
        }


# ---------------------------------------------------------------------- graph


@dataclass(frozen=True, slots=True)
class NodeRef:
    """A node by type and identifier; its key is ``{node_type}:{node_id}`` (spec 6.7)."""

    node_type: str
    node_id: str

    def __post_init__(self) -> None:
        if not isinstance(self.node_type, str) or not self.node_type:
            raise InvalidArgument("node_type must be a non-empty string")
        if not isinstance(self.node_id, str):
            raise InvalidArgument("node_id must be a string")

    @property
    def node_key(self) -> str:
        return f"{self.node_type}:{self.node_id}"

    def to_dict(self) -> dict[str, Any]:
        return {"node_type": self.node_type, "node_id": self.node_id, "node_key": self.node_key}


@dataclass(frozen=True, slots=True)
class Node:
    """A context-graph node (HTTP_API 6.3)."""

    node_id: str
    node_type: str
    trace_id: str
    log_seq: int
    created_at: str
    attrs: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # flat: every field, in declaration order


@dataclass(frozen=True, slots=True)
class Edge:
    """A context-graph edge (HTTP_API 6.3)."""

    edge_id: str
    edge_type: str
    from_node_id: str
    to_node_id: str
    trace_id: str
    log_seq: int
    created_at: str
    attrs: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # flat: every field, in declaration order


@dataclass(frozen=True, slots=True)
class ContextSubgraph:
    """The bounded BFS result: nodes by ``node_id``, edges by ``edge_id`` (spec 6.7)."""

    center: NodeRef
    nodes: list[Node]
    edges: list[Edge]
    truncated: bool
    projection_log_seq: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "center": self.center.to_dict(),
            "nodes": [n.to_dict() for n in self.nodes],
            "edges": [e.to_dict() for e in self.edges],
            "truncated": self.truncated,
        }


@dataclass(frozen=True, slots=True)
class GraphEdgeCursor:
    """The position after an edge in ``log_seq, edge_id`` order (spec 6.7).

    ``log_seq`` may be None: ``list_node_edges`` then looks it up from the edge row.
    """

    edge_key: str
    direction: str
    log_seq: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.edge_key, str) or not self.edge_key:
            raise InvalidArgument("cursor.edge_key must be a non-empty string")
        if self.direction not in EDGE_DIRECTIONS:
            raise InvalidArgument(
                f"cursor.direction must be one of {', '.join(EDGE_DIRECTIONS)}, "
                f"got {self.direction!r}"
            )
        if self.log_seq is not None and (
            not isinstance(self.log_seq, int) or isinstance(self.log_seq, bool) or self.log_seq <= 0
        ):
            raise InvalidArgument(
                f"cursor.log_seq must be a positive integer, got {self.log_seq!r}"
            )


@dataclass(frozen=True, slots=True)
class GraphEdgePage:
    """A page of ``list_node_edges`` (reference shape: a cursor object)."""

    edges: list[Edge]
    next_cursor: GraphEdgeCursor | None
    projection_log_seq: int


@dataclass(frozen=True, slots=True)
class EdgePage:
    """A page of ``GET /graph/edges`` (HTTP shape: an opaque cursor string)."""

    items: list[Edge]
    next_cursor: str | None
    projection_log_seq: int

    def to_dict(self) -> dict[str, Any]:
        return {"items": [e.to_dict() for e in self.items], "next_cursor": self.next_cursor}


# ----------------------------------------------------------------- precedents


@dataclass(frozen=True, slots=True)
class PrecedentHit:
    """One precedent (HTTP_API 6.4). ``policy_id``, ``policy_version`` and
    ``source_event_id`` are None when the search had no ``policy_id``."""

    trace_id: str
    workflow: str
    title: str
    outcome: str
    policy_id: str | None
    policy_version: str | None
    finished_at: str | None
    last_log_seq: int
    source_event_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # flat: every field, in declaration order


@dataclass(frozen=True, slots=True)
class PrecedentResult:
    """``find_precedents``: the ranked hits (not paged) and the cursor that answered."""

    items: list[PrecedentHit]
    projection_log_seq: int

    def to_dict(self) -> dict[str, Any]:
        return {"items": [h.to_dict() for h in self.items]}
