"""Idempotent reuse and idempotency conflicts (spec 4.1 step 8, 11.1, 11.2, 13.3, 14.4).
Reuses and conflicts write nothing, so they run against ``populated_store`` (see
support.populate) with a full before/after snapshot; tests that append use ``store``."""

from __future__ import annotations

from typing import Any

import pytest

from decisiongraph.domain.envelope import ActorRef, SourceRef, StoredEvent
from decisiongraph.store.base import SqlEventStore
from tests.contract.spec_tables import CONFLICT, IDEMPOTENCY_CONFLICT
from tests.contract.support import (
    FINISHED_TRACE,
    OTHER_TENANT,
    REUSE_TRACE,
    SEEDED_TRACE,
    TENANT,
    assert_rejected,
    replace,
    reuse_envelope,
    snapshot,
)
from tests.helpers import MINIMAL_PAYLOADS, make_envelope, trace_envelopes


def _stored_reuse_event(store: SqlEventStore) -> StoredEvent:
    (event,) = store.list_events(TENANT, trace_id=REUSE_TRACE, event_types=["InputObserved"])
    return event


def _assert_reused(store: SqlEventStore, envelope: Any, original: StoredEvent) -> None:
    before = snapshot(store, TENANT)
    result = store.append(TENANT, envelope)
    assert result.reused
    assert result.event == original
    assert snapshot(store, TENANT) == before


def test_identical_retry_returns_the_stored_event_and_writes_nothing(
    populated_store: SqlEventStore,
) -> None:
    _assert_reused(populated_store, reuse_envelope(), _stored_reuse_event(populated_store))


def test_reuse_ignores_trace_seq_event_id_and_occurred_at_and_returns_the_original(
    populated_store: SqlEventStore,
) -> None:
    original = _stored_reuse_event(populated_store)
    retry = replace(
        reuse_envelope(),
        trace_seq=7,
        event_id="another-event-id",
        occurred_at="2030-01-01T00:00:00.5+02:00",
    )
    _assert_reused(populated_store, retry, original)
    assert original.event_id == "reuse-event"
    assert original.trace_seq == 1
    assert original.occurred_at == "2025-12-31T12:00:01Z"


def test_reuse_wins_even_when_its_event_id_and_trace_seq_collide_with_other_events(
    populated_store: SqlEventStore,
) -> None:
    other = populated_store.list_events(TENANT, trace_id=SEEDED_TRACE)[0]
    retry = replace(reuse_envelope(), event_id=other.event_id, trace_seq=0)
    _assert_reused(populated_store, retry, _stored_reuse_event(populated_store))


def test_reuse_works_on_a_finished_trace(populated_store: SqlEventStore) -> None:
    stored = populated_store.get_trace_events(TENANT, FINISHED_TRACE)
    assert populated_store.is_trace_finished(TENANT, FINISHED_TRACE)
    for envelope, event in zip(trace_envelopes(FINISHED_TRACE, 3), stored, strict=True):
        _assert_reused(populated_store, envelope, event)


def test_equal_payloads_with_a_different_key_order_are_a_reuse(
    populated_store: SqlEventStore,
) -> None:
    envelope = reuse_envelope()
    reordered = dict(reversed(list(envelope.payload.items())))
    assert list(reordered) != list(envelope.payload)
    _assert_reused(
        populated_store, replace(envelope, payload=reordered), _stored_reuse_event(populated_store)
    )


def test_reuse_consumes_no_log_seq(store: SqlEventStore) -> None:
    store.append(TENANT, make_envelope("t", 0))
    assert store.append(TENANT, make_envelope("t", 0)).reused
    assert store.append(TENANT, make_envelope("t", 1)).event.log_seq == 2
    assert store.get_last_log_seq(TENANT) == 2


def test_different_payload_is_an_idempotency_conflict_naming_the_stored_event(
    populated_store: SqlEventStore,
) -> None:
    envelope = reuse_envelope()
    changed = replace(envelope, payload={**envelope.payload, "input_id": "in-2"})
    error = assert_rejected(populated_store, TENANT, changed, IDEMPOTENCY_CONFLICT)
    assert error.details["mismatches"] == ["payload"]
    assert error.details["existing_event_id"] == envelope.event_id
    assert error.details["existing_log_seq"] == _stored_reuse_event(populated_store).log_seq


def test_payload_mismatch_is_reported_alone_even_when_metadata_differs_too(
    populated_store: SqlEventStore,
) -> None:
    envelope = reuse_envelope()
    changed = replace(
        envelope, payload={**envelope.payload, "extra": 1}, tags=("z",), correlation_id=None
    )
    error = assert_rejected(populated_store, TENANT, changed, IDEMPOTENCY_CONFLICT)
    assert error.details["mismatches"] == ["payload"]


METADATA_CHANGES: dict[str, dict[str, Any]] = {
    "trace_id": {"trace_id": "other-trace"},
    "event_type": {"event_type": "ActionCommitted"},
    "source": {"source": SourceRef("test-producer", "other-system", "sub")},
    "actor": {"actor": ActorRef("agent", "someone-else")},
    "correlation_id": {"correlation_id": "corr-2"},
    "causation_event_id": {"causation_event_id": None},
    "schema_version": {"schema_version": 2},
    "tags": {"tags": ("b", "a")},
}


@pytest.mark.parametrize("field", list(METADATA_CHANGES))
def test_each_metadata_mismatch_is_an_idempotency_conflict_naming_the_field(
    populated_store: SqlEventStore, field: str
) -> None:
    changed = replace(reuse_envelope(), **METADATA_CHANGES[field])
    error = assert_rejected(populated_store, TENANT, changed, IDEMPOTENCY_CONFLICT)
    assert error.details["mismatches"] == [field]
    assert error.details["existing_event_id"] == "reuse-event"
    assert error.details["existing_log_seq"] == _stored_reuse_event(populated_store).log_seq
    assert field in error.message


MORE_METADATA_CHANGES: dict[str, tuple[dict[str, Any], str]] = {
    "subsystem-none": ({"source": SourceRef("test-producer", "test", None)}, "source"),
    "subsystem-other": ({"source": SourceRef("test-producer", "test", "other")}, "source"),
    "actor-type": ({"actor": ActorRef("person", "test-agent")}, "actor"),
    "tags-shorter": ({"tags": ("a",)}, "tags"),
    "tags-empty": ({"tags": ()}, "tags"),
    "correlation-id-none": ({"correlation_id": None}, "correlation_id"),
    "correlation-id-empty": ({"correlation_id": ""}, "correlation_id"),
}


@pytest.mark.parametrize(
    ("change", "field"), list(MORE_METADATA_CHANGES.values()), ids=list(MORE_METADATA_CHANGES)
)
def test_every_part_of_a_metadata_field_takes_part_in_reuse_matching(
    populated_store: SqlEventStore, change: dict[str, Any], field: str
) -> None:
    changed = replace(reuse_envelope(), **change)
    error = assert_rejected(populated_store, TENANT, changed, IDEMPOTENCY_CONFLICT)
    assert error.details["mismatches"] == [field]


def test_all_metadata_mismatches_are_listed_in_the_spec_order(
    populated_store: SqlEventStore,
) -> None:
    changes: dict[str, Any] = {}
    for change in reversed(METADATA_CHANGES.values()):
        changes.update(change)
    changed = replace(reuse_envelope(), **changes)
    error = assert_rejected(populated_store, TENANT, changed, IDEMPOTENCY_CONFLICT)
    expected = list(METADATA_CHANGES)
    assert error.details["mismatches"] == expected
    assert ", ".join(expected) in error.message


def test_an_empty_correlation_id_does_not_match_a_stored_none(
    populated_store: SqlEventStore,
) -> None:
    retry = replace(make_envelope(SEEDED_TRACE, 0), correlation_id="")
    error = assert_rejected(populated_store, TENANT, retry, IDEMPOTENCY_CONFLICT)
    assert error.details["mismatches"] == ["correlation_id"]


def test_conflicting_retry_on_a_finished_trace_is_an_idempotency_conflict_not_a_lock(
    populated_store: SqlEventStore,
) -> None:
    payload = {**MINIMAL_PAYLOADS["InputObserved"], "x": 1}
    changed = make_envelope(FINISHED_TRACE, 1, payload=payload)
    assert_rejected(populated_store, TENANT, changed, IDEMPOTENCY_CONFLICT)
    # A new key on the finished trace meets the lock instead.
    fresh = make_envelope(FINISHED_TRACE, 3, idempotency_key="fresh-key")
    assert_rejected(populated_store, TENANT, fresh, CONFLICT)


def test_the_same_key_under_another_producer_is_a_new_event(store: SqlEventStore) -> None:
    first = store.append(TENANT, make_envelope("t", 0, idempotency_key="k")).event
    second_envelope = make_envelope("t", 1, idempotency_key="k", producer_id="other-producer")
    second = store.append(TENANT, second_envelope)
    assert not second.reused
    assert second.event.log_seq == first.log_seq + 1
    assert second.event.event_id == second_envelope.event_id
    # And each (producer, key) still reuses its own event.
    assert store.append(TENANT, second_envelope).event == second.event
    assert store.append(TENANT, make_envelope("t", 0, idempotency_key="k")).event == first


def test_the_same_key_in_another_tenant_is_independent(store: SqlEventStore) -> None:
    envelope = make_envelope("t", 0, idempotency_key="k")
    in_first = store.append(TENANT, envelope)
    in_second = store.append(OTHER_TENANT, envelope)
    assert not in_first.reused
    assert not in_second.reused
    assert in_second.event.log_seq == 1
    assert in_second.event.tenant_id == OTHER_TENANT
    # A different payload under the same key in a third tenant is not a conflict.
    changed = replace(envelope, payload={**MINIMAL_PAYLOADS["TraceStarted"], "x": 1})
    assert not store.append("third", changed).reused
