"""Query layer: reads over the event log and the projections of one tenant (spec 5-7,
13.6; HTTP_API 1.7, 1.8, 2.4-2.12).

Every function takes the store and the tenant id first. Projection-backed reads
(summaries, trace lists, the context graph, edge pages, precedent search) accept
:class:`ReadOptions` (strict by default: the reference staleness rule) and report the
``projection_log_seq`` they answered at. Log reads never check projection freshness.
Projection health (:mod:`decisiongraph.query.health`) never checks freshness.
"""

from decisiongraph.query.consistency import EVENTUAL, STRICT, ReadOptions
from decisiongraph.query.cursors import CursorCodec
from decisiongraph.query.graph import (
    MAX_GRAPH_DEPTH,
    GraphFilter,
    decode_edge_cursor,
    encode_edge_cursor,
    get_context_subgraph,
    list_node_edges,
    list_node_edges_page,
    require_node_type,
)
from decisiongraph.query.health import ProjectionHealth, ProjectionStatus, get_projection_health
from decisiongraph.query.models import (
    ContextSubgraph,
    Edge,
    EdgePage,
    EventPage,
    GraphEdgeCursor,
    GraphEdgePage,
    Node,
    NodeRef,
    PrecedentHit,
    PrecedentResult,
    TracePage,
    TraceSummary,
    TraceSummaryResult,
    TraceView,
)
from decisiongraph.query.precedents import PrecedentQuery, find_precedents
from decisiongraph.query.traces import (
    MAX_TRACE_EVENTS,
    TraceFilter,
    get_trace,
    get_trace_events,
    get_trace_summary,
    list_events,
    list_events_page,
    list_trace_events,
    list_traces,
)
from decisiongraph.store.base import MAX_QUERY_LIMIT

__all__ = [
    "EVENTUAL",
    "MAX_GRAPH_DEPTH",
    "MAX_QUERY_LIMIT",
    "MAX_TRACE_EVENTS",
    "STRICT",
    "ContextSubgraph",
    "CursorCodec",
    "Edge",
    "EdgePage",
    "EventPage",
    "GraphEdgeCursor",
    "GraphEdgePage",
    "GraphFilter",
    "Node",
    "NodeRef",
    "PrecedentHit",
    "PrecedentQuery",
    "PrecedentResult",
    "ProjectionHealth",
    "ProjectionStatus",
    "ReadOptions",
    "TraceFilter",
    "TracePage",
    "TraceSummary",
    "TraceSummaryResult",
    "TraceView",
    "decode_edge_cursor",
    "encode_edge_cursor",
    "find_precedents",
    "get_context_subgraph",
    "get_projection_health",
    "get_trace",
    "get_trace_events",
    "get_trace_summary",
    "list_events",
    "list_events_page",
    "list_node_edges",
    "list_node_edges_page",
    "list_trace_events",
    "list_traces",
    "require_node_type",
]
