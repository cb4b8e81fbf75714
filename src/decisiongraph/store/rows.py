"""Row <-> StoredEvent mapping shared by the SQL backends.

Both backends select :data:`EVENT_COLUMNS` in this order and insert
:data:`INSERT_COLUMNS`. Payloads are read back with the stdlib ``json`` module, which
keeps integers of any size exact.
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
_source_cache: dict[tuple[str, str, str | None], SourceRef] = {}
_actor_cache: dict[tuple[str, str], ActorRef] = {}
_CACHE_LIMIT = 4096


def _source(producer_id: str, system: str, subsystem: str | None) -> SourceRef:
    # Sources and actors repeat across events; sharing the frozen objects saves
    # allocations on large reads.
    key = (producer_id, system, subsystem)
    found = _source_cache.get(key)
    if found is None:
        found = SourceRef(producer_id, system, subsystem)
        if len(_source_cache) < _CACHE_LIMIT:
            _source_cache[key] = found
    return found


def _actor(actor_type: str, actor_id: str) -> ActorRef:
    key = (actor_type, actor_id)
    found = _actor_cache.get(key)
    if found is None:
        found = ActorRef(actor_type, actor_id)
        if len(_actor_cache) < _CACHE_LIMIT:
            _actor_cache[key] = found
    return found


def row_to_event(row: Sequence[Any]) -> StoredEvent:
    """Build a StoredEvent from a row of :data:`EVENT_COLUMNS`.

    Raises StorageError if the stored JSON is corrupt.
    """
    try:
        payload = _decode(row[17])
        tags_json = row[19]
        tags = () if tags_json == "[]" else tuple(_decode(tags_json))
        if not isinstance(payload, dict):
            raise TypeError("payload is not an object")
    except (ValueError, TypeError) as exc:
        raise StorageError(
            f"Corrupt stored JSON for event log_seq={row[1]} of tenant {row[0]!r}"
        ) from exc
    return _event(row, payload, tags)


def _event(row: Sequence[Any], payload: dict[str, Any], tags: tuple[str, ...]) -> StoredEvent:
    return StoredEvent(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        _source(row[8], row[9], row[10]),
        _actor(row[11], row[12]),
        row[15],
        payload,
        row[18],
        row[13],
        row[14],
        row[16],
        tags,
    )


def rows_to_events(rows: Sequence[Sequence[Any]]) -> list[StoredEvent]:
    """Build StoredEvents from many rows of :data:`EVENT_COLUMNS` (the read hot path).

    All payloads are decoded by one ``json`` call over a JSON array of them, which
    halves the decoding cost of a page; if that fails (corrupt stored JSON), each row
    is decoded on its own so the error names the event.
    """
    if not rows:
        return []
    try:
        payloads = _decode("[" + ",".join([row[17] for row in rows]) + "]")
    except (ValueError, TypeError):
        payloads = None
    if (
        payloads is None
        or len(payloads) != len(rows)
        or not all(type(payload) is dict for payload in payloads)
    ):
        return [row_to_event(row) for row in rows]
    events = []
    for row, payload in zip(rows, payloads, strict=True):
        tags_json = row[19]
        if tags_json == "[]":
            tags: tuple[str, ...] = ()
        else:
            try:
                tags = tuple(_decode(tags_json))
            except (ValueError, TypeError):
                return [row_to_event(row) for row in rows]
        events.append(_event(row, payload, tags))
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
