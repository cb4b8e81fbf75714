"""Processes opening a fresh database at the same moment (spec 13.2).

Several services starting together each open the store, which applies the migrations,
and append the first events of a tenant that does not exist yet. Every process must
come up on the latest schema and every append must succeed with its own ``log_seq``.
"""

from __future__ import annotations

import multiprocessing.context

import pytest

from decisiongraph.store.factory import open_store
from decisiongraph.store.migrations import latest_version
from tests.concurrency.support import Outcome, ProcessGroup, check_tenant_log
from tests.concurrency.workers import open_and_append_process

PROCESSES = 6
TENANT = "fresh"


@pytest.mark.slow
def test_processes_open_and_migrate_a_fresh_database_at_once(
    shared_store_url: str, spawn_ctx: multiprocessing.context.SpawnContext
) -> None:
    barrier = spawn_ctx.Barrier(PROCESSES)
    args = [(shared_store_url, TENANT, i, barrier) for i in range(PROCESSES)]
    with ProcessGroup(open_and_append_process, args, ctx=spawn_ctx) as group:
        outcomes: list[Outcome] = group.run()
    store = open_store(shared_store_url)
    try:
        latest = latest_version("sqlite" if shared_store_url.startswith("sqlite") else "postgres")
        assert store.schema_version() == latest
        assert all(o[0] == "ok" and o[1] is False for o in outcomes), outcomes
        assert {o[-1] for o in outcomes} == {latest}
        assert sorted(o[2] for o in outcomes) == list(range(1, PROCESSES + 1))
        events = check_tenant_log(store, TENANT)
        assert {e.trace_id for e in events} == {f"opener-{i}" for i in range(PROCESSES)}
    finally:
        store.close()
