"""Context-graph emission: which nodes and edges each event adds (spec 6.3, 6.4).

Pure functions over stored events. Node ids are ``{node_type}:{identifier}`` and edge
ids ``{edge_type}:{from}:{to}:{event_id}``, joined raw (ids containing ``:`` are
ambiguous, deterministically so: spec 11.12). Every row takes the event's ``trace_id``,
``log_seq`` and ``occurred_at`` (as ``created_at``); ``attrs`` is always ``{}``.
Insertion is first-writer-wins, so a caller applies :func:`graph_rows` in ``log_seq``
order and ignores ids it already holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from decisiongraph.domain.envelope import StoredEvent

__all__ = [
    "EDGE_TYPES",
    "NODE_TYPES",
    "EdgeRow",
    "NodeRow",
    "graph_rows",
    "make_edge_id",
    "make_node_id",
]

NODE_TYPES: tuple[str, ...] = (
    "trace",
    "entity",
    "input",
    "policy",
    "exception",
    "action",
    "actor",
)
EDGE_TYPES: tuple[str, ...] = (
    "trace_involves_entity",
    "trace_observed_input",
    "trace_evaluated_policy",
    "trace_requested_exception",
    "exception_approved_by",
    "trace_cited_precedent",
    "trace_proposed_action",
    "trace_committed_action",
    "action_targets_entity",
)


@dataclass(frozen=True, slots=True)
class NodeRow:
    """A ``dg_cg_nodes`` row (``metadata_json`` is always ``{}`` in v1)."""

    node_id: str
    node_type: str
    trace_id: str
    log_seq: int
    created_at: str


@dataclass(frozen=True, slots=True)
class EdgeRow:
    """A ``dg_cg_edges`` row."""

    edge_id: str
    edge_type: str
    from_node_id: str
    to_node_id: str
    trace_id: str
    log_seq: int
    created_at: str


def make_node_id(node_type: str, identifier: str) -> str:
    """``{node_type}:{identifier}``, unescaped."""
    return f"{node_type}:{identifier}"


def make_edge_id(edge_type: str, from_node_id: str, to_node_id: str, event_id: str) -> str:
    """``{edge_type}:{from}:{to}:{event_id}``, unescaped."""
    return f"{edge_type}:{from_node_id}:{to_node_id}:{event_id}"


def _text(value: Any) -> str:
    # Ids are built with str.format semantics: None becomes "None", as in the reference.
    return value if isinstance(value, str) else str(value)


def _entity_id(entity: Any) -> str:
    entity = entity if isinstance(entity, dict) else {}
    return f"entity:{_text(entity.get('entity_type', 'unknown'))}:" + _text(
        entity.get("entity_id", "unknown")
    )


def _emit(event: StoredEvent) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """(nodes as (node_id, node_type), edges as (edge_type, from, to)) of one event."""
    payload = event.payload
    trace_node = f"trace:{event.trace_id}"
    nodes: list[tuple[str, str]] = []
    edges: list[tuple[str, str, str]] = []
    kind = event.event_type
    if kind == "TraceStarted":
        nodes.append((trace_node, "trace"))
        actor = event.actor
        nodes.append((f"actor:{actor.actor_type}:{actor.actor_id}", "actor"))
        if "primary_entity" in payload:
            entity = _entity_id(payload["primary_entity"])
            nodes.append((entity, "entity"))
            edges.append(("trace_involves_entity", trace_node, entity))
    elif kind == "InputObserved":
        node = f"input:{_text(payload.get('input_id', event.event_id))}"
        nodes.append((node, "input"))
        edges.append(("trace_observed_input", trace_node, node))
    elif kind == "EntityObserved":
        entity = _entity_id(payload.get("entity") or {})
        nodes.append((entity, "entity"))
        edges.append(("trace_involves_entity", trace_node, entity))
    elif kind == "PolicyEvaluated":
        policy = payload.get("policy")
        policy = policy if isinstance(policy, dict) else {}
        pid = policy.get("policy_id")
        pid_text = f"unknown:{event.event_id}" if pid is None else _text(pid)
        version = policy.get("policy_version", "")
        node = f"policy:{pid_text}:{_text(version)}" if version else f"policy:{pid_text}"
        nodes.append((node, "policy"))
        edges.append(("trace_evaluated_policy", trace_node, node))
    elif kind == "ExceptionRequested":
        node = f"exception:{_text(payload.get('exception_id', event.event_id))}"
        nodes.append((node, "exception"))
        edges.append(("trace_requested_exception", trace_node, node))
    elif kind == "ApprovalRecorded":
        approver = payload.get("approver")
        approver = approver if isinstance(approver, dict) else {}
        actor_node = (
            f"actor:{_text(approver.get('actor_type', 'person'))}:"
            f"{_text(approver.get('actor_id', 'unknown'))}"
        )
        nodes.append((actor_node, "actor"))
        subject = payload.get("subject")
        subject = subject if isinstance(subject, dict) else {}
        subject_id = subject.get("subject_id")
        if subject.get("subject_type") == "exception" and subject_id:
            edges.append(("exception_approved_by", f"exception:{_text(subject_id)}", actor_node))
    elif kind == "PrecedentCited":
        cited = payload.get("cited_trace_id")
        if cited:
            edges.append(("trace_cited_precedent", trace_node, f"trace:{_text(cited)}"))
    elif kind == "ActionProposed":
        node = f"action:{_text(payload.get('action_id', event.event_id))}"
        nodes.append((node, "action"))
        edges.append(("trace_proposed_action", trace_node, node))
        target = payload.get("target_entity")
        if target:
            target = target if isinstance(target, dict) else {}
            entity = (
                f"entity:{_text(target.get('entity_type') or 'unknown')}:"
                f"{_text(target.get('entity_id') or 'unknown')}"
            )
            edges.append(("action_targets_entity", node, entity))
    elif kind == "ActionCommitted":
        action_id = payload.get("action_id")
        if action_id:
            edges.append(("trace_committed_action", trace_node, f"action:{_text(action_id)}"))
    return nodes, edges


def _placeholder(node_id: str, edge_trace_id: str) -> tuple[str, str]:
    """(node_type, trace_id) of an endpoint created by an edge (spec 6.4)."""
    node_type, sep, rest = node_id.partition(":")
    if not sep:
        return "unknown", edge_trace_id
    return node_type, rest if node_type == "trace" else edge_trace_id


def graph_rows(event: StoredEvent) -> tuple[list[NodeRow], list[EdgeRow]]:
    """The node and edge rows one event emits, in insertion order (spec 6.2 step 3).

    Nodes come first; then, for each edge, its ``from`` and ``to`` endpoints as
    placeholder nodes, then the edge. A caller inserting them in order with
    insert-or-ignore reproduces the reference's first-writer-wins graph.
    """
    nodes, edges = _emit(event)
    seq, at, trace_id = event.log_seq, event.occurred_at, event.trace_id
    node_rows = [NodeRow(node_id, node_type, trace_id, seq, at) for node_id, node_type in nodes]
    edge_rows: list[EdgeRow] = []
    for edge_type, from_id, to_id in edges:
        for endpoint in (from_id, to_id):
            node_type, node_trace = _placeholder(endpoint, trace_id)
            node_rows.append(NodeRow(endpoint, node_type, node_trace, seq, at))
        edge_rows.append(
            EdgeRow(
                make_edge_id(edge_type, from_id, to_id, event.event_id),
                edge_type,
                from_id,
                to_id,
                trace_id,
                seq,
                at,
            )
        )
    return node_rows, edge_rows
