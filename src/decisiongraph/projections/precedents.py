"""Precedent index v2 (spec 6.6): rebuilt per trace at TraceFinished, from the log.

One row per PolicyEvaluated and ExceptionRequested event of the trace, each carrying
the trace's primary entity as its first TraceStarted gave it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from decisiongraph.domain.envelope import StoredEvent
from decisiongraph.errors import SchemaViolation
from decisiongraph.projections.summary import policy_ids

__all__ = ["PrecedentRow", "precedent_rows"]


@dataclass(frozen=True, slots=True)
class PrecedentRow:
    """A ``dg_precedent_index`` row; every field is in the precedent digest."""

    source_event_id: str
    log_seq: int
    trace_id: str
    policy_id: str
    policy_version: str
    exception_id: str | None
    primary_entity_type: str | None
    primary_entity_system: str | None
    primary_entity_id: str | None

    def digest_row(self) -> dict[str, Any]:
        return {
            "source_event_id": self.source_event_id,
            "log_seq": self.log_seq,
            "trace_id": self.trace_id,
            "policy_id": self.policy_id,
            "policy_version": self.policy_version,
            "exception_id": self.exception_id,
            "primary_entity_type": self.primary_entity_type,
            "primary_entity_system": self.primary_entity_system,
            "primary_entity_id": self.primary_entity_id,
        }


def precedent_rows(trace_events: Iterable[StoredEvent]) -> list[PrecedentRow]:
    """The trace's precedent rows from all its events in ``trace_seq`` order."""
    entity_type = entity_system = entity_id = None
    rows: list[PrecedentRow] = []
    for event in trace_events:
        kind = event.event_type
        if kind == "TraceStarted":
            if entity_type is None:
                entity = event.payload.get("primary_entity")
                if isinstance(entity, dict):
                    entity_type = entity.get("entity_type")
                    entity_system = entity.get("system")
                    entity_id = entity.get("entity_id")
            continue
        if kind not in ("PolicyEvaluated", "ExceptionRequested"):
            continue
        policy_id, version = policy_ids(event)
        exception_id = None
        if kind == "ExceptionRequested":
            exception_id = event.payload.get("exception_id")
            if not exception_id:
                raise SchemaViolation(
                    f"ExceptionRequested event {event.event_id} (log_seq {event.log_seq}) "
                    "lacks an exception_id"
                )
        rows.append(
            PrecedentRow(
                source_event_id=event.event_id,
                log_seq=event.log_seq,
                trace_id=event.trace_id,
                policy_id=policy_id,
                policy_version=version,
                exception_id=exception_id,
                primary_entity_type=entity_type,
                primary_entity_system=entity_system,
                primary_entity_id=entity_id,
            )
        )
    return rows
