"""Context graph reads (spec 6.7, 14.1, 14.2; HTTP_API 2.9, 2.10): the bounded BFS,
its truncation and filters, and paged edge lists with reference and opaque cursors."""

from __future__ import annotations

import random

import pytest

from decisiongraph.errors import InvalidArgument
from decisiongraph.projections.graph import EDGE_TYPES, NODE_TYPES, EdgeRow, NodeRow
from decisiongraph.projections.runner import Projector
from decisiongraph.projections.tables import Sql, read_edges
from decisiongraph.query import (
    ContextSubgraph,
    CursorCodec,
    GraphEdgeCursor,
    GraphFilter,
    NodeRef,
    get_context_subgraph,
    list_node_edges,
    list_node_edges_page,
    require_node_type,
)
from decisiongraph.query import graph as graph_module
from decisiongraph.store.base import SqlEventStore
from tests.conftest import GOLDEN_SCENARIOS, golden_envelopes
from tests.query.support import append, edge_row, node_row, reference_bfs, write_rows

CODEC = CursorCodec(b"graph-cursor-secret-0123456789")


def _ref(key: str) -> NodeRef:
    node_type, _, node_id = key.partition(":")
    return NodeRef(node_type, node_id)


def _star(center: str, count: int, *, log_seq: int = 1) -> tuple[list[NodeRow], list[EdgeRow]]:
    """``center`` with ``count`` outgoing edges to input nodes, edge ids in index order."""
    nodes = [node_row(center)] + [node_row(f"input:i{i:03d}") for i in range(count)]
    edges = [
        edge_row(f"trace_observed_input:{i:03d}", center, f"input:i{i:03d}", log_seq)
        for i in range(count)
    ]
    return nodes, edges


def _subgraph(
    store: SqlEventStore, tenant: str, center: str, depth: int = 1, **bounds: object
) -> ContextSubgraph:
    return get_context_subgraph(store, tenant, _ref(center), depth, GraphFilter(**bounds))  # type: ignore[arg-type]


def _check_against_reference(
    store: SqlEventStore,
    tenant: str,
    edges: list[EdgeRow],
    center: str,
    depth: int,
    **bounds: object,
) -> ContextSubgraph:
    result = _subgraph(store, tenant, center, depth, **bounds)
    nodes, edge_ids, truncated = reference_bfs(edges, center, max_depth=depth, **bounds)  # type: ignore[arg-type]
    existing = {e.from_node_id for e in edges} | {e.to_node_id for e in edges}
    assert [e.edge_id for e in result.edges] == edge_ids
    assert [n.node_id for n in result.nodes] == sorted(n for n in nodes if n in existing)
    assert result.truncated is truncated
    return result


# -------------------------------------------------------------------- BFS


def test_golden_graphs_match_the_reference_bfs(qstore: SqlEventStore, tenant: str) -> None:
    for scenario in GOLDEN_SCENARIOS:
        append(qstore, tenant, golden_envelopes(scenario))
    Projector(qstore).catch_up(tenant)
    with qstore.read_snapshot() as conn:
        edges = read_edges(Sql(conn, qstore.dialect), tenant, 1)
    keys = sorted({e.from_node_id for e in edges} | {e.to_node_id for e in edges})
    for center in keys:
        for depth in (0, 1, 2, 3):
            _check_against_reference(qstore, tenant, edges, center, depth)
        _check_against_reference(qstore, tenant, edges, center, 3, max_nodes=3)
        _check_against_reference(qstore, tenant, edges, center, 3, max_edges=2)
    # dealdesk: every node but the starting agent (an actor without edges) is reachable.
    whole = _subgraph(qstore, tenant, "trace:dddddddd-dddd-dddd-dddd-dddddddddddd", 10)
    assert (len(whole.nodes), len(whole.edges), whole.truncated) == (9, 8, False)
    assert whole.projection_log_seq == 24


@pytest.mark.parametrize("chunks", [(16, 1024), (1, 2)])
def test_random_graphs_match_the_reference_bfs(
    qstore: SqlEventStore, tenant: str, monkeypatch: pytest.MonkeyPatch, chunks: tuple[int, int]
) -> None:
    """Also with chunks of 1-2 rows: edges are read lazily, a chunk at a time."""
    monkeypatch.setattr(graph_module, "_MIN_CHUNK", chunks[0])
    monkeypatch.setattr(graph_module, "_MAX_CHUNK", chunks[1])
    rng = random.Random(7)
    # Mixed case and non-ASCII ids: every ordering must be code-point order.
    names = ["a", "B", "b", "Z", "é", "ß", "日", "😀", "a1", "A1"]
    node_ids = sorted({f"{rng.choice(NODE_TYPES)}:{rng.choice(names)}" for _ in range(40)})
    edges: list[EdgeRow] = []
    for index in range(90):
        start, end = rng.choice(node_ids), rng.choice(node_ids)
        edge_type = rng.choice(EDGE_TYPES[:4])
        suffix = f"{rng.choice(names)}{index}"
        edges.append(edge_row(f"{edge_type}:{start}:{end}:{suffix}", start, end, index + 1))
    write_rows(qstore, tenant, [node_row(n) for n in node_ids], edges)
    for _ in range(60):
        center = rng.choice([*node_ids, "trace:missing"])
        bounds: dict[str, object] = {
            "max_nodes": rng.choice([1, 2, 5, 100]),
            "max_edges": rng.choice([1, 3, 10, 500]),
        }
        if rng.random() < 0.3:
            bounds["edge_types"] = tuple(rng.sample(EDGE_TYPES[:4], 2))
        if rng.random() < 0.3:
            bounds["node_types"] = tuple(rng.sample(NODE_TYPES, 3))
        _check_against_reference(qstore, tenant, edges, center, rng.randrange(0, 5), **bounds)


def test_max_edges_truncates_in_edge_id_order(qstore: SqlEventStore, tenant: str) -> None:
    nodes, edges = _star("trace:c", 5)
    write_rows(qstore, tenant, nodes, edges)
    result = _subgraph(qstore, tenant, "trace:c", max_edges=3)
    assert [e.edge_id for e in result.edges] == [e.edge_id for e in edges[:3]]
    assert [n.node_id for n in result.nodes] == [
        "input:i000",
        "input:i001",
        "input:i002",
        "trace:c",
    ]
    assert result.truncated
    # Exactly as many edges as the bound: nothing was cut.
    assert _subgraph(qstore, tenant, "trace:c", max_edges=5).truncated is False


def test_max_nodes_keeps_the_edge_being_processed(qstore: SqlEventStore, tenant: str) -> None:
    nodes, edges = _star("trace:c", 5)
    write_rows(qstore, tenant, nodes, edges)
    result = _subgraph(qstore, tenant, "trace:c", max_nodes=3)
    assert [e.edge_id for e in result.edges] == [e.edge_id for e in edges[:3]]
    # The third edge stays although its endpoint was not added (spec 14.2).
    assert [n.node_id for n in result.nodes] == ["input:i000", "input:i001", "trace:c"]
    assert result.truncated


def test_truncation_stops_the_whole_search(qstore: SqlEventStore, tenant: str) -> None:
    nodes, edges = _star("trace:c", 3)
    deeper = [node_row("policy:p")]
    deeper_edges = [edge_row("trace_evaluated_policy:x", "input:i000", "policy:p")]
    write_rows(qstore, tenant, nodes + deeper, edges + deeper_edges)
    full = _subgraph(qstore, tenant, "trace:c", 2)
    assert len(full.edges) == 4
    assert not full.truncated
    cut = _subgraph(qstore, tenant, "trace:c", 2, max_edges=2)
    assert len(cut.edges) == 2
    assert cut.truncated
    assert "policy:p" not in [n.node_id for n in cut.nodes]
    # Depth 2 with exactly 3 edges allowed: the fourth edge (depth 2) truncates.
    assert _subgraph(qstore, tenant, "trace:c", 2, max_edges=3).truncated


def test_a_hub_node_is_cut_at_max_edges(qstore: SqlEventStore, tenant: str) -> None:
    nodes, edges = _star("policy:hub", 520)
    write_rows(qstore, tenant, nodes, edges)
    result = _subgraph(qstore, tenant, "policy:hub", max_nodes=1000)
    assert len(result.edges) == 500
    assert result.truncated
    assert [e.edge_id for e in result.edges] == sorted(e.edge_id for e in edges)[:500]


def test_visited_edges_are_not_counted_twice(qstore: SqlEventStore, tenant: str) -> None:
    nodes = [node_row(n) for n in ("trace:a", "entity:b", "policy:c")]
    edges = [
        edge_row("trace_involves_entity:1", "trace:a", "entity:b"),
        edge_row("trace_evaluated_policy:2", "trace:a", "policy:c"),
        edge_row("trace_involves_entity:3", "policy:c", "entity:b"),
    ]
    write_rows(qstore, tenant, nodes, edges)
    result = _subgraph(qstore, tenant, "trace:a", 3, max_edges=3)
    assert len(result.edges) == 3
    assert not result.truncated
    _check_against_reference(qstore, tenant, edges, "trace:a", 3, max_edges=3)


def test_type_filters(qstore: SqlEventStore, tenant: str) -> None:
    nodes = [node_row(n) for n in ("trace:a", "entity:b", "policy:c", "input:d")]
    edges = [
        edge_row("trace_involves_entity:1", "trace:a", "entity:b"),
        edge_row("trace_evaluated_policy:2", "trace:a", "policy:c"),
        edge_row("trace_observed_input:3", "trace:a", "input:d"),
    ]
    write_rows(qstore, tenant, nodes, edges)
    by_edge = _subgraph(qstore, tenant, "trace:a", edge_types=("trace_evaluated_policy",))
    assert [e.edge_id for e in by_edge.edges] == ["trace_evaluated_policy:2"]
    assert [n.node_id for n in by_edge.nodes] == ["policy:c", "trace:a"]
    by_node = _subgraph(qstore, tenant, "trace:a", node_types=("entity",))
    # Edges to other node types stay; only their endpoints are left out.
    assert len(by_node.edges) == 3
    assert [n.node_id for n in by_node.nodes] == ["entity:b", "trace:a"]


def test_unknown_and_isolated_centers(qstore: SqlEventStore, tenant: str) -> None:
    write_rows(qstore, tenant, [node_row("trace:alone")], [])
    unknown = _subgraph(qstore, tenant, "trace:nope", 3)
    assert (unknown.nodes, unknown.edges, unknown.truncated) == ([], [], False)
    assert unknown.center.node_key == "trace:nope"
    alone = _subgraph(qstore, tenant, "trace:alone", 3)
    assert [n.node_id for n in alone.nodes] == ["trace:alone"]
    assert alone.edges == []
    depth0 = _subgraph(qstore, tenant, "trace:alone", 0)
    assert [n.node_id for n in depth0.nodes] == ["trace:alone"]
    assert depth0.to_dict()["center"] == {
        "node_type": "trace",
        "node_id": "alone",
        "node_key": "trace:alone",
    }


def test_max_depth_argument_and_filter(qstore: SqlEventStore, tenant: str) -> None:
    nodes, edges = _star("trace:c", 1)
    deeper = [node_row("policy:p")]
    write_rows(qstore, tenant, nodes + deeper, [*edges, edge_row("x:1", "input:i000", "policy:p")])
    center = NodeRef("trace", "c")
    assert len(get_context_subgraph(qstore, tenant, center).edges) == 1
    assert len(get_context_subgraph(qstore, tenant, center, 2).edges) == 2
    deep = GraphFilter(max_depth=3)
    assert len(get_context_subgraph(qstore, tenant, center, 1, deep).edges) == 2  # filter's 3
    shallow = GraphFilter(max_depth=1)
    assert len(get_context_subgraph(qstore, tenant, center, 2, shallow).edges) == 2
    assert len(get_context_subgraph(qstore, tenant, center, 0, deep).edges) == 0
    with pytest.raises(InvalidArgument):
        get_context_subgraph(qstore, tenant, center, 11)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_depth": 11},
        {"max_depth": -1},
        {"max_nodes": 0},
        {"max_edges": 0},
        {"edge_types": ()},
        {"node_types": []},
        {"edge_types": "trace_involves_entity"},
        {"max_depth": True},
    ],
)
def test_graph_filter_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        GraphFilter(**kwargs)  # type: ignore[arg-type]


def test_service_limits() -> None:
    GraphFilter(
        edge_types=EDGE_TYPES, node_types=NODE_TYPES, max_nodes=10_000
    ).check_service_limits()
    for bad in (
        GraphFilter(edge_types=("nope",)),
        GraphFilter(node_types=("trace", "nope")),
        GraphFilter(max_nodes=10_001),
        GraphFilter(max_edges=10_001),
    ):
        with pytest.raises(InvalidArgument):
            bad.check_service_limits()
    assert require_node_type("trace") == "trace"
    with pytest.raises(InvalidArgument):
        require_node_type("unknown")
    with pytest.raises(InvalidArgument):
        NodeRef("", "x")


# ------------------------------------------------------------- edge pages


def _page_graph(store: SqlEventStore, tenant: str) -> list[EdgeRow]:
    """trace:n with outgoing, incoming and self edges; several share a log_seq, with ids
    whose code-point order differs from a locale order."""
    others = ["entity:a", "entity:B", "input:é", "policy:p"]
    nodes = [node_row("trace:n"), *(node_row(o) for o in others)]
    edges = [
        edge_row("trace_involves_entity:b", "trace:n", "entity:a", 1),
        edge_row("trace_involves_entity:B", "trace:n", "entity:B", 1),
        edge_row("trace_involves_entity:é", "trace:n", "input:é", 1),
        edge_row("trace_cited_precedent:self", "trace:n", "trace:n", 2),
        edge_row("trace_evaluated_policy:in1", "policy:p", "trace:n", 2),
        edge_row("trace_evaluated_policy:in0", "entity:a", "trace:n", 3),
        edge_row("trace_observed_input:out", "trace:n", "policy:p", 3),
        edge_row("trace_observed_input:zz", "entity:B", "input:é", 1),  # not the node's
    ]
    write_rows(store, tenant, nodes, edges)
    return edges


def _expected(edges: list[EdgeRow], direction: str) -> list[str]:
    chosen = [
        e
        for e in edges
        if (direction != "incoming" and e.from_node_id == "trace:n")
        or (direction != "outgoing" and e.to_node_id == "trace:n")
    ]
    return [e.edge_id for e in sorted(chosen, key=lambda e: (e.log_seq, e.edge_id))]


@pytest.mark.parametrize("direction", ["outgoing", "incoming", "both"])
def test_edge_pages_cover_every_edge_once(
    qstore: SqlEventStore, tenant: str, direction: str
) -> None:
    edges = _page_graph(qstore, tenant)
    node = NodeRef("trace", "n")
    expected = _expected(edges, direction)
    full = list_node_edges(qstore, tenant, node, direction, limit=100)
    assert [e.edge_id for e in full.edges] == expected
    assert full.next_cursor is None
    for limit in (1, 2, 3):
        seen: list[str] = []
        cursor: GraphEdgeCursor | None = None
        while True:
            page = list_node_edges(qstore, tenant, node, direction, cursor, limit)
            assert len(page.edges) <= limit
            seen += [e.edge_id for e in page.edges]
            cursor = page.next_cursor
            if cursor is None:
                break
            assert cursor.direction == direction
            assert cursor.edge_key == page.edges[-1].edge_id
        assert seen == expected
        # The opaque form of the same pages.
        seen = []
        token: str | None = None
        while True:
            opaque = list_node_edges_page(
                qstore, tenant, node, codec=CODEC, direction=direction, cursor=token, limit=limit
            )
            seen += [e.edge_id for e in opaque.items]
            token = opaque.next_cursor
            if token is None:
                break
        assert seen == expected


def test_cursor_without_log_seq_is_looked_up(qstore: SqlEventStore, tenant: str) -> None:
    edges = _page_graph(qstore, tenant)
    node = NodeRef("trace", "n")
    expected = _expected(edges, "both")
    page = list_node_edges(qstore, tenant, node, "both", GraphEdgeCursor(expected[2], "both"))
    assert [e.edge_id for e in page.edges] == expected[3:]
    with pytest.raises(InvalidArgument, match=r"cursor\.edge_key not found"):
        list_node_edges(qstore, tenant, node, "both", GraphEdgeCursor("missing", "both"))
    # With its log_seq the cursor needs no lookup: a missing edge is a plain position.
    page = list_node_edges(qstore, tenant, node, "both", GraphEdgeCursor("missing", "both", 2))
    assert [e.edge_id for e in page.edges] == [
        e for e in expected if ({x.edge_id: x.log_seq for x in edges}[e], e) > (2, "missing")
    ]


def test_edge_page_argument_errors(qstore: SqlEventStore, tenant: str) -> None:
    _page_graph(qstore, tenant)
    node = NodeRef("trace", "n")
    with pytest.raises(InvalidArgument, match="does not match"):
        list_node_edges(qstore, tenant, node, "outgoing", GraphEdgeCursor("x", "both", 1))
    for limit in (0, -1):
        with pytest.raises(InvalidArgument, match="limit"):
            list_node_edges(qstore, tenant, node, "both", None, limit)
    with pytest.raises(InvalidArgument, match="direction"):
        list_node_edges(qstore, tenant, node, "sideways")
    for bad in (("", "both", None), ("e", "up", None), ("e", "both", 0), ("e", "both", -3)):
        with pytest.raises(InvalidArgument):
            GraphEdgeCursor(*bad)
    with pytest.raises(InvalidArgument, match="limit"):
        list_node_edges_page(qstore, tenant, node, codec=CODEC, limit=1001)


def test_opaque_edge_cursors_are_bound_and_tamper_checked(
    qstore: SqlEventStore, tenant: str
) -> None:
    _page_graph(qstore, tenant)
    node = NodeRef("trace", "n")
    token = list_node_edges_page(qstore, tenant, node, codec=CODEC, limit=2).next_cursor
    assert token is not None
    more = list_node_edges_page(qstore, tenant, node, codec=CODEC, cursor=token, limit=50)
    assert more.next_cursor is None
    assert len(more.items) == 5
    tampered = token[:-3] + ("xyz" if not token.endswith("xyz") else "abc")
    cases = [
        (tenant, node, "both", tampered),
        (tenant, node, "both", token + "A"),
        (tenant, node, "both", "@@@"),
        (tenant, NodeRef("entity", "a"), "both", token),
        ("another-tenant", node, "both", token),
        (tenant, node, "outgoing", token),  # the cursor's direction is 'both'
    ]
    for use_tenant, use_node, direction, cursor in cases:
        with pytest.raises(InvalidArgument):
            list_node_edges_page(
                qstore, use_tenant, use_node, codec=CODEC, direction=direction, cursor=cursor
            )
