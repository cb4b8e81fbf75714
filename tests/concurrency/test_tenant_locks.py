"""Tenants do not serialise on PostgreSQL (spec 13.1, 13.2).

An append holds its tenant's row of ``dg_tenants`` locked (``FOR UPDATE``) until it
commits. A raw transaction holding tenant A's row stands in for a slow append of A:
appends of A must wait for it, appends of other tenants (including a tenant's very
first append, which creates its row) and reads of A must not. Only "completes" versus
"is still blocked after 1 s" is asserted, never a duration.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import psycopg
import pytest

from decisiongraph.store.base import AppendResult, SqlEventStore
from decisiongraph.store.factory import open_store
from tests.concurrency.support import ThreadGroup
from tests.helpers import make_envelope

pytestmark = pytest.mark.postgres

A, B, C = "tenant-a", "tenant-b", "tenant-c"
STILL_BLOCKED_AFTER = 1.0
COMPLETES_WITHIN = 30.0


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[SqlEventStore]:
    store = open_store(pg_url, pool_size=6)
    try:
        yield store
    finally:
        store.close()


def _append(
    store: SqlEventStore, tenant: str, trace_id: str, seq: int
) -> ThreadGroup[AppendResult]:
    """Start one append on its own thread."""
    envelope = make_envelope(trace_id, seq)
    return ThreadGroup([partial(store.append, tenant, envelope)], name=f"append-{tenant}").start()


def test_a_locked_tenant_blocks_only_its_own_appends(pg_url: str, pg_store: SqlEventStore) -> None:
    pg_store.append(A, make_envelope("trace-a", 0))
    pg_store.append(B, make_envelope("trace-b", 0))
    other_store = open_store(pg_url, pool_size=2)
    try:
        with psycopg.connect(pg_url) as raw:  # a transaction, like the store's appends
            locked = raw.execute(
                "SELECT last_log_seq FROM dg_tenants WHERE tenant_id = %s FOR UPDATE", (A,)
            ).fetchone()
            assert locked == (1,)

            blocked_a = _append(pg_store, A, "trace-a", 1)
            blocked_a_other_store = _append(other_store, A, "trace-a2", 0)
            try:
                assert blocked_a.still_running_after(STILL_BLOCKED_AFTER)
                assert blocked_a_other_store.still_running_after(STILL_BLOCKED_AFTER)

                # While A's appends wait, B (same store object and another one), a
                # brand-new tenant C, and reads of A all go through.
                [b1] = _append(pg_store, B, "trace-b", 1).wait(COMPLETES_WITHIN)
                [b2] = _append(other_store, B, "trace-b", 2).wait(COMPLETES_WITHIN)
                [c0] = _append(pg_store, C, "trace-c", 0).wait(COMPLETES_WITHIN)
                assert (b1.event.log_seq, b2.event.log_seq, c0.event.log_seq) == (2, 3, 1)
                tail, listed, next_seq = ThreadGroup[object](
                    [
                        partial(pg_store.get_last_log_seq, A),
                        partial(pg_store.list_events, A),
                        partial(pg_store.get_next_trace_seq, A, "trace-a"),
                    ],
                    name="read-a",
                ).run(COMPLETES_WITHIN)
                assert tail == 1
                assert next_seq == 1
                assert isinstance(listed, list)
                assert len(listed) == 1

                # A is still blocked: the appends above did not release it.
                assert blocked_a.still_running_after(STILL_BLOCKED_AFTER)
            finally:
                raw.rollback()  # releases A; the blocked appends proceed
            [a1] = blocked_a.wait(COMPLETES_WITHIN)
            [a2] = blocked_a_other_store.wait(COMPLETES_WITHIN)
    finally:
        other_store.close()
    assert sorted((a1.event.log_seq, a2.event.log_seq)) == [2, 3]
    assert [e.log_seq for e in pg_store.list_events(A)] == [1, 2, 3]
    assert pg_store.get_last_log_seq(B) == 3
