"""The projector: moves a tenant's projections forward through its log.

One step projects up to ``batch_size`` events into every projection of a tenant whose
lease it can take, in ONE transaction per step: the projection rows and each
projection's cursor commit together, so a crash (even SIGKILL) between steps loses
nothing and projects nothing twice. Projections at the same cursor share one read of
the log and one run of the projector checks.

Leases: each (tenant, projection) meta row is locked for the step's transaction
(PostgreSQL ``FOR UPDATE SKIP LOCKED``: a second worker skips it instead of waiting;
SQLite's single writer excludes others anyway). The trace_seq continuity state is read
from the log at every step, so no in-memory state can go stale between leases.

A projection that cannot apply an event parks it (``dg_projection_failures``), stops
at the event before it (status ``failed``) and resumes after a rebuild, or after
:meth:`Projector.retry_failed` once the cause is fixed. Other projections and tenants
keep going.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from decisiongraph.domain.clock import now_rfc3339
from decisiongraph.domain.envelope import StoredEvent
from decisiongraph.domain.ids import generate_id
from decisiongraph.errors import Conflict, DecisionGraphError, InvalidArgument, SchemaViolation
from decisiongraph.projections import tables
from decisiongraph.projections.digests import (
    Digests,
    context_graph_digest,
    precedent_index_digest,
    trace_summary_digest,
)
from decisiongraph.projections.engine import (
    CONTEXT_GRAPH,
    PRECEDENT_INDEX,
    PROJECTION_NAMES,
    TRACE_SUMMARY,
    Failure,
    SummaryChanges,
    check_events,
    plan_graph,
    plan_precedents,
    plan_summary,
)
from decisiongraph.projections.tables import Meta, Sql
from decisiongraph.store.base import SqlEventStore

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "Projector",
    "StepResult",
    "live_digests",
    "projection_digest",
]

DEFAULT_BATCH_SIZE = 1000
_FIRST_ANALYZE = 2_000
_LAST_ANALYZE = 600_000
_log = logging.getLogger(__name__)


@dataclass(slots=True)
class StepResult:
    """What one step did: events applied per projection, and failures parked."""

    applied: dict[str, int] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def progressed(self) -> bool:
        return any(self.applied.values()) or bool(self.failures)


class Projector:
    """Projects the log of ``store`` into the projection tables of the same database."""

    def __init__(self, store: SqlEventStore, *, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if batch_size <= 0:
            raise InvalidArgument(f"batch_size must be > 0, got {batch_size}")
        self.store = store
        self.batch_size = batch_size
        self._applied_since_analyze = 0
        self._next_analyze = _FIRST_ANALYZE

    # ---------------------------------------------------------------- catch-up

    def catch_up(
        self,
        tenant_id: str,
        *,
        projections: Sequence[str] = PROJECTION_NAMES,
        until_log_seq: int | None = None,
    ) -> int:
        """Project until every given projection reached the tail (or ``until_log_seq``),
        failed, or is leased by another worker. Returns the events applied (summed)."""
        total = 0
        while True:
            result = self.step(tenant_id, projections=projections, until_log_seq=until_log_seq)
            total += sum(result.applied.values())
            if not result.progressed:
                return total

    def step(
        self,
        tenant_id: str,
        *,
        projections: Sequence[str] = PROJECTION_NAMES,
        until_log_seq: int | None = None,
        build: bool = False,
    ) -> StepResult:
        """One transaction: up to ``batch_size`` events into each leased projection.

        ``build=True`` advances the versions being rebuilt instead of the live ones.
        """
        result = StepResult()
        with self.store.transaction() as conn:
            sql = Sql(conn, self.store.dialect)
            work: dict[int, list[tuple[Meta, int]]] = {}
            for name in projections:
                meta = tables.lock_meta(sql, tenant_id, name)
                if meta is None and tables.ensure_meta(sql, tenant_id, [name]):
                    meta = tables.lock_meta(sql, tenant_id, name)
                if meta is None:
                    result.skipped.append(name)
                    continue
                if build:
                    if meta.build_version is None or meta.build_cursor is None:
                        continue
                    version, cursor = meta.build_version, meta.build_cursor
                else:
                    if meta.status == "failed":
                        continue
                    version, cursor = meta.live_version, meta.cursor
                work.setdefault(cursor, []).append((meta, version))
            for cursor, targets in work.items():
                self._project_from(sql, tenant_id, cursor, targets, until_log_seq, result)
        self._refresh_statistics(sum(result.applied.values()))
        return result

    def _refresh_statistics(self, applied: int) -> None:
        """ANALYZE the projection tables while they are young and growing (PostgreSQL).

        Foreign-key checks run cached plans; made while a table's statistics still say
        "empty" they probe the wrong index and slow every later batch until autovacuum
        analyzes the table. So the projector analyzes itself after 2,000 events, then at
        every fourfold growth up to about half a million; autovacuum takes over after.
        """
        if self.store.dialect != "postgres" or self._next_analyze > _LAST_ANALYZE:
            return
        self._applied_since_analyze += applied
        if self._applied_since_analyze < self._next_analyze:
            return
        self._next_analyze *= 4
        with self.store.transaction() as conn:
            conn.execute(
                "ANALYZE dg_cg_nodes, dg_cg_edges, dg_trace_summary, dg_policy_eval_index,"
                " dg_precedent_index, dg_projection_meta"
            )

    def _project_from(
        self,
        sql: Sql,
        tenant_id: str,
        cursor: int,
        targets: list[tuple[Meta, int]],
        until_log_seq: int | None,
        result: StepResult,
    ) -> None:
        if until_log_seq is not None and cursor >= until_log_seq:
            return
        events = self.store.list_events(
            tenant_id,
            since_log_seq=cursor,
            until_log_seq=until_log_seq,
            limit=self.batch_size,
        )
        if not events:
            return
        heads = self.store.trace_seq_heads(tenant_id, sorted({e.trace_id for e in events}), cursor)
        valid, check_failure = check_events(events, heads)
        for meta, version in targets:
            covered, failure = self._apply(sql, tenant_id, meta.projection, version, valid)
            failure = failure or check_failure
            applied = valid[:covered]
            if applied:
                tables.advance(sql, meta, version, applied[-1].log_seq)
            result.applied[meta.projection] = len(applied)
            if failure is not None:
                result.failures[meta.projection] = failure
                if version != meta.live_version:
                    # A version being rebuilt: the rebuild raises and discards it; the
                    # live version keeps its state and status.
                    continue
                tables.park_failure(sql, meta, failure)
                _log.warning(
                    "projection %s of tenant %s stopped at log_seq %s: %s: %s",
                    meta.projection,
                    tenant_id,
                    failure.log_seq,
                    failure.code,
                    failure.message,
                )

    def _apply(
        self,
        sql: Sql,
        tenant_id: str,
        projection: str,
        version: int,
        events: list[StoredEvent],
    ) -> tuple[int, Failure | None]:
        """Write one projection's rows for ``events``; (events covered, failure)."""
        if projection == CONTEXT_GRAPH:
            tables.write_graph(sql, tenant_id, version, plan_graph(events))
            return len(events), None
        if projection == TRACE_SUMMARY:
            summary, covered, failure = plan_summary(events)
            orphan = self._first_orphan_policy_eval(sql, tenant_id, version, summary, events)
            if orphan is not None and orphan < covered:
                # Its policy-eval row would reference a summary that does not exist: park
                # it instead of failing the whole step on the foreign key.
                event = events[orphan]
                summary, covered, _ = plan_summary(events[:orphan])
                failure = Failure.of(
                    event,
                    SchemaViolation(
                        f"PolicyEvaluated event {event.event_id} (log_seq {event.log_seq}) "
                        f"belongs to trace {event.trace_id!r}, which has no TraceStarted"
                    ),
                )
            tables.write_summary(sql, tenant_id, version, summary)
            return covered, failure
        if projection == PRECEDENT_INDEX:
            precedents, covered, failure = plan_precedents(
                events, lambda traces: self.store.get_events_of_traces(tenant_id, traces)
            )
            tables.write_precedents(sql, tenant_id, version, precedents)
            return covered, failure
        raise InvalidArgument(f"Unknown projection {projection!r}")

    @staticmethod
    def _first_orphan_policy_eval(
        sql: Sql,
        tenant_id: str,
        version: int,
        summary: SummaryChanges,
        events: list[StoredEvent],
    ) -> int | None:
        """Index of the first PolicyEvaluated event whose trace has no summary row
        (only possible for events written around the store), or None."""
        started_here = {row.trace_id for row in summary.inserts}
        traces = {p.trace_id for p in summary.policy_evals} - started_here
        if not traces:
            return None
        missing = traces - tables.existing_traces(sql, tenant_id, version, sorted(traces))
        if not missing:
            return None
        return next(
            i
            for i, e in enumerate(events)
            if e.event_type == "PolicyEvaluated" and e.trace_id in missing
        )

    def retry_failed(self, tenant_id: str, projections: Sequence[str] = PROJECTION_NAMES) -> None:
        """Clear the failed status so the next step retries the parked event."""
        with self.store.transaction() as conn:
            sql = Sql(conn, self.store.dialect)
            for name in projections:
                tables.resolve_failures(sql, tenant_id, name)

    # ----------------------------------------------------------------- rebuild

    def rebuild(self, tenant_id: str, projections: Sequence[str] = PROJECTION_NAMES) -> int:
        """Rebuild projections from the start of the log without downtime.

        A new version is built beside the live one (which keeps serving and
        advancing), caught up to the tail, then swapped in atomically with its
        cursor; the old version is dropped. A failure discards the new version and
        raises (the live version keeps its state and status). A rebuild started while
        another runs (or after one died) takes the build over; the other one then
        raises Conflict (``reason: rebuild_superseded``). Returns the events applied to
        the new versions.
        """
        run_id = generate_id()
        self._start_build(tenant_id, projections, run_id)
        total = 0
        try:
            while True:
                result = self.step(tenant_id, projections=projections, build=True)
                total += sum(result.applied.values())
                if result.failures:
                    name, failure = next(iter(result.failures.items()))
                    raise DecisionGraphError(
                        failure.code,
                        f"Rebuild of {name} failed at log_seq {failure.log_seq}: {failure.message}",
                    )
                if not result.progressed and self._finish_build(tenant_id, projections, run_id):
                    return total
        except BaseException:
            self._abandon_build(tenant_id, projections, run_id)
            raise

    def _start_build(self, tenant_id: str, projections: Sequence[str], run_id: str) -> None:
        with self.store.transaction() as conn:
            sql = Sql(conn, self.store.dialect)
            tables.ensure_meta(sql, tenant_id, projections)
            for name in projections:
                meta = tables.read_meta(sql, tenant_id)[name]
                version = meta.live_version + 1
                tables.delete_version(sql, tenant_id, name, version)
                sql.execute(
                    "UPDATE dg_projection_meta SET build_version = %s, build_log_seq = 0, "
                    "build_run_id = %s WHERE tenant_id = %s AND projection_name = %s",
                    (version, run_id, tenant_id, name),
                )

    def _finish_build(self, tenant_id: str, projections: Sequence[str], run_id: str) -> bool:
        """Swap the built versions in if they reached the tail; False to keep building.

        Raises Conflict if another rebuild of the same projections took the build over
        (it restarted the build version, and it swaps it in: this run must stop)."""
        with self.store.transaction() as conn:
            sql = Sql(conn, self.store.dialect)
            tail = self.store.get_last_log_seq(tenant_id)
            locked = [tables.lock_meta(sql, tenant_id, name) for name in projections]
            metas = [m for m in locked if m is not None]
            if len(metas) < len(locked):
                return False  # a lease is held elsewhere: try again
            superseded = [m for m in metas if m.build_run_id != run_id]
            if superseded:
                raise Conflict(
                    f"The rebuild of {', '.join(m.projection for m in superseded)} of tenant "
                    f"{tenant_id!r} was taken over by another rebuild; it stopped",
                    {"reason": "rebuild_superseded", "run_id": run_id},
                )
            if any((m.build_cursor or 0) < tail for m in metas):
                return False
            for meta in metas:
                sql.execute(
                    "UPDATE dg_projection_meta SET live_version = build_version, "
                    "last_processed_log_seq = build_log_seq, build_version = NULL, "
                    "build_log_seq = NULL, build_run_id = NULL, status = 'ok', "
                    "updated_at = %s WHERE tenant_id = %s AND projection_name = %s",
                    (now_rfc3339(), tenant_id, meta.projection),
                )
                tables.resolve_failures(sql, tenant_id, meta.projection)
                tables.delete_version(sql, tenant_id, meta.projection, meta.live_version)
        return True

    def _abandon_build(self, tenant_id: str, projections: Sequence[str], run_id: str) -> None:
        """Drop the versions this run was building (never another run's)."""
        with self.store.transaction() as conn:
            sql = Sql(conn, self.store.dialect)
            for meta in tables.read_meta(sql, tenant_id).values():
                if (
                    meta.projection in projections
                    and meta.build_version is not None
                    and meta.build_run_id == run_id
                ):
                    tables.delete_version(sql, tenant_id, meta.projection, meta.build_version)
                    sql.execute(
                        "UPDATE dg_projection_meta SET build_version = NULL, build_log_seq = NULL,"
                        " build_run_id = NULL WHERE tenant_id = %s AND projection_name = %s",
                        (tenant_id, meta.projection),
                    )

    # ----------------------------------------------------------------- digests

    def digests(self, tenant_id: str) -> Digests:
        """The four digests of the tenant's live projections, from one snapshot."""
        with self.store.read_snapshot() as conn:
            return live_digests(Sql(conn, self.store.dialect), tenant_id)

    def cursors(self, tenant_id: str) -> dict[str, int]:
        """The live cursor of each projection (0 when never run)."""
        with self.store.read_snapshot() as conn:
            metas = tables.read_meta(Sql(conn, self.store.dialect), tenant_id)
        return {name: metas[name].cursor if name in metas else 0 for name in PROJECTION_NAMES}


def live_digests(sql: Sql, tenant_id: str, metas: dict[str, Meta] | None = None) -> Digests:
    """The four digests of the tenant's live projections, read through ``sql`` (a
    connection inside ``store.read_snapshot()``, so that they match whatever else the
    caller reads in that snapshot). ``metas`` are the tenant's meta rows if the caller
    already read them in the same snapshot."""
    if metas is None:
        metas = tables.read_meta(sql, tenant_id)

    def version(name: str) -> int:
        meta = metas.get(name)
        return meta.live_version if meta else 1

    graph_version = version(CONTEXT_GRAPH)
    graph = context_graph_digest(
        tables.read_nodes(sql, tenant_id, graph_version),
        tables.read_edges(sql, tenant_id, graph_version),
    )
    summary = trace_summary_digest(tables.read_summaries(sql, tenant_id, version(TRACE_SUMMARY)))
    precedent = precedent_index_digest(
        tables.read_precedents(sql, tenant_id, version(PRECEDENT_INDEX))
    )
    return Digests.of(graph, summary, precedent)


def projection_digest(digests: Digests, projection: str) -> str:
    """The digest of one projection (``context_graph``, ``trace_summary`` or
    ``precedent_index``) out of the four."""
    if projection not in PROJECTION_NAMES:
        raise InvalidArgument(f"Unknown projection {projection!r}")
    value: str = getattr(digests, projection)
    return value
