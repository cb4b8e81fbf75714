"""The event envelope a caller supplies and the stored event the store returns (spec 1).

Both are frozen, slotted dataclasses: cheap to build in the append and read hot paths,
immutable once made. :func:`envelope_from_dict` is the one place a JSON object becomes an
envelope; it checks JSON types strictly (``true`` is not an integer) and applies the
spec 1.1 defaults, but judges no values: value rules run in
:mod:`decisiongraph.domain.validation` with the library's codes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from decisiongraph.errors import SchemaViolation, StorageError

__all__ = [
    "ActorRef",
    "EventEnvelope",
    "SourceRef",
    "StoredEvent",
    "envelope_from_dict",
]


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Who produced the event: ``producer_id`` scopes idempotency keys."""

    producer_id: str
    system: str
    subsystem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "producer_id": self.producer_id,
            "system": self.system,
            "subsystem": self.subsystem,
        }


@dataclass(frozen=True, slots=True)
class ActorRef:
    """Who acted (``actor_type`` is documented as agent|person|role|system, unchecked)."""

    actor_type: str
    actor_id: str

    def to_dict(self) -> dict[str, Any]:
        return {"actor_type": self.actor_type, "actor_id": self.actor_id}


@dataclass(frozen=True, slots=True)
class EventEnvelope:
    """An event as supplied by its producer, before storage (spec 1.1)."""

    event_id: str
    trace_id: str
    trace_seq: int
    event_type: str
    occurred_at: str
    source: SourceRef
    actor: ActorRef
    idempotency_key: str
    payload: dict[str, Any]
    correlation_id: str | None = None
    causation_event_id: str | None = None
    schema_version: int = 1
    tags: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """The envelope as a JSON object (all 13 keys)."""
        return {
            "event_id": self.event_id,
            "trace_id": self.trace_id,
            "trace_seq": self.trace_seq,
            "event_type": self.event_type,
            "occurred_at": self.occurred_at,
            "source": self.source.to_dict(),
            "actor": self.actor.to_dict(),
            "correlation_id": self.correlation_id,
            "causation_event_id": self.causation_event_id,
            "idempotency_key": self.idempotency_key,
            "schema_version": self.schema_version,
            "payload": self.payload,
            "tags": list(self.tags),
        }


_decode_json = json.JSONDecoder().decode


class StoredEvent:
    """An event as stored: the envelope plus ``tenant_id``, ``log_seq``, ``recorded_at``
    and ``payload_hash`` (spec 1.2, 13.2).

    Invariants: ``log_seq`` >= 1, per tenant, gap-free and commit-ordered;
    ``payload_hash`` is the hash of the canonical payload; ``recorded_at`` never
    decreases as ``log_seq`` grows within a tenant. Instances are immutable by contract
    (``payload`` is a read-only property; do not assign the other attributes).

    The payload may be given parsed (``payload``) or as its stored JSON text
    (``payload_json``); text is parsed with the stdlib ``json`` module (integers of
    any size stay exact) on first access and cached. Reads of the log build events
    from text, so a page of events costs no JSON parsing until payloads are used. A
    plain slotted class: building one is several times cheaper than a frozen
    dataclass, which matters at thousands of events per page.
    """

    __slots__ = (
        "_payload",
        "actor",
        "causation_event_id",
        "correlation_id",
        "event_id",
        "event_type",
        "idempotency_key",
        "log_seq",
        "occurred_at",
        "payload_hash",
        "payload_json",
        "recorded_at",
        "schema_version",
        "source",
        "tags",
        "tenant_id",
        "trace_id",
        "trace_seq",
    )

    def __init__(
        self,
        tenant_id: str,
        log_seq: int,
        event_id: str,
        trace_id: str,
        trace_seq: int,
        event_type: str,
        occurred_at: str,
        recorded_at: str,
        source: SourceRef,
        actor: ActorRef,
        idempotency_key: str,
        payload: dict[str, Any] | None,
        payload_hash: str,
        correlation_id: str | None = None,
        causation_event_id: str | None = None,
        schema_version: int = 1,
        tags: tuple[str, ...] = (),
        payload_json: str | None = None,
    ) -> None:
        if payload is None and payload_json is None:
            raise TypeError("StoredEvent needs payload or payload_json")
        self.tenant_id = tenant_id
        self.log_seq = log_seq
        self.event_id = event_id
        self.trace_id = trace_id
        self.trace_seq = trace_seq
        self.event_type = event_type
        self.occurred_at = occurred_at
        self.recorded_at = recorded_at
        self.source = source
        self.actor = actor
        self.idempotency_key = idempotency_key
        self._payload = payload
        self.payload_json = payload_json
        self.payload_hash = payload_hash
        self.correlation_id = correlation_id
        self.causation_event_id = causation_event_id
        self.schema_version = schema_version
        self.tags = tags

    @property
    def payload(self) -> dict[str, Any]:
        """The payload object (parsed from the stored text on first access).

        Raises StorageError if the stored text is not a JSON object.
        """
        payload = self._payload
        if payload is None:
            try:
                payload = _decode_json(self.payload_json)  # type: ignore[arg-type]
                if not isinstance(payload, dict):
                    raise TypeError("not an object")
            except (ValueError, TypeError) as exc:
                raise StorageError(
                    f"Corrupt stored payload JSON for event log_seq={self.log_seq} "
                    f"of tenant {self.tenant_id!r}"
                ) from exc
            self._payload = payload
        return payload

    def _key(self) -> tuple[Any, ...]:
        return (
            self.tenant_id,
            self.log_seq,
            self.event_id,
            self.trace_id,
            self.trace_seq,
            self.event_type,
            self.occurred_at,
            self.recorded_at,
            self.source,
            self.actor,
            self.idempotency_key,
            self.payload,
            self.payload_hash,
            self.correlation_id,
            self.causation_event_id,
            self.schema_version,
            self.tags,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoredEvent):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.tenant_id, self.log_seq, self.event_id))

    def __repr__(self) -> str:
        return (
            f"StoredEvent(tenant_id={self.tenant_id!r}, log_seq={self.log_seq}, "
            f"event_id={self.event_id!r}, trace_id={self.trace_id!r}, "
            f"trace_seq={self.trace_seq}, event_type={self.event_type!r})"
        )

    def to_dict(self, *, include_payload: bool = True) -> dict[str, Any]:
        """Every stored field as a JSON object (the CLI's and the API's shape)."""
        data: dict[str, Any] = {
            "tenant_id": self.tenant_id,
            "log_seq": self.log_seq,
            "event_id": self.event_id,
            "trace_id": self.trace_id,
            "trace_seq": self.trace_seq,
            "event_type": self.event_type,
            "occurred_at": self.occurred_at,
            "recorded_at": self.recorded_at,
            "source": self.source.to_dict(),
            "actor": self.actor.to_dict(),
            "correlation_id": self.correlation_id,
            "causation_event_id": self.causation_event_id,
            "idempotency_key": self.idempotency_key,
            "schema_version": self.schema_version,
            "tags": list(self.tags),
            "payload_hash": self.payload_hash,
        }
        if include_payload:
            data["payload"] = self.payload
        return data

    def envelope(self) -> EventEnvelope:
        """The envelope this event was stored from."""
        return EventEnvelope(
            event_id=self.event_id,
            trace_id=self.trace_id,
            trace_seq=self.trace_seq,
            event_type=self.event_type,
            occurred_at=self.occurred_at,
            source=self.source,
            actor=self.actor,
            idempotency_key=self.idempotency_key,
            payload=self.payload,
            correlation_id=self.correlation_id,
            causation_event_id=self.causation_event_id,
            schema_version=self.schema_version,
            tags=self.tags,
        )


_ENVELOPE_KEYS = frozenset(
    {
        "event_id",
        "trace_id",
        "trace_seq",
        "event_type",
        "occurred_at",
        "source",
        "actor",
        "idempotency_key",
        "payload",
        "correlation_id",
        "causation_event_id",
        "schema_version",
        "tags",
    }
)


def _type_error(path: str, expected: str) -> SchemaViolation:
    return SchemaViolation(
        f"{path} must be {expected}", {"errors": [{"path": path, "message": expected}]}
    )


def _require(obj: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in obj:
        return _raise_missing(f"{path}.{key}")
    return obj[key]


def _raise_missing(path: str) -> Any:
    raise SchemaViolation(
        f"{path} is required", {"errors": [{"path": path, "message": "required"}]}
    )


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _type_error(path, "a string")
    return value


def _opt_str(value: Any, path: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _type_error(path, "a string or null")
    return value


def _int(value: Any, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _type_error(path, "an integer")
    return value


def _obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _type_error(path, "an object")
    return value


def envelope_from_dict(
    data: Mapping[str, Any], *, allow_unknown_keys: bool = True
) -> EventEnvelope:
    """Build an envelope from a JSON object, checking JSON types only.

    ``subsystem``, ``correlation_id``, ``causation_event_id``, ``schema_version`` and
    ``tags`` may be missing (spec 1.1 defaults); every other key is required. A wrong
    type or a missing key raises :class:`SchemaViolation` naming the path. With
    ``allow_unknown_keys=False`` an unknown top-level key is refused too (the HTTP
    route schema).
    """
    data = _obj(data, "$")
    if not allow_unknown_keys:
        unknown = sorted(set(data) - _ENVELOPE_KEYS)
        if unknown:
            raise SchemaViolation(
                f"Unknown envelope member(s): {', '.join(unknown)}",
                {"errors": [{"path": f"$.{k}", "message": "unknown"} for k in unknown]},
            )
    source = _obj(_require(data, "source", "$"), "$.source")
    actor = _obj(_require(data, "actor", "$"), "$.actor")
    payload = _require(data, "payload", "$")
    if not isinstance(payload, dict):
        raise _type_error("$.payload", "an object")
    tags_value = data.get("tags", [])
    if not isinstance(tags_value, list | tuple):
        raise _type_error("$.tags", "an array of strings")
    tags = tuple(_str(tag, f"$.tags[{i}]") for i, tag in enumerate(tags_value))
    schema_version = data.get("schema_version", 1)
    return EventEnvelope(
        event_id=_str(_require(data, "event_id", "$"), "$.event_id"),
        trace_id=_str(_require(data, "trace_id", "$"), "$.trace_id"),
        trace_seq=_int(_require(data, "trace_seq", "$"), "$.trace_seq"),
        event_type=_str(_require(data, "event_type", "$"), "$.event_type"),
        occurred_at=_str(_require(data, "occurred_at", "$"), "$.occurred_at"),
        source=SourceRef(
            producer_id=_str(_require(source, "producer_id", "$.source"), "$.source.producer_id"),
            system=_str(_require(source, "system", "$.source"), "$.source.system"),
            subsystem=_opt_str(source.get("subsystem"), "$.source.subsystem"),
        ),
        actor=ActorRef(
            actor_type=_str(_require(actor, "actor_type", "$.actor"), "$.actor.actor_type"),
            actor_id=_str(_require(actor, "actor_id", "$.actor"), "$.actor.actor_id"),
        ),
        idempotency_key=_str(_require(data, "idempotency_key", "$"), "$.idempotency_key"),
        payload=payload,
        correlation_id=_opt_str(data.get("correlation_id"), "$.correlation_id"),
        causation_event_id=_opt_str(data.get("causation_event_id"), "$.causation_event_id"),
        schema_version=_int(schema_version, "$.schema_version"),
        tags=tags,
    )
