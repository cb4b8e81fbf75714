"""Catch-up readers under concurrent writers (spec 4.5, 13.2, 14.9).

Writers (threads of one store object and spawned processes) append traces into three
tenants while reader threads follow each tenant with ``list_events(since_log_seq=last)``
(pages of varying size) or ``iter_event_batches``. A reader asserts on every page that
it starts right after the last event it saw and is contiguous (a gap would mean an
event with a lower ``log_seq`` could still commit later, and a ``since`` poller would
skip it for ever), that ``recorded_at`` never decreases, that the tenant tail is never
behind what it has seen, and, now and then, that re-reading the recent past gives
exactly what it saw. At the end every reader has seen every event exactly once.
"""

from __future__ import annotations

import multiprocessing.context
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial

import pytest

from decisiongraph.domain.envelope import StoredEvent
from decisiongraph.store.base import SqlEventStore
from tests.concurrency.support import (
    BARRIER_TIMEOUT,
    JOIN_TIMEOUT,
    ProcessGroup,
    ThreadGroup,
    check_tenant_log,
)
from tests.concurrency.workers import Accepted, write_traces, writer_process

TENANTS = ("feed-a", "feed-b", "feed-c")
LOCAL_WRITERS = 2
PROCESS_WRITERS = 2
TRACES = 40  # per writer and tenant, 3-5 events each
PAGE_LIMITS = (1, 7, 50, None)


class _Follower:
    """One catch-up reader of one tenant."""

    def __init__(
        self, store: SqlEventStore, tenant_id: str, done: threading.Event, *, batches: bool
    ) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.done = done
        self.batches = batches
        self.seen: list[StoredEvent] = []
        self.polls = 0

    def run(self) -> list[StoredEvent]:
        deadline = time.monotonic() + JOIN_TIMEOUT
        while time.monotonic() < deadline:
            writers_done = self.done.is_set()  # read before polling: then the poll is final
            pages = self._poll()
            self.polls += 1
            for page in pages:
                self._accept(page)
            if self.polls % 10 == 0:
                self._recheck_past()
            if not pages:
                if writers_done:
                    return self.seen
                time.sleep(0.002)
        raise AssertionError(f"reader of {self.tenant_id} still reading after {JOIN_TIMEOUT}s")

    def _poll(self) -> list[list[StoredEvent]]:
        last = len(self.seen)
        if self.batches:
            size = (3, 64)[self.polls % 2]
            return list(
                self.store.iter_event_batches(self.tenant_id, since_log_seq=last, batch_size=size)
            )
        limit = PAGE_LIMITS[self.polls % len(PAGE_LIMITS)]
        page = self.store.list_events(self.tenant_id, since_log_seq=last, limit=limit)
        return [page] if page else []

    def _accept(self, page: list[StoredEvent]) -> None:
        last = len(self.seen)  # seen is exactly log_seq 1..last
        got = [e.log_seq for e in page]
        assert got == list(range(last + 1, last + 1 + len(page))), (
            f"{self.tenant_id}: after log_seq {last} the page holds {got[:10]}..."
        )
        assert {e.tenant_id for e in page} == {self.tenant_id}
        previous = self.seen[-1].recorded_at if self.seen else ""
        for event in page:
            assert event.recorded_at >= previous, (
                f"{self.tenant_id}: recorded_at decreases at log_seq {event.log_seq}"
            )
            previous = event.recorded_at
        self.seen.extend(page)
        tail = self.store.get_last_log_seq(self.tenant_id)
        assert tail >= len(self.seen), f"{self.tenant_id}: tail {tail} behind a seen event"

    def _recheck_past(self) -> None:
        """What was seen stays exactly as seen: nothing appears at or below it later."""
        end = len(self.seen)
        start = max(0, end - 25)
        again = self.store.list_events(self.tenant_id, since_log_seq=start, until_log_seq=end)
        assert [(e.log_seq, e.event_id) for e in again] == [
            (e.log_seq, e.event_id) for e in self.seen[start:]
        ], f"{self.tenant_id}: the past changed below log_seq {end}"
        if start:
            assert self.store.list_events(
                self.tenant_id, since_log_seq=start - 1, until_log_seq=start
            ) == [self.seen[start - 1]]


@pytest.mark.slow
def test_catch_up_readers_never_see_a_gap_or_a_late_event(
    shared_store_url: str,
    open_stores: Callable[[], SqlEventStore],
    spawn_ctx: multiprocessing.context.SpawnContext,
) -> None:
    writer_store, reader_store = open_stores(), open_stores()
    done = threading.Event()
    followers = [_Follower(reader_store, tenant, done, batches=False) for tenant in TENANTS]
    followers += [
        _Follower(reader_store, TENANTS[0], done, batches=True),
        _Follower(writer_store, TENANTS[1], done, batches=False),
    ]
    readers = ThreadGroup([f.run for f in followers], name="follower").start()

    barrier = spawn_ctx.Barrier(LOCAL_WRITERS + PROCESS_WRITERS)
    start = partial(barrier.wait, BARRIER_TIMEOUT)
    local = ThreadGroup(
        [
            partial(write_traces, writer_store, TENANTS, f"local{i}", TRACES, start)
            for i in range(LOCAL_WRITERS)
        ],
        name="writer",
    )
    args = [
        (shared_store_url, TENANTS, f"proc{i}", TRACES, barrier) for i in range(PROCESS_WRITERS)
    ]
    try:
        with ProcessGroup(writer_process, args, ctx=spawn_ctx) as group:
            group.start()
            local.start()
            reports: Sequence[dict[str, list[Accepted]]] = [*local.wait(), *group.wait()]
    finally:
        done.set()
    readers.wait()

    for tenant in TENANTS:
        final = check_tenant_log(writer_store, tenant)
        written = {item[3] for report in reports for item in report[tenant]}
        assert {e.event_id for e in final} == written
        assert len(final) == len(written)
        for follower in followers:
            if follower.tenant_id == tenant:
                assert [(e.log_seq, e.event_id) for e in follower.seen] == [
                    (e.log_seq, e.event_id) for e in final
                ]
                assert follower.polls > 1
