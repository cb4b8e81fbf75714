"""Storage fields: log_seq (spec 1.2, 13.2), recorded_at (1.2, 14.9) and payload_hash
(3.2), and the envelope fields coming back unchanged."""

from __future__ import annotations

import hashlib

from decisiongraph.domain.canonical import compute_payload_hash
from decisiongraph.domain.envelope import ActorRef, SourceRef
from decisiongraph.store.base import SqlEventStore
from tests.conftest import golden_envelopes
from tests.contract.spec_tables import (
    DEALDESK_PAYLOAD_HASHES,
    EVENT_SEQUENCE_INVALID,
    IDEMPOTENCY_CONFLICT,
    SCHEMA_VIOLATION,
)
from tests.contract.support import (
    OTHER_TENANT,
    PAYLOAD_HASH_FORMAT,
    RECORDED_AT_FORMAT,
    TENANT,
    append_all,
    assert_rejected,
    replace,
)
from tests.helpers import MINIMAL_PAYLOADS, make_envelope, trace_envelopes


def test_log_seq_starts_at_1_and_has_no_gaps_across_traces(store: SqlEventStore) -> None:
    assert store.get_last_log_seq(TENANT) == 0
    seqs = []
    for seq in range(4):
        for trace in ("a", "b", "c"):
            seqs.append(store.append(TENANT, make_envelope(trace, seq)).event.log_seq)
    assert seqs == list(range(1, 13))
    assert [e.log_seq for e in store.list_events(TENANT)] == list(range(1, 13))
    assert store.get_last_log_seq(TENANT) == 12


def test_log_seq_is_per_tenant(store: SqlEventStore) -> None:
    assert store.append(TENANT, make_envelope("a", 0)).event.log_seq == 1
    assert store.append(OTHER_TENANT, make_envelope("b", 0)).event.log_seq == 1
    assert store.append(TENANT, make_envelope("a", 1)).event.log_seq == 2
    assert store.append(OTHER_TENANT, make_envelope("b", 1)).event.log_seq == 2
    assert store.get_last_log_seq(TENANT) == 2
    assert store.get_last_log_seq(OTHER_TENANT) == 2


def test_rejected_appends_and_reuses_consume_no_log_seq(store: SqlEventStore) -> None:
    first = make_envelope("a", 0)
    store.append(TENANT, first)
    assert_rejected(store, TENANT, make_envelope("a", 5), EVENT_SEQUENCE_INVALID)
    bad_payload = replace(first, payload={**MINIMAL_PAYLOADS["TraceStarted"], "x": 0.5})
    assert_rejected(store, TENANT, bad_payload, SCHEMA_VIOLATION)
    conflict = replace(first, payload={**MINIMAL_PAYLOADS["TraceStarted"], "x": 1})
    assert_rejected(store, TENANT, conflict, IDEMPOTENCY_CONFLICT)
    assert store.append(TENANT, first).reused
    assert store.append(TENANT, make_envelope("a", 1)).event.log_seq == 2
    assert [e.log_seq for e in store.list_events(TENANT)] == [1, 2]


def test_recorded_at_has_the_spec_format_and_never_decreases(store: SqlEventStore) -> None:
    for trace in ("a", "b", "c", "d"):
        append_all(store, TENANT, trace_envelopes(trace, 4))
    store.append_batch(TENANT, trace_envelopes("e", 5))
    events = store.list_events(TENANT)
    assert len(events) == 21
    for event in events:
        assert RECORDED_AT_FORMAT.fullmatch(event.recorded_at), event.recorded_at
    stamps = [e.recorded_at for e in events]
    assert stamps == sorted(stamps)


def test_recorded_at_is_the_store_clock_not_occurred_at(store: SqlEventStore) -> None:
    event = store.append(TENANT, make_envelope("a", 0, occurred_at="1999-01-01T00:00:00Z")).event
    assert event.occurred_at == "1999-01-01T00:00:00Z"
    assert event.recorded_at > "2020"
    assert store.list_events(TENANT)[0].recorded_at == event.recorded_at


def test_payload_hash_is_the_sha256_of_the_canonical_payload(store: SqlEventStore) -> None:
    payload = {
        **MINIMAL_PAYLOADS["TraceStarted"],
        "b": [1, True, None],
        "a": "é\n",
        "Z": {"y": -2, "x": "\u2028"},
    }
    event = store.append(TENANT, make_envelope("a", 0, payload=payload)).event
    canonical = (
        '{"Z":{"x":"\u2028","y":-2},"a":"é\\n","b":[1,true,null],'
        '"primary_entity":{"entity_id":"acc-1","entity_type":"account","system":null},'
        '"title":"A title","workflow":"wf"}'
    )
    expected = "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert event.payload_hash == expected
    assert PAYLOAD_HASH_FORMAT.fullmatch(event.payload_hash)
    assert len(event.payload_hash) == 71
    assert store.list_events(TENANT)[0].payload_hash == expected


def test_dealdesk_payload_hashes_match_the_spec_vectors(store: SqlEventStore) -> None:
    stored = append_all(store, TENANT, golden_envelopes("dealdesk"))
    assert tuple(e.payload_hash for e in stored) == DEALDESK_PAYLOAD_HASHES
    assert tuple(e.payload_hash for e in store.list_events(TENANT)) == DEALDESK_PAYLOAD_HASHES


def test_every_envelope_field_comes_back_unchanged(store: SqlEventStore) -> None:
    envelope = replace(
        make_envelope(
            "trace-ü",
            0,
            event_id="Event-Ü-1",
            correlation_id="corr",
            causation_event_id="cause",
            schema_version=7,
            tags=("z", "a", "z", "ünï"),
            occurred_at="2025-12-31T12:00:00.123+01:00",
        ),
        source=SourceRef("prod", "sys", "sub"),
        actor=ActorRef("person", "p-ü"),
    )
    result = store.append(TENANT, envelope)
    assert result.event.envelope() == envelope
    assert result.event.tenant_id == TENANT
    assert result.event.payload_hash == compute_payload_hash(envelope.payload)
    (read,) = store.list_events(TENANT)
    assert read == result.event
    assert read.envelope() == envelope
    assert store.get_trace_events(TENANT, "trace-ü") == [read]


def test_large_schema_version_round_trips(store: SqlEventStore) -> None:
    envelope = make_envelope("a", 0, schema_version=2**62)
    assert store.append(TENANT, envelope).event.schema_version == 2**62
    assert store.list_events(TENANT)[0].schema_version == 2**62
