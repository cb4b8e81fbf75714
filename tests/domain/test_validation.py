"""``prepare_event``: the stateless half of the append pipeline returns the storage
forms of an accepted envelope (spec 3.2, 3.3) and raises the first failing step."""

from __future__ import annotations

from decisiongraph.domain.canonical import compute_payload_hash
from decisiongraph.domain.envelope import EventEnvelope
from decisiongraph.domain.validation import MAX_IDEMPOTENCY_KEY_BYTES, prepare_event
from decisiongraph.errors import DecisionGraphError
from tests.contract.spec_tables import INVALID_ARGUMENT, PII_POLICY_VIOLATION, SCHEMA_VIOLATION
from tests.contract.support import replace
from tests.helpers import MINIMAL_PAYLOADS, make_envelope


def _code(envelope: EventEnvelope) -> str:
    try:
        prepare_event(envelope)
    except DecisionGraphError as error:
        return error.code
    return "accepted"


def test_prepared_event_holds_the_hash_and_the_storage_serialisations() -> None:
    payload = {**MINIMAL_PAYLOADS["TraceStarted"], "é": [2**70, None]}
    envelope = make_envelope("t", 0, payload=payload, tags=("b", "é"))
    prepared = prepare_event(envelope)
    assert prepared.envelope is envelope
    assert prepared.payload_hash == compute_payload_hash(payload)
    assert prepared.payload_json == (
        '{"primary_entity": {"entity_id": "acc-1", "entity_type": "account", "system": null}, '
        '"title": "A title", "workflow": "wf", "é": [1180591620717411303424, null]}'
    )
    assert prepared.tags_json == '["b", "é"]'


def test_the_idempotency_key_limit_is_200_utf8_bytes() -> None:
    assert MAX_IDEMPOTENCY_KEY_BYTES == 200
    base = make_envelope("t", 0)
    assert _code(replace(base, idempotency_key="😀" * 50)) == "accepted"
    assert _code(replace(base, idempotency_key="😀" * 50 + "x")) == INVALID_ARGUMENT


def test_each_step_decides_the_code_in_spec_order() -> None:
    base = make_envelope("t", 1, "InputObserved")
    secret = "AKIAIOSFODNN7EXAMPLE"
    all_faults = replace(
        base,
        occurred_at="bad",
        idempotency_key="",
        event_type="Nope",
        payload={"k\x00": 0.5, "s": secret},
    )
    assert _code(all_faults) == INVALID_ARGUMENT  # U+0000 in a payload key
    no_nul = replace(all_faults, payload={"k": 0.5, "s": secret})
    assert _code(no_nul) == SCHEMA_VIOLATION  # occurred_at
    no_time = replace(no_nul, occurred_at="2025-12-31T12:00:00Z")
    assert _code(no_time) == INVALID_ARGUMENT  # idempotency key
    no_key = replace(no_time, idempotency_key="k")
    assert _code(no_key) == SCHEMA_VIOLATION  # unknown event type
    known = replace(no_key, event_type="InputObserved", payload={"x": 0.5, "s": secret})
    assert _code(known) == SCHEMA_VIOLATION  # missing required keys
    shaped = replace(known, payload={**MINIMAL_PAYLOADS["InputObserved"], "x": 0.5, "s": secret})
    assert _code(shaped) == PII_POLICY_VIOLATION
    clean = replace(shaped, payload={**MINIMAL_PAYLOADS["InputObserved"], "x": 0.5})
    assert _code(clean) == SCHEMA_VIOLATION  # the float
    assert _code(replace(clean, payload=MINIMAL_PAYLOADS["InputObserved"])) == "accepted"
