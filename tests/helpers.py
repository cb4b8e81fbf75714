"""Builders of valid envelopes for tests."""

from __future__ import annotations

import uuid
from typing import Any

from decisiongraph.domain.envelope import ActorRef, EventEnvelope, SourceRef

MINIMAL_PAYLOADS: dict[str, dict[str, Any]] = {
    "TraceStarted": {
        "workflow": "wf",
        "title": "A title",
        "primary_entity": {"entity_type": "account", "entity_id": "acc-1", "system": None},
    },
    "InputObserved": {
        "input_id": "in-1",
        "source": {"system": "crm", "object_type": "account", "object_id": "acc-1"},
        "facts": [],
    },
    "EntityObserved": {
        "entity": {"entity_type": "account", "entity_id": "acc-1"},
        "role": "primary",
        "facts": [],
    },
    "PolicyEvaluated": {
        "policy": {"policy_id": "pol-1", "policy_version": "v1"},
        "inputs": [],
        "decision": "allow",
    },
    "ExceptionRequested": {
        "exception_id": "exc-1",
        "policy": {"policy_id": "pol-1", "policy_version": "v1"},
        "reason": "needed",
    },
    "ApprovalRecorded": {
        "approval_id": "apr-1",
        "subject": {"subject_type": "exception", "subject_id": "exc-1"},
        "approver": {"actor_type": "person", "actor_id": "p-1"},
        "decision": "approved",
    },
    "PrecedentCited": {"cited_trace_id": "other-trace", "reason": "similar"},
    "ActionProposed": {
        "action_id": "act-1",
        "action_type": "update",
        "target_entity": {"entity_type": "account", "entity_id": "acc-1"},
        "target_system": "crm",
        "changes": [],
    },
    "ActionCommitted": {"action_id": "act-1", "status": "success"},
    "TraceFinished": {"outcome": "success"},
}


def make_envelope(
    trace_id: str,
    trace_seq: int,
    event_type: str | None = None,
    *,
    payload: dict[str, Any] | None = None,
    event_id: str | None = None,
    idempotency_key: str | None = None,
    producer_id: str = "test-producer",
    occurred_at: str = "2025-12-31T12:00:00Z",
    tags: tuple[str, ...] = (),
    correlation_id: str | None = None,
    causation_event_id: str | None = None,
    schema_version: int = 1,
    actor_id: str = "test-agent",
) -> EventEnvelope:
    """A valid envelope; by default TraceStarted at seq 0 and InputObserved after."""
    if event_type is None:
        event_type = "TraceStarted" if trace_seq == 0 else "InputObserved"
    return EventEnvelope(
        event_id=event_id or str(uuid.uuid4()),
        trace_id=trace_id,
        trace_seq=trace_seq,
        event_type=event_type,
        occurred_at=occurred_at,
        source=SourceRef(producer_id=producer_id, system="test", subsystem=None),
        actor=ActorRef(actor_type="agent", actor_id=actor_id),
        idempotency_key=idempotency_key or f"{trace_id}-{trace_seq}",
        payload=dict(MINIMAL_PAYLOADS[event_type]) if payload is None else payload,
        correlation_id=correlation_id,
        causation_event_id=causation_event_id,
        schema_version=schema_version,
        tags=tags,
    )


def trace_envelopes(trace_id: str, length: int = 3, *, finish: bool = True) -> list[EventEnvelope]:
    """A trace of ``length`` events: started, inputs, and finished if ``finish``."""
    events = [make_envelope(trace_id, 0)]
    for seq in range(1, length):
        last = finish and seq == length - 1
        events.append(make_envelope(trace_id, seq, "TraceFinished" if last else None))
    return events
