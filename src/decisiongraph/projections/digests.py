"""Projection digests (spec 3.4): deterministic hashes of a tenant's projection rows.

Each digest hashes the digest encoding (sorted keys, compact, ASCII-escaped) of every
row of its tables, sorted by id in code-point order; ``full_projection`` hashes the
three joined by ``:``. ``tenant_id`` and the service-only columns are never included.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from decisiongraph.domain.canonical import digest_json, sha256_prefixed
from decisiongraph.projections.graph import EdgeRow, NodeRow
from decisiongraph.projections.precedents import PrecedentRow
from decisiongraph.projections.summary import SummaryRow

__all__ = [
    "Digests",
    "context_graph_digest",
    "full_projection_digest",
    "precedent_index_digest",
    "trace_summary_digest",
]


@dataclass(frozen=True, slots=True)
class Digests:
    """The four digests of one tenant."""

    context_graph: str
    trace_summary: str
    precedent_index: str
    full_projection: str

    def as_dict(self) -> dict[str, str]:
        return {
            "context_graph": self.context_graph,
            "trace_summary": self.trace_summary,
            "precedent_index": self.precedent_index,
            "full_projection": self.full_projection,
        }

    @classmethod
    def of(cls, graph: str, summary: str, precedent: str) -> Digests:
        return cls(graph, summary, precedent, full_projection_digest(graph, summary, precedent))


def context_graph_digest(nodes: Iterable[NodeRow], edges: Iterable[EdgeRow]) -> str:
    """``{"edges": [...], "nodes": [...]}`` with rows sorted by id."""
    node_list: list[dict[str, Any]] = [
        {
            "node_id": n.node_id,
            "node_type": n.node_type,
            "trace_id": n.trace_id,
            "log_seq": n.log_seq,
            "created_at": n.created_at,
            "attrs": {},
        }
        for n in sorted(nodes, key=lambda n: n.node_id)
    ]
    edge_list: list[dict[str, Any]] = [
        {
            "edge_id": e.edge_id,
            "edge_type": e.edge_type,
            "from_node_id": e.from_node_id,
            "to_node_id": e.to_node_id,
            "trace_id": e.trace_id,
            "log_seq": e.log_seq,
            "created_at": e.created_at,
            "attrs": {},
        }
        for e in sorted(edges, key=lambda e: e.edge_id)
    ]
    return sha256_prefixed(digest_json({"nodes": node_list, "edges": edge_list}))


def trace_summary_digest(rows: Iterable[SummaryRow]) -> str:
    """The summary rows sorted by ``trace_id``."""
    return sha256_prefixed(
        digest_json([r.digest_row() for r in sorted(rows, key=lambda r: r.trace_id)])
    )


def precedent_index_digest(rows: Iterable[PrecedentRow]) -> str:
    """The precedent rows sorted by ``source_event_id``."""
    return sha256_prefixed(
        digest_json([r.digest_row() for r in sorted(rows, key=lambda r: r.source_event_id)])
    )


def full_projection_digest(graph: str, summary: str, precedent: str) -> str:
    """``sha256_prefixed(f"{graph}:{summary}:{precedent}")``."""
    return sha256_prefixed(f"{graph}:{summary}:{precedent}")
