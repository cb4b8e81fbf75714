"""Row <-> StoredEvent mapping shared by the SQL backends.

Both backends select :data:`EVENT_COLUMNS` in this order and insert
:data:`INSERT_COLUMNS`. Payloads are parsed (lazily, by StoredEvent) with the stdlib
``json`` module, which keeps integers of any size exact.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from decisiongraph.domain.envelope import ActorRef, SourceRef, StoredEvent
from decisiongraph.domain.validation import PreparedEvent
from decisiongraph.errors import StorageError

__all__ = ["EVENT_COLUMNS", "INSERT_COLUMNS", "insert_row", "row_to_event", "rows_to_events"]

INSERT_COLUMNS: tuple[str, ...] = (
    "tenant_id",
    "log_seq",
    "event_id",
    "trace_id",
    "trace_seq",
    "event_type",
    "occurred_at",
    "recorded_at",
    "producer_id",
    "system",
    "subsystem",
    "actor_type",
    "actor_id",
    "correlation_id",
    "causation_event_id",
    "idempotency_key",
    "schema_version",
    "payload_json",
    "payload_hash",
    "tags_json",
)

EVENT_COLUMNS = ", ".join(INSERT_COLUMNS)

_decode = json.JSONDecoder().decode


def row_to_event(row: Sequence[Any]) -> StoredEvent:
    """Build a StoredEvent from a row of :data:`EVENT_COLUMNS`."""
    return rows_to_events([row])[0]


def rows_to_events(rows: Sequence[Sequence[Any]]) -> list[StoredEvent]:
    """Build StoredEvents from rows of :data:`EVENT_COLUMNS` (the read hot path).

    Payloads stay JSON text until used (:attr:`StoredEvent.payload` parses on first
    access); tags are parsed here. Raises StorageError if stored tags are corrupt.
    """
    # Sources and actors repeat, so each page shares them through local caches.
    sources: dict[tuple[str, str, str | None], SourceRef] = {}
    actors: dict[tuple[str, str], ActorRef] = {}
    events = []
    for row in rows:
        tags_json = row[19]
        if tags_json == "[]":
            tags: tuple[str, ...] = ()
        else:
            try:
                tags = tuple(_decode(tags_json))
            except (ValueError, TypeError) as exc:
                raise StorageError(
                    f"Corrupt stored tags JSON for event log_seq={row[1]} of tenant {row[0]!r}"
                ) from exc
        source_key = (row[8], row[9], row[10])
        source = sources.get(source_key)
        if source is None:
            source = sources[source_key] = SourceRef(*source_key)
        actor_key = (row[11], row[12])
        actor = actors.get(actor_key)
        if actor is None:
            actor = actors[actor_key] = ActorRef(*actor_key)
        events.append(
            StoredEvent(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                row[6],
                row[7],
                source,
                actor,
                row[15],
                None,
                row[18],
                row[13],
                row[14],
                row[16],
                tags,
                row[17],
            )
        )
    return events


def insert_row(prepared: PreparedEvent, event: StoredEvent) -> tuple[Any, ...]:
    """The values of :data:`INSERT_COLUMNS` for one new event."""
    return (
        event.tenant_id,
        event.log_seq,
        event.event_id,
        event.trace_id,
        event.trace_seq,
        event.event_type,
        event.occurred_at,
        event.recorded_at,
        event.source.producer_id,
        event.source.system,
        event.source.subsystem,
        event.actor.actor_type,
        event.actor.actor_id,
        event.correlation_id,
        event.causation_event_id,
        event.idempotency_key,
        event.schema_version,
        prepared.payload_json,
        event.payload_hash,
        prepared.tags_json,
    )
