"""Precedent search over finished traces (spec 6.8 with 14.3; HTTP_API 2.11, 6.4).

Reads the ``trace_summary`` and ``precedent_index`` projections in one snapshot. Hits
are ordered by the trace's ``last_log_seq`` descending, then ``trace_id``; with a
``policy_id`` each trace gives at most one hit, its best precedent-index row: exception
rows first, then ``log_seq`` descending, then ``source_event_id``.

Plan: without a policy the finished-trace index is walked newest first. With a policy,
its index rows are counted first (up to a threshold): a rare policy's rows are ranked
per trace and joined to the summaries in one statement; for a common one the finished
traces are walked newest first with an index probe per trace, which stops as soon as
``limit`` traces matched. Both plans give the same, exact answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from decisiongraph.errors import InvalidArgument
from decisiongraph.projections.engine import PRECEDENT_INDEX, TRACE_SUMMARY
from decisiongraph.query.consistency import ProjectionState, ReadOptions, projected_read
from decisiongraph.query.models import PrecedentHit, PrecedentResult
from decisiongraph.store.base import MAX_QUERY_LIMIT, SqlEventStore

__all__ = ["PrecedentQuery", "find_precedents"]

#: A policy with at most this many index rows is ranked in memory.
_PROBE_ROWS = 1000
_SQLITE_CHUNK = 500

_HIT_COLUMNS = "ts.trace_id, ts.workflow, ts.title, ts.outcome, ts.finished_at, ts.last_log_seq"
#: (trace_id, is-not-exception, log_seq, source_event_id, policy_id, policy_version)
_PI_COLUMNS = (
    "pi.trace_id, pi.exception_id IS NULL, pi.log_seq, pi.source_event_id, pi.policy_id, "
    "pi.policy_version"
)


def _given(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgument(f"{name} must be a string")
    return value or None  # spec 14.3: an empty string is the same as not given


@dataclass(frozen=True, slots=True)
class PrecedentQuery:
    """A validated precedent search (spec 6.8; empty strings mean "not given")."""

    policy_id: str | None = None
    policy_version: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    outcome: str | None = None
    limit: int = 100

    def __post_init__(self) -> None:
        for name in ("policy_id", "policy_version", "entity_type", "entity_id", "outcome"):
            object.__setattr__(self, name, _given(name, getattr(self, name)))
        if self.policy_version is not None and self.policy_id is None:
            raise InvalidArgument("policy_version requires policy_id")
        if self.entity_id is not None and self.entity_type is None:
            raise InvalidArgument("entity_id requires entity_type")
        if (
            not isinstance(self.limit, int)
            or isinstance(self.limit, bool)
            or not 1 <= self.limit <= MAX_QUERY_LIMIT
        ):
            raise InvalidArgument(
                f"limit must be between 1 and {MAX_QUERY_LIMIT}, got {self.limit!r}"
            )


def _base_conditions(query: PrecedentQuery) -> tuple[list[str], list[Any]]:
    conditions = ["ts.tenant_id = %s", "ts.version = %s", "ts.outcome IS NOT NULL"]
    params: list[Any] = []
    for column, value in (
        ("outcome", query.outcome),
        ("primary_entity_type", query.entity_type),
        ("primary_entity_id", query.entity_id),
    ):
        if value is not None:
            conditions.append(f"ts.{column} = %s")
            params.append(value)
    return conditions, params


def _policy_conditions(query: PrecedentQuery) -> tuple[str, list[Any]]:
    text = "pi.tenant_id = %s AND pi.version = %s AND pi.policy_id = %s"
    params: list[Any] = [query.policy_id]
    if query.policy_version is not None:
        text += " AND pi.policy_version = %s"
        params.append(query.policy_version)
    return text, params


def _sort_hits(hits: list[PrecedentHit]) -> list[PrecedentHit]:
    hits.sort(key=lambda h: h.trace_id)
    hits.sort(key=lambda h: h.last_log_seq, reverse=True)
    return hits


#: (policy_id, policy_version, source_event_id) of the precedent row a hit comes from.
_Chosen = tuple[Any, Any, Any]
_NO_POLICY: _Chosen = (None, None, None)


def _best_rows(rows: Sequence[Sequence[Any]]) -> dict[str, _Chosen]:
    """The rank-1 row of each trace among rows of :data:`_PI_COLUMNS`: exception rows
    first, then log_seq descending, then source_event_id ascending."""
    best: dict[str, Sequence[Any]] = {}
    for row in rows:
        current = best.get(row[0])
        if current is None or (bool(row[1]), -row[2], row[3]) < (
            bool(current[1]),
            -current[2],
            current[3],
        ):
            best[row[0]] = row
    return {trace_id: (row[4], row[5], row[3]) for trace_id, row in best.items()}


def _hit(summary: Sequence[Any], chosen: _Chosen = _NO_POLICY) -> PrecedentHit:
    trace_id, workflow, title, outcome, finished_at, last_log_seq = summary
    policy_id, policy_version, source_event_id = chosen
    return PrecedentHit(
        trace_id,
        workflow,
        title,
        outcome,
        policy_id,
        policy_version,
        finished_at,
        int(last_log_seq),
        source_event_id,
    )


def _in_traces(
    state: ProjectionState, sql_text: str, params: list[Any], traces: list[str]
) -> list[tuple[Any, ...]]:
    """Run ``sql_text`` (which ends with a trace-id membership test) for ``traces``."""
    if state.sql.dialect == "postgres":
        return state.sql.all(sql_text + ' = ANY(%s::text[] COLLATE "C")', (*params, traces))
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(traces), _SQLITE_CHUNK):
        chunk = traces[start : start + _SQLITE_CHUNK]
        rows += state.sql.all(
            sql_text + f" IN ({', '.join('%s' for _ in chunk)})", (*params, *chunk)
        )
    return rows


def _without_policy(state: ProjectionState, query: PrecedentQuery) -> list[PrecedentHit]:
    conditions, params = _base_conditions(query)
    # last_log_seq is the TraceFinished log_seq: unique among finished traces, so the
    # order needs no tie-break in SQL (and the walk can use the finished-trace index).
    rows = state.sql.all(
        f"SELECT {_HIT_COLUMNS} FROM dg_trace_summary ts WHERE {' AND '.join(conditions)} "
        "ORDER BY ts.last_log_seq DESC LIMIT %s",
        (state.tenant_id, state.version(TRACE_SUMMARY), *params, query.limit),
    )
    return _sort_hits([_hit(row) for row in rows])


def _with_policy(state: ProjectionState, query: PrecedentQuery) -> list[PrecedentHit]:
    tenant_id = state.tenant_id
    summary_version = state.version(TRACE_SUMMARY)
    index_version = state.version(PRECEDENT_INDEX)
    policy_sql, policy_params = _policy_conditions(query)
    conditions, params = _base_conditions(query)
    probe = state.sql.one(
        f"SELECT COUNT(*) FROM (SELECT 1 FROM dg_precedent_index pi WHERE {policy_sql} "
        "LIMIT %s) probe",
        (tenant_id, index_version, *policy_params, _PROBE_ROWS + 1),
    )
    if probe is not None and int(probe[0]) <= _PROBE_ROWS:
        # A rare policy: rank its rows per trace, join the summaries, cut at limit.
        rows = state.sql.all(
            f"SELECT {_HIT_COLUMNS}, r.policy_id, r.policy_version, r.source_event_id "
            "FROM (SELECT pi.trace_id, pi.policy_id, pi.policy_version, pi.source_event_id, "
            "ROW_NUMBER() OVER (PARTITION BY pi.trace_id ORDER BY pi.exception_id IS NULL, "
            "pi.log_seq DESC, pi.source_event_id) AS rank "
            f"FROM dg_precedent_index pi WHERE {policy_sql}) r "
            "JOIN dg_trace_summary ts ON ts.trace_id = r.trace_id "
            f"WHERE r.rank = 1 AND {' AND '.join(conditions)} "
            "ORDER BY ts.last_log_seq DESC LIMIT %s",
            (
                tenant_id,
                index_version,
                *policy_params,
                tenant_id,
                summary_version,
                *params,
                query.limit,
            ),
        )
        return _sort_hits([_hit(row[:6], (row[6], row[7], row[8])) for row in rows])
    # A common policy: walk the finished traces newest first until limit traces match.
    summaries = state.sql.all(
        f"SELECT {_HIT_COLUMNS} FROM dg_trace_summary ts WHERE {' AND '.join(conditions)} "
        f"AND EXISTS (SELECT 1 FROM dg_precedent_index pi WHERE {policy_sql} "
        "AND pi.trace_id = ts.trace_id) ORDER BY ts.last_log_seq DESC LIMIT %s",
        (
            tenant_id,
            summary_version,
            *params,
            tenant_id,
            index_version,
            *policy_params,
            query.limit,
        ),
    )
    rows = _in_traces(
        state,
        f"SELECT {_PI_COLUMNS} FROM dg_precedent_index pi WHERE {policy_sql} AND pi.trace_id",
        [tenant_id, index_version, *policy_params],
        [row[0] for row in summaries],
    )
    best = _best_rows(rows)
    return _sort_hits([_hit(row, best[row[0]]) for row in summaries])


def find_precedents(
    store: SqlEventStore,
    tenant_id: str,
    query: PrecedentQuery,
    *,
    options: ReadOptions | None = None,
) -> PrecedentResult:
    """Finished traces matching ``query``, ranked (spec 6.8); reads ``trace_summary`` and
    ``precedent_index`` and reports the smaller of their cursors."""

    def read(state: ProjectionState) -> PrecedentResult:
        if query.policy_id is None:
            hits = _without_policy(state, query)
        else:
            hits = _with_policy(state, query)
        return PrecedentResult(hits, state.projection_log_seq)

    return projected_read(store, tenant_id, (TRACE_SUMMARY, PRECEDENT_INDEX), options, read)
