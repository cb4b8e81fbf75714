"""Group commit keeps every append's own outcome (spec 4.1, 4.2, 13.2, 13.3).

Many threads append single events to many traces of one tenant through one store
object, so their appends are coalesced into shared transactions. A good part of them
are invalid in every way the store checks after validation: wrong trace_seq (gap and
repeat), payload and metadata idempotency conflicts, an append to a finished trace, a
duplicate event_id, and pairs racing for the same position; a few fail validation
first. Each valid append must be accepted (or reused) and stored exactly as answered,
each invalid one must get its own error, and rejects and reuses consume no log_seq.

In the ``gated`` run the first coalesced write is held until every other append is
queued, which forces them all into one transaction; the other run is free-running.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import pytest

from decisiongraph.domain.envelope import EventEnvelope, StoredEvent
from decisiongraph.domain.validation import PreparedEvent
from decisiongraph.errors import DecisionGraphError
from decisiongraph.store.base import AppendResult, BatchOutcome, SqlEventStore
from decisiongraph.store.factory import open_store
from tests.concurrency.support import BARRIER_TIMEOUT, ThreadGroup, check_tenant_log
from tests.helpers import MINIMAL_PAYLOADS, make_envelope

TENANT = "grouped"
OPEN_TRACES = 8
ACCEPTED = "accepted"
REUSED = "reused"
PAIR = "pair"  # one of two racing for one position: exactly one of the two wins
SEQUENCE = "DG_ERR_EVENT_SEQUENCE_INVALID"
IDEMPOTENCY = "DG_ERR_IDEMPOTENCY_CONFLICT"
CONFLICT = "DG_ERR_CONFLICT"


@dataclass(frozen=True)
class Case:
    name: str
    envelope: EventEnvelope
    expect: str  # ACCEPTED, REUSED, PAIR or an error code
    reason: str | None = None  # details["reason"] of a DG_ERR_CONFLICT
    stateless: bool = False  # rejected by validation, before the group committer


def _setup(store: SqlEventStore) -> dict[str, StoredEvent]:
    """Open traces ``open-i`` (TraceStarted stored) and a finished trace ``done``."""
    stored: dict[str, StoredEvent] = {}
    for i in range(OPEN_TRACES):
        stored[f"open-{i}"] = store.append(TENANT, make_envelope(f"open-{i}", 0)).event
    for seq in range(3):
        event_type = "TraceFinished" if seq == 2 else None
        stored[f"done-{seq}"] = store.append(TENANT, make_envelope("done", seq, event_type)).event
    return stored


def _cases(stored: dict[str, StoredEvent]) -> list[Case]:
    cases: list[Case] = []
    for i in range(OPEN_TRACES):
        trace = f"open-{i}"
        original = stored[trace].envelope()
        cases += [
            Case(f"next-{i}", make_envelope(trace, 1), ACCEPTED),
            Case(f"gap-{i}", make_envelope(trace, 5), SEQUENCE),
            Case(f"repeat-{i}", make_envelope(trace, 0, idempotency_key=f"again-{i}"), SEQUENCE),
            Case(
                f"payload-conflict-{i}",
                dataclasses.replace(
                    original,
                    payload={**original.payload, "title": "another title"},
                    event_id=f"payload-conflict-{i}",
                ),
                IDEMPOTENCY,
            ),
            Case(
                f"reuse-{i}",
                # event_id, trace_seq and occurred_at are not compared (spec 14.4).
                dataclasses.replace(
                    original,
                    event_id=f"retry-{i}",
                    trace_seq=7,
                    occurred_at="2027-01-01T00:00:00Z",
                ),
                REUSED,
            ),
            Case(f"new-{i}", make_envelope(f"new-{i}", 0), ACCEPTED),
        ]
        if i % 2:
            cases.append(
                Case(
                    f"metadata-conflict-{i}",
                    dataclasses.replace(original, tags=("changed",), event_id=f"meta-{i}"),
                    IDEMPOTENCY,
                )
            )
        if i < 4:
            cases += [
                Case(
                    f"pair-{i}-{side}",
                    make_envelope(f"pair-{i}", 0, idempotency_key=f"pair-{i}-{side}"),
                    PAIR,
                )
                for side in ("left", "right")
            ]
    cases += [
        Case("after-finish", make_envelope("done", 3), CONFLICT, "trace_finished"),
        Case(
            "second-finish",
            make_envelope("done", 3, "TraceFinished", idempotency_key="finish-again"),
            CONFLICT,
            "trace_finished",
        ),
        Case(
            "duplicate-event-id",
            make_envelope("fresh", 0, event_id=stored["open-0"].event_id),
            CONFLICT,
            "duplicate_event_id",
        ),
        Case(
            "empty-key",
            dataclasses.replace(make_envelope("stateless-1", 0), idempotency_key=""),
            "DG_ERR_INVALID_ARGUMENT",
            stateless=True,
        ),
        Case(
            "float",
            make_envelope(
                "stateless-2",
                0,
                payload={**MINIMAL_PAYLOADS["TraceStarted"], "score": 0.5},
            ),
            "DG_ERR_SCHEMA_VIOLATION",
            stateless=True,
        ),
    ]
    return cases


def _attempt(store: SqlEventStore, envelope: EventEnvelope) -> AppendResult | DecisionGraphError:
    try:
        return store.append(TENANT, envelope)
    except DecisionGraphError as error:
        return error


def _gate_first_write(store: SqlEventStore, others: int) -> list[int]:
    """Hold the committer's first write until ``others`` more appends are queued behind
    it; returns the list the size of every coalesced write is appended to.

    This wraps the committer's write callback (a test seam, not a database mock): the
    transactions themselves run unchanged.
    """
    committer = store._committer
    assert committer is not None, "the store was opened without group commit"
    write = committer._write_batch
    sizes: list[int] = []

    def gated(key: str, items: Sequence[PreparedEvent]) -> Sequence[BatchOutcome]:
        if not sizes:
            deadline = time.monotonic() + BARRIER_TIMEOUT
            while True:
                with committer._lock:
                    queued = len(committer._queues.get(key, ()))
                if queued >= others - len(items) + 1 or time.monotonic() > deadline:
                    break
                time.sleep(0.005)
        sizes.append(len(items))
        return write(key, items)

    committer._write_batch = gated
    return sizes


@pytest.mark.parametrize("gated", [True, False], ids=["one-batch", "free-running"])
def test_coalesced_appends_keep_their_own_outcomes(shared_store_url: str, gated: bool) -> None:
    store = open_store(shared_store_url, pool_size=4)
    try:
        _run(store, gated)
    finally:
        store.close()


def _run(store: SqlEventStore, gated: bool) -> None:
    stored = _setup(store)
    cases = _cases(stored)
    queued = [c for c in cases if not c.stateless]
    sizes = _gate_first_write(store, len(queued) - 1) if gated else []
    barrier = threading.Barrier(len(cases))

    def call(case: Case) -> AppendResult | DecisionGraphError:
        barrier.wait(BARRIER_TIMEOUT)
        return _attempt(store, case.envelope)

    results = ThreadGroup([partial(call, case) for case in cases], name="append").run()
    if gated:
        # All queued appends went through the committer, and all but the first one
        # shared a single transaction.
        assert sum(sizes) == len(queued)
        assert len(sizes) == 2, sizes

    accepted: list[tuple[Case, StoredEvent]] = []
    pairs: dict[str, list[bool]] = {}
    for case, result in zip(cases, results, strict=True):
        if case.expect == PAIR:
            won = isinstance(result, AppendResult)
            pairs.setdefault(case.envelope.trace_id, []).append(won)
            if not won:
                assert isinstance(result, DecisionGraphError), (case.name, result)
                assert result.code == SEQUENCE, (case.name, result)
                continue
        if case.expect in (ACCEPTED, PAIR):
            assert isinstance(result, AppendResult), (case.name, result)
            assert not result.reused, case.name
            assert result.event.envelope() == case.envelope, case.name
            accepted.append((case, result.event))
        elif case.expect == REUSED:
            assert isinstance(result, AppendResult), (case.name, result)
            assert result.reused, case.name
            assert result.event == stored[case.envelope.trace_id], case.name
        else:
            assert isinstance(result, DecisionGraphError), (case.name, result)
            assert result.code == case.expect, (case.name, result)
            if case.reason is not None:
                assert result.details.get("reason") == case.reason, (case.name, result)
    assert all(sorted(won) == [False, True] for won in pairs.values()), pairs

    # Accepted appends took the log_seqs right after the setup, without gaps; nothing
    # else was written.
    setup = len(stored)
    assert sorted(e.log_seq for _, e in accepted) == list(
        range(setup + 1, setup + len(accepted) + 1)
    )
    events = check_tenant_log(store, TENANT)
    assert len(events) == setup + len(accepted)
    by_log_seq = {e.log_seq: e for e in events}
    for case, event in accepted:
        assert by_log_seq[event.log_seq] == event, case.name
    assert {e.event_id for e in events} == {e.event_id for e in stored.values()} | {
        e.event_id for _, e in accepted
    }
