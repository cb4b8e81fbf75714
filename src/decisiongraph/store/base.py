"""The event store port (:class:`EventStore`) and the append/read logic both SQL
backends share (:class:`SqlEventStore`).

Guarantees every backend gives, per tenant:

* ``log_seq`` starts at 1, has no gaps and is commit-ordered: an append holds the
  tenant's write lock from allocating its ``log_seq`` until it commits, so once a reader
  has seen ``log_seq`` N no event with a smaller one can appear later;
* ``recorded_at`` is taken under that lock and never decreases as ``log_seq`` grows;
* an append is accepted or rejected as a whole; a rejection writes nothing and consumes
  no ``log_seq``; a batch gives exactly the results of the same appends made one by one.

Backends implement a handful of primitives (lock + load state, insert, reads); the
pipeline itself lives here once.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

from decisiongraph.domain.clock import now_rfc3339
from decisiongraph.domain.envelope import EventEnvelope, StoredEvent
from decisiongraph.domain.event_types import ALL_EVENT_TYPES
from decisiongraph.domain.tenant import validate_tenant_id
from decisiongraph.domain.validation import PreparedEvent, is_storable_text, prepare_event
from decisiongraph.errors import DecisionGraphError, InvalidArgument
from decisiongraph.store.group_commit import GroupCommitter
from decisiongraph.store.observer import (
    AppendOutcome,
    AppendRecord,
    NullObserver,
    ReadRecord,
    StoreObserver,
    notify_append,
    notify_read,
)
from decisiongraph.store.planner import AppendResult, BatchPlan, BatchPlanner, LoadedState
from decisiongraph.store.rows import rows_to_events

__all__ = [
    "MAX_QUERY_LIMIT",
    "AppendResult",
    "BatchOutcome",
    "EventQuery",
    "EventStore",
    "SqlEventStore",
]

MAX_QUERY_LIMIT = 10_000

#: One item of a batch's results: the accepted (or reused) event, or its error.
BatchOutcome = AppendResult | DecisionGraphError
#: Rows planned for insertion: the prepared event and the event it becomes.
PlannedRows = list[tuple[PreparedEvent, StoredEvent]]


class Decide(Protocol):
    """The planning callback a backend calls under the tenant lock."""

    def __call__(
        self,
        tail_log_seq: int,
        last_recorded_at: str | None,
        state: LoadedState,
        on_rows: Callable[[PlannedRows], object] | None = None,
    ) -> BatchPlan: ...


# Events validated and planned per step, so a backend can stream accepted rows to the
# database while later ones are still being checked.
_PLAN_CHUNK = 250


class EventQuery:
    """Validated arguments of ``list_events`` (spec 4.5, 5)."""

    __slots__ = ("event_types", "limit", "since_log_seq", "trace_id", "until_log_seq")

    def __init__(
        self,
        *,
        since_log_seq: int | None = None,
        until_log_seq: int | None = None,
        event_types: Sequence[str] | None = None,
        trace_id: str | None = None,
        limit: int | None = None,
    ) -> None:
        for name, value in (("since_log_seq", since_log_seq), ("until_log_seq", until_log_seq)):
            if value is not None and value < 0:
                raise InvalidArgument(f"{name} must be >= 0, got {value}")
        if (
            since_log_seq is not None
            and until_log_seq is not None
            and since_log_seq > until_log_seq
        ):
            raise InvalidArgument(
                f"since_log_seq ({since_log_seq}) must not exceed until_log_seq ({until_log_seq})"
            )
        if limit is not None and not 1 <= limit <= MAX_QUERY_LIMIT:
            raise InvalidArgument(f"limit must be between 1 and {MAX_QUERY_LIMIT}, got {limit}")
        types: tuple[str, ...] | None = None
        if event_types is not None:
            types = tuple(dict.fromkeys(event_types))
            unknown = [t for t in types if t not in ALL_EVENT_TYPES]
            if unknown or not types:
                raise InvalidArgument(
                    f"Unknown event type filter: {', '.join(unknown) or '(empty)'}; "
                    f"use one of {', '.join(ALL_EVENT_TYPES)}"
                )
        self.since_log_seq = since_log_seq or 0
        self.until_log_seq = until_log_seq
        self.event_types = types
        self.trace_id = trace_id
        self.limit = limit


@runtime_checkable
class EventStore(Protocol):
    """The append-only, multi-tenant event log. Every method acts on one tenant."""

    @property
    def url(self) -> str:
        """The URL the store was opened with (secrets masked)."""
        ...

    def append(self, tenant_id: str, envelope: EventEnvelope) -> AppendResult:
        """Append one event (spec 4.1); raises the first failing step's error."""
        ...

    def append_batch(
        self, tenant_id: str, envelopes: Sequence[EventEnvelope], *, atomic: bool = True
    ) -> list[BatchOutcome]:
        """Append events in index order as if one by one, in one transaction.

        Atomic: all or nothing; the first failing event's error is raised with
        ``details["index"]``. Non-atomic: each event is accepted or rejected on its own
        and the list holds one outcome per event.
        """
        ...

    def list_events(
        self,
        tenant_id: str,
        *,
        since_log_seq: int | None = None,
        until_log_seq: int | None = None,
        event_types: Sequence[str] | None = None,
        trace_id: str | None = None,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        """Events with since < log_seq <= until, filters ANDed, in log_seq order."""
        ...

    def iter_event_batches(
        self,
        tenant_id: str,
        *,
        since_log_seq: int | None = None,
        until_log_seq: int | None = None,
        event_types: Sequence[str] | None = None,
        trace_id: str | None = None,
        batch_size: int = 1000,
    ) -> Iterator[list[StoredEvent]]:
        """Pages of ``list_events`` for catch-up; never drops or repeats an event."""
        ...

    def get_trace_events(
        self,
        tenant_id: str,
        trace_id: str,
        *,
        since_trace_seq: int | None = None,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        """Events of a trace in trace_seq order (``since`` exclusive); may be empty."""
        ...

    def get_last_log_seq(self, tenant_id: str) -> int:
        """The tenant tail: its largest committed log_seq, 0 when empty."""
        ...

    def get_next_trace_seq(self, tenant_id: str, trace_id: str) -> int:
        """``max(trace_seq) + 1`` of the trace, or 0."""
        ...

    def is_trace_finished(self, tenant_id: str, trace_id: str) -> bool:
        """True if the trace holds a TraceFinished event."""
        ...

    def list_tenants(self) -> list[str]:
        """Every tenant with at least one event, in code-point order."""
        ...

    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""
        ...


class SqlEventStore(abc.ABC):
    """The append pipeline and read validation shared by the SQL backends.

    Subclasses provide :meth:`_write_plan` (one transaction: lock the tenant, load state,
    call back to plan, insert) and the ``_select_*`` reads.
    """

    #: Whether iter_event_batches fetches the next page while the current one is used.
    _prefetch_pages: bool = False

    def __init__(self, *, observer: StoreObserver | None = None, group_commit: bool = True):
        self.observer: StoreObserver = observer or NullObserver()
        self._committer: GroupCommitter[PreparedEvent, BatchOutcome] | None = (
            GroupCommitter(self._write_grouped) if group_commit else None
        )
        self._commit_listeners: list[Callable[[str, int], None]] = []

    def add_commit_listener(self, listener: Callable[[str, int], None]) -> None:
        """Call ``listener(tenant_id, tail_log_seq)`` after every append commit of this
        store object (in-process wake-up of projectors and streams; it must be fast
        and must not raise)."""
        self._commit_listeners.append(listener)

    # ----------------------------------------------------------------- appends

    def append(self, tenant_id: str, envelope: EventEnvelope) -> AppendResult:
        validate_tenant_id(tenant_id)
        started = time.perf_counter()
        try:
            prepared = prepare_event(envelope)
        except DecisionGraphError as error:
            self._report(tenant_id, [envelope], [error], started)
            raise
        if self._committer is not None:
            outcome = self._committer.submit(tenant_id, prepared)
        else:
            outcome = self._write(tenant_id, [prepared], atomic=False)[0]
        self._report(tenant_id, [prepared], [outcome], started)
        if isinstance(outcome, DecisionGraphError):
            raise outcome
        return outcome

    def append_batch(
        self, tenant_id: str, envelopes: Sequence[EventEnvelope], *, atomic: bool = True
    ) -> list[BatchOutcome]:
        validate_tenant_id(tenant_id)
        started = time.perf_counter()
        if not envelopes:
            return []
        items: list[PreparedEvent | DecisionGraphError] = []
        stop = len(envelopes)

        def prepare(upto: int) -> list[PreparedEvent | DecisionGraphError]:
            """Prepare envelopes up to index ``upto`` (exclusive), once each."""
            nonlocal stop
            while len(items) < min(upto, stop):
                envelope = envelopes[len(items)]
                try:
                    items.append(prepare_event(envelope))
                except DecisionGraphError as error:
                    items.append(error)
                    if atomic:
                        stop = len(items)  # earlier events may still fail first
            return items

        # The backend may prepare (CPU) while its state lookup runs in the database.
        outcomes = self._write_envelopes(tenant_id, envelopes, prepare, atomic=atomic)
        reported = [
            i if isinstance(i, PreparedEvent) else e
            for i, e in zip(items, envelopes, strict=False)  # atomic may stop early
        ]
        if atomic:
            for index, outcome in enumerate(outcomes):
                if isinstance(outcome, DecisionGraphError):
                    # Nothing was written: only the failing event has an outcome.
                    self._report(tenant_id, [reported[index]], [outcome], started)
                    raise outcome.with_details(index=index)
        self._report(tenant_id, reported, outcomes, started)
        return outcomes

    def _write_grouped(self, tenant_id: str, items: Sequence[PreparedEvent]) -> list[BatchOutcome]:
        return self._write(tenant_id, list(items), atomic=False)

    def _write(
        self,
        tenant_id: str,
        items: Sequence[PreparedEvent],
        *,
        atomic: bool,
    ) -> list[BatchOutcome]:
        """Plan and write prepared ``items`` in one transaction; one outcome each."""
        prepared: list[PreparedEvent | DecisionGraphError] = list(items)
        return self._write_envelopes(
            tenant_id, [p.envelope for p in items], lambda upto: prepared[:upto], atomic=atomic
        )

    def _write_envelopes(
        self,
        tenant_id: str,
        envelopes: Sequence[EventEnvelope],
        prepare: Callable[[int], list[PreparedEvent | DecisionGraphError]],
        *,
        atomic: bool,
    ) -> list[BatchOutcome]:
        """Plan and write in one transaction; one outcome per planned item.

        ``prepare(n)`` runs the stateless checks of the first ``n`` envelopes (once
        each) and returns the items prepared so far. The state lookup needs only the
        envelopes' keys, ids and traces, so the backend issues it first and prepares
        while it is in flight; it may also write accepted rows chunk by chunk while
        later chunks are still being prepared.
        """
        # Envelopes whose ids cannot be stored are rejected by prepare; never send them.
        lookups = [
            e
            for e in envelopes
            if all(
                is_storable_text(text)
                for text in (e.source.producer_id, e.idempotency_key, e.trace_id, e.event_id)
            )
        ]
        keys = list({(e.source.producer_id, e.idempotency_key): None for e in lookups})
        trace_ids = list({e.trace_id: None for e in lookups})
        event_ids = list({e.event_id: None for e in lookups})
        total = len(envelopes)

        def decide(
            tail_log_seq: int,
            last_recorded_at: str | None,
            state: LoadedState,
            on_rows: Callable[[PlannedRows], object] | None = None,
        ) -> BatchPlan:
            recorded_at = now_rfc3339()
            if last_recorded_at is not None and recorded_at < last_recorded_at:
                recorded_at = last_recorded_at  # the clock went back: never decrease
            planner = BatchPlanner(
                tenant_id,
                state,
                tail_log_seq=tail_log_seq,
                recorded_at=recorded_at,
                atomic=atomic,
            )
            planned = 0
            while planned < total and not planner.stopped:
                items = prepare(planned + _PLAN_CHUNK)
                if len(items) == planned:
                    break  # an atomic batch stopped preparing at its first error
                rows = planner.add(items[planned:])
                planned = len(items)
                if on_rows is not None and rows and not planner.stopped:
                    on_rows(rows)
            plan = planner.plan()
            if atomic and plan.first_error is not None:
                plan.rows.clear()
            return plan

        plan = self._write_plan(
            tenant_id, keys, trace_ids, event_ids, decide, lambda: prepare(_PLAN_CHUNK)
        )
        if plan.rows:
            for listener in self._commit_listeners:
                listener(tenant_id, plan.rows[-1][1].log_seq)
        return [result for result in plan.results if result is not None]

    @abc.abstractmethod
    def _write_plan(
        self,
        tenant_id: str,
        keys: list[tuple[str, str]],
        trace_ids: list[str],
        event_ids: list[str],
        decide: Decide,
        warm_up: Callable[[], object],
    ) -> BatchPlan:
        """In one transaction: take the tenant lock, read its tail, last recorded_at and
        the :class:`LoadedState` for the given keys/traces/ids, call
        ``decide(tail, last_recorded_at, state)``, insert the plan's rows, move the tail,
        commit, and return the plan. ``warm_up`` may be called while the state is being
        read (idempotent CPU work ``decide`` needs). ``decide`` may be given
        ``on_rows`` to receive accepted rows chunk by chunk (they are final unless the
        plan of an atomic batch ends with ``first_error`` set: then roll back).
        Translate driver errors."""

    def _report(
        self,
        tenant_id: str,
        events: Sequence[PreparedEvent | EventEnvelope],
        outcomes: Sequence[BatchOutcome],
        started: float,
    ) -> None:
        """One telemetry record per event that got an outcome."""
        if isinstance(self.observer, NullObserver):
            return
        duration = time.perf_counter() - started
        # Atomic batches stop planning at the first failure: fewer outcomes than events.
        for event, outcome in zip(events, outcomes, strict=False):
            if isinstance(event, PreparedEvent):
                envelope, size = event.envelope, len(event.payload_json.encode("utf-8"))
            else:
                envelope, size = event, 0
            if isinstance(outcome, DecisionGraphError):
                kind: AppendOutcome = "rejected"
                code: str | None = outcome.code
            else:
                kind, code = ("reused" if outcome.reused else "appended"), None
            notify_append(
                self.observer,
                AppendRecord(
                    tenant_id, envelope.trace_id, envelope.event_type, kind, duration, size, code
                ),
            )

    # ------------------------------------------------------------------- reads

    def list_events(
        self,
        tenant_id: str,
        *,
        since_log_seq: int | None = None,
        until_log_seq: int | None = None,
        event_types: Sequence[str] | None = None,
        trace_id: str | None = None,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        validate_tenant_id(tenant_id)
        query = EventQuery(
            since_log_seq=since_log_seq,
            until_log_seq=until_log_seq,
            event_types=event_types,
            trace_id=trace_id,
            limit=limit,
        )
        started = time.perf_counter()
        events = self._select_events(tenant_id, query)
        self._report_read(tenant_id, "list_events", events, started, trace_id)
        return events

    def iter_event_batches(
        self,
        tenant_id: str,
        *,
        since_log_seq: int | None = None,
        until_log_seq: int | None = None,
        event_types: Sequence[str] | None = None,
        trace_id: str | None = None,
        batch_size: int = 1000,
    ) -> Iterator[list[StoredEvent]]:
        if batch_size <= 0:
            raise InvalidArgument(f"batch_size must be > 0, got {batch_size}")
        validate_tenant_id(tenant_id)

        def page_after(position: int) -> EventQuery:
            return EventQuery(
                since_log_seq=position,
                until_log_seq=until_log_seq,
                event_types=event_types,
                trace_id=trace_id,
                limit=min(batch_size, MAX_QUERY_LIMIT),
            )

        first = page_after(since_log_seq or 0)  # validates before the first page
        if not self._prefetch_pages:
            position = first.since_log_seq
            while True:
                page = self.list_events(
                    tenant_id,
                    since_log_seq=position,
                    until_log_seq=until_log_seq,
                    event_types=event_types,
                    trace_id=trace_id,
                    limit=first.limit,
                )
                if not page:
                    return
                yield page
                position = page[-1].log_seq
                if until_log_seq is not None and position >= until_log_seq:
                    return
        # Network-bound backends: fetch the next page's rows in a helper thread while
        # this one decodes the current page (the next position is the last row's
        # log_seq, known before decoding).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dg-prefetch") as pool:
            pending = pool.submit(self._select_rows, tenant_id, first)
            while True:
                started = time.perf_counter()
                rows = pending.result()
                if not rows:
                    self._report_read(tenant_id, "list_events", [], started, trace_id)
                    return
                last = int(rows[-1][1])
                finished = until_log_seq is not None and last >= until_log_seq
                if not finished:
                    pending = pool.submit(self._select_rows, tenant_id, page_after(last))
                page = rows_to_events(rows)
                self._report_read(tenant_id, "list_events", page, started, trace_id)
                yield page
                if finished:
                    return

    def get_trace_events(
        self,
        tenant_id: str,
        trace_id: str,
        *,
        since_trace_seq: int | None = None,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        validate_tenant_id(tenant_id)
        if limit is not None and not 1 <= limit <= MAX_QUERY_LIMIT:
            raise InvalidArgument(f"limit must be between 1 and {MAX_QUERY_LIMIT}, got {limit}")
        if since_trace_seq is not None and since_trace_seq < 0:
            raise InvalidArgument(f"since_trace_seq must be >= 0, got {since_trace_seq}")
        started = time.perf_counter()
        events = self._select_trace_events(tenant_id, trace_id, since_trace_seq, limit)
        self._report_read(tenant_id, "get_trace_events", events, started, trace_id)
        return events

    def _report_read(
        self,
        tenant_id: str,
        operation: str,
        events: list[StoredEvent],
        started: float,
        trace_id: str | None,
    ) -> None:
        if isinstance(self.observer, NullObserver):
            return
        notify_read(
            self.observer,
            ReadRecord(tenant_id, operation, len(events), time.perf_counter() - started, trace_id),
        )

    @abc.abstractmethod
    def get_last_log_seq(self, tenant_id: str) -> int:
        """The tenant tail: its largest committed log_seq, 0 when empty."""

    @abc.abstractmethod
    def get_next_trace_seq(self, tenant_id: str, trace_id: str) -> int:
        """``max(trace_seq) + 1`` of the trace, or 0."""

    @abc.abstractmethod
    def is_trace_finished(self, tenant_id: str, trace_id: str) -> bool:
        """True if the trace holds a TraceFinished event."""

    @abc.abstractmethod
    def trace_seq_heads(
        self, tenant_id: str, trace_ids: Sequence[str], up_to_log_seq: int
    ) -> dict[str, int]:
        """For each given trace with events at ``log_seq <= up_to_log_seq``, its largest
        ``trace_seq`` among them (what a projector at that cursor expects next - 1)."""

    @abc.abstractmethod
    def get_events_of_traces(self, tenant_id: str, trace_ids: Sequence[str]) -> list[StoredEvent]:
        """Every event of the given traces, ordered by trace_id then trace_seq."""

    @abc.abstractmethod
    def list_tenants(self) -> list[str]:
        """Every tenant with at least one event, in code-point order."""

    @property
    @abc.abstractmethod
    def url(self) -> str:
        """The URL the store was opened with (secrets masked)."""

    @abc.abstractmethod
    def migrate(self) -> int:
        """Apply pending migrations; return the schema version now in force."""

    @abc.abstractmethod
    def schema_version(self) -> int:
        """The highest applied migration version (0 if none)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[Any]:
        """A write transaction on the store's database, yielding the driver connection
        (for layers with their own tables); commit on success, rollback on error."""

    @abc.abstractmethod
    def read_snapshot(self) -> AbstractContextManager[Any]:
        """A read transaction yielding the driver connection; one consistent snapshot."""

    @abc.abstractmethod
    def single_read(self) -> AbstractContextManager[Any]:
        """A connection for ONE read statement (autocommit, no snapshot across
        statements): the cheapest read, for lookups such as API-key checks."""

    @property
    @abc.abstractmethod
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgres"``: which SQL the driver connection speaks."""

    def _select_events(self, tenant_id: str, query: EventQuery) -> list[StoredEvent]:
        """Events of ``query`` in log_seq order."""
        return rows_to_events(self._select_rows(tenant_id, query))

    @abc.abstractmethod
    def _select_rows(self, tenant_id: str, query: EventQuery) -> list[Any]:
        """Raw rows (:data:`~decisiongraph.store.rows.EVENT_COLUMNS`) of ``query``, in
        log_seq order."""

    @abc.abstractmethod
    def _select_trace_events(
        self, tenant_id: str, trace_id: str, since_trace_seq: int | None, limit: int | None
    ) -> list[StoredEvent]:
        """Rows of one trace in trace_seq order."""
