"""The façade's typed event methods (spec 2, 9), written once for every surface.

``EventMethods`` turns the typed arguments of ``append_event``, ``start_trace`` ...
``commit_action`` into envelopes with the reference payloads. The embedded
``DecisionGraph`` and the HTTP ``Client`` inherit it and only implement the three storage
hooks and ``close``, so both give the same payloads, defaults and idempotency keys by construction.
An optional payload key is left out when its argument is empty (``context``, ``summary``,
``violations``, ``explanation``, ``evidence``) or None (``reason``, ``similarity_score``,
``external_reference``, ``error``), never written as null. Pure: stdlib and domain only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from decisiongraph.domain import event_types as et
from decisiongraph.domain import values as v
from decisiongraph.domain.clock import now_rfc3339
from decisiongraph.domain.envelope import EventEnvelope, StoredEvent
from decisiongraph.domain.ids import generate_trace_id
from decisiongraph.domain.payload_values import (
    ActorLike,
    SourceLike,
    as_actor,
    as_source,
    default_idempotency_key,
    entity_json,
    finish_key,
    plain,
    start_key,
)

__all__ = ["EventMethods"]


class EventMethods:
    """``append_event`` and the typed event helpers over three storage hooks, and the
    context-manager protocol over ``close``."""

    def close(self) -> None:
        """Release what the surface holds (its store or its HTTP connections)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _next_trace_seq(self, trace_id: str) -> int:
        """The trace_seq the next event of ``trace_id`` takes."""
        raise NotImplementedError

    def _new_event_id(self) -> str:
        """A fresh event id (each surface resolves its own generator)."""
        raise NotImplementedError

    def _append_envelope(self, envelope: EventEnvelope) -> StoredEvent:
        """Append ``envelope``; the stored event (the first one on an idempotent reuse)."""
        raise NotImplementedError

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
        """Append the next event of ``trace_id`` (its trace_seq is the trace's next one;
        the default idempotency key is ``{event_type}:{trace_id}:{trace_seq}``; the
        default ``occurred_at`` is now). A valid idempotent reuse returns the stored
        event."""
        trace_seq = self._next_trace_seq(trace_id)
        envelope = EventEnvelope(
            event_id=self._new_event_id(),
            trace_id=trace_id,
            trace_seq=trace_seq,
            event_type=event_type,
            occurred_at=occurred_at if occurred_at is not None else now_rfc3339(),
            source=as_source(source),
            actor=as_actor(actor),
            idempotency_key=(
                idempotency_key
                if idempotency_key is not None
                else default_idempotency_key(event_type, trace_id, trace_seq)
            ),
            payload=dict(payload),
            correlation_id=correlation_id,
            causation_event_id=causation_event_id,
            schema_version=schema_version,
            tags=tuple(tags or ()),
        )
        return self._append_envelope(envelope)

    def start_trace(
        self,
        workflow: str,
        title: str,
        primary_entity: v.EntityRef | Mapping[str, Any],
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
            et.EVENT_TYPE_TRACE_STARTED,
            payload,
            source,
            actor,
            idempotency_key=start_key(trace_id),
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
        """Finish a trace (``success``, ``failure``, ``abandoned``); key ``finish:{trace_id}``.
        Nothing can be appended to the trace afterwards."""
        payload: dict[str, Any] = {"outcome": outcome}
        if summary:
            payload["summary"] = summary
        return self.append_event(
            trace_id,
            et.EVENT_TYPE_TRACE_FINISHED,
            payload,
            source,
            actor,
            idempotency_key=finish_key(trace_id),
            occurred_at=occurred_at,
        )

    def observe_input(
        self,
        trace_id: str,
        input_id: str,
        input_source: v.SourceObjectRef | Mapping[str, Any],
        facts: Sequence[v.Fact | Mapping[str, Any]],
        source: SourceLike,
        actor: ActorLike,
        **options: Any,
    ) -> StoredEvent:
        """Record an input read from ``input_source`` with its facts (InputObserved)."""
        payload = {"input_id": input_id, "source": plain(input_source), "facts": plain(facts)}
        return self.append_event(
            trace_id, et.EVENT_TYPE_INPUT_OBSERVED, payload, source, actor, **options
        )

    def observe_entity(
        self,
        trace_id: str,
        entity: v.EntityRef | Mapping[str, Any],
        role: str,
        facts: Sequence[v.Fact | Mapping[str, Any]],
        source: SourceLike,
        actor: ActorLike,
        **options: Any,
    ) -> StoredEvent:
        """Record an entity (``role`` primary or related) with its facts (EntityObserved)."""
        payload = {"entity": plain(entity), "role": role, "facts": plain(facts)}
        return self.append_event(
            trace_id, et.EVENT_TYPE_ENTITY_OBSERVED, payload, source, actor, **options
        )

    def evaluate_policy(
        self,
        trace_id: str,
        policy: v.PolicyRef | Mapping[str, Any],
        inputs: Sequence[Any],
        decision: str,
        source: SourceLike,
        actor: ActorLike,
        violations: Sequence[v.Violation | Mapping[str, Any]] | None = None,
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
            trace_id, et.EVENT_TYPE_POLICY_EVALUATED, payload, source, actor, **options
        )

    def request_exception(
        self,
        trace_id: str,
        exception_id: str,
        policy: v.PolicyRef | Mapping[str, Any],
        reason: str,
        source: SourceLike,
        actor: ActorLike,
        evidence: Sequence[v.EvidenceRef | Mapping[str, Any]] | None = None,
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
            trace_id, et.EVENT_TYPE_EXCEPTION_REQUESTED, payload, source, actor, **options
        )

    def record_approval(
        self,
        trace_id: str,
        approval_id: str,
        subject: v.ApprovalSubject | Mapping[str, Any],
        approver: ActorLike,
        decision: str,
        source: SourceLike,
        actor: ActorLike,
        reason: str | None = None,
        evidence: Sequence[v.EvidenceRef | Mapping[str, Any]] | None = None,
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
            trace_id, et.EVENT_TYPE_APPROVAL_RECORDED, payload, source, actor, **options
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
            trace_id, et.EVENT_TYPE_PRECEDENT_CITED, payload, source, actor, **options
        )

    def propose_action(
        self,
        trace_id: str,
        action_id: str,
        action_type: str,
        target_entity: v.EntityRef | Mapping[str, Any],
        target_system: str,
        changes: Sequence[v.Change | Mapping[str, Any]],
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
            trace_id, et.EVENT_TYPE_ACTION_PROPOSED, payload, source, actor, **options
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
            trace_id, et.EVENT_TYPE_ACTION_COMMITTED, payload, source, actor, **options
        )
