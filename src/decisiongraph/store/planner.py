"""The stateful half of the append pipeline (spec 4.1 steps 8-11, 13.3, 14.4), as a pure
function over state read inside the append transaction.

Every backend appends the same way: it takes the tenant's write lock (the tenant row),
reads the :class:`LoadedState` the batch needs, asks :func:`plan_batch` what to do, and
inserts exactly the rows of the plan. Because the tenant lock is held from the reads
until the commit, the plan cannot be invalidated by a concurrent writer; the database's
unique indexes remain as a backstop.

Events are planned in index order as if appended one by one, so a batch gives exactly
the log, results and errors of the same appends made singly: an event may reuse an
earlier event of the same batch, and trace state carries over from event to event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from decisiongraph.domain.envelope import EventEnvelope, StoredEvent
from decisiongraph.domain.event_types import (
    EVENT_TYPE_TRACE_FINISHED,
    EVENT_TYPE_TRACE_STARTED,
)
from decisiongraph.domain.validation import PreparedEvent
from decisiongraph.errors import (
    Conflict,
    DecisionGraphError,
    EventSequenceInvalid,
    IdempotencyConflict,
)

__all__ = [
    "AppendResult",
    "BatchPlan",
    "BatchPlanner",
    "LoadedState",
    "TraceState",
    "check_reuse",
    "plan_batch",
]


@dataclass(frozen=True, slots=True)
class AppendResult:
    """The outcome of one accepted append: the stored event, and whether it was a reuse
    of an event stored earlier (nothing written)."""

    event: StoredEvent
    reused: bool


@dataclass(slots=True)
class TraceState:
    """What the append checks need to know of a trace: its last ``trace_seq`` (None for
    an unknown trace) and whether it holds a ``TraceFinished`` event."""

    last_trace_seq: int | None = None
    finished: bool = False


@dataclass(slots=True)
class LoadedState:
    """Stored state of the tenant relevant to one batch, read under the tenant lock.

    ``by_idempotency`` maps ``(producer_id, idempotency_key)`` to the stored event,
    ``traces`` has an entry for every trace of the batch (stored or not), and
    ``existing_event_ids`` holds the batch's event ids that are already stored.
    """

    by_idempotency: dict[tuple[str, str], StoredEvent] = field(default_factory=dict)
    traces: dict[str, TraceState] = field(default_factory=dict)
    existing_event_ids: set[str] = field(default_factory=set)


@dataclass(slots=True)
class BatchPlan:
    """What to write and what to answer.

    ``results[i]`` is the outcome of input ``i``; after the first failure of an atomic
    batch there are no further results. ``rows`` are the events to insert, in ``log_seq`` order.
    ``first_error`` is the index of the first rejected item, or None.
    """

    results: list[AppendResult | DecisionGraphError | None]
    rows: list[tuple[PreparedEvent, StoredEvent]]
    first_error: int | None

    @property
    def last_log_seq(self) -> int | None:
        return self.rows[-1][1].log_seq if self.rows else None


_METADATA_FIELDS = (
    "trace_id",
    "event_type",
    "source",
    "actor",
    "correlation_id",
    "causation_event_id",
    "schema_version",
    "tags",
)


def check_reuse(stored: StoredEvent, prepared: PreparedEvent) -> AppendResult:
    """Step 8 for a found ``(producer, key)``: a valid reuse, or IdempotencyConflict.

    ``trace_seq``, ``event_id`` and ``occurred_at`` are deliberately not compared.
    """
    env = prepared.envelope
    details = {
        "existing_event_id": stored.event_id,
        "existing_log_seq": stored.log_seq,
    }
    where = (
        f"Idempotency key {env.idempotency_key!r} of producer "
        f"{env.source.producer_id!r} was already used"
    )
    if stored.payload_hash != prepared.payload_hash:
        raise IdempotencyConflict(
            f"{where} with different payload; use a new key for a new event",
            {"mismatches": ["payload"], **details},
        )
    mismatches = [name for name in _METADATA_FIELDS if getattr(stored, name) != getattr(env, name)]
    if mismatches:
        raise IdempotencyConflict(
            f"{where} with different metadata: {', '.join(mismatches)}",
            {"mismatches": mismatches, **details},
        )
    return AppendResult(event=stored, reused=True)


def _check_sequence(env: EventEnvelope, trace: TraceState) -> None:
    """Steps 9 and 10: the finished-trace lock, then trace_seq rules."""
    if trace.finished:
        raise Conflict(
            f"Trace {env.trace_id!r} is already finished; start a new trace",
            {"reason": "trace_finished", "trace_id": env.trace_id},
        )
    expected = 0 if trace.last_trace_seq is None else trace.last_trace_seq + 1
    is_start = env.event_type == EVENT_TYPE_TRACE_STARTED
    if env.trace_seq == expected and is_start == (expected == 0):
        return  # the common case, checked without building anything
    details = {"trace_id": env.trace_id, "expected_trace_seq": expected}
    if env.trace_seq != expected:
        raise EventSequenceInvalid(
            f"Expected trace_seq {expected}, got {env.trace_seq} (trace {env.trace_id!r})",
            details,
        )
    if is_start:
        raise EventSequenceInvalid("TraceStarted must have trace_seq=0", details)
    raise EventSequenceInvalid(f"First event must be TraceStarted, got {env.event_type}", details)


class BatchPlanner:
    """Plans a batch incrementally (chunk by chunk), with the semantics of
    :func:`plan_batch`; lets a backend stream accepted rows while later ones are still
    being validated."""

    def __init__(
        self,
        tenant_id: str,
        state: LoadedState,
        *,
        tail_log_seq: int,
        recorded_at: str,
        atomic: bool,
    ) -> None:
        self._tenant_id = tenant_id
        self._state = state
        self._next_log_seq = tail_log_seq + 1
        self._recorded_at = recorded_at
        self._atomic = atomic
        self.results: list[AppendResult | DecisionGraphError | None] = []
        self.rows: list[tuple[PreparedEvent, StoredEvent]] = []
        self.first_error: int | None = None

    @property
    def stopped(self) -> bool:
        """True once an atomic batch met its first rejected item."""
        return self._atomic and self.first_error is not None

    def add(
        self, items: Sequence[PreparedEvent | DecisionGraphError]
    ) -> list[tuple[PreparedEvent, StoredEvent]]:
        """Plan the next ``items``; return the rows they add (nothing once stopped)."""
        first_new_row = len(self.rows)
        for item in items:
            if self.stopped:
                break
            index = len(self.results)
            try:
                if isinstance(item, DecisionGraphError):
                    raise item
                result = _plan_one(
                    self._tenant_id,
                    item,
                    self._state,
                    self._next_log_seq,
                    self._recorded_at,
                    self.rows,
                )
            except DecisionGraphError as error:
                self.results.append(error)
                if self.first_error is None:
                    self.first_error = index
                continue
            self.results.append(result)
            if not result.reused:
                self._next_log_seq += 1
        return self.rows[first_new_row:]

    def plan(self) -> BatchPlan:
        """The plan so far (``results`` holds one outcome per planned item)."""
        return BatchPlan(results=self.results, rows=self.rows, first_error=self.first_error)


def plan_batch(
    tenant_id: str,
    items: Sequence[PreparedEvent | DecisionGraphError],
    state: LoadedState,
    *,
    tail_log_seq: int,
    recorded_at: str,
    atomic: bool,
) -> BatchPlan:
    """Decide, item by item, reuse / accept / reject, as if appended one by one.

    ``items`` are prepared events or the error their stateless checks raised.
    ``tail_log_seq`` is the tenant's last ``log_seq``; accepted events get the next
    ones. In atomic mode planning stops at the first rejected item (later items get
    no result). ``state`` is updated in place with the accepted events.
    """
    planner = BatchPlanner(
        tenant_id, state, tail_log_seq=tail_log_seq, recorded_at=recorded_at, atomic=atomic
    )
    planner.add(items)
    return planner.plan()


def _plan_one(
    tenant_id: str,
    prepared: PreparedEvent,
    state: LoadedState,
    log_seq: int,
    recorded_at: str,
    rows: list[tuple[PreparedEvent, StoredEvent]],
) -> AppendResult:
    env = prepared.envelope
    key = (env.source.producer_id, env.idempotency_key)
    existing = state.by_idempotency.get(key)
    if existing is not None:
        return check_reuse(existing, prepared)
    trace = state.traces.get(env.trace_id)
    if trace is None:
        trace = state.traces[env.trace_id] = TraceState()
    _check_sequence(env, trace)
    if env.event_id in state.existing_event_ids:
        raise Conflict(
            f"event_id {env.event_id!r} is already used by another event of this tenant",
            {"reason": "duplicate_event_id", "event_id": env.event_id},
        )
    stored = StoredEvent(
        tenant_id=tenant_id,
        log_seq=log_seq,
        event_id=env.event_id,
        trace_id=env.trace_id,
        trace_seq=env.trace_seq,
        event_type=env.event_type,
        occurred_at=env.occurred_at,
        recorded_at=recorded_at,
        source=env.source,
        actor=env.actor,
        idempotency_key=env.idempotency_key,
        payload=env.payload,
        payload_hash=prepared.payload_hash,
        correlation_id=env.correlation_id,
        causation_event_id=env.causation_event_id,
        schema_version=env.schema_version,
        tags=env.tags,
    )
    rows.append((prepared, stored))
    state.by_idempotency[key] = stored
    state.existing_event_ids.add(env.event_id)
    trace.last_trace_seq = env.trace_seq
    if env.event_type == EVENT_TYPE_TRACE_FINISHED:
        trace.finished = True
    return AppendResult(event=stored, reused=False)
