"""The façade's event helpers (spec 2, 9): ``start_trace`` ... ``commit_action``.

Same signatures, defaults, payloads and idempotency keys as
:class:`decisiongraph.service.facade.DecisionGraph`; each builds the reference payload
and hands it to ``append_event``, which the concrete client implements. The payload
code is a copy of the façade's (the client may not import the service layer); the
parity tests run one scenario through both and compare the stored events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from decisiongraph.client._values import ActorLike, SourceLike, as_actor, entity_json, plain
from decisiongraph.domain.envelope import StoredEvent
from decisiongraph.domain.event_types import (
    EVENT_TYPE_ACTION_COMMITTED,
    EVENT_TYPE_ACTION_PROPOSED,
    EVENT_TYPE_APPROVAL_RECORDED,
    EVENT_TYPE_ENTITY_OBSERVED,
    EVENT_TYPE_EXCEPTION_REQUESTED,
    EVENT_TYPE_INPUT_OBSERVED,
    EVENT_TYPE_POLICY_EVALUATED,
    EVENT_TYPE_PRECEDENT_CITED,
    EVENT_TYPE_TRACE_FINISHED,
    EVENT_TYPE_TRACE_STARTED,
)
from decisiongraph.domain.ids import generate_trace_id
from decisiongraph.domain.values import (
    ApprovalSubject,
    Change,
    EntityRef,
    EvidenceRef,
    Fact,
    PolicyRef,
    SourceObjectRef,
    Violation,
)

__all__ = ["EventHelpers"]


class EventHelpers:
    """The typed event helpers over an abstract ``append_event``."""

    def append_event(
        self,
        trace_id: str,
        event_type: str,
        payload: Mapping[str, Any],
        source: SourceLike,
        actor: ActorLike,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        causation_event_id: str | None = None,
        schema_version: int = 1,
        tags: Sequence[str] | None = None,
        occurred_at: str | None = None,
    ) -> StoredEvent:
        raise NotImplementedError

    def start_trace(
        self,
        workflow: str,
        title: str,
        primary_entity: EntityRef | Mapping[str, Any],
        source: SourceLike,
        actor: ActorLike,
        context: Mapping[str, str] | None = None,
        trace_id: str | None = None,
        *,
        occurred_at: str | None = None,
    ) -> str:
        """Start a trace (a new uuid4 id unless ``trace_id`` is given); returns its id.
        The idempotency key is ``start:{trace_id}``."""
        trace_id = trace_id or generate_trace_id()
        payload: dict[str, Any] = {
            "workflow": workflow,
            "title": title,
            "primary_entity": entity_json(primary_entity),
        }
        if context:
            payload["context"] = dict(context)
        self.append_event(
            trace_id,
            EVENT_TYPE_TRACE_STARTED,
            payload,
            source,
            actor,
            idempotency_key=f"start:{trace_id}",
            occurred_at=occurred_at,
        )
        return trace_id

    def finish_trace(
        self,
        trace_id: str,
        outcome: str,
        source: SourceLike,
        actor: ActorLike,
        summary: str | None = None,
        *,
        occurred_at: str | None = None,
    ) -> StoredEvent:
        """Finish a trace (``success``, ``failure``, ``abandoned``); key ``finish:{trace_id}``."""
        payload: dict[str, Any] = {"outcome": outcome}
        if summary:
            payload["summary"] = summary
        return self.append_event(
            trace_id,
            EVENT_TYPE_TRACE_FINISHED,
            payload,
            source,
            actor,
            idempotency_key=f"finish:{trace_id}",
            occurred_at=occurred_at,
        )

    def observe_input(
        self,
        trace_id: str,
        input_id: str,
        input_source: SourceObjectRef | Mapping[str, Any],
        facts: Sequence[Fact | Mapping[str, Any]],
        source: SourceLike,
        actor: ActorLike,
        **options: Any,
    ) -> StoredEvent:
        """Record an input read from ``input_source`` with its facts (InputObserved)."""
        payload = {"input_id": input_id, "source": plain(input_source), "facts": plain(facts)}
        return self.append_event(
            trace_id, EVENT_TYPE_INPUT_OBSERVED, payload, source, actor, **options
        )

    def observe_entity(
        self,
        trace_id: str,
        entity: EntityRef | Mapping[str, Any],
        role: str,
        facts: Sequence[Fact | Mapping[str, Any]],
        source: SourceLike,
        actor: ActorLike,
        **options: Any,
    ) -> StoredEvent:
        """Record an entity (``role`` primary or related) with its facts (EntityObserved)."""
        payload = {"entity": plain(entity), "role": role, "facts": plain(facts)}
        return self.append_event(
            trace_id, EVENT_TYPE_ENTITY_OBSERVED, payload, source, actor, **options
        )

    def evaluate_policy(
        self,
        trace_id: str,
        policy: PolicyRef | Mapping[str, Any],
        inputs: Sequence[Any],
        decision: str,
        source: SourceLike,
        actor: ActorLike,
        violations: Sequence[Violation | Mapping[str, Any]] | None = None,
        explanation: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> StoredEvent:
        """Record a policy decision (``allow``, ``deny``, ``require_exception``)."""
        payload: dict[str, Any] = {
            "policy": plain(policy),
            "inputs": plain(list(inputs)),
            "decision": decision,
        }
        if violations:
            payload["violations"] = plain(list(violations))
        if explanation:
            payload["explanation"] = dict(explanation)
        return self.append_event(
            trace_id, EVENT_TYPE_POLICY_EVALUATED, payload, source, actor, **options
        )

    def request_exception(
        self,
        trace_id: str,
        exception_id: str,
        policy: PolicyRef | Mapping[str, Any],
        reason: str,
        source: SourceLike,
        actor: ActorLike,
        evidence: Sequence[EvidenceRef | Mapping[str, Any]] | None = None,
        **options: Any,
    ) -> StoredEvent:
        """Request an exception to ``policy`` (ExceptionRequested)."""
        payload: dict[str, Any] = {
            "exception_id": exception_id,
            "policy": plain(policy),
            "reason": reason,
        }
        if evidence:
            payload["evidence"] = plain(list(evidence))
        return self.append_event(
            trace_id, EVENT_TYPE_EXCEPTION_REQUESTED, payload, source, actor, **options
        )

    def record_approval(
        self,
        trace_id: str,
        approval_id: str,
        subject: ApprovalSubject | Mapping[str, Any],
        approver: ActorLike,
        decision: str,
        source: SourceLike,
        actor: ActorLike,
        reason: str | None = None,
        evidence: Sequence[EvidenceRef | Mapping[str, Any]] | None = None,
        **options: Any,
    ) -> StoredEvent:
        """Record an approval (``approved`` or ``rejected``) of an exception or action."""
        payload: dict[str, Any] = {
            "approval_id": approval_id,
            "subject": plain(subject),
            "approver": plain(as_actor(approver)),
            "decision": decision,
        }
        if reason is not None:
            payload["reason"] = reason
        if evidence:
            payload["evidence"] = plain(list(evidence))
        return self.append_event(
            trace_id, EVENT_TYPE_APPROVAL_RECORDED, payload, source, actor, **options
        )

    def cite_precedent(
        self,
        trace_id: str,
        cited_trace_id: str,
        reason: str,
        source: SourceLike,
        actor: ActorLike,
        similarity_score: str | None = None,
        **options: Any,
    ) -> StoredEvent:
        """Cite an earlier trace as a precedent (``similarity_score`` is a string)."""
        payload: dict[str, Any] = {"cited_trace_id": cited_trace_id, "reason": reason}
        if similarity_score is not None:
            payload["similarity_score"] = similarity_score
        return self.append_event(
            trace_id, EVENT_TYPE_PRECEDENT_CITED, payload, source, actor, **options
        )

    def propose_action(
        self,
        trace_id: str,
        action_id: str,
        action_type: str,
        target_entity: EntityRef | Mapping[str, Any],
        target_system: str,
        changes: Sequence[Change | Mapping[str, Any]],
        source: SourceLike,
        actor: ActorLike,
        **options: Any,
    ) -> StoredEvent:
        """Propose an action on ``target_entity`` (ActionProposed)."""
        payload = {
            "action_id": action_id,
            "action_type": action_type,
            "target_entity": plain(target_entity),
            "target_system": target_system,
            "changes": plain(list(changes)),
        }
        return self.append_event(
            trace_id, EVENT_TYPE_ACTION_PROPOSED, payload, source, actor, **options
        )

    def commit_action(
        self,
        trace_id: str,
        action_id: str,
        status: str,
        source: SourceLike,
        actor: ActorLike,
        external_reference: str | None = None,
        error: str | None = None,
        **options: Any,
    ) -> StoredEvent:
        """Record the outcome (``success``, ``failure``, ``partial``) of an action."""
        payload: dict[str, Any] = {"action_id": action_id, "status": status}
        if external_reference is not None:
            payload["external_reference"] = external_reference
        if error is not None:
            payload["error"] = error
        return self.append_event(
            trace_id, EVENT_TYPE_ACTION_COMMITTED, payload, source, actor, **options
        )
