"""Payload contents the store must keep exactly: big integers (spec 14.8), large and
deep payloads (1.3), and every code point other than U+0000 and lone surrogates."""

from __future__ import annotations

import hashlib
from typing import Any

from decisiongraph.domain.envelope import StoredEvent
from decisiongraph.errors import DecisionGraphError
from decisiongraph.store.base import SqlEventStore
from tests.contract.spec_tables import INVALID_ARGUMENT
from tests.contract.support import TENANT, snapshot
from tests.helpers import MINIMAL_PAYLOADS, make_envelope

BIG = 2**70


def _exact_types(value: Any) -> list[str]:
    """Paths of floats found anywhere (a big int read back through a float)."""
    if isinstance(value, float):
        return ["$"]
    if isinstance(value, dict):
        return [f".{k}{p}" for k, v in value.items() for p in _exact_types(v)]
    if isinstance(value, list):
        return [f"[{i}]{p}" for i, v in enumerate(value) for p in _exact_types(v)]
    return []


def _every_read(store: SqlEventStore, trace_id: str) -> list[StoredEvent]:
    reads = store.list_events(TENANT, trace_id=trace_id)
    reads += store.get_trace_events(TENANT, trace_id)
    reads += [e for b in store.iter_event_batches(TENANT, trace_id=trace_id) for e in b]
    return reads


def test_big_integers_round_trip_exactly_through_append_and_every_read(
    store: SqlEventStore,
) -> None:
    numbers = {
        "big": BIG,
        "neg": -BIG,
        "odd": BIG + 1,
        "neg_odd": -BIG - 1,
        "edges": [2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**30 + 7],
        "nested": {"deep": [{"n": 3**50}]},
    }
    payload = {**MINIMAL_PAYLOADS["TraceStarted"], **numbers}
    envelope = make_envelope("t", 0, payload=payload)
    appended = store.append(TENANT, envelope).event
    reused = store.append(TENANT, envelope).event
    for event in [appended, reused, *_every_read(store, "t")]:
        assert event.payload == payload
        assert _exact_types(event.payload) == []
        assert event.payload["odd"] == BIG + 1
        assert event.payload["neg"] == -(2**70)
    canonical = (
        '{"big":1180591620717411303424,'
        '"edges":[9223372036854775807,9223372036854775808,-9223372036854775808,'
        "-9223372036854775809,18446744073709551616,1000000000000000000000000000007],"
        '"neg":-1180591620717411303424,"neg_odd":-1180591620717411303425,'
        '"nested":{"deep":[{"n":717897987691852588770249}]},'
        '"odd":1180591620717411303425,'
        '"primary_entity":{"entity_id":"acc-1","entity_type":"account","system":null},'
        '"title":"A title","workflow":"wf"}'
    )
    assert appended.payload_hash == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def test_an_integer_too_long_for_json_is_refused_cleanly_or_kept_exactly(
    store: SqlEventStore,
) -> None:
    huge = 10**5000 + 1
    envelope = make_envelope("t", 0, payload={**MINIMAL_PAYLOADS["TraceStarted"], "huge": huge})
    before = snapshot(store, TENANT)
    refused: DecisionGraphError | None = None
    try:
        store.append(TENANT, envelope)
    except DecisionGraphError as error:
        refused = error
    if refused is not None:
        # Python's json refuses integers over 4300 digits: not JSON-serialisable (1.3).
        assert refused.code == INVALID_ARGUMENT
        assert snapshot(store, TENANT) == before
    else:
        for event in _every_read(store, "t"):
            assert event.payload["huge"] == huge


def test_large_wide_and_deep_payloads_are_accepted_and_round_trip(store: SqlEventStore) -> None:
    deep: dict[str, Any] = {"leaf": "bottom"}
    for level in range(50):
        deep = {f"level{level}": deep, "items": [level, [level]]}
    payload = {
        **MINIMAL_PAYLOADS["TraceStarted"],
        "long": "x" * 100_000 + "é😀",
        "wide": {f"key{i:04d}": i for i in range(1000)},
        "deep": deep,
    }
    envelope = make_envelope("t", 0, payload=payload, tags=tuple(f"tag{i}" for i in range(500)))
    appended = store.append(TENANT, envelope).event
    assert appended.payload == payload
    for event in _every_read(store, "t"):
        assert event == appended
        assert len(event.payload["long"]) == 100_002
        assert len(event.payload["wide"]) == 1000
        assert len(event.tags) == 500


def test_special_code_points_are_stored_and_returned_as_given(store: SqlEventStore) -> None:
    text = '\n\r\t\b\f\x01\x1f\x7f\u2028\u2029\uffff\U0010ffff"\\/é😀'
    payload = {**MINIMAL_PAYLOADS["TraceStarted"], "text": text, text: [text]}
    envelope = make_envelope(
        "t", 0, payload=payload, tags=(text,), correlation_id=text, actor_id=text
    )
    appended = store.append(TENANT, envelope).event
    assert appended.envelope() == envelope
    for event in _every_read(store, "t"):
        assert event == appended
    assert store.append(TENANT, envelope).reused
