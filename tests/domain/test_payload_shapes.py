"""Payload shape rules per event type (spec 2), from a table written from the spec."""

from __future__ import annotations

from typing import Any

import pytest

from decisiongraph.domain.event_types import ALL_EVENT_TYPES
from decisiongraph.domain.payload_shapes import check_payload_shape
from decisiongraph.errors import DecisionGraphError
from tests.contract.spec_tables import EVENT_TYPES, REQUIRED_PAYLOAD_KEYS, SCHEMA_VIOLATION
from tests.contract.support import drop_path, set_path
from tests.helpers import MINIMAL_PAYLOADS

WRONG_VALUES: dict[str, list[object]] = {
    "str": ["", 0, 7, None, True, ["x"], {"x": "y"}, 1.5],
    "obj": ["x", "", [], ["a"], None, 0, True],
    "list": [{}, "x", "", None, 0, False],
}

CASES = [
    pytest.param(event_type, path, kind, id=f"{event_type}.{'.'.join(path)}")
    for event_type, rules in REQUIRED_PAYLOAD_KEYS.items()
    for path, kind in rules
]


def _rejects(event_type: str, payload: Any) -> DecisionGraphError:
    with pytest.raises(DecisionGraphError) as caught:
        check_payload_shape(event_type, payload)
    assert caught.value.code == SCHEMA_VIOLATION
    return caught.value


def test_the_ten_event_types_are_frozen_in_spec_order() -> None:
    assert ALL_EVENT_TYPES == EVENT_TYPES


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_the_minimal_payload_of_each_type_passes(event_type: str) -> None:
    check_payload_shape(event_type, MINIMAL_PAYLOADS[event_type])


@pytest.mark.parametrize(("event_type", "path", "kind"), CASES)
def test_a_missing_required_key_fails_naming_its_path(
    event_type: str, path: tuple[str, ...], kind: str
) -> None:
    error = _rejects(event_type, drop_path(MINIMAL_PAYLOADS[event_type], path))
    assert ".".join(path) in error.message


@pytest.mark.parametrize(("event_type", "path", "kind"), CASES)
def test_a_required_key_with_an_empty_or_wrong_value_fails(
    event_type: str, path: tuple[str, ...], kind: str
) -> None:
    for value in WRONG_VALUES[kind]:
        _rejects(event_type, set_path(MINIMAL_PAYLOADS[event_type], path, value))


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_extra_keys_whitespace_strings_and_empty_lists_pass(event_type: str) -> None:
    payload: dict[str, Any] = {**MINIMAL_PAYLOADS[event_type], "extra": {"any": [1, None]}}
    for path, kind in REQUIRED_PAYLOAD_KEYS[event_type]:
        if kind == "str":
            payload = set_path(payload, path, " ")
        elif kind == "list":
            payload = set_path(payload, path, [])
    check_payload_shape(event_type, payload)


@pytest.mark.parametrize("event_type", ["Unknown", "tracestarted", "", "TraceStarted "])
def test_an_unknown_event_type_fails(event_type: str) -> None:
    error = _rejects(event_type, MINIMAL_PAYLOADS["TraceStarted"])
    assert "Unknown event_type" in error.message


@pytest.mark.parametrize("payload", [[], "x", None, 1, ["workflow"]], ids=repr)
def test_a_payload_that_is_not_an_object_fails(payload: Any) -> None:
    error = _rejects("TraceFinished", payload)
    assert "Payload must be a dict" in error.message


def test_the_event_type_is_checked_before_the_payload_type() -> None:
    error = _rejects("Nope", [])
    assert "Unknown event_type" in error.message


def test_trace_finished_accepts_outcomes_outside_the_normative_domain() -> None:
    check_payload_shape("TraceFinished", {"outcome": "approved"})
