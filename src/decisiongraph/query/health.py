"""Projection health (spec 7, 13.6; HTTP_API 2.12, 6.7): where each projection of a
tenant stands against the tenant's log.

Everything is read in ONE snapshot (``store.read_snapshot()``): the tenant tail, the
meta rows (cursors, versions, status, rebuild in progress), the failure records, the
log counts and, when asked, the digests of the live versions, so the figures always
agree with each other. Health never raises for staleness: a projection behind the log
is reported (``catching_up``, ``is_stale``), not refused.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from decisiongraph.domain.clock import from_rfc3339, now_rfc3339
from decisiongraph.domain.tenant import validate_tenant_id
from decisiongraph.projections.engine import PROJECTION_NAMES
from decisiongraph.projections.runner import live_digests
from decisiongraph.projections.tables import Meta, Sql, read_meta
from decisiongraph.store.base import SqlEventStore

__all__ = [
    "STATUSES",
    "ProjectionError",
    "ProjectionHealth",
    "ProjectionStatus",
    "get_projection_health",
]

#: The values of ``ProjectionStatus.status``, in the order they take precedence.
STATUSES: tuple[str, ...] = ("rebuilding", "failed", "catching_up", "ok")


@dataclass(frozen=True, slots=True)
class ProjectionError:
    """The most recent failure record of a projection (resolved or not)."""

    code: str
    message: str
    log_seq: int
    at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ProjectionStatus:
    """One projection of a tenant (HTTP_API 6.7).

    ``cursor`` is the last ``log_seq`` applied to the live version; ``lag_events`` counts
    the tenant's events after it; ``lag_seconds`` is the age of the oldest of them (0
    without lag); ``status`` is the first of ``rebuilding`` (a rebuild is in progress),
    ``failed`` (stopped on a parked event), ``catching_up`` (lag) and ``ok``;
    ``active_run_id`` is the run id of the rebuild in progress; ``updated_at`` is when
    the live cursor last moved (null if it never did).
    """

    projection: str
    cursor: int
    tail_log_seq: int
    lag_events: int
    lag_seconds: float
    status: str
    last_error: ProjectionError | None
    open_failures: int
    active_run_id: str | None
    updated_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ProjectionHealth:
    """A tenant's projection health: the HTTP shape (HTTP_API 6.7) plus the reference
    fields of spec 7 (``event_count`` ... ``is_stale``).

    ``projected_last_seq`` is the smallest of the three cursors (spec 13.6);
    ``digests`` is None unless requested, else ``{context_graph, trace_summary,
    precedent_index, full_projection}`` of the live versions.
    """

    tenant_id: str
    tail_log_seq: int
    checked_at: str
    projections: tuple[ProjectionStatus, ...]
    digests: dict[str, str] | None
    event_count: int
    trace_count: int
    event_log_last_seq: int
    projected_last_seq: int
    pending_events: int
    is_stale: bool

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (``dataclasses.asdict`` with ``projections`` as a list)."""
        data = asdict(self)
        data["projections"] = [dict(p) for p in data["projections"]]
        return data

    def projection(self, name: str) -> ProjectionStatus:
        """The status of projection ``name``."""
        for status in self.projections:
            if status.projection == name:
                return status
        raise KeyError(name)


def get_projection_health(
    store: SqlEventStore, tenant_id: str, *, include_digests: bool = False
) -> ProjectionHealth:
    """The health of ``tenant_id``'s projections, read in one snapshot of ``store``."""
    validate_tenant_id(tenant_id)
    checked_at = now_rfc3339()
    with store.read_snapshot() as conn:
        sql = Sql(conn, store.dialect)
        metas = read_meta(sql, tenant_id)
        row = sql.one("SELECT last_log_seq FROM dg_tenants WHERE tenant_id = %s", (tenant_id,))
        tail = int(row[0]) if row else 0
        counts = sql.one(
            "SELECT COUNT(*), COUNT(DISTINCT trace_id) FROM dg_event_log WHERE tenant_id = %s",
            (tenant_id,),
        )
        event_count, trace_count = (int(counts[0]), int(counts[1])) if counts else (0, 0)
        open_failures = {
            name: int(n)
            for name, n in sql.all(
                "SELECT projection_name, COUNT(*) FROM dg_projection_failures "
                "WHERE tenant_id = %s AND resolved_at IS NULL GROUP BY projection_name",
                (tenant_id,),
            )
        }
        last_errors = {
            name: ProjectionError(code, message, int(log_seq), at)
            for name, code, message, log_seq, at in sql.all(
                "SELECT projection_name, code, message, log_seq, at FROM dg_projection_failures "
                "WHERE failure_id IN (SELECT MAX(failure_id) FROM dg_projection_failures "
                "WHERE tenant_id = %s GROUP BY projection_name)",
                (tenant_id,),
            )
        }
        lags: dict[int, tuple[int, str | None]] = {}
        statuses = []
        for name in PROJECTION_NAMES:
            meta = metas.get(name)
            cursor = meta.cursor if meta else 0
            if cursor not in lags:
                lags[cursor] = _lag(sql, tenant_id, cursor)
            lag_events, oldest = lags[cursor]
            statuses.append(
                ProjectionStatus(
                    projection=name,
                    cursor=cursor,
                    tail_log_seq=tail,
                    lag_events=lag_events,
                    lag_seconds=_age_seconds(oldest, checked_at) if lag_events else 0.0,
                    status=_status(meta, lag_events),
                    last_error=last_errors.get(name),
                    open_failures=open_failures.get(name, 0),
                    active_run_id=meta.build_run_id if meta else None,
                    updated_at=meta.updated_at if meta and meta.cursor > 0 else None,
                )
            )
        digests = live_digests(sql, tenant_id, metas).as_dict() if include_digests else None
    projected = min(s.cursor for s in statuses)
    return ProjectionHealth(
        tenant_id=tenant_id,
        tail_log_seq=tail,
        checked_at=checked_at,
        projections=tuple(statuses),
        digests=digests,
        event_count=event_count,
        trace_count=trace_count,
        event_log_last_seq=tail,
        projected_last_seq=projected,
        pending_events=max(tail - projected, 0),
        is_stale=projected < tail,
    )


def _lag(sql: Sql, tenant_id: str, cursor: int) -> tuple[int, str | None]:
    """The number of the tenant's events after ``cursor``, and the ``recorded_at`` of the
    first of them (None when there is none)."""
    row = sql.one(
        "SELECT COUNT(*), MIN(log_seq) FROM dg_event_log WHERE tenant_id = %s AND log_seq > %s",
        (tenant_id, cursor),
    )
    if not row or not row[0]:
        return 0, None
    first = sql.one(
        "SELECT recorded_at FROM dg_event_log WHERE tenant_id = %s AND log_seq = %s",
        (tenant_id, row[1]),
    )
    return int(row[0]), first[0] if first else None


def _age_seconds(recorded_at: str | None, now: str) -> float:
    if recorded_at is None:
        return 0.0
    age = (from_rfc3339(now) - from_rfc3339(recorded_at)).total_seconds()
    return round(max(age, 0.0), 6)


def _status(meta: Meta | None, lag_events: int) -> str:
    if meta is not None and meta.build_version is not None:
        return "rebuilding"
    if meta is not None and meta.status == "failed":
        return "failed"
    return "catching_up" if lag_events > 0 else "ok"
