"""Step 9 for event envelopes (HTTP_API 1.6): JSON types, required and unknown
members, with ``details.errors[].location = "body"`` and paths such as
``$.events[3].source.system``. Values are judged later, by the append pipeline, so a
well-typed envelope with several faults gets the library's code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from decisiongraph.domain.envelope import ActorRef, EventEnvelope, SourceRef, envelope_from_dict
from decisiongraph.errors import SchemaViolation

__all__ = ["envelope_from_body", "schema_error"]

_NESTED_KEYS = {
    "source": frozenset({"producer_id", "system", "subsystem"}),
    "actor": frozenset({"actor_type", "actor_id"}),
}


def schema_error(path: str, message: str) -> SchemaViolation:
    """A 422 naming one body path."""
    return SchemaViolation(
        f"{path}: {message}", {"errors": [{"location": "body", "path": path, "message": message}]}
    )


def _rebased(error: SchemaViolation, prefix: str) -> SchemaViolation:
    errors = [
        {
            "location": "body",
            "path": prefix + str(item.get("path", "$"))[1:],
            "message": item.get("message", ""),
        }
        for item in error.details.get("errors", [])
    ]
    message = (
        error.message.replace("$", prefix, 1) if error.message.startswith("$") else error.message
    )
    return SchemaViolation(message, {"errors": errors})


_REQUIRED = frozenset(
    {"event_id", "trace_id", "trace_seq", "event_type", "occurred_at", "source", "actor"}
    | {"idempotency_key", "payload"}
)
_ALLOWED = _REQUIRED | {"correlation_id", "causation_event_id", "schema_version", "tags"}
_SOURCE_REQUIRED = frozenset({"producer_id", "system"})
_ACTOR_KEYS = frozenset({"actor_type", "actor_id"})


def _well_typed(data: Any) -> EventEnvelope | None:
    """The fast path of step 9 (batches run it thousands of times per request): the
    envelope of an object with exactly the JSON types the parser produces, every
    required member and no unknown one; None for anything else, which then takes the
    full check naming the fault. It accepts a subset of what the full check accepts."""
    if type(data) is not dict or not _REQUIRED <= data.keys() <= _ALLOWED:
        return None
    source, actor, tags = data["source"], data["actor"], data.get("tags", [])
    if (
        type(source) is not dict
        or type(actor) is not dict
        or not _SOURCE_REQUIRED <= source.keys() <= _NESTED_KEYS["source"]
        or actor.keys() != _ACTOR_KEYS
        or type(tags) is not list
        or type(data["payload"]) is not dict
        or type(data["trace_seq"]) is not int
        or type(data.get("schema_version", 1)) is not int
    ):
        return None
    strings = (
        data["event_id"], data["trace_id"], data["event_type"], data["occurred_at"],
        data["idempotency_key"], source["producer_id"], source["system"],
        actor["actor_type"], actor["actor_id"], *tags,
    )  # fmt: skip
    optional = (source.get("subsystem"), data.get("correlation_id"), data.get("causation_event_id"))
    if any(type(s) is not str for s in strings) or any(
        o is not None and type(o) is not str for o in optional
    ):
        return None
    return EventEnvelope(
        event_id=data["event_id"],
        trace_id=data["trace_id"],
        trace_seq=data["trace_seq"],
        event_type=data["event_type"],
        occurred_at=data["occurred_at"],
        source=SourceRef(source["producer_id"], source["system"], optional[0]),
        actor=ActorRef(actor["actor_type"], actor["actor_id"]),
        idempotency_key=data["idempotency_key"],
        payload=data["payload"],
        correlation_id=optional[1],
        causation_event_id=optional[2],
        schema_version=data.get("schema_version", 1),
        tags=tuple(tags),
    )


def envelope_from_body(data: Any, prefix: str = "$") -> EventEnvelope:
    """The envelope of a request body object (or batch element at ``prefix``)."""
    fast = _well_typed(data)
    return fast if fast is not None else _checked(data, prefix)


def _checked(data: Any, prefix: str) -> EventEnvelope:
    """The full step-9 check: the envelope, or SchemaViolation naming the first fault."""
    try:
        if isinstance(data, Mapping):
            for member, allowed in _NESTED_KEYS.items():
                nested = data.get(member)
                if isinstance(nested, Mapping):
                    unknown = sorted(set(nested) - allowed)
                    if unknown:
                        raise schema_error(f"$.{member}.{unknown[0]}", "unknown member")
        return envelope_from_dict(data, allow_unknown_keys=False)
    except SchemaViolation as error:
        raise _rebased(error, prefix) from None
