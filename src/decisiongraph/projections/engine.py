"""What a batch of events changes in each projection: pure planning, no I/O.

A projector applies events in ``log_seq`` order. Every projection first runs the two
projector checks on each event (spec 6.2 steps 1-2: the payload hash, and trace_seq
continuity), then turns the events into rows. Planning stops at the first event that
cannot be projected: the rows of the events before it are applied, the event is parked
as a :class:`Failure`, and the projection stops there for that tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from decisiongraph.domain.canonical import parsed_payload_hash
from decisiongraph.domain.envelope import StoredEvent
from decisiongraph.errors import Conflict, DecisionGraphError, EventSequenceInvalid
from decisiongraph.projections.graph import EdgeRow, NodeRow, graph_rows
from decisiongraph.projections.precedents import PrecedentRow, precedent_rows
from decisiongraph.projections.summary import (
    PolicyEvalRow,
    SummaryRow,
    policy_eval_row,
    start_summary,
)

__all__ = [
    "CONTEXT_GRAPH",
    "PRECEDENT_INDEX",
    "PROJECTION_NAMES",
    "TRACE_SUMMARY",
    "Failure",
    "GraphChanges",
    "PrecedentChanges",
    "SummaryChanges",
    "check_events",
    "plan_graph",
    "plan_precedents",
    "plan_summary",
]

CONTEXT_GRAPH = "context_graph"
TRACE_SUMMARY = "trace_summary"
PRECEDENT_INDEX = "precedent_index"
#: Sorted by name, the order health reports them in.
PROJECTION_NAMES: tuple[str, ...] = (CONTEXT_GRAPH, PRECEDENT_INDEX, TRACE_SUMMARY)


@dataclass(frozen=True, slots=True)
class Failure:
    """An event a projection could not apply (parked; the projection stops)."""

    log_seq: int
    event_id: str
    code: str
    message: str

    @classmethod
    def of(cls, event: StoredEvent, error: DecisionGraphError) -> Failure:
        return cls(event.log_seq, event.event_id, error.code, error.message)


def check_events(
    events: Sequence[StoredEvent], heads: dict[str, int]
) -> tuple[list[StoredEvent], Failure | None]:
    """Spec 6.2 steps 1-2 over a batch: the longest valid prefix, and the failure after it.

    ``heads`` maps trace ids to the last trace_seq projected before the batch (absent:
    nothing projected yet); it is updated as events pass.
    """
    for index, event in enumerate(events):
        try:
            actual_hash = parsed_payload_hash(event.payload)
        except DecisionGraphError as error:  # the stored payload text no longer parses
            return list(events[:index]), Failure.of(event, error)
        if actual_hash != event.payload_hash:
            mismatch = Conflict(f"Payload hash mismatch for event {event.event_id}")
            return list(events[:index]), Failure.of(event, mismatch)
        head = heads.get(event.trace_id)
        expected = 0 if head is None else head + 1
        if event.trace_seq != expected:
            gap = EventSequenceInvalid(
                f"trace_seq gap in trace {event.trace_id}: expected {expected}, "
                f"got {event.trace_seq} (event {event.event_id})"
            )
            return list(events[:index]), Failure.of(event, gap)
        heads[event.trace_id] = event.trace_seq
    return list(events), None


@dataclass(slots=True)
class GraphChanges:
    """New node and edge rows, each id once, first writer first."""

    nodes: list[NodeRow] = field(default_factory=list)
    edges: list[EdgeRow] = field(default_factory=list)


def plan_graph(events: Sequence[StoredEvent]) -> GraphChanges:
    """Graph rows of a batch; the database keeps rows it already holds (insert-or-ignore)."""
    changes = GraphChanges()
    seen_nodes: set[str] = set()
    seen_edges: set[str] = set()
    for event in events:
        nodes, edges = graph_rows(event)
        for node in nodes:
            if node.node_id not in seen_nodes:
                seen_nodes.add(node.node_id)
                changes.nodes.append(node)
        for edge in edges:
            if edge.edge_id not in seen_edges:
                seen_edges.add(edge.edge_id)
                changes.edges.append(edge)
    return changes


@dataclass(slots=True)
class SummaryChanges:
    """Summary and policy-eval changes of a batch.

    ``inserts`` are traces started in the batch (already finished if they finished in
    it); ``finishes`` update traces started earlier: (trace_id, outcome, finished_at,
    log_seq); ``totals`` add to ``event_total`` of traces started earlier.
    """

    inserts: list[SummaryRow] = field(default_factory=list)
    finishes: list[tuple[str, str, str, int]] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    policy_evals: list[PolicyEvalRow] = field(default_factory=list)


def plan_summary(events: Sequence[StoredEvent]) -> tuple[SummaryChanges, int, Failure | None]:
    """Summary changes of the longest projectable prefix of ``events``.

    Returns the changes, the number of events they cover, and the failure (a
    PolicyEvaluated without a truthy policy_id and policy_version) or None.
    """
    changes = SummaryChanges()
    started: dict[str, SummaryRow] = {}
    for index, event in enumerate(events):
        kind = event.event_type
        row = started.get(event.trace_id)
        if kind == "TraceStarted":
            if row is None:
                row = start_summary(event)
                started[event.trace_id] = row
                changes.inserts.append(row)
            else:  # not possible through append; the reference only counts it
                row.event_count += 1
                row.last_log_seq = event.log_seq
                row.event_total += 1
            continue
        if kind == "PolicyEvaluated":
            try:
                changes.policy_evals.append(policy_eval_row(event))
            except DecisionGraphError as error:
                return changes, index, Failure.of(event, error)
        if row is not None:
            row.event_total += 1
        else:
            changes.totals[event.trace_id] = changes.totals.get(event.trace_id, 0) + 1
        if kind == "TraceFinished":
            outcome = event.payload.get("outcome", "success")
            if row is not None:
                row.outcome = outcome
                row.finished_at = event.occurred_at
                row.event_count += 1
                row.last_log_seq = event.log_seq
            else:
                changes.finishes.append((event.trace_id, outcome, event.occurred_at, event.log_seq))
    return changes, len(events), None


@dataclass(slots=True)
class PrecedentChanges:
    """Traces whose precedent rows are replaced, and their new rows."""

    traces: list[str] = field(default_factory=list)
    rows: list[PrecedentRow] = field(default_factory=list)


def plan_precedents(
    events: Sequence[StoredEvent],
    events_of_traces: Callable[[list[str]], list[StoredEvent]],
) -> tuple[PrecedentChanges, int, Failure | None]:
    """Precedent changes of the longest projectable prefix of ``events``.

    Each TraceFinished rebuilds its trace's rows from the log (spec 6.6);
    ``events_of_traces`` reads all events of the given traces, ordered by trace then
    trace_seq. Returns the changes, the number of events covered, and the failure.
    """
    finished = [e for e in events if e.event_type == "TraceFinished"]
    changes = PrecedentChanges()
    if not finished:
        return changes, len(events), None
    by_trace: dict[str, list[StoredEvent]] = {}
    for event in events_of_traces(sorted({e.trace_id for e in finished})):
        by_trace.setdefault(event.trace_id, []).append(event)
    for finish in finished:
        try:
            rows = precedent_rows(by_trace.get(finish.trace_id, []))
        except DecisionGraphError as error:
            covered = next(i for i, e in enumerate(events) if e is finish)
            return changes, covered, Failure.of(finish, error)
        changes.traces.append(finish.trace_id)
        changes.rows.extend(rows)
    return changes, len(events), None
