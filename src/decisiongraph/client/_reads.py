"""The façade's reads over HTTP (HTTP_API 2.6-2.12), returning the library's types.

Projection-backed reads are strict with read-your-writes: unless ``options`` are given
they send ``consistency=strict``, ``min_log_seq`` = the highest ``log_seq`` this client
appended (when it appended anything; else the server requires the tenant tail) and
``wait_ms`` = the client's ``read_wait_ms``. That is the service's equivalent of the
embedded façade projecting right after each append (HTTP_API 1.8).
"""

from __future__ import annotations

import time
from collections import OrderedDict

from decisiongraph.client._convert import (
    context_subgraph_from_dict,
    edge_page_from_dict,
    precedent_hit_from_dict,
    projection_health_from_dict,
    trace_page_from_dict,
    trace_summary_from_dict,
    trace_view_from_dict,
)
from decisiongraph.client._http import QueryValue, Reply, Transport, path_segment
from decisiongraph.client._traces import TraceLog
from decisiongraph.domain.envelope import StoredEvent
from decisiongraph.errors import InvalidArgument, NotFound, ProjectionOutOfDate
from decisiongraph.query.consistency import ReadOptions
from decisiongraph.query.graph import GraphFilter
from decisiongraph.query.health import ProjectionHealth
from decisiongraph.query.models import (
    ContextSubgraph,
    EdgePage,
    GraphEdgeCursor,
    GraphEdgePage,
    PrecedentHit,
    TracePage,
    TraceSummary,
    TraceView,
)
from decisiongraph.query.traces import TraceFilter

__all__ = ["ReadMethods"]

# Edge cursors handed out by list_node_edges, mapped to the server's opaque tokens.
_MAX_EDGE_TOKENS = 1024


def _projection_log_seq(reply: Reply) -> int:
    return int(reply.headers.get("X-DG-Projection-Log-Seq", "0"))


class ReadMethods:
    """Reads of one tenant; the concrete client provides the transport and state."""

    _transport: Transport
    _traces: TraceLog
    _read_wait_ms: int
    _last_log_seq: int
    _edge_tokens: OrderedDict[tuple[str, str, GraphEdgeCursor], str]

    def _consistency(self, options: ReadOptions | None) -> dict[str, QueryValue]:
        if options is not None:
            if options.consistency == "eventual":
                return {"consistency": "eventual"}
            return {
                "consistency": "strict",
                "min_log_seq": options.min_log_seq,
                "wait_ms": options.wait_ms or None,
            }
        # The façade's rule: strict against the tenant tail at request start (no
        # min_log_seq), which is at or after this client's own writes; wait_ms lets
        # the server wait for the projector instead of answering 409 at once.
        return {"consistency": "strict", "wait_ms": self._read_wait_ms or None}

    def _get(self, path: str, params: dict[str, QueryValue]) -> Reply:
        return self._transport.call("GET", path, params)

    # ------------------------------------------------------------------ traces

    def get_trace_events(self, trace_id: str) -> list[StoredEvent]:
        """The trace's events in trace_seq order; DG_ERR_NOT_FOUND if it has none."""
        return self._traces.events(trace_id)

    def is_trace_finished(self, trace_id: str) -> bool:
        """True if the trace holds a TraceFinished event (False for an unknown trace)."""
        return self._traces.state(trace_id)[1]

    def get_trace(self, trace_id: str, *, options: ReadOptions | None = None) -> TraceView:
        """The trace's timeline and summary (nulls kept), as ``GET /traces/{id}``."""
        reply = self._get(f"/api/v1/traces/{path_segment(trace_id)}", self._consistency(options))
        return trace_view_from_dict(reply.data, _projection_log_seq(reply))

    def get_trace_summary(self, trace_id: str) -> TraceSummary:
        """The trace's summary as the reference library returns it (spec 5): a missing
        primary entity type or id reads as ``""``; DG_ERR_NOT_FOUND without a summary."""
        params = {"include_payload": False, **self._consistency(None)}
        data = self._get(f"/api/v1/traces/{path_segment(trace_id)}", params).data
        if data.get("summary") is None:
            raise NotFound(f"Trace {trace_id!r} has no summary", {"resource": "trace"})
        summary = trace_summary_from_dict(data["summary"])
        return summary.as_reference()

    def list_traces(
        self,
        filter_opts: TraceFilter | None = None,
        *,
        cursor: str | None = None,
        limit: int = 100,
        options: ReadOptions | None = None,
    ) -> TracePage:
        """A page of trace summaries, newest first (``GET /traces``); pass the page's
        ``next_cursor`` back with the same filter for the next one."""
        f = filter_opts or TraceFilter()
        params: dict[str, QueryValue] = {
            "workflow": f.workflows,
            "outcome": f.outcomes,
            "primary_entity_type": f.primary_entity_type,
            "primary_entity_id": f.primary_entity_id,
            "finished": f.finished,
            "started_after": f.started_after,
            "started_before": f.started_before,
            "cursor": cursor,
            "limit": limit,
            **self._consistency(options),
        }
        reply = self._get("/api/v1/traces", params)
        return trace_page_from_dict(reply.data, _projection_log_seq(reply))

    # ------------------------------------------------------------------- graph

    def get_context_subgraph(
        self,
        node_type: str,
        node_id: str,
        max_depth: int = 1,
        *,
        filter_opts: GraphFilter | None = None,
    ) -> ContextSubgraph:
        """The bounded breadth-first neighbourhood of node ``{node_type}:{node_id}``
        (``filter_opts.max_depth`` is replaced only when ``max_depth`` is not 1)."""
        params: dict[str, QueryValue] = {"node_type": node_type, "node_id": node_id}
        if filter_opts is None:
            params["max_depth"] = max_depth
        else:
            params.update(
                edge_types=filter_opts.edge_types,
                node_types=filter_opts.node_types,
                max_depth=max_depth if max_depth != 1 else filter_opts.max_depth,
                max_nodes=filter_opts.max_nodes,
                max_edges=filter_opts.max_edges,
            )
        reply = self._get("/api/v1/graph/context", {**params, **self._consistency(None)})
        return context_subgraph_from_dict(reply.data, _projection_log_seq(reply))

    def list_node_edges_page(
        self,
        node_type: str,
        node_id: str,
        direction: str = "both",
        cursor: str | None = None,
        limit: int = 100,
        *,
        options: ReadOptions | None = None,
    ) -> EdgePage:
        """A page of the node's edges with the service's opaque cursor (``GET /graph/edges``)."""
        params: dict[str, QueryValue] = {
            "node_type": node_type,
            "node_id": node_id,
            "direction": direction,
            "cursor": cursor,
            "limit": limit,
            **self._consistency(options),
        }
        reply = self._get("/api/v1/graph/edges", params)
        return edge_page_from_dict(reply.data, _projection_log_seq(reply))

    def list_node_edges(
        self,
        node_type: str,
        node_id: str,
        direction: str = "both",
        cursor: GraphEdgeCursor | None = None,
        limit: int = 100,
    ) -> GraphEdgePage:
        """A page of the node's edges in log_seq, edge_id order. ``cursor`` must be a
        ``next_cursor`` this client returned (the service's cursors are signed, so a
        cursor built by hand cannot be sent): else DG_ERR_INVALID_ARGUMENT."""
        token = None
        if cursor is not None:
            token = self._edge_tokens.get((node_type, node_id, cursor))
            if token is None:
                raise InvalidArgument(
                    "cursor was not returned by this client for this node; "
                    "page from the start or use list_node_edges_page()"
                )
        page = self.list_node_edges_page(node_type, node_id, direction, token, limit)
        next_cursor = None
        if page.next_cursor is not None and page.items:
            last = page.items[-1]
            next_cursor = GraphEdgeCursor(last.edge_id, direction, last.log_seq)
            self._edge_tokens[(node_type, node_id, next_cursor)] = page.next_cursor
            while len(self._edge_tokens) > _MAX_EDGE_TOKENS:
                self._edge_tokens.popitem(last=False)
        return GraphEdgePage(page.items, next_cursor, page.projection_log_seq)

    # -------------------------------------------------------- precedents, health

    def find_precedents(
        self,
        policy_id: str | None = None,
        policy_version: str | None = None,
        entity_type: str | None = None,
        entity_id: str | None = None,
        outcome: str | None = None,
        limit: int = 100,
    ) -> list[PrecedentHit]:
        """Finished traces matching the filters, newest first; with a policy, one hit per
        trace (its exception row first, else its latest evaluation)."""
        params: dict[str, QueryValue] = {
            "policy_id": policy_id,
            "policy_version": policy_version,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "outcome": outcome,
            "limit": limit,
            **self._consistency(None),
        }
        data = self._get("/api/v1/precedents", params).data
        return [precedent_hit_from_dict(hit) for hit in data["items"]]

    def get_projection_health(self, include_digests: bool = False) -> ProjectionHealth:
        """Where each projection stands against the log (never raises for staleness)."""
        data = self._get("/api/v1/projections/health", {"include_digests": include_digests}).data
        return projection_health_from_dict(data)

    def wait_for_projections(
        self,
        min_log_seq: int | None = None,
        *,
        include_digests: bool = False,
        timeout: float = 10.0,
        poll_interval: float = 0.05,
    ) -> ProjectionHealth:
        """Poll the projection health until every projection's cursor has reached
        ``min_log_seq`` (default: the highest ``log_seq`` this client appended, else the
        tenant tail at the first poll) and return that health. Health reads never wait
        server-side, so this is how a service user gets what the embedded façade gives
        after an append (e.g. to compare digests). Raises ProjectionOutOfDate (details as
        a strict read's) after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        required = min_log_seq if min_log_seq is not None else self._last_log_seq or None
        while True:
            health = self.get_projection_health(include_digests=include_digests)
            if required is None:
                required = health.tail_log_seq
            behind = sorted((p.cursor, p.projection) for p in health.projections)[0]
            if behind[0] >= required:
                return health
            if time.monotonic() >= deadline:
                raise ProjectionOutOfDate(
                    f"Projections at log_seq={behind[0]}, events at {required}",
                    {
                        "projection": behind[1],
                        "projection_log_seq": behind[0],
                        "required_log_seq": required,
                    },
                )
            time.sleep(poll_interval)
