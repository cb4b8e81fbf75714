"""Telemetry hooks (issue 2): the observer passed to open_store receives one record per
append outcome (appended, reused, rejected with its code) and one per read."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from decisiongraph.errors import DecisionGraphError
from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.factory import open_store
from decisiongraph.store.observer import AppendRecord, ReadRecord, RecordingObserver
from tests.contract.spec_tables import (
    EVENT_SEQUENCE_INVALID,
    IDEMPOTENCY_CONFLICT,
    SCHEMA_VIOLATION,
)
from tests.contract.support import TENANT, replace
from tests.helpers import MINIMAL_PAYLOADS, make_envelope


@pytest.fixture
def observer() -> RecordingObserver:
    return RecordingObserver()


@pytest.fixture
def observed_store(store_url: str, observer: RecordingObserver) -> Iterator[SqlEventStore]:
    opened = open_store(store_url, observer=observer)
    try:
        yield opened
    finally:
        opened.close()


def _outcomes(observer: RecordingObserver) -> list[tuple[str, str, str, str | None]]:
    return [(r.trace_id, r.event_type, r.outcome, r.code) for r in observer.appends]


def test_appended_reused_and_rejected_appends_are_reported(
    observed_store: SqlEventStore, observer: RecordingObserver
) -> None:
    started = make_envelope("t", 0)
    observed_store.append(TENANT, started)
    observed_store.append(TENANT, started)
    bad_payload = replace(make_envelope("t", 1), payload={"x": 1})
    conflict = replace(started, payload={**MINIMAL_PAYLOADS["TraceStarted"], "x": 1})
    for envelope in (bad_payload, make_envelope("t", 4), conflict):
        with pytest.raises(DecisionGraphError):
            observed_store.append(TENANT, envelope)
    assert _outcomes(observer) == [
        ("t", "TraceStarted", "appended", None),
        ("t", "TraceStarted", "reused", None),
        ("t", "InputObserved", "rejected", SCHEMA_VIOLATION),
        ("t", "InputObserved", "rejected", EVENT_SEQUENCE_INVALID),
        ("t", "TraceStarted", "rejected", IDEMPOTENCY_CONFLICT),
    ]
    assert all(r.tenant_id == TENANT for r in observer.appends)
    assert all(r.duration_s >= 0 for r in observer.appends)


def test_append_records_carry_the_payload_size(
    observed_store: SqlEventStore, observer: RecordingObserver
) -> None:
    small = make_envelope("s", 0)
    large = make_envelope("l", 0, payload={**MINIMAL_PAYLOADS["TraceStarted"], "x": "y" * 5000})
    observed_store.append(TENANT, small)
    observed_store.append(TENANT, large)
    small_record, large_record = observer.appends
    assert isinstance(small_record, AppendRecord)
    assert small_record.size_bytes > 0
    assert large_record.size_bytes >= small_record.size_bytes + 5000


def test_each_event_of_a_non_atomic_batch_is_reported(
    observed_store: SqlEventStore, observer: RecordingObserver
) -> None:
    started = make_envelope("t", 0)
    envelopes = [started, make_envelope("t", 3), started, make_envelope("t", 1)]
    observed_store.append_batch(TENANT, envelopes, atomic=False)
    assert [(r.outcome, r.code) for r in observer.appends] == [
        ("appended", None),
        ("rejected", EVENT_SEQUENCE_INVALID),
        ("reused", None),
        ("appended", None),
    ]


def test_a_rejected_atomic_batch_reports_no_event_as_appended(
    observed_store: SqlEventStore, observer: RecordingObserver
) -> None:
    envelopes = [make_envelope("t", 0), make_envelope("t", 1), make_envelope("t", 5)]
    with pytest.raises(DecisionGraphError):
        observed_store.append_batch(TENANT, envelopes, atomic=True)
    assert observed_store.get_last_log_seq(TENANT) == 0
    assert [r.outcome for r in observer.appends if r.outcome == "appended"] == []
    assert ("rejected", EVENT_SEQUENCE_INVALID) in [(r.outcome, r.code) for r in observer.appends]


def test_reads_are_reported_with_their_event_count(
    observed_store: SqlEventStore, observer: RecordingObserver
) -> None:
    for seq in range(3):
        observed_store.append(TENANT, make_envelope("t", seq))
    observer.reads.clear()
    observed_store.list_events(TENANT, limit=2)
    observed_store.get_trace_events(TENANT, "t")
    batches = list(observed_store.iter_event_batches(TENANT, batch_size=2))
    assert [len(b) for b in batches] == [2, 1]
    reads = observer.reads
    assert all(isinstance(r, ReadRecord) for r in reads)
    assert all(r.tenant_id == TENANT and r.duration_s >= 0 for r in reads)
    assert reads[0].events == 2
    assert reads[1].events == 3
    assert reads[1].trace_id == "t"
    assert [r.events for r in reads[2:]] == [2, 1, 0]


class _FailingObserver(RecordingObserver):
    def on_append(self, record: AppendRecord) -> None:
        raise RuntimeError("observer is broken")

    def on_read(self, record: ReadRecord) -> None:
        raise RuntimeError("observer is broken")


def test_a_failing_observer_never_fails_the_store(store_url: str) -> None:
    opened = open_store(store_url, observer=_FailingObserver())
    try:
        assert opened.append(TENANT, make_envelope("t", 0)).event.log_seq == 1
        assert len(opened.list_events(TENANT)) == 1
    finally:
        opened.close()
