"""Context-graph reads: ``GET /api/v1/graph/context`` (2.9) and
``GET /api/v1/graph/edges`` (2.10), both projection-backed (``context_graph``).

Only known node and edge types are accepted (400 otherwise), bounds are those of the
contract, and an unknown center is an empty 200. Edge-page cursors are opaque, bound
to the tenant and the node, and carry the direction they were issued for: a cursor
replayed with another tenant, node or direction, or edited, is 400 on ``cursor``.
"""

from __future__ import annotations

from decisiongraph.api.consistency import CONSISTENCY_PARAMS, projected_result, read_options
from decisiongraph.api.models.reads import ContextSubgraphOut, EdgePageOut
from decisiongraph.api.operations import Call, Operation, Result
from decisiongraph.api.params import Param, query_error
from decisiongraph.projections.graph import EDGE_TYPES, NODE_TYPES
from decisiongraph.query import (
    MAX_GRAPH_DEPTH,
    GraphFilter,
    NodeRef,
    decode_edge_cursor,
    get_context_subgraph,
    list_node_edges_page,
)
from decisiongraph.query.graph import MAX_GRAPH_BOUND
from decisiongraph.query.models import EDGE_DIRECTIONS
from decisiongraph.query.traces import MAX_PAGE_LIMIT

__all__ = ["OPERATIONS"]

_NODE_PARAMS = (
    Param(
        "node_type",
        required=True,
        choices=NODE_TYPES,
        description="Type of the center node.",
    ),
    Param(
        "node_id",
        required=True,
        description="Id without the type prefix; the node key is `<node_type>:<node_id>`.",
        example="opportunity:sf:opp:789",
    ),
)


def _node(call: Call) -> NodeRef:
    return NodeRef(call.params["node_type"], call.params["node_id"])


def context_subgraph(call: Call) -> Result:
    """The reference bounded BFS from the center node; nodes by node_id, edges by
    edge_id, ``truncated`` when a bound stopped the search."""
    params = call.params
    bounds = GraphFilter(
        edge_types=params["edge_types"],
        node_types=params["node_types"],
        max_depth=params["max_depth"],
        max_nodes=params["max_nodes"],
        max_edges=params["max_edges"],
    ).check_service_limits()
    subgraph = get_context_subgraph(
        call.state.store,
        call.tenant,
        _node(call),
        bounds.max_depth,
        bounds,
        options=read_options(call),
    )
    return projected_result(subgraph.to_dict(), subgraph)


def node_edges(call: Call) -> Result:
    """A page of the node's edges in ``log_seq, edge_id`` order."""
    params = call.params
    node, direction, cursor = _node(call), params["direction"], params["cursor"]
    codec = call.state.cursors
    if cursor is not None:
        # Checked here so a cursor of another direction is a cursor error (400 on
        # ``cursor``), like one of another node or tenant.
        issued = decode_edge_cursor(codec, call.tenant, node, cursor).direction
        if issued != direction:
            raise query_error("cursor", f"was issued for direction={issued}, not {direction}")
    page = list_node_edges_page(
        call.state.store,
        call.tenant,
        node,
        codec=codec,
        direction=direction,
        cursor=cursor,
        limit=params["limit"],
        options=read_options(call),
    )
    return projected_result(page.to_dict(), page)


OPERATIONS = [
    Operation(
        operation_id="getContextSubgraph",
        method="GET",
        path="/api/v1/graph/context",
        summary="Bounded context subgraph around a node",
        handler=context_subgraph,
        permission="graph:read",
        rate_scope="read",
        params=(
            *_NODE_PARAMS,
            Param("edge_types", kind="list", choices=EDGE_TYPES, description="Edges followed."),
            Param(
                "node_types",
                kind="list",
                choices=NODE_TYPES,
                description="Endpoints added (edges to other node types stay).",
            ),
            Param(
                "max_depth",
                kind="int",
                default=1,
                minimum=0,
                maximum=MAX_GRAPH_DEPTH,
                description="Hops from the center.",
            ),
            Param(
                "max_nodes",
                kind="int",
                default=100,
                minimum=1,
                maximum=MAX_GRAPH_BOUND,
                description="Nodes at most (the center included); reaching it truncates.",
            ),
            Param(
                "max_edges",
                kind="int",
                default=500,
                minimum=1,
                maximum=MAX_GRAPH_BOUND,
                description="Edges at most; reaching it truncates.",
            ),
            *CONSISTENCY_PARAMS,
        ),
        success_model=ContextSubgraphOut,
        error_statuses=(409,),
        projection_backed=True,
        ordering="nodes by node_id, edges by edge_id (code points)",
        description=(
            "Projection-backed (`context_graph`): the reference breadth-first search from "
            "the center node. An unknown center gives empty `nodes` and `edges`."
        ),
    ),
    Operation(
        operation_id="listNodeEdges",
        method="GET",
        path="/api/v1/graph/edges",
        summary="Edges of one node, paged",
        handler=node_edges,
        permission="graph:read",
        rate_scope="read",
        params=(
            *_NODE_PARAMS,
            Param(
                "direction",
                default="both",
                choices=EDGE_DIRECTIONS,
                description="`outgoing`: from the node; `incoming`: to it; `both`.",
            ),
            Param("cursor", description="The `next_cursor` of the previous page (opaque)."),
            Param(
                "limit",
                kind="int",
                default=100,
                minimum=1,
                maximum=MAX_PAGE_LIMIT,
                description="Page size.",
            ),
            *CONSISTENCY_PARAMS,
        ),
        success_model=EdgePageOut,
        error_statuses=(409,),
        projection_backed=True,
        ordering="log_seq ascending, then edge_id ascending",
        description=(
            "Projection-backed (`context_graph`). The opaque cursor encodes the last "
            "edge and the direction and is bound to the tenant and the node."
        ),
    ),
]
