"""Value coercions and idempotency keys of the façade's event methods (spec 2, 9).

Invariants: value objects become ``dataclasses.asdict`` JSON and mappings are copied as
given (so a mapping that leaves out an optional field, such as an entity's ``system``,
gives a payload without it, unlike the value object, which writes ``null``); the
``source``, ``actor`` and ``start_trace``'s primary entity are read by their spec field
names (a missing required field raises ``KeyError``, as the façade always did); the
default idempotency
keys are ``start:{trace_id}``, ``finish:{trace_id}`` and, for any other event,
``{event_type}:{trace_id}:{trace_seq}``. Pure: stdlib and domain only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from decisiongraph.domain.envelope import ActorRef, SourceRef
from decisiongraph.domain.values import EntityRef

__all__ = [
    "ActorLike",
    "SourceLike",
    "as_actor",
    "as_source",
    "default_idempotency_key",
    "entity_json",
    "finish_key",
    "plain",
    "start_key",
]

SourceLike = SourceRef | Mapping[str, Any]
ActorLike = ActorRef | Mapping[str, Any]


def plain(value: Any) -> Any:
    """Payload JSON of a value object (``dataclasses.asdict``), a mapping or a list."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def as_source(value: SourceLike) -> SourceRef:
    """``value`` itself, or the ``SourceRef`` of its ``producer_id``/``system``/``subsystem``."""
    if isinstance(value, SourceRef):
        return value
    return SourceRef(value["producer_id"], value["system"], value.get("subsystem"))


def as_actor(value: ActorLike) -> ActorRef:
    """``value`` itself, or the ``ActorRef`` of its ``actor_type``/``actor_id``."""
    if isinstance(value, ActorRef):
        return value
    return ActorRef(value["actor_type"], value["actor_id"])


def entity_json(value: EntityRef | Mapping[str, Any]) -> dict[str, Any]:
    """The entity ref's JSON, always with its three keys (``system`` may be null)."""
    if isinstance(value, EntityRef):
        return dataclasses.asdict(value)
    return {
        "entity_type": value["entity_type"],
        "entity_id": value["entity_id"],
        "system": value.get("system"),
    }


def start_key(trace_id: str) -> str:
    """The idempotency key of a trace's TraceStarted: one start per trace."""
    return f"start:{trace_id}"


def finish_key(trace_id: str) -> str:
    """The idempotency key of a trace's TraceFinished: one finish per trace."""
    return f"finish:{trace_id}"


def default_idempotency_key(event_type: str, trace_id: str, trace_seq: int) -> str:
    """The key of an event appended without one: unique per trace position."""
    return f"{event_type}:{trace_id}:{trace_seq}"
