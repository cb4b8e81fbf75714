"""Trace reads: summaries (projection ``trace_summary``), trace lists, and timelines from
the event log (spec 5; HTTP_API 2.4, 2.6-2.8).

Log reads (``get_trace_events``, ``list_trace_events``, ``list_events_page``) never
check projection freshness; summary reads follow :mod:`decisiongraph.query.consistency`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from decisiongraph.domain.envelope import StoredEvent
from decisiongraph.domain.event_types import ALL_EVENT_TYPES
from decisiongraph.errors import InvalidArgument, NotFound
from decisiongraph.projections.engine import TRACE_SUMMARY
from decisiongraph.query.consistency import ProjectionState, ReadOptions, projected_read
from decisiongraph.query.cursors import CursorCodec
from decisiongraph.query.instants import InstantKey, instant_key, text_bounds
from decisiongraph.query.models import (
    EventPage,
    TracePage,
    TraceSummary,
    TraceSummaryResult,
    TraceView,
)
from decisiongraph.store.base import MAX_QUERY_LIMIT, SqlEventStore

__all__ = [
    "MAX_PAGE_LIMIT",
    "MAX_TRACE_EVENTS",
    "TraceFilter",
    "get_trace",
    "get_trace_events",
    "get_trace_summary",
    "list_events",
    "list_events_page",
    "list_trace_events",
    "list_traces",
]

#: ``GET /traces/{id}`` returns at most this many events (HTTP_API 2.7).
MAX_TRACE_EVENTS = MAX_QUERY_LIMIT
#: Page size bound of the opaque-cursor lists (HTTP_API 1.7).
MAX_PAGE_LIMIT = 1000
_TRACES_ROUTE = "traces"

SUMMARY_COLUMNS = (
    "trace_id, workflow, title, primary_entity_type, primary_entity_id, outcome, started_at, "
    "finished_at, event_count, last_log_seq, started_log_seq, event_total"
)


def _summary(row: Sequence[Any]) -> TraceSummary:
    return TraceSummary(*row)


def _check_limit(limit: int, upper: int, name: str = "limit") -> None:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= upper:
        raise InvalidArgument(f"{name} must be between 1 and {upper}, got {limit!r}")


def _not_found(trace_id: str) -> NotFound:
    return NotFound(f"Trace not found: {trace_id}", {"resource": "trace"})


# ------------------------------------------------------------------ summaries


def _read_summary(state: ProjectionState, trace_id: str) -> TraceSummary | None:
    row = state.sql.one(
        f"SELECT {SUMMARY_COLUMNS} FROM dg_trace_summary "
        "WHERE tenant_id = %s AND version = %s AND trace_id = %s",
        (state.tenant_id, state.version(TRACE_SUMMARY), trace_id),
    )
    return None if row is None else _summary(row)


def get_trace_summary(
    store: SqlEventStore,
    tenant_id: str,
    trace_id: str,
    *,
    options: ReadOptions | None = None,
) -> TraceSummaryResult:
    """The trace's summary (spec 5): freshness first, then NOT_FOUND if there is no row.

    Nulls stay null (the reference façade's ``""`` for a missing entity is not applied).
    """

    def read(state: ProjectionState) -> TraceSummaryResult | None:
        summary = _read_summary(state, trace_id)
        return None if summary is None else TraceSummaryResult(summary, state.projection_log_seq)

    result = projected_read(store, tenant_id, (TRACE_SUMMARY,), options, read)
    if result is None:
        raise _not_found(trace_id)
    return result


@dataclass(frozen=True, slots=True)
class TraceFilter:
    """Filters of ``list_traces`` (HTTP_API 2.6), ANDed; None means "not filtered".

    ``workflows`` and ``outcomes`` match any of their values; ``finished`` selects
    traces with (True) or without (False) an outcome; ``started_after`` (inclusive) and
    ``started_before`` (exclusive) are RFC 3339 date-times compared as instants.
    """

    workflows: tuple[str, ...] | None = None
    outcomes: tuple[str, ...] | None = None
    primary_entity_type: str | None = None
    primary_entity_id: str | None = None
    finished: bool | None = None
    started_after: str | None = None
    started_before: str | None = None

    def __post_init__(self) -> None:
        for name in ("workflows", "outcomes"):
            values = getattr(self, name)
            if values is None:
                continue
            if isinstance(values, str) or not all(isinstance(v, str) and v for v in values):
                raise InvalidArgument(f"{name} must be a list of non-empty strings")
            if not values:
                raise InvalidArgument(f"{name} must not be empty when given")
            object.__setattr__(self, name, tuple(sorted(set(values))))
        for name in ("primary_entity_type", "primary_entity_id"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise InvalidArgument(f"{name} must be a string")
            if value == "":
                object.__setattr__(self, name, None)
        if self.primary_entity_id is not None and self.primary_entity_type is None:
            raise InvalidArgument("primary_entity_id requires primary_entity_type")
        if self.finished is not None and not isinstance(self.finished, bool):
            raise InvalidArgument("finished must be a boolean")
        for name in ("started_after", "started_before"):
            value = getattr(self, name)
            if isinstance(value, datetime):
                if value.tzinfo is None:
                    raise InvalidArgument(f"{name} must be timezone-aware")
                object.__setattr__(self, name, value.isoformat())
            elif value == "":
                object.__setattr__(self, name, None)
            elif value is not None:
                instant_key(value)  # validates

    @property
    def after_key(self) -> InstantKey | None:
        return None if self.started_after is None else instant_key(self.started_after)

    @property
    def before_key(self) -> InstantKey | None:
        return None if self.started_before is None else instant_key(self.started_before)

    def binding(self) -> dict[str, Any]:
        """The filters a list cursor is bound to (instants normalised)."""

        def instant(key: InstantKey | None) -> list[str] | None:
            return None if key is None else [key[0].isoformat(), key[1]]

        return {
            "workflows": None if self.workflows is None else list(self.workflows),
            "outcomes": None if self.outcomes is None else list(self.outcomes),
            "primary_entity_type": self.primary_entity_type,
            "primary_entity_id": self.primary_entity_id,
            "finished": self.finished,
            "started_after": instant(self.after_key),
            "started_before": instant(self.before_key),
        }


def _in_list(column: str, values: Sequence[str], params: list[Any]) -> str:
    params.extend(values)
    return f"{column} IN ({', '.join('%s' for _ in values)})"


def list_traces(
    store: SqlEventStore,
    tenant_id: str,
    filters: TraceFilter | None = None,
    *,
    codec: CursorCodec,
    cursor: str | None = None,
    limit: int = 100,
    options: ReadOptions | None = None,
) -> TracePage:
    """Trace summaries, newest first (``started_log_seq`` descending), filtered and paged
    with an opaque cursor bound to the tenant and the filters (HTTP_API 2.6)."""
    filters = filters or TraceFilter()
    _check_limit(limit, MAX_PAGE_LIMIT)
    binding = {"tenant": tenant_id, "filters": filters.binding()}
    before_seq: int | None = None
    if cursor is not None:
        position = codec.decode(_TRACES_ROUTE, binding, cursor)
        before_seq = position.get("s")
        if not isinstance(before_seq, int) or isinstance(before_seq, bool):
            raise InvalidArgument("Invalid cursor: malformed position")
    after_key, before_key = filters.after_key, filters.before_key
    lower, upper = text_bounds(after_key, before_key)

    conditions = ["tenant_id = %s", "version = %s"]
    base: list[Any] = []
    if filters.workflows is not None:
        conditions.append(_in_list("workflow", filters.workflows, base))
    if filters.outcomes is not None:
        conditions.append(_in_list("outcome", filters.outcomes, base))
    if filters.primary_entity_type is not None:
        conditions.append("primary_entity_type = %s")
        base.append(filters.primary_entity_type)
    if filters.primary_entity_id is not None:
        conditions.append("primary_entity_id = %s")
        base.append(filters.primary_entity_id)
    if filters.finished is not None:
        conditions.append("outcome IS NOT NULL" if filters.finished else "outcome IS NULL")
    if lower is not None:
        conditions.append("started_at >= %s")
        base.append(lower)
    if upper is not None:
        conditions.append("started_at < %s")
        base.append(upper)
    exact = after_key is not None or before_key is not None
    chunk = limit + 1 if not exact else max(4 * (limit + 1), 200)
    sql_text = (
        f"SELECT {SUMMARY_COLUMNS} FROM dg_trace_summary WHERE {' AND '.join(conditions)} "
        "AND started_log_seq < %s ORDER BY started_log_seq DESC LIMIT %s"
    )

    def matches(summary: TraceSummary) -> bool:
        if not exact:
            return True
        started = instant_key(summary.started_at)
        if after_key is not None and started < after_key:
            return False
        return before_key is None or started < before_key

    def read(state: ProjectionState) -> TracePage:
        version = state.version(TRACE_SUMMARY)
        found: list[TraceSummary] = []
        position = before_seq if before_seq is not None else 2**62
        while len(found) <= limit:
            rows = state.sql.all(sql_text, (tenant_id, version, *base, position, chunk))
            found.extend(s for s in map(_summary, rows) if matches(s))
            if len(rows) < chunk:
                break
            position = rows[-1][10]
        next_cursor = None
        if len(found) > limit:
            found = found[:limit]
            next_cursor = codec.encode(_TRACES_ROUTE, binding, {"s": found[-1].started_log_seq})
        return TracePage(found, next_cursor, state.projection_log_seq)

    return projected_read(store, tenant_id, (TRACE_SUMMARY,), options, read)


# ------------------------------------------------------------------ timelines


def _events_with_overflow(
    store: SqlEventStore, tenant_id: str, trace_id: str, since: int | None, limit: int
) -> tuple[list[StoredEvent], bool]:
    """Up to ``limit`` events of the trace after ``since`` and whether more exist."""
    events = store.get_trace_events(tenant_id, trace_id, since_trace_seq=since, limit=limit)
    more = False
    if len(events) == limit:
        more = bool(
            store.get_trace_events(
                tenant_id, trace_id, since_trace_seq=events[-1].trace_seq, limit=1
            )
        )
    return events, more


def get_trace(
    store: SqlEventStore,
    tenant_id: str,
    trace_id: str,
    *,
    options: ReadOptions | None = None,
) -> TraceView:
    """The trace's timeline (at most 10000 events, in trace_seq order) and its summary
    (HTTP_API 2.7). NOT_FOUND when the tenant has no event of the trace; the summary
    follows ``options`` and is None while the projection has not reached the trace."""
    events, truncated = _events_with_overflow(store, tenant_id, trace_id, None, MAX_TRACE_EVENTS)
    if not events:
        raise _not_found(trace_id)

    def read(state: ProjectionState) -> TraceView:
        return TraceView(
            events, truncated, _read_summary(state, trace_id), state.projection_log_seq
        )

    return projected_read(store, tenant_id, (TRACE_SUMMARY,), options, read)


def get_trace_events(
    store: SqlEventStore,
    tenant_id: str,
    trace_id: str,
    since_trace_seq: int | None = None,
    limit: int | None = None,
) -> list[StoredEvent]:
    """Events of a trace in trace_seq order (spec 5); NOT_FOUND when nothing matches,
    even if ``since_trace_seq`` filtered out every event of an existing trace."""
    if limit is not None:
        _check_limit(limit, MAX_QUERY_LIMIT)
    events = store.get_trace_events(
        tenant_id, trace_id, since_trace_seq=since_trace_seq, limit=limit
    )
    if not events:
        raise _not_found(trace_id)
    return events


def list_trace_events(
    store: SqlEventStore,
    tenant_id: str,
    trace_id: str,
    *,
    since_trace_seq: int | None = None,
    limit: int = 100,
) -> EventPage:
    """A page of the trace's events (HTTP_API 2.8): ``next_cursor`` is the decimal
    trace_seq of the last item when more exist. NOT_FOUND only when the trace has no
    events at all; nothing after ``since_trace_seq`` is an empty page."""
    _check_limit(limit, MAX_QUERY_LIMIT)
    events, more = _events_with_overflow(store, tenant_id, trace_id, since_trace_seq, limit)
    if not events and (
        since_trace_seq is None or not store.get_trace_events(tenant_id, trace_id, limit=1)
    ):
        raise _not_found(trace_id)
    return EventPage(events, str(events[-1].trace_seq) if more else None)


def list_events(
    store: SqlEventStore,
    tenant_id: str,
    since_log_seq: int | None = None,
    until_log_seq: int | None = None,
    event_type: str | Sequence[str] | None = None,
    limit: int | None = None,
    trace_id: str | None = None,
) -> list[StoredEvent]:
    """The tenant's log in log_seq order (spec 5): ``since`` exclusive, ``until``
    inclusive; never checks projection freshness."""
    types = [event_type] if isinstance(event_type, str) else event_type
    return store.list_events(
        tenant_id,
        since_log_seq=since_log_seq,
        until_log_seq=until_log_seq,
        event_types=types,
        trace_id=trace_id,
        limit=limit,
    )


def list_events_page(
    store: SqlEventStore,
    tenant_id: str,
    *,
    since_log_seq: int | None = None,
    until_log_seq: int | None = None,
    event_types: Sequence[str] | None = None,
    trace_id: str | None = None,
    limit: int = 100,
) -> EventPage:
    """A page of the tenant's log (HTTP_API 2.4): ``next_cursor`` is the decimal log_seq
    of the last item when more matching events existed at read time."""
    _check_limit(limit, MAX_QUERY_LIMIT)
    if event_types is not None:
        unknown = [t for t in event_types if t not in ALL_EVENT_TYPES]
        if unknown or not event_types:
            raise InvalidArgument(f"Unknown event type filter: {', '.join(unknown) or '(empty)'}")
    events = store.list_events(
        tenant_id,
        since_log_seq=since_log_seq,
        until_log_seq=until_log_seq,
        event_types=event_types,
        trace_id=trace_id,
        limit=limit,
    )
    more = False
    if len(events) == limit and (until_log_seq is None or events[-1].log_seq < until_log_seq):
        more = bool(
            store.list_events(
                tenant_id,
                since_log_seq=events[-1].log_seq,
                until_log_seq=until_log_seq,
                event_types=event_types,
                trace_id=trace_id,
                limit=1,
            )
        )
    return EventPage(events, str(events[-1].log_seq) if more else None)
