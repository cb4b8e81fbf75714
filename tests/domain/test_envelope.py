"""``envelope_from_dict`` (spec 1.1): strict JSON types, required keys and defaults."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from decisiongraph.domain.envelope import (
    ActorRef,
    EventEnvelope,
    SourceRef,
    envelope_from_dict,
)
from decisiongraph.errors import DecisionGraphError
from tests.conftest import GOLDEN_SCENARIOS, load_golden
from tests.contract.spec_tables import SCHEMA_VIOLATION


def _full() -> dict[str, Any]:
    return {
        "event_id": "e-1",
        "trace_id": "t-1",
        "trace_seq": 0,
        "event_type": "TraceStarted",
        "occurred_at": "2025-12-31T12:00:00Z",
        "source": {"producer_id": "p", "system": "s", "subsystem": "sub"},
        "actor": {"actor_type": "agent", "actor_id": "a"},
        "correlation_id": "c",
        "causation_event_id": "ce",
        "idempotency_key": "k",
        "schema_version": 3,
        "payload": {"workflow": "wf", "n": 2**70},
        "tags": ["x", "y"],
    }


def _rejects(data: Any) -> DecisionGraphError:
    with pytest.raises(DecisionGraphError) as caught:
        envelope_from_dict(data)
    assert caught.value.code == SCHEMA_VIOLATION
    return caught.value


def test_a_full_object_becomes_the_envelope_and_back() -> None:
    data = _full()
    envelope = envelope_from_dict(data)
    assert envelope == EventEnvelope(
        event_id="e-1",
        trace_id="t-1",
        trace_seq=0,
        event_type="TraceStarted",
        occurred_at="2025-12-31T12:00:00Z",
        source=SourceRef("p", "s", "sub"),
        actor=ActorRef("agent", "a"),
        idempotency_key="k",
        payload={"workflow": "wf", "n": 2**70},
        correlation_id="c",
        causation_event_id="ce",
        schema_version=3,
        tags=("x", "y"),
    )
    assert envelope.to_dict() == data


@pytest.mark.parametrize("scenario", GOLDEN_SCENARIOS)
def test_golden_envelopes_load_and_dump_unchanged(scenario: str) -> None:
    for data in load_golden(scenario)["events"]:
        assert envelope_from_dict(data).to_dict() == data


def test_optional_keys_take_the_spec_defaults() -> None:
    data = _full()
    for key in ("correlation_id", "causation_event_id", "schema_version", "tags"):
        del data[key]
    del data["source"]["subsystem"]
    envelope = envelope_from_dict(data)
    assert envelope.source.subsystem is None
    assert envelope.correlation_id is None
    assert envelope.causation_event_id is None
    assert envelope.schema_version == 1
    assert envelope.tags == ()


def test_optional_keys_may_be_null() -> None:
    data = _full()
    data.update(correlation_id=None, causation_event_id=None)
    data["source"]["subsystem"] = None
    envelope = envelope_from_dict(data)
    assert (envelope.correlation_id, envelope.causation_event_id) == (None, None)
    assert envelope.source.subsystem is None


REQUIRED = [
    ("event_id",),
    ("trace_id",),
    ("trace_seq",),
    ("event_type",),
    ("occurred_at",),
    ("source",),
    ("actor",),
    ("idempotency_key",),
    ("payload",),
    ("source", "producer_id"),
    ("source", "system"),
    ("actor", "actor_type"),
    ("actor", "actor_id"),
]


@pytest.mark.parametrize("path", REQUIRED, ids=".".join)
def test_a_missing_required_key_is_refused_naming_it(path: tuple[str, ...]) -> None:
    data = _full()
    target = data
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    error = _rejects(data)
    assert path[-1] in error.message


WRONG_TYPES = [
    ("trace_seq", True),
    ("trace_seq", False),
    ("trace_seq", "0"),
    ("trace_seq", 0.0),
    ("trace_seq", None),
    ("schema_version", True),
    ("schema_version", "1"),
    ("schema_version", 1.0),
    ("schema_version", None),
    ("event_id", 1),
    ("event_id", None),
    ("trace_id", ["t"]),
    ("event_type", None),
    ("occurred_at", 1735646400),
    ("idempotency_key", 5),
    ("source", "p"),
    ("source", ["p", "s"]),
    ("actor", None),
    ("payload", []),
    ("payload", "text"),
    ("payload", None),
    ("tags", "x"),
    ("tags", ["x", 1]),
    ("tags", [None]),
    ("tags", None),
    ("correlation_id", 5),
    ("causation_event_id", ["x"]),
]


@pytest.mark.parametrize(("key", "value"), WRONG_TYPES, ids=repr)
def test_wrong_json_types_are_refused(key: str, value: Any) -> None:
    data = _full()
    data[key] = value
    _rejects(data)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("source", "producer_id"), 1),
        (("source", "system"), None),
        (("source", "subsystem"), 2),
        (("actor", "actor_type"), True),
        (("actor", "actor_id"), {"id": 1}),
    ],
    ids=repr,
)
def test_wrong_json_types_inside_source_and_actor_are_refused(
    path: tuple[str, str], value: Any
) -> None:
    data = _full()
    data[path[0]][path[1]] = value
    _rejects(data)


def test_a_non_object_is_refused() -> None:
    _rejects(["not", "an", "object"])


def test_unknown_top_level_keys_are_allowed_unless_refused_explicitly() -> None:
    data = {**_full(), "tenant_id": "x", "extra": 1}
    assert envelope_from_dict(data) == envelope_from_dict(_full())
    with pytest.raises(DecisionGraphError) as caught:
        envelope_from_dict(data, allow_unknown_keys=False)
    assert caught.value.code == SCHEMA_VIOLATION
    assert "extra" in caught.value.message


def test_values_are_not_judged_by_the_loader() -> None:
    data = _full()
    data.update(trace_seq=-5, event_type="Nope", occurred_at="whenever", idempotency_key="")
    envelope = envelope_from_dict(data)
    assert (envelope.trace_seq, envelope.event_type) == (-5, "Nope")


def test_the_loader_does_not_mutate_its_input() -> None:
    data = _full()
    original = copy.deepcopy(data)
    envelope_from_dict(data)
    assert data == original
