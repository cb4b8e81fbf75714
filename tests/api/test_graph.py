"""``GET /api/v1/graph/context`` (HTTP_API 2.9) and ``GET /api/v1/graph/edges`` (2.10):
the reference search and edge pages over HTTP, bounds and types, opaque edge cursors
bound to tenant, node and direction, and tenant isolation."""

from __future__ import annotations

from typing import Any

from decisiongraph.query import GraphFilter, NodeRef, get_context_subgraph, list_node_edges
from tests.api.conftest import OTHER_TENANT, TENANT, ApiHarness
from tests.api.reads import PROJECTION_HEADER, assert_query_error, data_of, read, seed
from tests.helpers import MINIMAL_PAYLOADS
from tests.query.support import TraceSpec

CONTEXT = "/api/v1/graph/context"
EDGES = "/api/v1/graph/edges"
_KINDS = (
    "EntityObserved",
    "InputObserved",
    "PolicyEvaluated",
    "ExceptionRequested",
    "ApprovalRecorded",
    "ActionProposed",
    "ActionCommitted",
    "PrecedentCited",
)


def _rich(trace_id: str) -> TraceSpec:
    """A trace touching every node type (shared entity, action, exception, policy)."""
    return TraceSpec(trace_id, [(kind, MINIMAL_PAYLOADS[kind]) for kind in _KINDS])


def _library(api: ApiHarness, node: NodeRef, bounds: GraphFilter) -> dict[str, Any]:
    return get_context_subgraph(api.store, TENANT, node, bounds.max_depth, bounds).to_dict()


def test_context_is_the_reference_search_in_code_point_order(api: ApiHarness) -> None:
    seed(api, [_rich("r1"), _rich("r2")])
    response = read(api, CONTEXT, "node_type=trace&node_id=r1")
    graph = data_of(response)
    assert response.headers[PROJECTION_HEADER] == str(api.store.get_last_log_seq(TENANT))
    assert graph["center"] == {"node_type": "trace", "node_id": "r1", "node_key": "trace:r1"}
    assert graph == _library(api, NodeRef("trace", "r1"), GraphFilter())
    node_ids = [n["node_id"] for n in graph["nodes"]]
    edge_ids = [e["edge_id"] for e in graph["edges"]]
    assert node_ids == sorted(node_ids)
    assert edge_ids == sorted(edge_ids)
    assert "trace:r2" not in node_ids  # two hops away
    assert all(e["trace_id"] == "r1" for e in graph["edges"])
    assert graph["truncated"] is False

    deep = data_of(read(api, CONTEXT, "node_type=trace&node_id=r1&max_depth=3"))
    assert deep == _library(api, NodeRef("trace", "r1"), GraphFilter(max_depth=3))
    assert "trace:r2" in [n["node_id"] for n in deep["nodes"]]


def test_context_filters_and_bounds(api: ApiHarness) -> None:
    seed(api, [_rich("r1"), _rich("r2")])
    center = "node_type=entity&node_id=account:acc-1"
    cases = {
        "edge_types=action_targets_entity": GraphFilter(edge_types=("action_targets_entity",)),
        "edge_types=trace_involves_entity&edge_types=action_targets_entity&max_depth=2": (
            GraphFilter(edge_types=("trace_involves_entity", "action_targets_entity"), max_depth=2)
        ),
        "node_types=trace,entity&max_depth=2": GraphFilter(
            node_types=("trace", "entity"), max_depth=2
        ),
        "max_depth=3&max_nodes=3": GraphFilter(max_depth=3, max_nodes=3),
        "max_depth=3&max_edges=2": GraphFilter(max_depth=3, max_edges=2),
        "max_depth=0": GraphFilter(max_depth=0),
    }
    for query, bounds in cases.items():
        graph = data_of(read(api, CONTEXT, f"{center}&{query}"))
        assert graph == _library(api, NodeRef("entity", "account:acc-1"), bounds), query

    typed = data_of(read(api, CONTEXT, f"{center}&edge_types=action_targets_entity"))
    assert {e["edge_type"] for e in typed["edges"]} == {"action_targets_entity"}
    narrowed = data_of(read(api, CONTEXT, f"{center}&node_types=trace,entity&max_depth=2"))
    assert {n["node_type"] for n in narrowed["nodes"]} == {"trace", "entity"}
    small = data_of(read(api, CONTEXT, f"{center}&max_depth=3&max_nodes=3"))
    assert small["truncated"] is True
    assert len(small["nodes"]) == 3
    few = data_of(read(api, CONTEXT, f"{center}&max_depth=3&max_edges=2"))
    assert few["truncated"] is True
    assert len(few["edges"]) == 2
    alone = data_of(read(api, CONTEXT, f"{center}&max_depth=0"))
    assert [n["node_id"] for n in alone["nodes"]] == ["entity:account:acc-1"]
    assert alone["edges"] == []
    assert alone["truncated"] is False


def test_unknown_centers_and_other_tenants_give_an_empty_graph(api: ApiHarness) -> None:
    seed(api, [_rich("r1")], tenant=OTHER_TENANT)
    seed(api, [TraceSpec("mine", [])])
    for query in ("node_type=trace&node_id=r1", "node_type=entity&node_id=nope"):
        graph = data_of(read(api, CONTEXT, query))
        assert (graph["nodes"], graph["edges"], graph["truncated"]) == ([], [], False), query
        page = data_of(read(api, EDGES, query))
        assert page == {"items": [], "next_cursor": None}


def test_context_parameters_are_validated(api: ApiHarness) -> None:
    center = "node_type=trace&node_id=x"
    for query, path in {
        "node_id=x": "node_type",
        "node_type=trace": "node_id",
        "node_type=trace&node_id=": "node_id",
        "node_type=planet&node_id=x": "node_type",
        "node_type=trace&node_type=entity&node_id=x": "node_type",
        f"{center}&edge_types=likes": "edge_types",
        f"{center}&edge_types=action_targets_entity,,trace_involves_entity": "edge_types",
        f"{center}&node_types=planet": "node_types",
        f"{center}&max_depth=11": "max_depth",
        f"{center}&max_depth=-1": "max_depth",
        f"{center}&max_nodes=0": "max_nodes",
        f"{center}&max_nodes=10001": "max_nodes",
        f"{center}&max_edges=0": "max_edges",
        f"{center}&max_edges=10001": "max_edges",
        f"{center}&direction=both": "direction",
    }.items():
        assert_query_error(read(api, CONTEXT, query), path)
    limits = f"{center}&max_depth=10&max_nodes=10000&max_edges=10000"
    assert data_of(read(api, CONTEXT, limits))["nodes"] == []


def _pages(api: ApiHarness, query: str, limits: tuple[int, ...]) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    for limit in limits:
        suffix = f"&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = data_of(read(api, EDGES, query + suffix))
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError(f"more pages than {limits}")


def test_edges_page_in_log_order_without_gaps_or_duplicates(api: ApiHarness) -> None:
    seed(api, [_rich(f"r{i}") for i in range(4)])
    node = NodeRef("action", "act-1")
    for direction in ("both", "incoming", "outgoing"):
        expected = list_node_edges(api.store, TENANT, node, direction, limit=1000).edges
        query = f"node_type=action&node_id=act-1&direction={direction}"
        pages = _pages(api, query, (5, 3, 5, 5))
        flat = [edge for page in pages for edge in page]
        assert flat == [e.to_dict() for e in expected], direction
        keys = [(e["log_seq"], e["edge_id"]) for e in flat]
        assert keys == sorted(set(keys))
        assert len(pages[0]) == min(5, len(expected))
    outgoing = data_of(read(api, EDGES, "node_type=action&node_id=act-1&direction=outgoing"))
    assert {e["from_node_id"] for e in outgoing["items"]} == {"action:act-1"}
    assert len(outgoing["items"]) == 4
    incoming = data_of(read(api, EDGES, "node_type=action&node_id=act-1&direction=incoming"))
    assert {e["to_node_id"] for e in incoming["items"]} == {"action:act-1"}
    assert len(incoming["items"]) == 8
    both = read(api, EDGES, "node_type=action&node_id=act-1")  # direction defaults to both
    assert len(data_of(both)["items"]) == 12
    assert both.headers[PROJECTION_HEADER] == str(api.store.get_last_log_seq(TENANT))


def test_edge_cursors_are_bound_to_tenant_node_and_direction(api: ApiHarness) -> None:
    seed(api, [_rich("r1"), _rich("r2")])
    seed(api, [_rich("r1"), _rich("r2")], tenant=OTHER_TENANT)
    api.add_key("both", "reader", [TENANT, OTHER_TENANT])
    action = "node_type=action&node_id=act-1"
    cursor = data_of(read(api, EDGES, f"{action}&limit=2"))["next_cursor"]
    assert cursor
    follow = data_of(read(api, EDGES, f"{action}&limit=10&cursor={cursor}"))
    assert len(follow["items"]) == 4
    assert follow["next_cursor"] is None

    middle = len(cursor) // 2
    garbled = cursor[:middle] + ("A" if cursor[middle] != "A" else "B") + cursor[middle + 1 :]
    for query in (
        f"{action}&cursor={garbled}",
        f"{action}&cursor={cursor}x",
        f"{action}&direction=incoming&cursor={cursor}",
        f"node_type=exception&node_id=exc-1&cursor={cursor}",
        f"node_type=action&node_id=act-2&cursor={cursor}",
    ):
        assert_query_error(read(api, EDGES, query), "cursor")
    assert_query_error(
        read(api, EDGES, f"{action}&cursor={cursor}", role="both", tenant=OTHER_TENANT), "cursor"
    )
    same = read(api, EDGES, f"{action}&cursor={cursor}", role="both", tenant=TENANT)
    assert data_of(same) == follow


def test_edge_parameters_are_validated(api: ApiHarness) -> None:
    node = "node_type=entity&node_id=e"
    for query, path in {
        "node_id=e": "node_type",
        "node_type=entity": "node_id",
        "node_type=planet&node_id=e": "node_type",
        f"{node}&direction=sideways": "direction",
        f"{node}&limit=0": "limit",
        f"{node}&limit=1001": "limit",
        f"{node}&max_depth=1": "max_depth",
        f"{node}&consistency=eventual&wait_ms=5": "wait_ms",
    }.items():
        assert_query_error(read(api, EDGES, query), path)
