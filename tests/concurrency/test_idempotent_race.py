"""Racing idempotent retries (spec 4.1 step 8, 4.2, 13.2, 13.3).

Threads of two store objects and threads of spawned processes append, in lockstep
rounds, envelopes sharing one ``(producer_id, idempotency_key)``. Per round:

* identical retries (also retries that differ only in ``event_id`` or ``occurred_at``,
  which reuse ignores): one row is stored, every caller gets that row (same
  ``log_seq``, ``event_id``, ``recorded_at``), exactly one caller is told
  ``reused=False``;
* retries of an event stored before the round, differing in ``event_id``,
  ``occurred_at`` and ``trace_seq`` (spec 14.4: reuse wins over sequencing): every
  caller gets the stored row with ``reused=True``;
* retries that differ in payload or metadata: the first one wins, every other caller
  gets DG_ERR_IDEMPOTENCY_CONFLICT, and the winner's row is the one stored;
* two variants racing: every caller of the winning variant succeeds, every caller of
  the other gets DG_ERR_IDEMPOTENCY_CONFLICT.

Each round stores exactly one event, so the tenant's log ends at ``log_seq`` = rounds.
"""

from __future__ import annotations

import multiprocessing.context
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from decisiongraph.domain.envelope import EventEnvelope
from decisiongraph.store.base import SqlEventStore
from tests.concurrency.support import (
    BARRIER_TIMEOUT,
    Outcome,
    ProcessGroup,
    ThreadGroup,
    check_tenant_log,
)
from tests.concurrency.workers import retry_process, retry_rounds
from tests.helpers import MINIMAL_PAYLOADS, make_envelope

TENANT = "retries"
STORE_A_THREADS = 8
STORE_B_THREADS = 4
PROCESSES = 3
THREADS_PER_PROCESS = 2
PARTIES = STORE_A_THREADS + STORE_B_THREADS + PROCESSES * THREADS_PER_PROCESS
CONFLICT = "DG_ERR_IDEMPOTENCY_CONFLICT"

# Round kinds, in order.
IDENTICAL = "identical"
FREE_FIELDS = "free-fields"  # event_id and occurred_at differ: still a reuse
STORED = "stored"  # the original is stored first; event_id, occurred_at, trace_seq differ
PAYLOAD = "payload"  # every caller its own payload
METADATA = "metadata"  # same payload, every caller its own actor
TWO_VARIANTS = "two-variants"  # even callers send X, odd callers send Y
ROUNDS = (
    [IDENTICAL] * 6
    + [FREE_FIELDS] * 2
    + [STORED] * 2
    + [PAYLOAD] * 3
    + [METADATA]
    + [TWO_VARIANTS] * 3
)
#: The party number of the original of a STORED round (stored before the race).
ORIGINAL = -1


def _envelope(round_index: int, kind: str, party: int) -> EventEnvelope:
    trace_id = f"retry-{round_index}"
    key = f"key-{round_index}"
    shared_id = str(uuid.uuid5(uuid.NAMESPACE_OID, trace_id))
    title = {
        PAYLOAD: f"payload of caller {party}",
        TWO_VARIANTS: f"variant {party % 2}",
    }.get(kind, "the only payload")
    payload = {**MINIMAL_PAYLOADS["TraceStarted"], "title": title}
    if kind in (FREE_FIELDS, STORED):
        return make_envelope(
            trace_id,
            # Not compared by reuse (spec 4.1 step 8, 14.4); a later trace_seq only
            # makes sense for a retry of an event already stored.
            0 if kind == FREE_FIELDS or party == ORIGINAL else 1 + party % 3,
            "TraceStarted",
            payload=payload,
            event_id=f"{shared_id}-{party}",
            idempotency_key=key,
            occurred_at=f"2026-01-01T00:00:{party + 1:02d}Z",
        )
    return make_envelope(
        trace_id,
        0,
        payload=payload,
        event_id=shared_id,
        idempotency_key=key,
        actor_id=f"agent-{party}" if kind == METADATA else "test-agent",
    )


def _rounds_of(party: int) -> list[dict[str, Any]]:
    return [_envelope(r, kind, party).to_dict() for r, kind in enumerate(ROUNDS)]


@pytest.mark.slow
def test_racing_retries_store_one_row_and_answer_alike(
    shared_store_url: str,
    open_stores: Callable[[], SqlEventStore],
    spawn_ctx: multiprocessing.context.SpawnContext,
) -> None:
    store_a, store_b = open_stores(), open_stores()
    originals = {
        r: store_a.append(TENANT, _envelope(r, kind, ORIGINAL)).event
        for r, kind in enumerate(ROUNDS)
        if kind == STORED
    }
    barrier = spawn_ctx.Barrier(PARTIES)
    start = partial(barrier.wait, BARRIER_TIMEOUT)
    local_parties = STORE_A_THREADS + STORE_B_THREADS
    threads = ThreadGroup(
        [
            partial(
                retry_rounds,
                store_a if p < STORE_A_THREADS else store_b,
                TENANT,
                _rounds_of(p),
                start,
            )
            for p in range(local_parties)
        ],
        name="retrier",
    )
    args = [
        (
            shared_store_url,
            TENANT,
            [
                _rounds_of(local_parties + proc * THREADS_PER_PROCESS + t)
                for t in range(THREADS_PER_PROCESS)
            ],
            barrier,
        )
        for proc in range(PROCESSES)
    ]
    with ProcessGroup(retry_process, args, ctx=spawn_ctx) as group:
        group.start()
        threads.start()
        per_process: list[list[list[Outcome]]] = group.wait()
        per_thread = threads.wait()
    # outcomes[party][round], parties in the order _rounds_of numbered them.
    outcomes = per_thread + [rounds for process in per_process for rounds in process]
    assert len(outcomes) == PARTIES

    for round_index, kind in enumerate(ROUNDS):
        got = [o[round_index] for o in outcomes]
        if kind == STORED:
            original = originals[round_index]
            assert store_a.list_events(TENANT, trace_id=original.trace_id) == [original]
            assert set(got) == {
                (
                    "ok",
                    True,
                    original.log_seq,
                    original.event_id,
                    original.recorded_at,
                    original.trace_seq,
                )
            }
        else:
            _check_round(store_a, round_index, kind, got)
    events = check_tenant_log(store_b, TENANT)
    assert len(events) == len(ROUNDS)


def _check_round(store: SqlEventStore, round_index: int, kind: str, got: list[Outcome]) -> None:
    where = f"round {round_index} ({kind})"
    rows = store.list_events(TENANT, trace_id=f"retry-{round_index}")
    assert len(rows) == 1, f"{where}: {len(rows)} rows stored"
    row = rows[0]
    oks = [o for o in got if o[0] == "ok"]
    errors = [o for o in got if o[0] == "error"]
    # Exactly one caller wrote the row; every success answers with the stored row.
    assert [o[1] for o in oks].count(False) == 1, f"{where}: reused flags {[o[1] for o in oks]}"
    assert {(o[2], o[3], o[4]) for o in oks} == {(row.log_seq, row.event_id, row.recorded_at)}, (
        where
    )
    assert all(o[5] == row.trace_seq for o in oks), where
    assert all(o[1] == CONFLICT for o in errors), f"{where}: {errors}"
    winner = next(p for p, o in enumerate(got) if o[0] == "ok" and o[1] is False)
    expected = _envelope(round_index, kind, winner)
    assert (row.event_id, row.trace_seq, row.occurred_at) == (
        expected.event_id,
        expected.trace_seq,
        expected.occurred_at,
    ), where
    assert (row.payload, row.actor) == (expected.payload, expected.actor), where
    if kind in (IDENTICAL, FREE_FIELDS):
        assert not errors, f"{where}: {errors}"
    elif kind in (PAYLOAD, METADATA):
        assert len(oks) == 1, f"{where}: {len(oks)} callers succeeded"
    else:
        winning = {p % 2 for p, o in enumerate(got) if o[0] == "ok"}
        assert len(winning) == 1, f"{where}: both variants succeeded"
        assert all((o[0] == "ok") == (p % 2 in winning) for p, o in enumerate(got)), where
