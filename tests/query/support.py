"""Builders of the query tests: traces through the real pipeline, graphs written
directly, and straightforward reference implementations of the spec's algorithms
(spec 6.7 BFS, 6.8 precedent ranking) to compare the SQL-backed queries with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from decisiongraph.domain.envelope import EventEnvelope, StoredEvent
from decisiongraph.projections.engine import GraphChanges, SummaryChanges
from decisiongraph.projections.graph import EdgeRow, NodeRow
from decisiongraph.projections.runner import Projector
from decisiongraph.projections.summary import SummaryRow
from decisiongraph.projections.tables import Sql, write_graph, write_summary
from decisiongraph.store.base import SqlEventStore
from tests.helpers import make_envelope


def append(store: SqlEventStore, tenant: str, envelopes: Sequence[EventEnvelope]) -> list[Any]:
    """Append atomically; return the outcomes."""
    return store.append_batch(tenant, list(envelopes))


def append_and_project(
    store: SqlEventStore, tenant: str, envelopes: Sequence[EventEnvelope]
) -> None:
    append(store, tenant, envelopes)
    Projector(store).catch_up(tenant)


def policy_payload(policy_id: str, version: str = "v1") -> dict[str, Any]:
    return {
        "policy": {"policy_id": policy_id, "policy_version": version},
        "inputs": [],
        "decision": "allow",
    }


def exception_payload(exception_id: str, policy_id: str, version: str = "v1") -> dict[str, Any]:
    return {
        "exception_id": exception_id,
        "policy": {"policy_id": policy_id, "policy_version": version},
        "reason": "needed",
    }


def start_payload(
    workflow: str = "wf", entity: tuple[str, str] | None = ("account", "acc-1")
) -> dict[str, Any]:
    payload: dict[str, Any] = {"workflow": workflow, "title": f"{workflow} trace"}
    if entity is not None:
        payload["primary_entity"] = {
            "entity_type": entity[0],
            "entity_id": entity[1],
            "system": None,
        }
    return payload


@dataclass
class TraceSpec:
    """A trace to build: its middle events as (event_type, payload), and its outcome
    (None: left unfinished)."""

    trace_id: str
    middle: list[tuple[str, dict[str, Any]]]
    outcome: str | None = "success"
    workflow: str = "wf"
    entity: tuple[str, str] | None = ("account", "acc-1")
    occurred_at: str = "2025-12-31T12:00:00Z"

    def envelopes(self) -> list[EventEnvelope]:
        result = [
            make_envelope(
                self.trace_id,
                0,
                "TraceStarted",
                payload=start_payload(self.workflow, self.entity),
                occurred_at=self.occurred_at,
            )
        ]
        for kind, payload in self.middle:
            result.append(make_envelope(self.trace_id, len(result), kind, payload=payload))
        if self.outcome is not None:
            result.append(
                make_envelope(
                    self.trace_id, len(result), "TraceFinished", payload={"outcome": self.outcome}
                )
            )
        return result


def write_rows(
    store: SqlEventStore, tenant: str, nodes: Sequence[NodeRow], edges: Sequence[EdgeRow]
) -> None:
    """Write graph rows straight into version 1 of the tenant's context graph (a tenant
    without events: always fresh)."""
    with store.transaction() as conn:
        write_graph(Sql(conn, store.dialect), tenant, 1, GraphChanges(list(nodes), list(edges)))


def node_row(node_id: str, log_seq: int = 1) -> NodeRow:
    node_type = node_id.partition(":")[0]
    return NodeRow(node_id, node_type, "t", log_seq, "2025-12-31T12:00:00Z")


def edge_row(edge_id: str, from_id: str, to_id: str, log_seq: int = 1) -> EdgeRow:
    edge_type = edge_id.partition(":")[0]
    return EdgeRow(edge_id, edge_type, from_id, to_id, "t", log_seq, "2025-12-31T12:00:00Z")


def reference_bfs(
    edges: Sequence[EdgeRow],
    center_key: str,
    *,
    max_depth: int = 1,
    max_nodes: int = 100,
    max_edges: int = 500,
    edge_types: Sequence[str] | None = None,
    node_types: Sequence[str] | None = None,
) -> tuple[set[str], list[str], bool]:
    """Spec 6.7 / 14.2, literally: (visited node keys, visited edge ids sorted, truncated)."""
    visited_nodes = {center_key}
    visited_edges: set[str] = set()
    frontier = {center_key}
    truncated = False
    depth = 0
    while frontier and not truncated and depth < max_depth:
        selected = sorted(
            (
                e
                for e in edges
                if (e.from_node_id in frontier or e.to_node_id in frontier)
                and (edge_types is None or e.edge_type in edge_types)
            ),
            key=lambda e: e.edge_id,
        )
        next_frontier: set[str] = set()
        for edge in selected:
            if edge.edge_id in visited_edges:
                continue
            if len(visited_edges) >= max_edges:
                truncated = True
                break
            visited_edges.add(edge.edge_id)
            for endpoint in (edge.from_node_id, edge.to_node_id):
                if endpoint in visited_nodes:
                    continue
                if node_types is not None and endpoint.partition(":")[0] not in node_types:
                    continue
                if len(visited_nodes) >= max_nodes:
                    truncated = True
                    break
                visited_nodes.add(endpoint)
                next_frontier.add(endpoint)
            if truncated:
                break
        frontier = next_frontier
        depth += 1
    return visited_nodes, sorted(visited_edges), truncated


def reference_precedents(
    events: Sequence[StoredEvent],
    *,
    policy_id: str | None = None,
    policy_version: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    outcome: str | None = None,
    limit: int = 100,
) -> list[tuple[str, str | None]]:
    """Spec 6.8 computed from the log: [(trace_id, source_event_id of the chosen row)]."""
    traces: dict[str, dict[str, Any]] = {}
    for event in sorted(events, key=lambda e: e.log_seq):
        info = traces.setdefault(event.trace_id, {"rows": []})
        if event.event_type == "TraceStarted":
            entity = event.payload.get("primary_entity") or {}
            info["entity"] = (entity.get("entity_type"), entity.get("entity_id"))
        elif event.event_type == "TraceFinished":
            info["outcome"] = event.payload.get("outcome", "success")
            info["last"] = event.log_seq
        elif event.event_type in ("PolicyEvaluated", "ExceptionRequested"):
            policy = event.payload["policy"]
            exception = event.payload.get("exception_id")
            info["rows"].append((policy["policy_id"], policy["policy_version"], exception, event))
    hits: list[tuple[int, str, str | None]] = []
    for trace_id, info in traces.items():
        if "outcome" not in info or "entity" not in info:
            continue
        if outcome and info["outcome"] != outcome:
            continue
        if entity_type and info["entity"][0] != entity_type:
            continue
        if entity_id and info["entity"][1] != entity_id:
            continue
        if not policy_id:
            hits.append((info["last"], trace_id, None))
            continue
        rows = [
            r
            for r in info["rows"]
            if r[0] == policy_id and (not policy_version or r[1] == policy_version)
        ]
        if not rows:
            continue
        best = min(rows, key=lambda r: (r[2] is None, -r[3].log_seq, r[3].event_id))
        hits.append((info["last"], trace_id, best[3].event_id))
    hits.sort(key=lambda h: (-h[0], h[1]))
    return [(trace_id, source) for _, trace_id, source in hits[:limit]]


def write_summary_row(
    store: SqlEventStore, tenant: str, trace_id: str, entity: tuple[str, str] | None
) -> None:
    """Write an unfinished summary row straight into version 1 (a tenant without events)."""
    row = SummaryRow(
        trace_id,
        "wf",
        "title",
        None if entity is None else entity[0],
        None if entity is None else entity[1],
        None,
        "2025-12-31T12:00:00Z",
        None,
        1,
        1,
        1,
        1,
    )
    with store.transaction() as conn:
        write_summary(Sql(conn, store.dialect), tenant, 1, SummaryChanges(inserts=[row]))
