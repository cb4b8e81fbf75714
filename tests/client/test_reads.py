"""Reads through the client: the event log and its paging, trace lists, read-your-writes
consistency, edge pages and their cursors, health."""

from __future__ import annotations

import pytest

from decisiongraph import ActorRef, EntityRef, PolicyRef, SourceRef
from decisiongraph.client import Client
from decisiongraph.errors import InvalidArgument, NotFound, ProjectionOutOfDate
from decisiongraph.query import GraphEdgeCursor, ReadOptions, TraceFilter
from tests.client.conftest import Service
from tests.helpers import make_envelope

SOURCE = SourceRef("agent-svc", "crm")
AGENT = ActorRef("agent", "a1")


def _trace(client: Client, trace_id: str, workflow: str, outcome: str | None) -> None:
    entity = EntityRef("account", trace_id)
    client.start_trace(workflow, f"T {trace_id}", entity, SOURCE, AGENT, trace_id=trace_id,
                       occurred_at=f"2026-03-0{len(trace_id)}T00:00:00Z")  # fmt: skip
    client.evaluate_policy(trace_id, PolicyRef("pol", "v1"), [], "allow", SOURCE, AGENT)
    if outcome is not None:
        client.finish_trace(trace_id, outcome, SOURCE, AGENT)


def test_the_event_log_pages_and_filters(client: Client) -> None:
    client.append_batch([make_envelope("a", i) for i in range(3)])
    client.append_batch([make_envelope("b", i) for i in range(2)])
    first = client.list_events(limit=2)
    assert [e.log_seq for e in first.items] == [1, 2]
    assert first.next_cursor == "2"
    rest = client.list_events(cursor=first.next_cursor, limit=10)
    assert [e.log_seq for e in rest.items] == [3, 4, 5]
    assert rest.next_cursor is None
    assert [e.log_seq for e in client.iter_events(page_size=2)] == [1, 2, 3, 4, 5]
    assert [e.log_seq for e in client.iter_events(since_log_seq=1, until_log_seq=4)] == [2, 3, 4]
    assert [e.log_seq for e in client.iter_events(trace_id="b", page_size=1)] == [4, 5]
    started = client.iter_events(event_types=["TraceStarted"])
    assert [(e.trace_id, e.trace_seq) for e in started] == [("a", 0), ("b", 0)]
    with pytest.raises(InvalidArgument) as caught:
        client.list_events(since_log_seq=1, cursor="2")
    assert caught.value.details["errors"][0]["path"] == "cursor"


def test_trace_lists_filter_and_page_newest_first(client: Client) -> None:
    _trace(client, "t1", "deal", "success")
    _trace(client, "t22", "deal", None)
    _trace(client, "t333", "refund", "failure")
    page = client.list_traces(limit=2)
    assert [s.trace_id for s in page.items] == ["t333", "t22"]
    assert page.next_cursor is not None
    assert page.projection_log_seq >= client.last_log_seq
    last = client.list_traces(cursor=page.next_cursor, limit=2)
    assert [s.trace_id for s in last.items] == ["t1"]
    assert last.next_cursor is None
    deals = TraceFilter(workflows=("deal",), finished=True)
    assert [s.trace_id for s in client.list_traces(deals).items] == ["t1"]
    window = TraceFilter(
        started_after="2026-03-03T00:00:00Z", started_before="2026-03-04T00:00:00Z"
    )
    assert [s.trace_id for s in client.list_traces(window).items] == ["t22"]
    entity = TraceFilter(primary_entity_type="account", primary_entity_id="t333")
    assert [s.outcome for s in client.list_traces(entity).items] == ["failure"]


def test_reads_see_the_clients_own_writes(service: Service, client: Client) -> None:
    """Every read right after an append reflects it (strict, min_log_seq, wait_ms)."""
    trace = client.start_trace("wf", "T", EntityRef("account", "a"), SOURCE, AGENT)
    for n in range(2, 6):
        client.evaluate_policy(trace, PolicyRef("pol", f"v{n}"), [], "allow", SOURCE, AGENT)
        assert client.get_trace_summary(trace).event_total == n
        graph = client.get_context_subgraph("trace", trace)
        assert sum(1 for node in graph.nodes if node.node_type == "policy") == n - 1
    client.finish_trace(trace, "success", SOURCE, AGENT)
    assert [hit.trace_id for hit in client.find_precedents(policy_id="pol")] == [trace]
    with service.client("reader") as reader:  # no writes of its own: the tenant tail
        assert reader.get_trace(trace).summary is not None
        assert reader.get_trace_summary(trace).outcome == "success"
        eventual = reader.get_trace(trace, options=ReadOptions("eventual"))
        assert len(eventual.events) == 6
        with pytest.raises(ProjectionOutOfDate) as caught:
            reader.get_trace(trace, options=ReadOptions(min_log_seq=10**6))
        assert caught.value.details["required_log_seq"] == 10**6
        assert caught.value.status == 409
        with pytest.raises(ProjectionOutOfDate):
            reader.wait_for_projections(10**6, timeout=0.2)
        health = reader.wait_for_projections()
        assert health.tail_log_seq == health.event_count == 6
        assert health.digests is None
        assert not health.is_stale
        assert [p.projection for p in health.projections] == [
            "context_graph", "precedent_index", "trace_summary",
        ]  # fmt: skip


def test_unknown_traces_are_not_found(client: Client) -> None:
    for read in (client.get_trace, client.get_trace_summary, client.get_trace_events):
        with pytest.raises(NotFound) as caught:
            read("missing")
        assert caught.value.status == 404
    assert client.is_trace_finished("missing") is False


def test_edge_pages_follow_the_clients_cursors(client: Client) -> None:
    trace = client.start_trace("wf", "T", EntityRef("account", "a"), SOURCE, AGENT)
    for n in range(4):
        client.evaluate_policy(trace, PolicyRef("pol", f"v{n}"), [], "allow", SOURCE, AGENT)
    all_edges = client.list_node_edges("trace", trace, limit=100).edges
    assert len(all_edges) == 5
    page = client.list_node_edges("trace", trace, "outgoing", None, 2)
    seen = list(page.edges)
    while page.next_cursor is not None:
        assert page.next_cursor == GraphEdgeCursor(seen[-1].edge_id, "outgoing", seen[-1].log_seq)
        page = client.list_node_edges("trace", trace, "outgoing", page.next_cursor, 2)
        seen += page.edges
    assert seen == all_edges
    handmade = GraphEdgeCursor(all_edges[0].edge_id, "both", all_edges[0].log_seq)
    with pytest.raises(InvalidArgument):
        client.list_node_edges("trace", trace, "both", handmade)
    opaque = client.list_node_edges_page("trace", trace, limit=3)
    assert opaque.next_cursor is not None
    rest = client.list_node_edges_page("trace", trace, cursor=opaque.next_cursor, limit=3)
    assert opaque.items + rest.items == all_edges
    with pytest.raises(InvalidArgument):  # a cursor is bound to its node
        client.list_node_edges_page("trace", "other", cursor=opaque.next_cursor)
