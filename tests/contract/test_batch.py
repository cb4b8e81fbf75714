"""Batch append (issue 2, spec 4.1 and 14.4): atomic all-or-nothing naming the first
failing index, non-atomic per-event outcomes, and equality with one-by-one appends."""

from __future__ import annotations

from typing import Any

from decisiongraph.domain.envelope import EventEnvelope
from decisiongraph.errors import DecisionGraphError
from decisiongraph.store.base import BatchOutcome, SqlEventStore
from decisiongraph.store.planner import AppendResult
from tests.contract.spec_tables import (
    CONFLICT,
    EVENT_SEQUENCE_INVALID,
    IDEMPOTENCY_CONFLICT,
    INVALID_ARGUMENT,
    PII_POLICY_VIOLATION,
    SCHEMA_VIOLATION,
)
from tests.contract.support import (
    OTHER_TENANT,
    TENANT,
    append_all,
    assert_batch_rejected,
    comparable,
    outcome_view,
    replace,
    snapshot,
)
from tests.helpers import MINIMAL_PAYLOADS, make_envelope, trace_envelopes


def _ok(outcome: BatchOutcome) -> AppendResult:
    assert isinstance(outcome, AppendResult), outcome
    return outcome


def _float_payload() -> dict[str, Any]:
    return {**MINIMAL_PAYLOADS["InputObserved"], "x": 0.0}


def test_atomic_batch_of_one_trace_is_stored_in_order(store: SqlEventStore) -> None:
    envelopes = trace_envelopes("t", 6)
    outcomes = store.append_batch(TENANT, envelopes, atomic=True)
    results = [_ok(o) for o in outcomes]
    assert [r.reused for r in results] == [False] * 6
    assert [r.event.log_seq for r in results] == [1, 2, 3, 4, 5, 6]
    assert [r.event.envelope() for r in results] == envelopes
    assert store.list_events(TENANT) == [r.event for r in results]
    assert store.is_trace_finished(TENANT, "t")


def test_atomic_batch_may_interleave_several_traces(store: SqlEventStore) -> None:
    envelopes = [make_envelope(trace, seq) for seq in range(3) for trace in ("a", "b")]
    outcomes = store.append_batch(TENANT, envelopes)
    assert [_ok(o).event.log_seq for o in outcomes] == list(range(1, 7))
    assert [e.trace_seq for e in store.get_trace_events(TENANT, "b")] == [0, 1, 2]


def test_empty_batch_returns_nothing_and_changes_nothing(store: SqlEventStore) -> None:
    before = snapshot(store, TENANT)
    assert store.append_batch(TENANT, [], atomic=True) == []
    assert store.append_batch(TENANT, [], atomic=False) == []
    assert snapshot(store, TENANT) == before


def test_atomic_batch_with_a_sequencing_fault_stores_nothing_and_names_its_index(
    store: SqlEventStore,
) -> None:
    append_all(store, TENANT, [make_envelope("s", 0)])
    envelopes = [make_envelope("t", 0), make_envelope("t", 1), make_envelope("t", 3)]
    error = assert_batch_rejected(store, TENANT, envelopes, EVENT_SEQUENCE_INVALID, 2)
    assert error.details["expected_trace_seq"] == 2


def test_atomic_batch_with_a_validation_fault_stores_nothing_and_names_its_index(
    store: SqlEventStore,
) -> None:
    envelopes = trace_envelopes("t", 4, finish=False)
    envelopes[2] = replace(envelopes[2], payload=_float_payload())
    assert_batch_rejected(store, TENANT, envelopes, SCHEMA_VIOLATION, 2)


def test_atomic_batch_reports_the_earlier_sequencing_fault_before_a_later_validation_fault(
    store: SqlEventStore,
) -> None:
    envelopes = [
        make_envelope("t", 0),
        make_envelope("t", 5),
        replace(make_envelope("t", 2), idempotency_key=""),
        replace(make_envelope("t", 3), tags=("AKIAIOSFODNN7EXAMPLE",)),
    ]
    assert_batch_rejected(store, TENANT, envelopes, EVENT_SEQUENCE_INVALID, 1)


def test_atomic_batch_reports_the_earlier_validation_fault_before_a_later_sequencing_fault(
    store: SqlEventStore,
) -> None:
    envelopes = [
        make_envelope("t", 0),
        replace(make_envelope("t", 1), tags=("AKIAIOSFODNN7EXAMPLE",)),
        make_envelope("t", 5),
    ]
    assert_batch_rejected(store, TENANT, envelopes, PII_POLICY_VIOLATION, 1)


def test_atomic_batch_fault_at_index_0_is_reported_as_index_0(store: SqlEventStore) -> None:
    envelopes = [replace(make_envelope("t", 0), idempotency_key=""), make_envelope("t", 1)]
    assert_batch_rejected(store, TENANT, envelopes, INVALID_ARGUMENT, 0)


def test_atomic_batch_failure_on_a_new_tenant_leaves_no_tenant_behind(
    store: SqlEventStore,
) -> None:
    envelopes = [make_envelope("t", 0), make_envelope("t", 2)]
    assert_batch_rejected(store, "brand-new", envelopes, EVENT_SEQUENCE_INVALID, 1)
    assert "brand-new" not in store.list_tenants()
    assert store.get_last_log_seq("brand-new") == 0


def test_batch_event_may_reuse_an_earlier_event_of_the_same_batch(store: SqlEventStore) -> None:
    first = make_envelope("t", 1)
    retry = replace(first, event_id="other-id", trace_seq=9)
    outcomes = store.append_batch(TENANT, [make_envelope("t", 0), first, retry])
    results = [_ok(o) for o in outcomes]
    assert [r.reused for r in results] == [False, False, True]
    assert results[2].event == results[1].event
    assert store.get_last_log_seq(TENANT) == 2


def test_batch_event_may_reuse_a_stored_event_whose_trace_seq_does_not_fit_the_batch(
    store: SqlEventStore,
) -> None:
    stored = append_all(store, TENANT, [make_envelope("t", 0), make_envelope("t", 1)])
    batch = [make_envelope("t", 2), make_envelope("t", 0), make_envelope("t", 3)]
    results = [_ok(o) for o in store.append_batch(TENANT, batch)]
    assert [r.reused for r in results] == [False, True, False]
    assert results[1].event == stored[0]
    assert [r.event.log_seq for r in results] == [3, 1, 4]


def test_atomic_batch_with_a_conflicting_retry_of_an_earlier_batch_event_stores_nothing(
    store: SqlEventStore,
) -> None:
    first = make_envelope("t", 1)
    conflict = replace(first, payload={**MINIMAL_PAYLOADS["InputObserved"], "x": 1})
    envelopes = [make_envelope("t", 0), first, conflict]
    error = assert_batch_rejected(store, TENANT, envelopes, IDEMPOTENCY_CONFLICT, 2)
    assert error.details["mismatches"] == ["payload"]


def test_atomic_batch_that_finishes_a_trace_and_continues_it_stores_nothing(
    store: SqlEventStore,
) -> None:
    envelopes = [
        make_envelope("t", 0),
        make_envelope("t", 1, "TraceFinished"),
        make_envelope("t", 2),
    ]
    error = assert_batch_rejected(store, TENANT, envelopes, CONFLICT, 2)
    assert error.details["reason"] == "trace_finished"


def test_atomic_batch_with_a_duplicate_event_id_stores_nothing(store: SqlEventStore) -> None:
    envelopes = [make_envelope("t", 0, event_id="e"), make_envelope("u", 0, event_id="e")]
    error = assert_batch_rejected(store, TENANT, envelopes, CONFLICT, 1)
    assert error.details["reason"] == "duplicate_event_id"


def test_non_atomic_batch_commits_the_valid_events_and_reports_each_outcome(
    store: SqlEventStore,
) -> None:
    envelopes = [
        make_envelope("t", 0),
        make_envelope("t", 5),
        make_envelope("t", 1),
        replace(make_envelope("t", 2), payload=_float_payload()),
        make_envelope("t", 0),
        make_envelope("t", 2),
    ]
    outcomes = store.append_batch(TENANT, envelopes, atomic=False)
    assert len(outcomes) == 6
    assert isinstance(outcomes[1], DecisionGraphError)
    assert outcomes[1].code == EVENT_SEQUENCE_INVALID
    assert isinstance(outcomes[3], DecisionGraphError)
    assert outcomes[3].code == SCHEMA_VIOLATION
    accepted = [_ok(outcomes[i]) for i in (0, 2, 4, 5)]
    assert [r.reused for r in accepted] == [False, False, True, False]
    assert [r.event.log_seq for r in accepted] == [1, 2, 1, 3]
    assert [e.trace_seq for e in store.list_events(TENANT)] == [0, 1, 2]
    assert store.list_events(TENANT) == [accepted[0].event, accepted[1].event, accepted[3].event]


def test_non_atomic_batch_of_only_rejected_events_changes_nothing(store: SqlEventStore) -> None:
    before = snapshot(store, TENANT)
    envelopes = [make_envelope("t", 1), replace(make_envelope("t", 0), idempotency_key="")]
    outcomes = store.append_batch(TENANT, envelopes, atomic=False)
    assert [outcome_view(o) for o in outcomes] == [
        ("error", EVENT_SEQUENCE_INVALID),
        ("error", INVALID_ARGUMENT),
    ]
    assert snapshot(store, TENANT) == before


def _mixed_envelopes() -> list[EventEnvelope]:
    """Valid events of two traces, reuses, conflicts, faults and a finished trace."""
    a0, a1 = make_envelope("a", 0), make_envelope("a", 1)
    return [
        a0,
        make_envelope("b", 0),
        a1,
        replace(a1, trace_seq=4, event_id="retry-id"),
        replace(a1, payload={**MINIMAL_PAYLOADS["InputObserved"], "x": 2}),
        make_envelope("a", 3),
        make_envelope("b", 1, "TraceFinished"),
        make_envelope("b", 2),
        replace(make_envelope("a", 2), payload=_float_payload()),
        make_envelope("a", 2, event_id=a0.event_id),
        make_envelope("a", 2, tags=("x", "y")),
        make_envelope("c", 0, event_id="shared-id"),
        make_envelope("d", 0, event_id="shared-id"),
        make_envelope("a", 3, "TraceFinished"),
        a0,
    ]


def test_non_atomic_batch_gives_the_outcomes_and_log_of_one_by_one_appends(
    store: SqlEventStore,
) -> None:
    envelopes = _mixed_envelopes()
    batch = store.append_batch(TENANT, envelopes, atomic=False)
    single: list[BatchOutcome] = []
    for envelope in envelopes:
        try:
            single.append(store.append(OTHER_TENANT, envelope))
        except DecisionGraphError as error:
            single.append(error)
    assert [outcome_view(o) for o in batch] == [outcome_view(o) for o in single]
    assert {o[0] for o in map(outcome_view, batch)} == {"ok", "error"}
    batch_log = [comparable(e) for e in store.list_events(TENANT)]
    single_log = [comparable(e) for e in store.list_events(OTHER_TENANT)]
    assert batch_log == single_log
    assert len(batch_log) == 7


def test_atomic_batch_gives_the_log_of_one_by_one_appends(store: SqlEventStore) -> None:
    envelopes = [e for e in _mixed_envelopes() if e.payload.get("x") is None][:4]
    envelopes += trace_envelopes("z", 4)
    batch = store.append_batch(TENANT, envelopes, atomic=True)
    single = [store.append(OTHER_TENANT, e) for e in envelopes]
    assert [outcome_view(o) for o in batch] == [outcome_view(o) for o in single]
    assert [comparable(e) for e in store.list_events(TENANT)] == [
        comparable(e) for e in store.list_events(OTHER_TENANT)
    ]


def test_atomic_batch_after_a_stored_prefix_continues_log_seq(store: SqlEventStore) -> None:
    append_all(store, TENANT, [make_envelope("t", 0)])
    outcomes = store.append_batch(TENANT, [make_envelope("t", 1), make_envelope("u", 0)])
    assert [_ok(o).event.log_seq for o in outcomes] == [2, 3]
    # A failed batch in between consumes nothing.
    failing = [make_envelope("v", 0), make_envelope("v", 2)]
    assert_batch_rejected(store, TENANT, failing, EVENT_SEQUENCE_INVALID, 1)
    assert store.append(TENANT, make_envelope("w", 0)).event.log_seq == 4


def test_a_large_batch_keeps_special_text_and_big_integers_exactly(store: SqlEventStore) -> None:
    # Large enough to take any bulk path a backend has (COPY on PostgreSQL).
    tricky = "tab\there\nnew\\N\\\\back\rslash \\. \x01 ' \" é 😀 \u2028"
    envelopes = [make_envelope("t", 0, tags=(tricky, "\\N"))]
    for seq in range(1, 40):
        payload = {
            **MINIMAL_PAYLOADS["InputObserved"],
            "text": f"{tricky}{seq}",
            "null_like": "\\N",
            "n": 2**70 + seq,
            "nested": [{"k": None}, [tricky]],
        }
        envelopes.append(
            make_envelope("t", seq, payload=payload, correlation_id=tricky, actor_id=tricky)
        )
    outcomes = store.append_batch(TENANT, envelopes)
    assert [_ok(o).event.log_seq for o in outcomes] == list(range(1, 41))
    events = store.list_events(TENANT)
    assert [e.envelope() for e in events] == envelopes
    single = [store.append(OTHER_TENANT, e).event for e in envelopes]
    assert [comparable(e) for e in events] == [comparable(e) for e in single]


def test_a_batch_of_thousands_of_events_is_stored_and_then_fully_reused(
    store: SqlEventStore,
) -> None:
    envelopes = [make_envelope(f"trace-{i // 4}", i % 4) for i in range(1200)]
    outcomes = store.append_batch(TENANT, envelopes)
    assert [_ok(o).event.log_seq for o in outcomes] == list(range(1, 1201))
    before = snapshot(store, TENANT)
    again = store.append_batch(TENANT, envelopes, atomic=False)
    assert all(_ok(o).reused for o in again)
    assert [_ok(o).event for o in again] == [_ok(o).event for o in outcomes]
    assert snapshot(store, TENANT) == before
