"""Golden scenarios read back through the query layer: each scenario imported into a
fresh tenant (exact envelopes, then the projector) gives the expected digests, and the
summaries, graph and precedent searches agree with the snapshot facts of spec 10."""

from __future__ import annotations

import pytest

from decisiongraph.projections.runner import Projector
from decisiongraph.query import (
    CursorCodec,
    NodeRef,
    PrecedentQuery,
    find_precedents,
    get_context_subgraph,
    get_projection_health,
    get_trace,
    get_trace_summary,
    list_node_edges,
    list_traces,
)
from decisiongraph.store.base import SqlEventStore
from tests.conftest import GOLDEN_SCENARIOS, expected_digests, golden_envelopes, load_golden
from tests.query.support import append

#: Spec 10.1 snapshot facts: events, the nodes and edges reachable from the trace node
#: (actors without edges are not: the starting agent, and release_rejected's approver
#: of an action), precedent source events.
FACTS = {
    "dealdesk": (9, 9, 8, ["d5555555-5555-5555-5555-555555555555"]),
    "release_rejected": (7, 5, 6, ["f4444444-4444-4444-4444-444444444444"]),
    "support": (8, 7, 7, ["c6666666-6666-6666-6666-666666666666"]),
}


@pytest.mark.parametrize("scenario", GOLDEN_SCENARIOS)
def test_golden_scenario_reads(qstore: SqlEventStore, tenant: str, scenario: str) -> None:
    envelopes = golden_envelopes(scenario)
    append(qstore, tenant, envelopes)
    Projector(qstore).catch_up(tenant)
    health = get_projection_health(qstore, tenant, include_digests=True)
    assert health.digests == expected_digests(scenario)

    events, nodes, edges, sources = FACTS[scenario]
    trace_id = load_golden(scenario)["trace_id"]
    summary = get_trace_summary(qstore, tenant, trace_id).summary
    assert (summary.event_count, summary.last_log_seq, summary.event_total) == (2, events, events)
    assert summary.started_log_seq == 1

    view = get_trace(qstore, tenant, trace_id)
    assert [e.event_id for e in view.events] == [e.event_id for e in envelopes]
    assert view.summary == summary
    assert view.projection_log_seq == events

    graph = get_context_subgraph(qstore, tenant, NodeRef("trace", trace_id), 10)
    assert (len(graph.nodes), len(graph.edges), graph.truncated) == (nodes, edges, False)
    page = list_node_edges(qstore, tenant, NodeRef("trace", trace_id), "outgoing", limit=100)
    assert [e.log_seq for e in page.edges] == sorted(e.log_seq for e in page.edges)

    policy = next(e.payload["policy"] for e in envelopes if e.event_type == "PolicyEvaluated")
    hits = find_precedents(qstore, tenant, PrecedentQuery(policy_id=policy["policy_id"])).items
    assert [(h.trace_id, h.source_event_id) for h in hits] == [(trace_id, sources[0])]
    assert hits[0].outcome == envelopes[-1].payload["outcome"]

    listed = list_traces(qstore, tenant, codec=CursorCodec.ephemeral())
    assert [s.trace_id for s in listed.items] == [trace_id]
