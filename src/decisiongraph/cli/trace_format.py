"""The ``dump-trace`` JSON format (spec section 9, binding by section 13.5):
``json.dumps(events, indent=2, sort_keys=True)`` of a trace's events in trace_seq order,
byte-identical on reruns."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from decisiongraph.domain.envelope import StoredEvent

__all__ = ["dump_trace_json", "trace_event_dict"]


def trace_event_dict(event: StoredEvent, *, include_payload: bool = False) -> dict[str, Any]:
    """The fields ``dump-trace`` prints for one event."""
    data: dict[str, Any] = {
        "log_seq": event.log_seq,
        "event_id": event.event_id,
        "trace_id": event.trace_id,
        "trace_seq": event.trace_seq,
        "event_type": event.event_type,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
    }
    if include_payload:
        data.update(
            {
                "source": {
                    "producer_id": event.source.producer_id,
                    "system": event.source.system,
                    "subsystem": event.source.subsystem,
                },
                "actor": {
                    "actor_type": event.actor.actor_type,
                    "actor_id": event.actor.actor_id,
                },
                "correlation_id": event.correlation_id,
                "causation_event_id": event.causation_event_id,
                "idempotency_key": event.idempotency_key,
                "schema_version": event.schema_version,
                "payload": event.payload,
                "payload_hash": event.payload_hash,
                "tags": list(event.tags),
            }
        )
    return data


def dump_trace_json(events: Sequence[StoredEvent], *, include_payload: bool = False) -> str:
    """The ``dump-trace`` text of ``events`` (already in trace_seq order), no final newline."""
    return json.dumps(
        [trace_event_dict(event, include_payload=include_payload) for event in events],
        indent=2,
        sort_keys=True,
    )
