"""Helpers of the store contract suite: snapshots of the whole store, reject
assertions that prove nothing changed, and envelope builders."""

from __future__ import annotations

import copy
import dataclasses
import re
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from decisiongraph.domain.envelope import ActorRef, EventEnvelope, SourceRef, StoredEvent
from decisiongraph.errors import DecisionGraphError
from decisiongraph.store.base import BatchOutcome, EventStore
from tests.helpers import make_envelope, trace_envelopes

TENANT = "acme"
OTHER_TENANT = "globex"

# What ``populated_store`` holds (see populate()): in TENANT, trace SEEDED_TRACE with
# a TraceStarted (next trace_seq 1), traces "two" and "three" with 2 and 3 events
# (unfinished), FINISHED_TRACE with 3 events ending in TraceFinished, and trace
# REUSE_TRACE with a TraceStarted and REUSE_ENVELOPE(); in OTHER_TENANT, SEEDED_TRACE
# with a TraceStarted.
SEEDED_TRACE = "seeded"
FINISHED_TRACE = "finished"
REUSE_TRACE = "reuse"
#: Trace of ``populated_store``'s TENANT holding exactly N events, for N in 1..3.
TRACE_WITH = {1: SEEDED_TRACE, 2: "two", 3: "three"}

#: The log of ``read_store``'s first tenant: (trace_id, trace_seq, event_type) for
#: log_seq 1..7. Its second tenant holds one event of trace "t1".
READ_LOG: tuple[tuple[str, int, str], ...] = (
    ("t1", 0, "TraceStarted"),
    ("t2", 0, "TraceStarted"),
    ("t1", 1, "InputObserved"),
    ("t2", 1, "PolicyEvaluated"),
    ("t2", 2, "InputObserved"),
    ("t1", 2, "TraceFinished"),
    ("t2", 3, "ActionCommitted"),
)

#: Spec 1.2: ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.
RECORDED_AT_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
PAYLOAD_HASH_FORMAT = re.compile(r"sha256:[0-9a-f]{64}")


def reuse_envelope() -> EventEnvelope:
    """The InputObserved stored at trace_seq 1 of REUSE_TRACE in ``populated_store``:
    every optional field set, and a payload valid both as InputObserved and as
    ActionCommitted (so a retry may change its event_type without failing the shape
    check first)."""
    payload = {
        "input_id": "in-1",
        "source": {"system": "crm", "object_type": "account", "object_id": "acc-1"},
        "facts": [],
        "action_id": "act-1",
        "status": "success",
    }
    return EventEnvelope(
        event_id="reuse-event",
        trace_id=REUSE_TRACE,
        trace_seq=1,
        event_type="InputObserved",
        occurred_at="2025-12-31T12:00:01Z",
        source=SourceRef("test-producer", "test", "sub"),
        actor=ActorRef("agent", "test-agent"),
        idempotency_key="reuse-key",
        payload=payload,
        correlation_id="corr-1",
        causation_event_id="cause-1",
        schema_version=1,
        tags=("a", "b"),
    )


def populate(store: EventStore) -> None:
    """Fill a fresh store with what ``populated_store`` documents."""
    append_all(store, TENANT, [make_envelope(SEEDED_TRACE, 0)])
    append_all(store, TENANT, [make_envelope("two", s) for s in range(2)])
    append_all(store, TENANT, [make_envelope("three", s) for s in range(3)])
    append_all(store, TENANT, trace_envelopes(FINISHED_TRACE, 3))
    append_all(store, TENANT, [make_envelope(REUSE_TRACE, 0), reuse_envelope()])
    append_all(store, OTHER_TENANT, [make_envelope(SEEDED_TRACE, 0)])


def new_id(prefix: str = "id") -> str:
    """A unique id for traces, keys and event ids."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def snapshot(store: EventStore, *tenants: str) -> dict[str, Any]:
    """Everything the store holds: the tenant list, and for every listed tenant and
    every tenant in ``tenants`` its full log (every stored field) and its tail."""
    listed = store.list_tenants()
    names = sorted({*listed, *tenants})
    return {
        "tenants": listed,
        "logs": {t: [e.to_dict() for e in store.list_events(t, limit=10_000)] for t in names},
        "tails": {t: store.get_last_log_seq(t) for t in names},
    }


def assert_rejected(
    store: EventStore,
    tenant: str,
    envelope: EventEnvelope,
    code: str,
    *,
    watch: Sequence[str] = (),
) -> DecisionGraphError:
    """Append ``envelope``, assert it fails with ``code`` and that the store (all
    tenants, plus ``tenant`` and ``watch``) is exactly as before. Returns the error."""
    before = snapshot(store, tenant, *watch)
    with pytest.raises(DecisionGraphError) as caught:
        store.append(tenant, envelope)
    error = caught.value
    assert error.code == code, f"expected {code}, got {error!r} {error.details}"
    assert snapshot(store, tenant, *watch) == before, "a rejected append changed the store"
    return error


def assert_batch_rejected(
    store: EventStore,
    tenant: str,
    envelopes: Sequence[EventEnvelope],
    code: str,
    index: int,
) -> DecisionGraphError:
    """An atomic batch fails with ``code`` naming ``index`` and changes nothing."""
    before = snapshot(store, tenant)
    with pytest.raises(DecisionGraphError) as caught:
        store.append_batch(tenant, envelopes, atomic=True)
    error = caught.value
    assert error.code == code, f"expected {code}, got {error!r} {error.details}"
    assert error.details.get("index") == index, error.details
    assert snapshot(store, tenant) == before, "a rejected atomic batch changed the store"
    return error


def comparable(event: StoredEvent) -> dict[str, Any]:
    """Every stored field except ``tenant_id`` and ``recorded_at``."""
    data = event.to_dict()
    del data["tenant_id"], data["recorded_at"]
    return data


def outcome_view(outcome: BatchOutcome) -> tuple[Any, ...]:
    """A batch or single-append outcome in a form comparable across tenants."""
    if isinstance(outcome, DecisionGraphError):
        return ("error", outcome.code)
    return ("ok", outcome.reused, comparable(outcome.event))


def append_all(
    store: EventStore, tenant: str, envelopes: Sequence[EventEnvelope]
) -> list[StoredEvent]:
    """Append one by one; every append must be new (not a reuse)."""
    stored = []
    for envelope in envelopes:
        result = store.append(tenant, envelope)
        assert not result.reused
        stored.append(result.event)
    return stored


def start_trace(store: EventStore, tenant: str, trace_id: str | None = None) -> str:
    """Append a TraceStarted on a (new) trace and return the trace id."""
    trace_id = trace_id or new_id("trace")
    store.append(tenant, make_envelope(trace_id, 0))
    return trace_id


def replace(envelope: EventEnvelope, **changes: Any) -> EventEnvelope:
    """``dataclasses.replace`` for envelopes (typed loosely for bad-value tests)."""
    return dataclasses.replace(envelope, **changes)


def set_path(payload: dict[str, Any], path: Sequence[str], value: Any) -> dict[str, Any]:
    """A deep copy of ``payload`` with ``value`` at ``path``."""
    result = copy.deepcopy(payload)
    target = result
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return result


def drop_path(payload: dict[str, Any], path: Sequence[str]) -> dict[str, Any]:
    """A deep copy of ``payload`` without the key at ``path``."""
    result = copy.deepcopy(payload)
    target = result
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return result
