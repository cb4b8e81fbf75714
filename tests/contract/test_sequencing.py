"""The finished-trace lock, trace_seq rules and event_id uniqueness (spec 4.1 steps
9-11, 13.1, 13.3), checked in that order. Rejects run against ``populated_store``
(see support.populate); tests that need a pristine log use ``store``."""

from __future__ import annotations

import pytest

from decisiongraph.store.base import SqlEventStore
from tests.contract.spec_tables import CONFLICT, EVENT_SEQUENCE_INVALID, EVENT_TYPES
from tests.contract.support import (
    FINISHED_TRACE,
    OTHER_TENANT,
    REUSE_TRACE,
    TENANT,
    TRACE_WITH,
    append_all,
    assert_rejected,
    comparable,
    new_id,
    reuse_envelope,
)
from tests.helpers import make_envelope, trace_envelopes


def test_a_trace_of_every_event_type_is_accepted_in_order(store: SqlEventStore) -> None:
    envelopes = [make_envelope("t", seq, event_type) for seq, event_type in enumerate(EVENT_TYPES)]
    stored = append_all(store, TENANT, envelopes)
    assert [e.log_seq for e in stored] == list(range(1, 11))
    assert [e.trace_seq for e in stored] == list(range(10))
    assert [e.envelope() for e in stored] == envelopes
    assert store.is_trace_finished(TENANT, "t")
    assert store.get_next_trace_seq(TENANT, "t") == 10


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_any_event_on_a_finished_trace_is_a_conflict(
    populated_store: SqlEventStore, event_type: str
) -> None:
    envelope = make_envelope(FINISHED_TRACE, 3, event_type, idempotency_key=new_id())
    error = assert_rejected(populated_store, TENANT, envelope, CONFLICT)
    assert error.details["reason"] == "trace_finished"


@pytest.mark.parametrize("trace_seq", [0, 1, 2, 5, -1])
def test_the_finished_lock_is_checked_before_trace_seq(
    populated_store: SqlEventStore, trace_seq: int
) -> None:
    envelope = make_envelope(FINISHED_TRACE, trace_seq, "InputObserved", idempotency_key=new_id())
    error = assert_rejected(populated_store, TENANT, envelope, CONFLICT)
    assert error.details["reason"] == "trace_finished"


def test_finishing_a_trace_locks_only_that_trace(store: SqlEventStore) -> None:
    append_all(store, TENANT, trace_envelopes("t", 2))
    append_all(store, TENANT, trace_envelopes("u", 3, finish=False))
    assert store.is_trace_finished(TENANT, "t")
    assert not store.is_trace_finished(TENANT, "u")
    assert store.append(TENANT, make_envelope("u", 3, "TraceFinished")).event.log_seq == 6
    assert store.is_trace_finished(TENANT, "u")


# (name, events the trace holds, event type, trace_seq, expected_trace_seq)
SEQUENCE_CASES = [
    ("first-event-not-trace-started", 0, "InputObserved", 0, 0),
    ("first-event-trace-finished", 0, "TraceFinished", 0, 0),
    ("new-trace-starting-at-1", 0, "TraceStarted", 1, 0),
    ("new-trace-non-start-at-1", 0, "InputObserved", 1, 0),
    ("negative-on-new-trace", 0, "TraceStarted", -1, 0),
    ("negative-on-started-trace", 1, "InputObserved", -1, 1),
    ("gap", 2, "InputObserved", 3, 2),
    ("big-gap", 1, "InputObserved", 100, 1),
    ("repeat", 2, "InputObserved", 1, 2),
    ("repeat-last", 3, "InputObserved", 2, 3),
    ("backwards-to-0", 3, "InputObserved", 0, 3),
    ("trace-started-again-at-next-seq", 1, "TraceStarted", 1, 1),
    ("trace-started-again-at-0", 2, "TraceStarted", 0, 2),
    ("trace-finished-with-a-gap", 2, "TraceFinished", 4, 2),
]


@pytest.mark.parametrize(
    ("held", "event_type", "trace_seq", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in SEQUENCE_CASES],
)
def test_trace_seq_rules_reject_with_the_expected_trace_seq(
    populated_store: SqlEventStore, held: int, event_type: str, trace_seq: int, expected: int
) -> None:
    trace_id = TRACE_WITH[held] if held else new_id("trace")
    assert populated_store.get_next_trace_seq(TENANT, trace_id) == held
    envelope = make_envelope(trace_id, trace_seq, event_type, idempotency_key=new_id())
    error = assert_rejected(populated_store, TENANT, envelope, EVENT_SEQUENCE_INVALID)
    assert error.details["trace_id"] == trace_id
    assert error.details["expected_trace_seq"] == expected


def test_trace_seq_is_per_trace(store: SqlEventStore) -> None:
    append_all(store, TENANT, [make_envelope("t", 0), make_envelope("t", 1)])
    stored = store.append(TENANT, make_envelope("u", 0)).event
    assert stored.trace_seq == 0
    assert store.get_next_trace_seq(TENANT, "t") == 2
    assert store.get_next_trace_seq(TENANT, "u") == 1


def test_duplicate_event_id_in_the_tenant_is_a_conflict(populated_store: SqlEventStore) -> None:
    taken = reuse_envelope().event_id
    for envelope in (
        make_envelope(new_id("trace"), 0, event_id=taken),
        make_envelope(REUSE_TRACE, 2, event_id=taken),
    ):
        error = assert_rejected(populated_store, TENANT, envelope, CONFLICT)
        assert error.details["reason"] == "duplicate_event_id"


def test_duplicate_event_id_is_checked_after_sequencing(populated_store: SqlEventStore) -> None:
    envelope = make_envelope(new_id("trace"), 1, event_id=reuse_envelope().event_id)
    error = assert_rejected(populated_store, TENANT, envelope, EVENT_SEQUENCE_INVALID)
    assert error.details["expected_trace_seq"] == 0


def test_finished_lock_is_checked_before_duplicate_event_id(
    populated_store: SqlEventStore,
) -> None:
    envelope = make_envelope(FINISHED_TRACE, 3, event_id=reuse_envelope().event_id)
    error = assert_rejected(populated_store, TENANT, envelope, CONFLICT)
    assert error.details["reason"] == "trace_finished"


def test_the_same_event_id_in_another_tenant_is_fine(store: SqlEventStore) -> None:
    first = store.append(TENANT, make_envelope("t", 0, event_id="e-1")).event
    second = store.append(OTHER_TENANT, make_envelope("u", 0, event_id="e-1")).event
    assert first.event_id == second.event_id == "e-1"
    assert second.log_seq == 1
    assert comparable(store.list_events(OTHER_TENANT)[0]) == comparable(second)


def test_rejected_events_do_not_advance_the_trace(store: SqlEventStore) -> None:
    store.append(TENANT, make_envelope("t", 0))
    assert_rejected(store, TENANT, make_envelope("t", 2), EVENT_SEQUENCE_INVALID)
    assert store.get_next_trace_seq(TENANT, "t") == 1
    assert store.append(TENANT, make_envelope("t", 1)).event.log_seq == 2
