"""Context-graph reads (projection ``context_graph``): the bounded breadth-first search
and paged edge lists of spec 6.7 (with the truncation rule of 14.2; HTTP_API 2.9, 2.10).

Ids compare in code-point order: the SQL orders by ``edge_id`` only to cut what it
returns, and every final ordering is done again in Python (``str`` order is code-point
order, whatever the database collation).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from decisiongraph.errors import InvalidArgument
from decisiongraph.projections.engine import CONTEXT_GRAPH
from decisiongraph.projections.graph import EDGE_TYPES, NODE_TYPES
from decisiongraph.query.consistency import ProjectionState, ReadOptions, projected_read
from decisiongraph.query.cursors import CursorCodec
from decisiongraph.query.models import (
    EDGE_DIRECTIONS,
    ContextSubgraph,
    Edge,
    EdgePage,
    GraphEdgeCursor,
    GraphEdgePage,
    Node,
    NodeRef,
)
from decisiongraph.store.base import SqlEventStore

__all__ = [
    "MAX_GRAPH_BOUND",
    "MAX_GRAPH_DEPTH",
    "GraphFilter",
    "decode_edge_cursor",
    "encode_edge_cursor",
    "get_context_subgraph",
    "list_node_edges",
    "list_node_edges_page",
    "require_node_type",
]

MAX_GRAPH_DEPTH = 10
#: Upper bound of ``max_nodes``, ``max_edges`` and page limits over HTTP (HTTP_API 2.9).
MAX_GRAPH_BOUND = 10_000
_EDGES_ROUTE = "graph/edges"
_SQLITE_CHUNK = 500
_SQLITE_GROUP = 200
#: The BFS reads each depth's edges in chunks that double up to 1024 rows. The first
#: chunk is sized to what the bounds usually let the search use at that depth (at least
#: 16 rows): the edges already visited, which come back, plus one edge per node still
#: allowed.
_MIN_CHUNK = 16
_MAX_CHUNK = 1024

_NODE_COLUMNS = "node_id, node_type, trace_id, log_seq, created_at, metadata_json"
_EDGE_COLUMNS = (
    "edge_id, edge_type, from_node_id, to_node_id, trace_id, log_seq, created_at, metadata_json"
)


def _attrs(text: str) -> dict[str, Any]:
    if text == "{}":
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def _node(row: Sequence[Any]) -> Node:
    return Node(row[0], row[1], row[2], int(row[3]), row[4], _attrs(row[5]))


def _edge(row: Sequence[Any]) -> Edge:
    return Edge(row[0], row[1], row[2], row[3], row[4], int(row[5]), row[6], _attrs(row[7]))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def require_node_type(node_type: str) -> str:
    """``node_type`` if it is one of the seven node types, else InvalidArgument (the HTTP
    routes accept known types only; the library lets unknown ones find nothing)."""
    if node_type not in NODE_TYPES:
        raise InvalidArgument(
            f"Unknown node_type {node_type!r}; use one of {', '.join(NODE_TYPES)}"
        )
    return node_type


def _type_tuple(name: str, values: Iterable[str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise InvalidArgument(f"{name} must be a list of strings, not a string")
    result = tuple(dict.fromkeys(values))
    if not result:
        raise InvalidArgument(f"{name} must not be empty when given")
    if not all(isinstance(v, str) for v in result):
        raise InvalidArgument(f"{name} must hold strings")
    return result


@dataclass(frozen=True, slots=True)
class GraphFilter:
    """Bounds and filters of the context subgraph (spec 6.7).

    ``edge_types`` restricts the edges followed; ``node_types`` restricts the endpoints
    added (edges to other node types stay in the result).
    """

    edge_types: tuple[str, ...] | None = None
    node_types: tuple[str, ...] | None = None
    max_depth: int = 1
    max_nodes: int = 100
    max_edges: int = 500

    def __post_init__(self) -> None:
        object.__setattr__(self, "edge_types", _type_tuple("edge_types", self.edge_types))
        object.__setattr__(self, "node_types", _type_tuple("node_types", self.node_types))
        if not _is_int(self.max_depth) or not 0 <= self.max_depth <= MAX_GRAPH_DEPTH:
            raise InvalidArgument(
                f"max_depth must be between 0 and {MAX_GRAPH_DEPTH}, got {self.max_depth!r}"
            )
        if not _is_int(self.max_nodes) or self.max_nodes <= 0:
            raise InvalidArgument(f"max_nodes must be > 0, got {self.max_nodes!r}")
        if not _is_int(self.max_edges) or self.max_edges <= 0:
            raise InvalidArgument(f"max_edges must be > 0, got {self.max_edges!r}")

    def check_service_limits(self) -> GraphFilter:
        """Also enforce the HTTP contract (2.9): known types only, bounds up to 10000."""
        for name, values, known in (
            ("edge_types", self.edge_types, EDGE_TYPES),
            ("node_types", self.node_types, NODE_TYPES),
        ):
            unknown = [v for v in values or () if v not in known]
            if unknown:
                raise InvalidArgument(
                    f"Unknown {name}: {', '.join(unknown)}; use any of {', '.join(known)}"
                )
        for name in ("max_nodes", "max_edges"):
            if getattr(self, name) > MAX_GRAPH_BOUND:
                raise InvalidArgument(f"{name} must be between 1 and {MAX_GRAPH_BOUND}")
        return self


# ------------------------------------------------------------------ subgraph


def _edge_id_chunk(
    state: ProjectionState,
    version: int,
    frontier: Sequence[str],
    edge_types: tuple[str, ...] | None,
    after: str | None,
    size: int,
) -> list[str]:
    """The first ``size`` ids, in edge_id order, of the edges with an endpoint in
    ``frontier`` and an id above ``after`` (an edge joining two frontier nodes may come
    twice). Each node's ids come from its (node, edge_id) index, cut at ``size``: a node
    with many edges costs a bounded index range, never a sort of all its edges, and no
    table row is read for the ids the cut drops."""
    sql, tenant_id = state.sql, state.tenant_id
    after_clause = " AND e.edge_id > %s" if after is not None else ""
    after_params: list[Any] = [] if after is None else [after]
    if sql.dialect == "postgres":
        type_clause = ' AND e.edge_type = ANY(%s::text[] COLLATE "C")' if edge_types else ""
        type_params: list[Any] = [list(edge_types)] if edge_types else []
        branches = []
        params: list[Any] = []
        for column in ("from_node_id", "to_node_id"):
            branches.append(
                "SELECT x.edge_id FROM unnest(%s::text[]) AS f(id) CROSS JOIN LATERAL ("
                "SELECT e.edge_id FROM dg_cg_edges e WHERE e.tenant_id = %s "
                f'AND e.version = %s AND e.{column} = f.id COLLATE "C"{type_clause}'
                f"{after_clause} ORDER BY e.edge_id LIMIT %s) x"
            )
            params += [list(frontier), tenant_id, version, *type_params, *after_params, size]
        rows = sql.all(
            f"SELECT edge_id FROM ({' UNION ALL '.join(branches)}) u ORDER BY edge_id LIMIT %s",
            (*params, size),
        )
    else:
        type_clause = ""
        type_params = []
        if edge_types:
            type_clause = f" AND e.edge_type IN ({', '.join('?' for _ in edge_types)})"
            type_params = list(edge_types)
        member = (
            "SELECT * FROM (SELECT e.edge_id FROM dg_cg_edges e WHERE e.tenant_id = ? "
            "AND e.version = ? AND e.{column} = ?"
            f"{type_clause}{after_clause.replace('%s', '?')} ORDER BY e.edge_id LIMIT ?)"
        )
        rows = []
        # One compound statement per group of nodes (SQLite allows 500 compound terms).
        for start in range(0, len(frontier), _SQLITE_GROUP):
            group = frontier[start : start + _SQLITE_GROUP]
            members: list[str] = []
            params = []
            for column in ("from_node_id", "to_node_id"):
                for node_id in group:
                    members.append(member.format(column=column))
                    params += [tenant_id, version, node_id, *type_params, *after_params, size]
            rows += sql.conn.execute(
                f"{' UNION ALL '.join(members)} ORDER BY 1 LIMIT ?", (*params, size)
            ).fetchall()
    ids = sorted(row[0] for row in rows)  # code-point order, whatever the collation
    return ids[:size]


def _read_edges(state: ProjectionState, version: int, edge_ids: Sequence[str]) -> list[Edge]:
    """The edge rows of ``edge_ids`` (in no particular order)."""
    sql, tenant_id = state.sql, state.tenant_id
    if sql.dialect == "postgres":
        rows = sql.all(
            f"SELECT {_EDGE_COLUMNS} FROM dg_cg_edges WHERE tenant_id = %s AND version = %s "
            'AND edge_id = ANY(%s::text[] COLLATE "C")',
            (tenant_id, version, list(edge_ids)),
        )
    else:
        rows = []
        for start in range(0, len(edge_ids), _SQLITE_CHUNK):
            chunk = edge_ids[start : start + _SQLITE_CHUNK]
            rows += sql.conn.execute(
                f"SELECT {_EDGE_COLUMNS} FROM dg_cg_edges WHERE tenant_id = ? AND version = ? "
                f"AND edge_id IN ({', '.join('?' for _ in chunk)})",
                (tenant_id, version, *chunk),
            ).fetchall()
    return [_edge(row) for row in rows]


def _edges_touching(
    state: ProjectionState,
    version: int,
    frontier: Sequence[str],
    edge_types: tuple[str, ...] | None,
    first_chunk: int,
) -> Iterator[Edge]:
    """The edges with an endpoint in ``frontier``, each once, in edge_id order, read
    lazily in growing chunks: the search usually stops (a bound) long before the end."""
    after: str | None = None
    size = max(_MIN_CHUNK, min(first_chunk, _MAX_CHUNK))
    while True:
        ids = _edge_id_chunk(state, version, frontier, edge_types, after, size)
        unique = list(dict.fromkeys(ids))
        edges = {e.edge_id: e for e in _read_edges(state, version, unique)}
        for edge_id in unique:
            yield edges[edge_id]
        if len(ids) < size:
            return
        after = ids[-1]
        size = min(size * 2, _MAX_CHUNK)


def _read_nodes(state: ProjectionState, version: int, node_ids: Sequence[str]) -> list[Node]:
    sql, tenant_id = state.sql, state.tenant_id
    rows: list[tuple[Any, ...]] = []
    if sql.dialect == "postgres":
        rows = sql.all(
            f"SELECT {_NODE_COLUMNS} FROM dg_cg_nodes WHERE tenant_id = %s AND version = %s "
            'AND node_id = ANY(%s::text[] COLLATE "C")',
            (tenant_id, version, list(node_ids)),
        )
    else:
        for start in range(0, len(node_ids), _SQLITE_CHUNK):
            chunk = node_ids[start : start + _SQLITE_CHUNK]
            rows += sql.conn.execute(
                f"SELECT {_NODE_COLUMNS} FROM dg_cg_nodes WHERE tenant_id = ? AND version = ? "
                f"AND node_id IN ({', '.join('?' for _ in chunk)})",
                (tenant_id, version, *chunk),
            ).fetchall()
    return sorted(map(_node, rows), key=lambda n: n.node_id)


def _node_type_of(node_id: str) -> str:
    node_type, sep, _ = node_id.partition(":")
    return node_type if sep else "unknown"


def _bfs(state: ProjectionState, center: NodeRef, bounds: GraphFilter) -> ContextSubgraph:
    version = state.version(CONTEXT_GRAPH)
    center_key = center.node_key
    visited_nodes: dict[str, None] = {center_key: None}
    visited_edges: dict[str, Edge] = {}
    frontier = [center_key]
    truncated = False
    depth = 0
    node_types = bounds.node_types
    while frontier and not truncated and depth < bounds.max_depth:
        first_chunk = min(
            bounds.max_edges + 1,
            len(visited_edges) + bounds.max_nodes - len(visited_nodes) + 1,
        )
        candidates = _edges_touching(state, version, frontier, bounds.edge_types, first_chunk)
        next_frontier: list[str] = []
        for edge in candidates:
            if edge.edge_id in visited_edges:
                continue
            if len(visited_edges) >= bounds.max_edges:
                truncated = True
                break
            visited_edges[edge.edge_id] = edge
            for endpoint in (edge.from_node_id, edge.to_node_id):
                if endpoint in visited_nodes:
                    continue
                if node_types is not None and _node_type_of(endpoint) not in node_types:
                    continue
                if len(visited_nodes) >= bounds.max_nodes:
                    truncated = True
                    break
                visited_nodes[endpoint] = None
                next_frontier.append(endpoint)
            if truncated:
                break
        frontier = next_frontier
        depth += 1
    nodes = _read_nodes(state, version, list(visited_nodes))
    edges = [visited_edges[k] for k in sorted(visited_edges)]
    return ContextSubgraph(center, nodes, edges, truncated, state.projection_log_seq)


def get_context_subgraph(
    store: SqlEventStore,
    tenant_id: str,
    center: NodeRef,
    max_depth: int = 1,
    filter_opts: GraphFilter | None = None,
    *,
    options: ReadOptions | None = None,
) -> ContextSubgraph:
    """The bounded BFS around ``center`` (spec 6.7, 14.2). Without a filter,
    ``GraphFilter(max_depth=max_depth)``; with one, its ``max_depth`` is replaced only if
    the argument differs from 1. An unknown center gives an empty subgraph."""
    if filter_opts is None:
        bounds = GraphFilter(max_depth=max_depth)
    elif max_depth != 1:
        bounds = dataclasses.replace(filter_opts, max_depth=max_depth)
    else:
        bounds = filter_opts
    return projected_read(
        store, tenant_id, (CONTEXT_GRAPH,), options, lambda state: _bfs(state, center, bounds)
    )


# ----------------------------------------------------------------- edge pages


def _check_direction(direction: str) -> None:
    if direction not in EDGE_DIRECTIONS:
        raise InvalidArgument(
            f"direction must be one of {', '.join(EDGE_DIRECTIONS)}, got {direction!r}"
        )


def _edge_page(
    state: ProjectionState,
    node_key: str,
    direction: str,
    cursor: GraphEdgeCursor | None,
    limit: int,
) -> GraphEdgePage:
    sql, tenant_id = state.sql, state.tenant_id
    version = state.version(CONTEXT_GRAPH)
    after: tuple[int, str] | None = None
    if cursor is not None:
        log_seq = cursor.log_seq
        if log_seq is None:
            row = sql.one(
                "SELECT log_seq FROM dg_cg_edges "
                "WHERE tenant_id = %s AND version = %s AND edge_id = %s",
                (tenant_id, version, cursor.edge_key),
            )
            if row is None:
                raise InvalidArgument("cursor.edge_key not found")
            log_seq = int(row[0])
        after = (log_seq, cursor.edge_key)
    columns = {"outgoing": ("from_node_id",), "incoming": ("to_node_id",)}.get(
        direction, ("from_node_id", "to_node_id")
    )
    branches: list[str] = []
    params: list[Any] = []
    for alias, column in enumerate(columns):
        keyset = " AND (log_seq, edge_id) > (%s, %s)" if after else ""
        branches.append(
            f"SELECT * FROM (SELECT {_EDGE_COLUMNS} FROM dg_cg_edges WHERE tenant_id = %s "
            f"AND version = %s AND {column} = %s{keyset} ORDER BY log_seq, edge_id LIMIT %s) "
            f"AS page{alias}"
        )
        params += [tenant_id, version, node_key, *(after or ()), limit + 1]
    rows = sql.all(" UNION ALL ".join(branches), params)
    unique = {row[0]: _edge(row) for row in rows}
    edges = sorted(unique.values(), key=lambda e: (e.log_seq, e.edge_id))
    next_cursor = None
    if len(edges) > limit:
        edges = edges[:limit]
        next_cursor = GraphEdgeCursor(edges[-1].edge_id, direction, edges[-1].log_seq)
    return GraphEdgePage(edges, next_cursor, state.projection_log_seq)


def list_node_edges(
    store: SqlEventStore,
    tenant_id: str,
    node: NodeRef,
    direction: str = "both",
    cursor: GraphEdgeCursor | None = None,
    limit: int = 100,
    *,
    options: ReadOptions | None = None,
) -> GraphEdgePage:
    """The node's edges in ``log_seq, edge_id`` order, a page at a time (spec 6.7).

    ``direction``: ``outgoing`` (from the node), ``incoming`` (to it) or ``both``. A
    cursor of another direction, a cursor edge that does not exist (when its log_seq is
    not given), or ``limit <= 0`` is INVALID_ARGUMENT.
    """
    _check_direction(direction)
    if not _is_int(limit) or limit <= 0:
        raise InvalidArgument(f"limit must be > 0, got {limit!r}")
    if cursor is not None and cursor.direction != direction:
        raise InvalidArgument(
            f"cursor.direction {cursor.direction!r} does not match direction {direction!r}"
        )
    return projected_read(
        store,
        tenant_id,
        (CONTEXT_GRAPH,),
        options,
        lambda state: _edge_page(state, node.node_key, direction, cursor, limit),
    )


def _edge_binding(tenant_id: str, node: NodeRef) -> dict[str, Any]:
    return {"tenant": tenant_id, "node": [node.node_type, node.node_id]}


def encode_edge_cursor(
    codec: CursorCodec, tenant_id: str, node: NodeRef, cursor: GraphEdgeCursor
) -> str:
    """The opaque form of ``cursor`` (edge key, log_seq, direction), bound to the tenant
    and the node (HTTP_API 2.10)."""
    position = {"d": cursor.direction, "e": cursor.edge_key, "s": cursor.log_seq}
    return codec.encode(_EDGES_ROUTE, _edge_binding(tenant_id, node), position)


def decode_edge_cursor(
    codec: CursorCodec, tenant_id: str, node: NodeRef, token: str
) -> GraphEdgeCursor:
    """The cursor of an opaque token; INVALID_ARGUMENT if it was altered or belongs to
    another tenant or node."""
    position = codec.decode(_EDGES_ROUTE, _edge_binding(tenant_id, node), token)
    return GraphEdgeCursor(position.get("e"), position.get("d"), position.get("s"))  # type: ignore[arg-type]


def list_node_edges_page(
    store: SqlEventStore,
    tenant_id: str,
    node: NodeRef,
    *,
    codec: CursorCodec,
    direction: str = "both",
    cursor: str | None = None,
    limit: int = 100,
    options: ReadOptions | None = None,
) -> EdgePage:
    """``GET /graph/edges``: :func:`list_node_edges` with opaque cursors (limit 1..1000)."""
    if not _is_int(limit) or not 1 <= limit <= 1000:
        raise InvalidArgument(f"limit must be between 1 and 1000, got {limit!r}")
    _check_direction(direction)
    decoded = None if cursor is None else decode_edge_cursor(codec, tenant_id, node, cursor)
    page = list_node_edges(store, tenant_id, node, direction, decoded, limit, options=options)
    token = (
        None
        if page.next_cursor is None
        else encode_edge_cursor(codec, tenant_id, node, page.next_cursor)
    )
    return EdgePage(page.edges, token, page.projection_log_seq)
