"""16 writers racing on one trace of one tenant (spec 4.1 step 10, 4.2, 13.2).

Every writer loops: read ``get_next_trace_seq``, append that position with a fresh
idempotency key, retry on DG_ERR_EVENT_SEQUENCE_INVALID, until the trace holds
:data:`TARGET` events. Whatever the interleaving, each position must be stored exactly
once, by exactly one writer that was told so, with ``log_seq`` 1..N and no gap.
Three shapes of concurrency: threads sharing one store object (their appends meet in
the group committer), threads with a store object each (separate connections), and
threads spread over spawned processes.
"""

from __future__ import annotations

import multiprocessing.context
import threading
from collections.abc import Callable, Sequence
from functools import partial

import pytest

from decisiongraph.store.base import SqlEventStore
from tests.concurrency.support import BARRIER_TIMEOUT, ProcessGroup, ThreadGroup, check_tenant_log
from tests.concurrency.workers import Accepted, race_on_trace, race_process

WRITERS = 16
TARGET = 160
TENANT = "race"
TRACE = "the-trace"


def _check_race(store: SqlEventStore, reports: Sequence[tuple[list[Accepted], int]]) -> None:
    accepted = [item for items, _ in reports for item in items]
    # Each position was won by exactly one writer ...
    assert sorted(seq for _, seq, _, _ in accepted) == list(range(TARGET))
    # ... and got its own log_seq, 1..TARGET.
    assert sorted(log_seq for _, _, log_seq, _ in accepted) == list(range(1, TARGET + 1))
    events = check_tenant_log(store, TENANT)
    assert len(events) == TARGET
    stored = {(e.trace_id, e.trace_seq, e.log_seq, e.event_id) for e in events}
    assert stored == set(accepted)
    trace = store.get_trace_events(TENANT, TRACE)
    assert [e.trace_seq for e in trace] == list(range(TARGET))
    assert store.get_next_trace_seq(TENANT, TRACE) == TARGET
    # A writer's own wins come in increasing log_seq order.
    for items, _ in reports:
        own = [log_seq for _, _, log_seq, _ in items]
        assert own == sorted(own)


def _racers(
    stores: Sequence[SqlEventStore], start: Callable[[], object]
) -> ThreadGroup[tuple[list[Accepted], int]]:
    return ThreadGroup(
        [
            partial(race_on_trace, stores[i % len(stores)], TENANT, TRACE, f"w{i}", TARGET, start)
            for i in range(WRITERS)
        ],
        name="racer",
    )


def test_threads_sharing_one_store_race_on_one_trace(shared_store: SqlEventStore) -> None:
    barrier = threading.Barrier(WRITERS)
    reports = _racers([shared_store], partial(barrier.wait, BARRIER_TIMEOUT)).run()
    _check_race(shared_store, reports)


def test_threads_with_their_own_store_race_on_one_trace(
    open_stores: Callable[[], SqlEventStore],
) -> None:
    stores = [open_stores() for _ in range(WRITERS)]
    barrier = threading.Barrier(WRITERS)
    reports = _racers(stores, partial(barrier.wait, BARRIER_TIMEOUT)).run()
    _check_race(stores[0], reports)


@pytest.mark.slow
def test_processes_race_on_one_trace(
    shared_store_url: str,
    shared_store: SqlEventStore,
    spawn_ctx: multiprocessing.context.SpawnContext,
) -> None:
    processes = 4
    barrier = spawn_ctx.Barrier(WRITERS)
    args = [
        (
            shared_store_url,
            TENANT,
            TRACE,
            [f"p{p}w{w}" for w in range(WRITERS // processes)],
            TARGET,
            barrier,
        )
        for p in range(processes)
    ]
    with ProcessGroup(race_process, args, ctx=spawn_ctx) as group:
        per_process: list[list[tuple[list[Accepted], int]]] = group.run()
    _check_race(shared_store, [report for reports in per_process for report in reports])
