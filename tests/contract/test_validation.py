"""Stateless append checks (spec 1.3, 2, 3.1, 4.1 steps 1-5, 14.6, 14.7), in the
spec's order, on every backend. Every reject is proved to leave the store unchanged."""

from __future__ import annotations

import dataclasses
import decimal
from collections.abc import Callable
from typing import Any, cast

import pytest

from decisiongraph.domain.envelope import ActorRef, EventEnvelope, SourceRef
from decisiongraph.errors import DecisionGraphError
from decisiongraph.store.base import SqlEventStore
from tests.contract.spec_tables import (
    EVENT_TYPES,
    INVALID_ARGUMENT,
    PII_POLICY_VIOLATION,
    REQUIRED_PAYLOAD_KEYS,
    SCHEMA_VIOLATION,
    Kind,
)
from tests.contract.support import (
    FINISHED_TRACE,
    SEEDED_TRACE,
    TENANT,
    assert_rejected,
    drop_path,
    new_id,
    replace,
    set_path,
)
from tests.helpers import MINIMAL_PAYLOADS, make_envelope

SECRET = "AKIAIOSFODNN7EXAMPLE"


def probe(event_type: str = "InputObserved", /, **changes: Any) -> EventEnvelope:
    """An envelope that is valid in ``populated_store`` until ``changes`` are applied:
    a TraceStarted opens a new trace, any other type continues the seeded trace."""
    if event_type == "TraceStarted":
        envelope = make_envelope(new_id("trace"), 0, event_type, idempotency_key=new_id("key"))
    else:
        envelope = make_envelope(SEEDED_TRACE, 1, event_type, idempotency_key=new_id("key"))
    return replace(envelope, **changes)


def with_extra(**extra: Any) -> dict[str, Any]:
    """The minimal InputObserved payload plus extra keys."""
    return {**MINIMAL_PAYLOADS["InputObserved"], **extra}


def accept_on_fresh_trace(store: SqlEventStore, envelope: EventEnvelope) -> EventEnvelope:
    """Append ``envelope`` on a new trace (after a TraceStarted if it is not one) and
    return the envelope as stored, which must equal the one given."""
    trace_id = new_id("trace")
    if envelope.event_type != "TraceStarted":
        store.append(TENANT, make_envelope(trace_id, 0))
        envelope = replace(envelope, trace_id=trace_id, trace_seq=1)
    else:
        envelope = replace(envelope, trace_id=trace_id, trace_seq=0)
    result = store.append(TENANT, envelope)
    assert not result.reused
    assert result.event.envelope() == envelope
    (read,) = store.list_events(TENANT, since_log_seq=result.event.log_seq - 1, limit=1)
    assert read == result.event
    return envelope


# ------------------------------------------------- U+0000 and lone surrogates (14.7)

BAD_CHARACTERS = {"U+0000": "\x00", "lone-high-surrogate": "\ud83d", "lone-low-surrogate": "\ude00"}


def _source(**changes: Any) -> SourceRef:
    return dataclasses.replace(SourceRef("test-producer", "test", "sub"), **changes)


def _actor(**changes: Any) -> ActorRef:
    return dataclasses.replace(ActorRef("agent", "test-agent"), **changes)


BAD_STRING_LOCATIONS: dict[str, Callable[[str], EventEnvelope]] = {
    "event_id": lambda s: probe(event_id=f"ev{s}1"),
    "trace_id": lambda s: probe(trace_id=f"tr{s}1"),
    "event_type": lambda s: probe(event_type=f"InputObserved{s}"),
    "occurred_at": lambda s: probe(occurred_at=f"2025-12-31T12:00:00Z{s}"),
    "source.producer_id": lambda s: probe(source=_source(producer_id=f"p{s}")),
    "source.system": lambda s: probe(source=_source(system=f"s{s}")),
    "source.subsystem": lambda s: probe(source=_source(subsystem=f"s{s}")),
    "actor.actor_type": lambda s: probe(actor=_actor(actor_type=f"a{s}")),
    "actor.actor_id": lambda s: probe(actor=_actor(actor_id=f"a{s}")),
    "idempotency_key": lambda s: probe(idempotency_key=f"{new_id('key')}{s}"),
    "correlation_id": lambda s: probe(correlation_id=f"c{s}"),
    "causation_event_id": lambda s: probe(causation_event_id=f"c{s}"),
    "tags": lambda s: probe(tags=("fine", f"t{s}")),
    "payload-required-value": lambda s: probe(payload={**with_extra(), "input_id": f"i{s}"}),
    "payload-nested-value": lambda s: probe(payload=with_extra(outer={"inner": f"v{s}"})),
    "payload-list-item": lambda s: probe(payload=with_extra(notes=["fine", [f"v{s}"]])),
    "payload-top-level-key": lambda s: probe(payload={**with_extra(), f"k{s}": "v"}),
    "payload-nested-key": lambda s: probe(payload=with_extra(outer=[{f"k{s}": "v"}])),
}


@pytest.mark.parametrize("character", list(BAD_CHARACTERS.values()), ids=list(BAD_CHARACTERS))
@pytest.mark.parametrize("location", list(BAD_STRING_LOCATIONS))
def test_nul_or_lone_surrogate_anywhere_in_the_envelope_is_invalid_argument(
    populated_store: SqlEventStore, location: str, character: str
) -> None:
    envelope = BAD_STRING_LOCATIONS[location](character)
    assert_rejected(populated_store, TENANT, envelope, INVALID_ARGUMENT)


@pytest.mark.parametrize("location", ["payload-nested-key", "tags", "idempotency_key", "event_id"])
def test_nul_check_runs_before_the_occurred_at_check(
    populated_store: SqlEventStore, location: str
) -> None:
    envelope = replace(BAD_STRING_LOCATIONS[location]("\x00"), occurred_at="yesterday")
    assert_rejected(populated_store, TENANT, envelope, INVALID_ARGUMENT)


def test_lone_surrogate_in_occurred_at_is_invalid_argument_not_schema_violation(
    populated_store: SqlEventStore,
) -> None:
    envelope = probe(occurred_at="2025-12-31T12:00:00\ud800Z")
    assert_rejected(populated_store, TENANT, envelope, INVALID_ARGUMENT)


@pytest.mark.parametrize(
    "text", ["\uffff", "\U0010ffff", "\ufffe", "\u2028\u2029", "\x7f", "\x01\x1f", "😀"]
)
def test_noncharacters_and_other_code_points_are_accepted(
    populated_store: SqlEventStore, text: str
) -> None:
    envelope = probe(
        payload=with_extra(note=text, **{f"key{text}": text}),
        tags=(text,),
        correlation_id=text,
        actor=_actor(actor_id=text),
    )
    accept_on_fresh_trace(populated_store, envelope)


# ----------------------------------------------------------------- occurred_at (14.6)

INVALID_OCCURRED_AT = [
    "",
    "yesterday",
    "2025-12-31",
    "2025-12-31T12:00:00",
    "2025-12-31 12:00:00Z",
    "2025-12-31T12:00Z",
    "2025-12-31T12:00:00.Z",
    "2025-12-31T12:00:00+0100",
    "2025-12-31T12:00:00+01",
    "2025-13-01T00:00:00Z",
    "2025-02-30T12:00:00Z",
    "2025-12-31T24:00:00Z",
    "2025-12-31T12:60:00Z",
    "25-12-31T12:00:00Z",
    " 2025-12-31T12:00:00Z",
    "2025-12-31T12:00:00Z ",
    "2025-12-31T12:00:00ZZ",
    "1735646400",
    "2025-12-31T12:00:00UTC",
]


@pytest.mark.parametrize("occurred_at", INVALID_OCCURRED_AT)
def test_occurred_at_that_is_not_rfc3339_is_a_schema_violation(
    populated_store: SqlEventStore, occurred_at: str
) -> None:
    assert_rejected(populated_store, TENANT, probe(occurred_at=occurred_at), SCHEMA_VIOLATION)


VALID_OCCURRED_AT = [
    "2025-12-31T12:00:00Z",
    "2025-12-31T12:00:00.5Z",
    "2025-12-31T12:00:00.123456789Z",
    "2025-12-31T12:00:00+05:30",
    "2025-12-31T12:00:00.000-08:00",
    "2025-12-31T12:00:00-00:00",
    "2024-02-29T23:59:59Z",
]


@pytest.mark.parametrize("occurred_at", VALID_OCCURRED_AT)
def test_rfc3339_occurred_at_is_accepted_and_stored_verbatim(
    populated_store: SqlEventStore, occurred_at: str
) -> None:
    stored = accept_on_fresh_trace(populated_store, probe(occurred_at=occurred_at))
    assert stored.occurred_at == occurred_at


# ---------------------------------------------------------- idempotency key (1.3)

INVALID_KEYS = {
    "empty": "",
    "201-ascii-bytes": "k" * 201,
    "201-bytes-of-two-byte-chars": "é" * 100 + "k",
    "emoji-counts-4-bytes": "k" * 197 + "😀",
    "51-emoji": "😀" * 51,
}


@pytest.mark.parametrize("key", list(INVALID_KEYS.values()), ids=list(INVALID_KEYS))
def test_bad_idempotency_key_is_invalid_argument(populated_store: SqlEventStore, key: str) -> None:
    assert_rejected(populated_store, TENANT, probe(idempotency_key=key), INVALID_ARGUMENT)


VALID_KEYS = {
    "whitespace-only": " ",
    "200-ascii-bytes": "a" * 200,
    "200-bytes-of-two-byte-chars": "é" * 100,
    "50-emoji-are-200-bytes": "😀" * 50,
    "196-ascii-and-one-emoji": "b" * 196 + "😀",
}


@pytest.mark.parametrize("key", list(VALID_KEYS.values()), ids=list(VALID_KEYS))
def test_idempotency_key_up_to_200_utf8_bytes_is_accepted(
    populated_store: SqlEventStore, key: str
) -> None:
    stored = accept_on_fresh_trace(populated_store, probe(idempotency_key=key))
    assert stored.idempotency_key == key


# ------------------------------------------------------------ JSON safety (1.3)


def _circular_dict() -> dict[str, Any]:
    payload = with_extra()
    payload["self"] = payload
    return payload


def _circular_list() -> dict[str, Any]:
    items: list[Any] = []
    items.append(items)
    return with_extra(items=items)


UNSERIALISABLE_PAYLOADS: dict[str, Callable[[], dict[str, Any]]] = {
    "set": lambda: with_extra(x={1, 2}),
    "bytes": lambda: with_extra(x=b"raw"),
    "object": lambda: with_extra(x=object()),
    "decimal": lambda: with_extra(x=decimal.Decimal("1.5")),
    "complex": lambda: with_extra(x=1j),
    "set-nested-in-list": lambda: with_extra(x=[1, [2, {"y": frozenset()}]]),
    "circular-dict": _circular_dict,
    "circular-list": _circular_list,
}


@pytest.mark.parametrize(
    "make", list(UNSERIALISABLE_PAYLOADS.values()), ids=list(UNSERIALISABLE_PAYLOADS)
)
def test_payload_that_json_dumps_refuses_is_invalid_argument(
    populated_store: SqlEventStore, make: Callable[[], dict[str, Any]]
) -> None:
    recursed = False
    try:
        assert_rejected(populated_store, TENANT, probe(payload=make()), INVALID_ARGUMENT)
    except RecursionError:
        recursed = True  # json.dumps reports a circular payload as ValueError
    if recursed:
        pytest.fail("append recursed without end instead of raising DG_ERR_INVALID_ARGUMENT")


def test_deep_nesting_is_accepted_or_invalid_argument_never_a_crash(
    store: SqlEventStore,
) -> None:
    # Around the interpreter's recursion limit the checks, the canonical encoder and
    # the stored-text encoder give up at different depths; whichever gives up, the
    # append is refused with the library's code inside the pipeline, never later in
    # the database write (where a group commit would fail other writers too).
    outcomes = set()
    for depth in range(900, 1060, 4):
        nested: Any = "leaf"
        for _ in range(depth):
            nested = [nested]
        envelope = probe(trace_id=f"deep-{depth}", payload=with_extra(x=nested))
        envelope = dataclasses.replace(
            envelope,
            trace_seq=0,
            event_type="TraceStarted",
            payload={**MINIMAL_PAYLOADS["TraceStarted"], "x": nested},
        )
        try:
            store.append(TENANT, envelope)
            outcomes.add("accepted")
        except DecisionGraphError as error:
            outcomes.add(error.code)
    # Accepted below the limit, the library's code beyond it (the sweep reaches it).
    assert outcomes == {"accepted", INVALID_ARGUMENT}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=str)
def test_nan_and_infinity_pass_the_json_check_but_fail_as_floats(
    populated_store: SqlEventStore, value: float
) -> None:
    error = assert_rejected(
        populated_store, TENANT, probe(payload=with_extra(x=value)), SCHEMA_VIOLATION
    )
    assert ".x" in error.message


# -------------------------------------------------------------- payload shape (2)

UNKNOWN_TYPES = ["Unknown", "tracestarted", "TRACESTARTED", "TraceStarted ", "", "trace_started"]


@pytest.mark.parametrize("event_type", UNKNOWN_TYPES)
def test_unknown_event_type_is_a_schema_violation(
    populated_store: SqlEventStore, event_type: str
) -> None:
    assert_rejected(populated_store, TENANT, probe(event_type=event_type), SCHEMA_VIOLATION)


@pytest.mark.parametrize("payload", [[], ["workflow"], "payload", None, 1, True], ids=repr)
@pytest.mark.parametrize("event_type", ["TraceStarted", "TraceFinished"])
def test_payload_that_is_not_an_object_is_a_schema_violation(
    populated_store: SqlEventStore, event_type: str, payload: object
) -> None:
    envelope = probe(event_type, payload=cast(Any, payload))
    assert_rejected(populated_store, TENANT, envelope, SCHEMA_VIOLATION)


WRONG_VALUES: dict[Kind, list[object]] = {
    "str": ["", 7, None, ["x"], {"x": "y"}, True],
    "obj": ["x", [], None, 1],
    "list": [{}, "x", None, 0],
}

SHAPE_CASES = [
    pytest.param(event_type, path, kind, id=f"{event_type}.{'.'.join(path)}")
    for event_type, rules in REQUIRED_PAYLOAD_KEYS.items()
    for path, kind in rules
]


@pytest.mark.parametrize(("event_type", "path", "kind"), SHAPE_CASES)
def test_missing_required_payload_key_is_a_schema_violation(
    populated_store: SqlEventStore, event_type: str, path: tuple[str, ...], kind: Kind
) -> None:
    payload = drop_path(MINIMAL_PAYLOADS[event_type], path)
    envelope = probe(event_type, payload=payload)
    assert_rejected(populated_store, TENANT, envelope, SCHEMA_VIOLATION)


@pytest.mark.parametrize(("event_type", "path", "kind"), SHAPE_CASES)
def test_required_payload_key_that_is_empty_or_of_the_wrong_type_is_a_schema_violation(
    populated_store: SqlEventStore, event_type: str, path: tuple[str, ...], kind: Kind
) -> None:
    for value in WRONG_VALUES[kind]:
        payload = set_path(MINIMAL_PAYLOADS[event_type], path, value)
        envelope = probe(event_type, payload=payload)
        assert_rejected(populated_store, TENANT, envelope, SCHEMA_VIOLATION)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_minimal_payload_with_unknown_extra_keys_is_accepted(
    populated_store: SqlEventStore, event_type: str
) -> None:
    payload = {**MINIMAL_PAYLOADS[event_type], "zz_extra": {"a": [1, None, True]}, "n": -3}
    accept_on_fresh_trace(populated_store, probe(event_type, payload=payload))


NON_NORMATIVE_VALUES = [
    ("TraceFinished", ("outcome",), "approved"),
    ("EntityObserved", ("role",), "bystander"),
    ("PolicyEvaluated", ("decision",), "maybe"),
    ("ApprovalRecorded", ("decision",), "pending"),
    ("ApprovalRecorded", ("subject", "subject_type"), "invoice"),
    ("ActionCommitted", ("status",), "unknown"),
    ("TraceStarted", ("workflow",), " "),
    ("InputObserved", ("facts",), [{"anything": "goes"}]),
]


@pytest.mark.parametrize(("event_type", "path", "value"), NON_NORMATIVE_VALUES)
def test_values_outside_normative_only_domains_are_accepted(
    populated_store: SqlEventStore, event_type: str, path: tuple[str, ...], value: object
) -> None:
    payload = set_path(MINIMAL_PAYLOADS[event_type], path, value)
    accept_on_fresh_trace(populated_store, probe(event_type, payload=payload))


# -------------------------------------------------------------------- floats (3.1)

FLOAT_PAYLOADS: dict[str, tuple[dict[str, Any], str]] = {
    "zero": (with_extra(x=0.0), ".x"),
    "negative-zero": (with_extra(x=-0.0), ".x"),
    "integral": (with_extra(x=3.0), ".x"),
    "fraction": (with_extra(x=1.5), ".x"),
    "in-list": (with_extra(items=[1, 2, 0.0]), ".items[2]"),
    "in-nested-list": (with_extra(m=[[1], [2, [0.0]]]), ".m[1][1][0]"),
    "in-dict-in-list": (with_extra(a={"b": [{"c": 1.5}]}), ".a.b[0].c"),
    "in-required-object": (
        set_path(MINIMAL_PAYLOADS["InputObserved"], ("source", "locator"), 2.0),
        ".source.locator",
    ),
}


@pytest.mark.parametrize(
    ("payload", "path"), list(FLOAT_PAYLOADS.values()), ids=list(FLOAT_PAYLOADS)
)
def test_float_anywhere_in_the_payload_is_a_schema_violation_naming_its_path(
    populated_store: SqlEventStore, payload: dict[str, Any], path: str
) -> None:
    error = assert_rejected(populated_store, TENANT, probe(payload=payload), SCHEMA_VIOLATION)
    assert path in error.message


def test_booleans_and_integers_are_not_floats(populated_store: SqlEventStore) -> None:
    payload = with_extra(flags=[True, False, None], n=0, m=-1, big=10**30)
    accept_on_fresh_trace(populated_store, probe(payload=payload))


# ------------------------------------------------ first failing step decides (4.1)

ORDER_CASES: dict[str, tuple[Callable[[], EventEnvelope], str]] = {
    "nul-beats-occurred-at": (
        lambda: probe(occurred_at="not a date", payload=with_extra(x="a\x00")),
        INVALID_ARGUMENT,
    ),
    "surrogate-key-beats-occurred-at": (
        lambda: probe(occurred_at="not a date", payload=with_extra(**{"k\udfff": "v"})),
        INVALID_ARGUMENT,
    ),
    "occurred-at-beats-empty-key": (
        lambda: probe(occurred_at="not a date", idempotency_key=""),
        SCHEMA_VIOLATION,
    ),
    "occurred-at-beats-unserialisable-payload": (
        lambda: probe(occurred_at="not a date", payload=with_extra(x={1})),
        SCHEMA_VIOLATION,
    ),
    "empty-key-beats-unknown-type": (
        lambda: probe(idempotency_key="", event_type="Nope"),
        INVALID_ARGUMENT,
    ),
    "long-key-beats-missing-required-key": (
        lambda: probe(idempotency_key="k" * 201, payload={}),
        INVALID_ARGUMENT,
    ),
    "empty-key-beats-secret": (
        lambda: probe(idempotency_key="", payload=with_extra(x=SECRET)),
        INVALID_ARGUMENT,
    ),
    "unserialisable-beats-unknown-type": (
        lambda: probe(event_type="Nope", payload={"x": {1}}),
        INVALID_ARGUMENT,
    ),
    "unserialisable-beats-missing-required-key": (
        lambda: probe(payload={"x": b"raw"}),
        INVALID_ARGUMENT,
    ),
    "unserialisable-beats-secret": (
        lambda: probe(payload=with_extra(x={1}, y=SECRET)),
        INVALID_ARGUMENT,
    ),
    "unknown-type-beats-secret": (
        lambda: probe(event_type="Nope", tags=(SECRET,)),
        SCHEMA_VIOLATION,
    ),
    "missing-required-key-beats-secret": (
        lambda: probe(payload={"input_id": SECRET}),
        SCHEMA_VIOLATION,
    ),
    "secret-beats-float": (
        lambda: probe(payload=with_extra(x=0.0, y=SECRET)),
        PII_POLICY_VIOLATION,
    ),
    "secret-in-metadata-beats-float": (
        lambda: probe(payload=with_extra(x=0.5), correlation_id=SECRET),
        PII_POLICY_VIOLATION,
    ),
    "secret-beats-nan": (
        lambda: probe(payload=with_extra(x=float("nan")), tags=(SECRET,)),
        PII_POLICY_VIOLATION,
    ),
    "float-beats-sequencing": (
        lambda: probe(trace_seq=99, payload=with_extra(x=0.0)),
        SCHEMA_VIOLATION,
    ),
    "secret-beats-sequencing": (
        lambda: probe(trace_seq=99, payload=with_extra(x=SECRET)),
        PII_POLICY_VIOLATION,
    ),
    "float-beats-finished-trace": (
        lambda: probe(trace_id=FINISHED_TRACE, trace_seq=3, payload=with_extra(x=0.0)),
        SCHEMA_VIOLATION,
    ),
    "secret-beats-finished-trace": (
        lambda: probe(trace_id=FINISHED_TRACE, trace_seq=3, tags=(SECRET,)),
        PII_POLICY_VIOLATION,
    ),
    "validation-runs-before-the-reuse-lookup": (
        lambda: replace(make_envelope(SEEDED_TRACE, 0), occurred_at="not a date"),
        SCHEMA_VIOLATION,
    ),
    "float-beats-idempotency-conflict": (
        lambda: replace(
            make_envelope(SEEDED_TRACE, 0),
            payload={**MINIMAL_PAYLOADS["TraceStarted"], "x": 0.0},
        ),
        SCHEMA_VIOLATION,
    ),
}


@pytest.mark.parametrize(("make", "code"), list(ORDER_CASES.values()), ids=list(ORDER_CASES))
def test_an_envelope_with_several_faults_fails_with_the_first_failing_step(
    populated_store: SqlEventStore, make: Callable[[], EventEnvelope], code: str
) -> None:
    assert_rejected(populated_store, TENANT, make(), code)
