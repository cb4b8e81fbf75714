"""SQL of the projection tables, for both dialects (SQLite and PostgreSQL).

Every function takes a driver connection already inside a transaction (from
``store.transaction()`` or ``store.read_snapshot()``) and never commits. Statements are
written once with ``%s`` placeholders; SQLite gets them as ``?``. Bulk inserts use
``executemany`` on SQLite (in-process, cheap per row) and one ``INSERT ... SELECT FROM
unnest(...)`` statement per table on PostgreSQL (one round trip per table and batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from decisiongraph.domain.clock import now_rfc3339
from decisiongraph.projections.engine import (
    Failure,
    GraphChanges,
    PrecedentChanges,
    SummaryChanges,
)
from decisiongraph.projections.graph import EdgeRow, NodeRow
from decisiongraph.projections.precedents import PrecedentRow
from decisiongraph.projections.summary import SummaryRow

__all__ = [
    "Meta",
    "Sql",
    "delete_version",
    "ensure_meta",
    "lock_meta",
    "read_meta",
    "write_graph",
    "write_precedents",
    "write_summary",
]


class Sql:
    """A connection plus its dialect: placeholder translation and bulk inserts."""

    def __init__(self, conn: Any, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    def _q(self, sql: str) -> str:
        return sql.replace("%s", "?") if self.dialect == "sqlite" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(self._q(sql), params)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.execute(sql, params).fetchall())

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        row = self.execute(sql, params).fetchone()
        return None if row is None else tuple(row)

    def insert_many(
        self,
        table: str,
        columns: Sequence[str],
        types: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        on_conflict: str = "DO NOTHING",
    ) -> None:
        """Insert ``rows`` (each in ``columns`` order); ``types`` are PostgreSQL types."""
        if not rows:
            return
        names = ", ".join(columns)
        if self.dialect == "sqlite":
            marks = ", ".join("?" for _ in columns)
            self.conn.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT {on_conflict}",
                rows,
            )
            return
        arrays = [list(column) for column in zip(*rows, strict=True)]
        casts = ", ".join(f"%s::{t}[]" for t in types)
        self.conn.execute(
            f"INSERT INTO {table} ({names}) SELECT * FROM unnest({casts}) "
            f"ON CONFLICT {on_conflict}",
            arrays,
        )


@dataclass(frozen=True, slots=True)
class Meta:
    """A ``dg_projection_meta`` row: the live version and cursor of one projection, and
    the version being rebuilt beside it (if any)."""

    tenant_id: str
    projection: str
    live_version: int
    cursor: int
    updated_at: str
    build_version: int | None
    build_cursor: int | None
    build_run_id: str | None
    status: str


_META_COLUMNS = (
    "tenant_id, projection_name, live_version, last_processed_log_seq, updated_at, "
    "build_version, build_log_seq, build_run_id, status"
)


def ensure_meta(sql: Sql, tenant_id: str, projections: Sequence[str]) -> bool:
    """Create missing meta rows (version 1, cursor 0); True if any was created."""
    now = now_rfc3339()
    created = False
    for projection in projections:
        cursor = sql.execute(
            "INSERT INTO dg_projection_meta (tenant_id, projection_name, updated_at) "
            "VALUES (%s, %s, %s) ON CONFLICT (tenant_id, projection_name) DO NOTHING",
            (tenant_id, projection, now),
        )
        created = created or cursor.rowcount > 0
    return created


def read_meta(sql: Sql, tenant_id: str) -> dict[str, Meta]:
    """The tenant's meta rows by projection name."""
    rows = sql.all(
        f"SELECT {_META_COLUMNS} FROM dg_projection_meta WHERE tenant_id = %s", (tenant_id,)
    )
    return {row[1]: Meta(*row) for row in rows}


def lock_meta(sql: Sql, tenant_id: str, projection: str) -> Meta | None:
    """Take the (tenant, projection) lease for this transaction: the meta row, locked;
    None when another worker holds it (PostgreSQL skips locked rows; SQLite's write
    transaction already excludes every other writer)."""
    suffix = " FOR UPDATE SKIP LOCKED" if sql.dialect == "postgres" else ""
    row = sql.one(
        f"SELECT {_META_COLUMNS} FROM dg_projection_meta "
        f"WHERE tenant_id = %s AND projection_name = %s{suffix}",
        (tenant_id, projection),
    )
    return None if row is None else Meta(*row)


def advance(sql: Sql, meta: Meta, version: int, cursor: int) -> None:
    """Move the cursor of ``version`` (live or being built) to ``cursor``.

    ``updated_at`` tells when the live cursor last moved: a build leaves it alone."""
    if version == meta.live_version:
        sql.execute(
            "UPDATE dg_projection_meta SET last_processed_log_seq = %s, updated_at = %s "
            "WHERE tenant_id = %s AND projection_name = %s",
            (cursor, now_rfc3339(), meta.tenant_id, meta.projection),
        )
        return
    sql.execute(
        "UPDATE dg_projection_meta SET build_log_seq = %s "
        "WHERE tenant_id = %s AND projection_name = %s",
        (cursor, meta.tenant_id, meta.projection),
    )


def park_failure(sql: Sql, meta: Meta, failure: Failure) -> None:
    """Record ``failure`` and stop the projection (status ``failed``)."""
    sql.execute(
        "INSERT INTO dg_projection_failures (tenant_id, projection_name, log_seq, event_id,"
        " code, message, at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            meta.tenant_id,
            meta.projection,
            failure.log_seq,
            failure.event_id,
            failure.code,
            failure.message,
            now_rfc3339(),
        ),
    )
    sql.execute(
        "UPDATE dg_projection_meta SET status = 'failed' "
        "WHERE tenant_id = %s AND projection_name = %s",
        (meta.tenant_id, meta.projection),
    )


def resolve_failures(sql: Sql, tenant_id: str, projection: str) -> None:
    """Mark the open failures resolved and the projection ok (after a fix or rebuild)."""
    now = now_rfc3339()
    sql.execute(
        "UPDATE dg_projection_failures SET resolved_at = %s "
        "WHERE tenant_id = %s AND projection_name = %s AND resolved_at IS NULL",
        (now, tenant_id, projection),
    )
    sql.execute(
        "UPDATE dg_projection_meta SET status = 'ok' WHERE tenant_id = %s AND projection_name = %s",
        (tenant_id, projection),
    )


_NODE_COLUMNS = (
    "tenant_id",
    "version",
    "node_id",
    "node_type",
    "trace_id",
    "log_seq",
    "created_at",
)
_NODE_TYPES = ("text", "integer", "text", "text", "text", "bigint", "text")
_EDGE_COLUMNS = (
    "tenant_id",
    "version",
    "edge_id",
    "edge_type",
    "from_node_id",
    "to_node_id",
    "trace_id",
    "log_seq",
    "created_at",
)
_EDGE_TYPES = ("text", "integer", "text", "text", "text", "text", "text", "bigint", "text")


def write_graph(sql: Sql, tenant_id: str, version: int, changes: GraphChanges) -> None:
    """Insert-or-ignore the batch's nodes, then its edges (first writer wins)."""
    sql.insert_many(
        "dg_cg_nodes",
        _NODE_COLUMNS,
        _NODE_TYPES,
        [
            (tenant_id, version, n.node_id, n.node_type, n.trace_id, n.log_seq, n.created_at)
            for n in changes.nodes
        ],
    )
    sql.insert_many(
        "dg_cg_edges",
        _EDGE_COLUMNS,
        _EDGE_TYPES,
        [
            (
                tenant_id,
                version,
                e.edge_id,
                e.edge_type,
                e.from_node_id,
                e.to_node_id,
                e.trace_id,
                e.log_seq,
                e.created_at,
            )
            for e in changes.edges
        ],
    )


_SUMMARY_COLUMNS = (
    "tenant_id",
    "version",
    "trace_id",
    "workflow",
    "title",
    "primary_entity_type",
    "primary_entity_id",
    "outcome",
    "started_at",
    "finished_at",
    "event_count",
    "last_log_seq",
    "started_log_seq",
    "event_total",
)
_SUMMARY_TYPES = (
    "text", "integer", "text", "text", "text", "text", "text", "text", "text", "text",
    "integer", "bigint", "bigint", "bigint",
)  # fmt: skip
_POLICY_COLUMNS = (
    "tenant_id",
    "version",
    "index_id",
    "trace_id",
    "policy_id",
    "policy_version",
    "log_seq",
    "created_at",
)
_POLICY_TYPES = ("text", "integer", "text", "text", "text", "text", "bigint", "text")


def write_summary(sql: Sql, tenant_id: str, version: int, changes: SummaryChanges) -> None:
    """Apply the batch's summary inserts and updates, then its policy-eval rows."""
    sql.insert_many(
        "dg_trace_summary",
        _SUMMARY_COLUMNS,
        _SUMMARY_TYPES,
        [_summary_values(tenant_id, version, r) for r in changes.inserts],
        on_conflict=(
            "(tenant_id, version, trace_id) DO UPDATE SET "
            "event_count = dg_trace_summary.event_count + 1, "
            "last_log_seq = excluded.last_log_seq"
        ),
    )
    for trace_id, outcome, finished_at, log_seq in changes.finishes:
        total = changes.totals.pop(trace_id, 0)
        sql.execute(
            "UPDATE dg_trace_summary SET outcome = %s, finished_at = %s, "
            "event_count = event_count + 1, last_log_seq = %s, event_total = event_total + %s "
            "WHERE tenant_id = %s AND version = %s AND trace_id = %s",
            (outcome, finished_at, log_seq, total, tenant_id, version, trace_id),
        )
    for trace_id, total in changes.totals.items():
        sql.execute(
            "UPDATE dg_trace_summary SET event_total = event_total + %s "
            "WHERE tenant_id = %s AND version = %s AND trace_id = %s",
            (total, tenant_id, version, trace_id),
        )
    sql.insert_many(
        "dg_policy_eval_index",
        _POLICY_COLUMNS,
        _POLICY_TYPES,
        [
            (
                tenant_id,
                version,
                p.index_id,
                p.trace_id,
                p.policy_id,
                p.policy_version,
                p.log_seq,
                p.created_at,
            )
            for p in changes.policy_evals
        ],
    )


def existing_traces(sql: Sql, tenant_id: str, version: int, trace_ids: Sequence[str]) -> set[str]:
    """The given traces that have a summary row in ``version`` (one query)."""
    if sql.dialect == "postgres":
        rows = sql.all(
            "SELECT trace_id FROM dg_trace_summary WHERE tenant_id = %s AND version = %s "
            'AND trace_id = ANY(%s::text[] COLLATE "C")',
            (tenant_id, version, list(trace_ids)),
        )
        return {row[0] for row in rows}
    found: set[str] = set()
    for start in range(0, len(trace_ids), 500):  # SQLite's parameter limit
        chunk = list(trace_ids[start : start + 500])
        marks = ", ".join("%s" for _ in chunk)
        rows = sql.all(
            "SELECT trace_id FROM dg_trace_summary WHERE tenant_id = %s AND version = %s "
            f"AND trace_id IN ({marks})",
            (tenant_id, version, *chunk),
        )
        found.update(row[0] for row in rows)
    return found


def _summary_values(tenant_id: str, version: int, r: SummaryRow) -> tuple[Any, ...]:
    return (
        tenant_id,
        version,
        r.trace_id,
        r.workflow,
        r.title,
        r.primary_entity_type,
        r.primary_entity_id,
        r.outcome,
        r.started_at,
        r.finished_at,
        r.event_count,
        r.last_log_seq,
        r.started_log_seq,
        r.event_total,
    )


_PRECEDENT_COLUMNS = (
    "tenant_id",
    "version",
    "source_event_id",
    "log_seq",
    "trace_id",
    "policy_id",
    "policy_version",
    "exception_id",
    "primary_entity_type",
    "primary_entity_system",
    "primary_entity_id",
)
_PRECEDENT_TYPES = (
    "text", "integer", "text", "bigint", "text", "text", "text", "text", "text", "text", "text",
)  # fmt: skip


def write_precedents(sql: Sql, tenant_id: str, version: int, changes: PrecedentChanges) -> None:
    """Replace the precedent rows of every trace finished in the batch."""
    if not changes.traces:
        return
    if sql.dialect == "postgres":
        sql.execute(
            "DELETE FROM dg_precedent_index WHERE tenant_id = %s AND version = %s "
            'AND trace_id = ANY(%s::text[] COLLATE "C")',
            (tenant_id, version, changes.traces),
        )
    else:
        sql.conn.executemany(
            "DELETE FROM dg_precedent_index WHERE tenant_id = ? AND version = ? AND trace_id = ?",
            [(tenant_id, version, t) for t in changes.traces],
        )
    sql.insert_many(
        "dg_precedent_index",
        _PRECEDENT_COLUMNS,
        _PRECEDENT_TYPES,
        [
            (
                tenant_id,
                version,
                r.source_event_id,
                r.log_seq,
                r.trace_id,
                r.policy_id,
                r.policy_version,
                r.exception_id,
                r.primary_entity_type,
                r.primary_entity_system,
                r.primary_entity_id,
            )
            for r in changes.rows
        ],
    )


_TABLES = {
    "context_graph": ("dg_cg_edges", "dg_cg_nodes"),
    "trace_summary": ("dg_policy_eval_index", "dg_trace_summary"),
    "precedent_index": ("dg_precedent_index",),
}


def delete_version(sql: Sql, tenant_id: str, projection: str, version: int) -> None:
    """Drop every row of one version of a projection (children before parents)."""
    for table in _TABLES[projection]:
        sql.execute(
            f"DELETE FROM {table} WHERE tenant_id = %s AND version = %s", (tenant_id, version)
        )


def read_nodes(sql: Sql, tenant_id: str, version: int) -> list[NodeRow]:
    """Every node row of a version (for digests)."""
    return [
        NodeRow(*row)
        for row in sql.all(
            "SELECT node_id, node_type, trace_id, log_seq, created_at FROM dg_cg_nodes "
            "WHERE tenant_id = %s AND version = %s",
            (tenant_id, version),
        )
    ]


def read_edges(sql: Sql, tenant_id: str, version: int) -> list[EdgeRow]:
    """Every edge row of a version (for digests)."""
    return [
        EdgeRow(*row)
        for row in sql.all(
            "SELECT edge_id, edge_type, from_node_id, to_node_id, trace_id, log_seq, created_at "
            "FROM dg_cg_edges WHERE tenant_id = %s AND version = %s",
            (tenant_id, version),
        )
    ]


def read_summaries(sql: Sql, tenant_id: str, version: int) -> list[SummaryRow]:
    """Every summary row of a version."""
    return [
        SummaryRow(*row)
        for row in sql.all(
            "SELECT trace_id, workflow, title, primary_entity_type, primary_entity_id, outcome,"
            " started_at, finished_at, event_count, last_log_seq, started_log_seq, event_total"
            " FROM dg_trace_summary WHERE tenant_id = %s AND version = %s",
            (tenant_id, version),
        )
    ]


def read_precedents(sql: Sql, tenant_id: str, version: int) -> list[PrecedentRow]:
    """Every precedent row of a version."""
    return [
        PrecedentRow(*row)
        for row in sql.all(
            "SELECT source_event_id, log_seq, trace_id, policy_id, policy_version, exception_id,"
            " primary_entity_type, primary_entity_system, primary_entity_id"
            " FROM dg_precedent_index WHERE tenant_id = %s AND version = %s",
            (tenant_id, version),
        )
    ]
