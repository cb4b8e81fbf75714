"""8 processes x 200 traces x 3 tenants, written concurrently (spec 13.1-13.3).

Each spawned process opens its own store and writes 200 finished traces of 3-5 events
into each of the three tenants (trace after trace, tenant after tenant), mixing single
appends, atomic batches and non-atomic batches; the eight processes start together.
Trace ids, event ids and idempotency keys are the same in every tenant, so any
identity that is not scoped by tenant would collide. Afterwards each tenant holds
exactly the expected events with ``log_seq`` 1..N, every trace is 0..k and finished,
and every process was told the ``log_seq`` that is stored, in increasing order.
"""

from __future__ import annotations

import multiprocessing.context
from collections import Counter

import pytest

from decisiongraph.store.base import SqlEventStore
from tests.concurrency.support import ProcessGroup, check_tenant_log
from tests.concurrency.workers import Accepted, trace_event_id, trace_plan, writer_process

PROCESSES = 8
TRACES = 200
TENANTS = ("load-a", "load-b", "load-c")


@pytest.mark.slow
def test_processes_write_many_traces_into_several_tenants(
    shared_store_url: str,
    shared_store: SqlEventStore,
    spawn_ctx: multiprocessing.context.SpawnContext,
) -> None:
    barrier = spawn_ctx.Barrier(PROCESSES)
    args = [(shared_store_url, TENANTS, f"p{p}", TRACES, barrier) for p in range(PROCESSES)]
    with ProcessGroup(writer_process, args, ctx=spawn_ctx) as group:
        reports: list[dict[str, list[Accepted]]] = group.run(timeout=240.0)

    expected_per_tenant = {
        (trace_event_id(trace_id, seq), trace_id, seq)
        for p in range(PROCESSES)
        for trace_id, length in trace_plan(f"p{p}", TRACES)
        for seq in range(length)
    }
    for tenant in TENANTS:
        events = check_tenant_log(shared_store, tenant)
        stored = {(e.event_id, e.trace_id, e.trace_seq) for e in events}
        assert len(events) == len(expected_per_tenant)
        assert stored == expected_per_tenant
        by_event_id = {e.event_id: e.log_seq for e in events}
        for report in reports:
            accepted = report[tenant]
            # What each writer was told is what is stored ...
            assert all(by_event_id[event_id] == log_seq for _, _, log_seq, event_id in accepted)
            # ... and its own appends got increasing log_seq (commit order = call order).
            log_seqs = [log_seq for _, _, log_seq, _ in accepted]
            assert log_seqs == sorted(log_seqs)
            assert len(set(log_seqs)) == len(log_seqs)
        # Every trace is complete and finished.
        lengths = Counter(e.trace_id for e in events)
        finished = {e.trace_id for e in events if e.event_type == "TraceFinished"}
        assert finished == set(lengths)
        assert sum(len(r[tenant]) for r in reports) == len(events)
    assert set(TENANTS) <= set(shared_store.list_tenants())
