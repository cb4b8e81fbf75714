"""Trace summary and policy-eval index rows (spec 6.5).

Only ``TraceStarted`` (insert) and ``TraceFinished`` (update) touch a summary, so
``event_count`` is 2 for a finished trace whatever its length (spec 11.3); the service
adds ``started_log_seq`` and ``event_total`` (the real number of events), which are not
part of any digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from decisiongraph.domain.envelope import StoredEvent
from decisiongraph.errors import SchemaViolation

__all__ = ["PolicyEvalRow", "SummaryRow", "policy_eval_row", "start_summary"]


@dataclass(slots=True)
class SummaryRow:
    """A ``dg_trace_summary`` row: the ten digest fields, then the service fields."""

    trace_id: str
    workflow: str
    title: str
    primary_entity_type: str | None
    primary_entity_id: str | None
    outcome: str | None
    started_at: str
    finished_at: str | None
    event_count: int
    last_log_seq: int
    started_log_seq: int
    event_total: int

    def digest_row(self) -> dict[str, Any]:
        """The object this row contributes to the trace_summary digest (spec 3.4)."""
        return {
            "trace_id": self.trace_id,
            "workflow": self.workflow,
            "title": self.title,
            "primary_entity_type": self.primary_entity_type,
            "primary_entity_id": self.primary_entity_id,
            "outcome": self.outcome,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "event_count": self.event_count,
            "last_log_seq": self.last_log_seq,
        }


@dataclass(frozen=True, slots=True)
class PolicyEvalRow:
    """A ``dg_policy_eval_index`` row (in no digest)."""

    index_id: str
    trace_id: str
    policy_id: str
    policy_version: str
    log_seq: int
    created_at: str


def _get(payload: dict[str, Any], key: str, default: Any) -> Any:
    return payload.get(key, default)


def start_summary(event: StoredEvent) -> SummaryRow:
    """The summary row a ``TraceStarted`` event inserts."""
    payload = event.payload
    entity = payload.get("primary_entity")
    entity_type = entity_id = None
    if entity:
        entity_type = entity.get("entity_type") if isinstance(entity, dict) else None
        entity_id = entity.get("entity_id") if isinstance(entity, dict) else None
    return SummaryRow(
        trace_id=event.trace_id,
        workflow=_get(payload, "workflow", ""),
        title=_get(payload, "title", ""),
        primary_entity_type=entity_type,
        primary_entity_id=entity_id,
        outcome=None,
        started_at=event.occurred_at,
        finished_at=None,
        event_count=1,
        last_log_seq=event.log_seq,
        started_log_seq=event.log_seq,
        event_total=1,
    )


def policy_ids(event: StoredEvent) -> tuple[str, str]:
    """``(policy_id, policy_version)`` of a PolicyEvaluated or ExceptionRequested event;
    both must be truthy (SchemaViolation otherwise: the projection of the event fails)."""
    policy = event.payload.get("policy")
    policy = policy if isinstance(policy, dict) else {}
    policy_id, version = policy.get("policy_id"), policy.get("policy_version")
    if not policy_id or not version:
        raise SchemaViolation(
            f"{event.event_type} event {event.event_id} (log_seq {event.log_seq}) "
            "lacks a policy_id or policy_version"
        )
    return policy_id, version


def policy_eval_row(event: StoredEvent) -> PolicyEvalRow:
    """The policy-eval index row of a PolicyEvaluated event."""
    policy_id, version = policy_ids(event)
    return PolicyEvalRow(
        index_id=f"{event.trace_id}:{policy_id}:{version}:{event.event_id}",
        trace_id=event.trace_id,
        policy_id=policy_id,
        policy_version=version,
        log_seq=event.log_seq,
        created_at=event.occurred_at,
    )
