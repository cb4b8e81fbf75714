"""The secret guard as changed by spec 12.1: credential shapes are rejected with
DG_ERR_PII_POLICY_VIOLATION and the JSON path, in the payload and in every guarded
metadata field; ordinary words, unguarded fields and dict keys are not."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from decisiongraph.domain.envelope import EventEnvelope
from decisiongraph.store.base import SqlEventStore
from tests.contract.spec_tables import (
    PII_POLICY_VIOLATION,
    SCHEMA_VIOLATION,
    SECRET_ACCEPT_EXAMPLES,
    SECRET_REJECT_EXAMPLES,
)
from tests.contract.support import SEEDED_TRACE, TENANT, assert_rejected, new_id, replace
from tests.helpers import MINIMAL_PAYLOADS, make_envelope

#: The "must reject" examples spelled out in spec 12.1.
SPEC_EXAMPLES = (
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "xoxb-123456789012-abcdefghijkl",
    "sk-abcdefghijklmnopqrstuvwxyz012345",
    "-----BEGIN PRIVATE KEY-----",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----BEGIN EC PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
    "password=hunter2",
    "client_secret=abc",
    "api-key: abc123",
)


def _base() -> EventEnvelope:
    return make_envelope(SEEDED_TRACE, 1, idempotency_key=new_id("key"))


def _payload(**extra: Any) -> dict[str, Any]:
    return {**MINIMAL_PAYLOADS["InputObserved"], **extra}


def _source(envelope: EventEnvelope, **changes: Any) -> EventEnvelope:
    return replace(envelope, source=dataclasses.replace(envelope.source, **changes))


def _actor(envelope: EventEnvelope, **changes: Any) -> EventEnvelope:
    return replace(envelope, actor=dataclasses.replace(envelope.actor, **changes))


#: Guarded location -> (put a string there, the JSON path the error must name).
GUARDED: dict[str, tuple[Callable[[EventEnvelope, str], EventEnvelope], str]] = {
    "payload-nested": (
        lambda e, s: replace(e, payload=_payload(outer={"inner": s})),
        "$.payload.outer.inner",
    ),
    "payload-list-item": (
        lambda e, s: replace(e, payload=_payload(notes=["fine", s])),
        "$.payload.notes[1]",
    ),
    "payload-required-field": (
        lambda e, s: replace(e, payload=_payload(input_id=s)),
        "$.payload.input_id",
    ),
    "tags": (lambda e, s: replace(e, tags=("fine", s)), "$.tags[1]"),
    "source.producer_id": (lambda e, s: _source(e, producer_id=s), "$.source.producer_id"),
    "source.system": (lambda e, s: _source(e, system=s), "$.source.system"),
    "source.subsystem": (lambda e, s: _source(e, subsystem=s), "$.source.subsystem"),
    "actor.actor_type": (lambda e, s: _actor(e, actor_type=s), "$.actor.actor_type"),
    "actor.actor_id": (lambda e, s: _actor(e, actor_id=s), "$.actor.actor_id"),
    "correlation_id": (lambda e, s: replace(e, correlation_id=s), "$.correlation_id"),
    "causation_event_id": (
        lambda e, s: replace(e, causation_event_id=s),
        "$.causation_event_id",
    ),
    "idempotency_key": (lambda e, s: replace(e, idempotency_key=s), "$.idempotency_key"),
}


def _assert_secret_rejected(store: SqlEventStore, envelope: EventEnvelope, path: str) -> None:
    error = assert_rejected(store, TENANT, envelope, PII_POLICY_VIOLATION)
    assert error.details.get("path") == path, error.details
    assert path in error.message


@pytest.mark.parametrize("secret", SPEC_EXAMPLES)
@pytest.mark.parametrize("location", list(GUARDED))
def test_spec_secret_example_in_every_guarded_field_is_rejected_with_its_path(
    populated_store: SqlEventStore, location: str, secret: str
) -> None:
    put, path = GUARDED[location]
    _assert_secret_rejected(populated_store, put(_base(), secret), path)


@pytest.mark.parametrize("secret", SECRET_REJECT_EXAMPLES)
def test_every_listed_credential_shape_in_the_payload_is_rejected(
    populated_store: SqlEventStore, secret: str
) -> None:
    put, path = GUARDED["payload-nested"]
    _assert_secret_rejected(populated_store, put(_base(), secret), path)


@pytest.mark.parametrize(
    "text",
    [
        "please use sk-abcdefghijklmnopqrstuvwxyz012345 for the call",
        "creds AKIAIOSFODNN7EXAMPLE in the log",
        "line1\n-----BEGIN RSA PRIVATE KEY-----\nMIIE",
        "curl -H 'authorization: bearer abcdefghijklmnopqrstuvwxyz'",
    ],
)
def test_credential_embedded_in_a_longer_string_is_rejected(
    populated_store: SqlEventStore, text: str
) -> None:
    put, path = GUARDED["tags"]
    _assert_secret_rejected(populated_store, put(_base(), text), path)


@pytest.mark.parametrize("secret", SPEC_EXAMPLES)
def test_error_names_the_rule_but_never_the_matched_text(
    populated_store: SqlEventStore, secret: str
) -> None:
    put, _ = GUARDED["payload-nested"]
    error = assert_rejected(populated_store, TENANT, put(_base(), secret), PII_POLICY_VIOLATION)
    assert secret not in str(error)
    assert secret not in repr(error)
    assert secret not in repr(error.details)


def _accept_on_fresh_trace(store: SqlEventStore, envelope: EventEnvelope) -> None:
    trace_id = new_id("trace")
    store.append(TENANT, make_envelope(trace_id, 0, idempotency_key=new_id("key")))
    envelope = replace(envelope, trace_id=trace_id, trace_seq=1)
    result = store.append(TENANT, envelope)
    assert not result.reused
    assert result.event.envelope() == envelope


@pytest.mark.parametrize("word", SECRET_ACCEPT_EXAMPLES)
@pytest.mark.parametrize("location", list(GUARDED))
def test_ordinary_words_are_accepted_in_every_guarded_field(
    populated_store: SqlEventStore, location: str, word: str
) -> None:
    put, _ = GUARDED[location]
    envelope = put(_base(), word)
    if location == "idempotency_key":
        envelope = replace(envelope, idempotency_key=f"{word}/{new_id('key')}")
    _accept_on_fresh_trace(populated_store, envelope)


@pytest.mark.parametrize("secret", SPEC_EXAMPLES)
def test_event_id_is_not_scanned(populated_store: SqlEventStore, secret: str) -> None:
    _accept_on_fresh_trace(populated_store, replace(_base(), event_id=f"{secret}"))


@pytest.mark.parametrize("secret", SPEC_EXAMPLES)
def test_trace_id_is_not_scanned(populated_store: SqlEventStore, secret: str) -> None:
    trace_id = f"{secret} {new_id()}"
    populated_store.append(TENANT, make_envelope(trace_id, 0, idempotency_key=new_id("key")))
    result = populated_store.append(
        TENANT, make_envelope(trace_id, 1, idempotency_key=new_id("key"))
    )
    assert result.event.trace_id == trace_id


def test_event_type_holding_a_credential_fails_as_an_unknown_type_not_as_a_secret(
    populated_store: SqlEventStore,
) -> None:
    envelope = replace(_base(), event_type="password=hunter2")
    assert_rejected(populated_store, TENANT, envelope, SCHEMA_VIOLATION)


def test_occurred_at_holding_a_credential_fails_as_a_bad_timestamp_not_as_a_secret(
    populated_store: SqlEventStore,
) -> None:
    envelope = replace(_base(), occurred_at="AKIAIOSFODNN7EXAMPLE")
    assert_rejected(populated_store, TENANT, envelope, SCHEMA_VIOLATION)


def test_dict_keys_are_not_scanned(populated_store: SqlEventStore) -> None:
    payload = _payload(
        **{secret: {"password=hunter2": ["fine"]} for secret in SPEC_EXAMPLES},
    )
    _accept_on_fresh_trace(populated_store, replace(_base(), payload=payload))
