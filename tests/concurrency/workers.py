"""Writer and retry loops shared by threads and spawned child processes.

Every function here is module level so that a ``spawn`` child can import it by name.
Child entry points (``*_process``) open their own store from the URL, take only plain
data (plus a barrier of the spawn context) and return only plain data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import closing
from functools import partial
from typing import Any

from decisiongraph.domain.envelope import EventEnvelope, envelope_from_dict
from decisiongraph.errors import DecisionGraphError
from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.factory import open_store
from tests.concurrency.support import BARRIER_TIMEOUT, Outcome, ThreadGroup, outcome_of
from tests.helpers import make_envelope

__all__ = [
    "Accepted",
    "open_and_append_process",
    "race_on_trace",
    "race_process",
    "retry_process",
    "retry_rounds",
    "trace_event_id",
    "trace_plan",
    "write_traces",
    "writer_process",
]

SEQUENCE_INVALID = "DG_ERR_EVENT_SEQUENCE_INVALID"
#: A writer racing on one trace gives up (and fails the test) after this long.
RACE_DEADLINE_S = 90.0

#: One accepted append as plain data: (trace_id, trace_seq, log_seq, event_id).
Accepted = tuple[str, int, int, str]

Waiter = Callable[[], object]


def _child_store(url: str) -> SqlEventStore:
    return open_store(url, pool_size=4)


# ------------------------------------------------------------ 1. one trace, many writers


def race_on_trace(
    store: SqlEventStore,
    tenant_id: str,
    trace_id: str,
    writer: str,
    target: int,
    start: Waiter,
) -> tuple[list[Accepted], int]:
    """Append to ``trace_id`` until it holds ``target`` events, racing other writers.

    Each attempt reads ``get_next_trace_seq``, appends that position with a fresh
    idempotency key and retries on DG_ERR_EVENT_SEQUENCE_INVALID (another writer took
    the position). Returns this writer's accepted appends and its number of rejections.
    """
    accepted: list[Accepted] = []
    rejected = 0
    attempt = 0
    start()
    deadline = time.monotonic() + RACE_DEADLINE_S
    while True:
        if time.monotonic() > deadline:
            raise AssertionError(f"writer {writer} still racing after {RACE_DEADLINE_S}s")
        position = store.get_next_trace_seq(tenant_id, trace_id)
        if position >= target:
            return accepted, rejected
        envelope = make_envelope(
            trace_id, position, idempotency_key=f"{trace_id}/{writer}/{attempt}"
        )
        attempt += 1
        try:
            result = store.append(tenant_id, envelope)
        except DecisionGraphError as error:
            if error.code != SEQUENCE_INVALID:
                raise
            rejected += 1
            continue
        event = result.event
        assert not result.reused, event
        assert (event.event_id, event.trace_seq) == (envelope.event_id, position), event
        accepted.append((trace_id, event.trace_seq, event.log_seq, event.event_id))


def race_process(
    url: str,
    tenant_id: str,
    trace_id: str,
    writers: Sequence[str],
    target: int,
    barrier: Any,
) -> list[tuple[list[Accepted], int]]:
    """Child: one store, one thread per writer name, all racing on one trace."""
    with closing(_child_store(url)) as store:
        start = partial(barrier.wait, BARRIER_TIMEOUT)
        return ThreadGroup(
            [
                partial(race_on_trace, store, tenant_id, trace_id, writer, target, start)
                for writer in writers
            ],
            name="racer",
        ).run()


# ------------------------------------------------------- 2. and 4. many traces, many tenants


def trace_event_id(trace_id: str, trace_seq: int) -> str:
    """The deterministic event_id of a position (the same in every tenant on purpose:
    event ids, trace ids and idempotency keys are scoped per tenant)."""
    return f"ev/{trace_id}/{trace_seq}"


def trace_plan(prefix: str, count: int) -> list[tuple[str, int]]:
    """``(trace_id, length)`` of a writer's traces: 3 to 5 events, all finished."""
    return [(f"{prefix}-t{i}", 3 + i % 3) for i in range(count)]


def _trace(trace_id: str, length: int) -> list[EventEnvelope]:
    return [
        make_envelope(
            trace_id,
            seq,
            "TraceFinished" if seq == length - 1 else None,
            event_id=trace_event_id(trace_id, seq),
        )
        for seq in range(length)
    ]


def _append_trace(
    store: SqlEventStore, tenant_id: str, trace_id: str, length: int, mode: int
) -> list[Accepted]:
    """Append one trace: ``mode`` 0 as one atomic batch, 1 event by event, 2 one event
    then a batch of the rest, 3 a non-atomic batch of two then single events."""
    envelopes = _trace(trace_id, length)
    if mode == 0:
        chunks = [envelopes]
    elif mode == 1:
        chunks = [[e] for e in envelopes]
    elif mode == 2:
        chunks = [envelopes[:1], envelopes[1:]]
    else:
        chunks = [envelopes[:2], *([e] for e in envelopes[2:])]
    accepted: list[Accepted] = []
    for chunk in chunks:
        if len(chunk) == 1:
            results = [store.append(tenant_id, chunk[0])]
        else:
            outcomes = store.append_batch(tenant_id, chunk, atomic=mode != 3)
            errors = [o for o in outcomes if isinstance(o, DecisionGraphError)]
            assert not errors, (tenant_id, trace_id, errors)
            results = [o for o in outcomes if not isinstance(o, DecisionGraphError)]
        for envelope, result in zip(chunk, results, strict=True):
            assert not result.reused, (tenant_id, trace_id, envelope.trace_seq)
            assert result.event.event_id == envelope.event_id
            accepted.append(
                (trace_id, result.event.trace_seq, result.event.log_seq, envelope.event_id)
            )
    return accepted


def write_traces(
    store: SqlEventStore, tenants: Sequence[str], prefix: str, count: int, start: Waiter
) -> dict[str, list[Accepted]]:
    """Write the traces of :func:`trace_plan` into every tenant, tenant after tenant
    for each trace, mixing the ways a client appends (see :func:`_append_trace`)."""
    accepted: dict[str, list[Accepted]] = {tenant: [] for tenant in tenants}
    start()
    for index, (trace_id, length) in enumerate(trace_plan(prefix, count)):
        for offset, tenant in enumerate(tenants):
            mode = (index + offset) % 4
            accepted[tenant] += _append_trace(store, tenant, trace_id, length, mode)
    return accepted


def writer_process(
    url: str, tenants: Sequence[str], prefix: str, count: int, barrier: Any
) -> dict[str, list[Accepted]]:
    """Child: open a store and write ``count`` traces into each tenant."""
    with closing(_child_store(url)) as store:
        return write_traces(store, tenants, prefix, count, partial(barrier.wait, BARRIER_TIMEOUT))


# --------------------------------------------------------------- 3. racing idempotent retries


def retry_rounds(
    store: SqlEventStore, tenant_id: str, rounds: Sequence[dict[str, Any]], start: Waiter
) -> list[Outcome]:
    """Append one envelope per round, every round starting on ``start`` (a barrier)."""
    outcomes: list[Outcome] = []
    for envelope_data in rounds:
        envelope = envelope_from_dict(envelope_data)
        start()
        outcomes.append(outcome_of(partial(store.append, tenant_id, envelope)))
    return outcomes


def retry_process(
    url: str, tenant_id: str, per_thread_rounds: Sequence[Sequence[dict[str, Any]]], barrier: Any
) -> list[list[Outcome]]:
    """Child: one store, one thread per entry of ``per_thread_rounds``."""
    with closing(_child_store(url)) as store:
        start = partial(barrier.wait, BARRIER_TIMEOUT)
        return ThreadGroup(
            [
                partial(retry_rounds, store, tenant_id, rounds, start)
                for rounds in per_thread_rounds
            ],
            name="retrier",
        ).run()


# ------------------------------------------------------------ opening a fresh database


def open_and_append_process(url: str, tenant_id: str, index: int, barrier: Any) -> Outcome:
    """Child: at the barrier, open (and so migrate) the store and append one event."""
    barrier.wait(BARRIER_TIMEOUT)
    with closing(_child_store(url)) as store:
        outcome = outcome_of(partial(store.append, tenant_id, make_envelope(f"opener-{index}", 0)))
        return (*outcome, store.schema_version())
