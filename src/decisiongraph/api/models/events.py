"""Event objects (HTTP_API 6.1) and the ingestion bodies and results (2.2, 2.3)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from decisiongraph.api.models.common import ErrorBody, Strict
from decisiongraph.domain.event_types import ALL_EVENT_TYPES

__all__ = [
    "ActorIn",
    "BatchIn",
    "BatchItem",
    "BatchResults",
    "EventAppended",
    "EventEnvelopeIn",
    "EventPageOut",
    "SourceIn",
    "StoredEventOut",
]


class SourceIn(Strict):
    producer_id: str
    system: str
    subsystem: str | None = None


class ActorIn(Strict):
    actor_type: str = Field(description="Documented domain: agent, person, role, system.")
    actor_id: str


class EventEnvelopeIn(Strict):
    """An event as a producer sends it. Value rules (event type, occurred_at,
    idempotency key, trace_seq, payload shape, U+0000) are judged by the append
    pipeline with the library's codes, not by this schema."""

    event_id: str
    trace_id: str
    trace_seq: int
    event_type: str = Field(json_schema_extra={"examples": list(ALL_EVENT_TYPES)})
    occurred_at: str = Field(description="RFC 3339 with Z or an offset; stored verbatim.")
    source: SourceIn
    actor: ActorIn
    idempotency_key: str = Field(description="Non-empty, at most 200 UTF-8 bytes.")
    payload: dict[str, Any] = Field(description="Shape per event type; no floats.")
    correlation_id: str | None = None
    causation_event_id: str | None = None
    schema_version: int = 1
    tags: list[str] = Field(default_factory=list)


class StoredEventOut(BaseModel):
    """An event as stored (HTTP_API 6.1): the envelope plus the server's fields."""

    tenant_id: str
    log_seq: int = Field(ge=1, description="Per tenant: from 1, gap-free, commit-ordered.")
    event_id: str
    trace_id: str
    trace_seq: int = Field(ge=0)
    event_type: str
    occurred_at: str
    recorded_at: str = Field(description="Server time of the append, UTC, microseconds.")
    source: SourceIn
    actor: ActorIn
    correlation_id: str | None
    causation_event_id: str | None
    idempotency_key: str
    schema_version: int
    tags: list[str]
    payload_hash: str = Field(description="sha256: + hex of the canonical payload JSON.")
    payload: dict[str, Any] | None = Field(None, description="Omitted when include_payload=false.")


class EventAppended(BaseModel):
    event: StoredEventOut
    reused: bool


class BatchIn(Strict):
    """A batch (HTTP_API 2.3): applied in index order as if appended one by one."""

    events: list[EventEnvelopeIn] = Field(
        min_length=1,
        description="1..1000 events (more: 413 limit_events), each at most 1 MiB as "
        "compact JSON (413 limit_bytes).",
    )
    atomic: bool = Field(True, description="true: all or nothing (201); false: 207.")


class BatchItem(BaseModel):
    """One event's result: ``event`` and ``reused`` with status 201, else ``error``."""

    index: int
    status: int = Field(description="201, or the HTTP status of the event's error.")
    event: StoredEventOut | None = None
    reused: bool | None = None
    error: ErrorBody | None = None


class BatchResults(BaseModel):
    results: list[BatchItem]


class EventPageOut(BaseModel):
    """A page of the log in log_seq order."""

    items: list[StoredEventOut]
    next_cursor: str | None = Field(
        description="The last item's log_seq when more matching events existed at read "
        "time; null: caught up."
    )
