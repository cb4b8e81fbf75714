"""The library façade ``DecisionGraph`` (spec 9, 13.5): record decision traces and read
them back, embedded, on one tenant of a SQLite or PostgreSQL store.

Every append is followed by a synchronous catch-up of the tenant's projections through
the appended event, so reads made right after an append are fresh (reads are strict:
a projection behind the log raises ``DG_ERR_PROJECTION_OUT_OF_DATE``, which in embedded
use only happens when a projection is stopped on a failure or another process writes).

Example::

    from decisiongraph import ActorRef, DecisionGraph, EntityRef, PolicyRef, SourceRef

    source = SourceRef("deal-agent", "crm")
    agent = ActorRef("agent", "deal-agent-v1")
    with DecisionGraph("sqlite:///./decisions.db") as dg:
        trace = dg.start_trace("deal_approval", "Discount for ACME",
                               EntityRef("opportunity", "opp-1", "salesforce"), source, agent)
        dg.evaluate_policy(trace, PolicyRef("discount", "v3"), [], "allow", source, agent)
        dg.finish_trace(trace, "success", source, agent)
        hits = dg.find_precedents(policy_id="discount")
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from decisiongraph.domain.clock import now_rfc3339
from decisiongraph.domain.envelope import ActorRef, EventEnvelope, SourceRef, StoredEvent
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
from decisiongraph.domain.ids import generate_event_id, generate_trace_id
from decisiongraph.domain.tenant import DEFAULT_TENANT, validate_tenant_id
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
from decisiongraph.errors import InvalidArgument
from decisiongraph.projections.runner import Projector
from decisiongraph.query import graph as graph_queries
from decisiongraph.query import precedents as precedent_queries
from decisiongraph.query import traces as trace_queries
from decisiongraph.query.consistency import ReadOptions
from decisiongraph.query.health import ProjectionHealth, get_projection_health
from decisiongraph.query.models import (
    ContextSubgraph,
    GraphEdgeCursor,
    GraphEdgePage,
    NodeRef,
    PrecedentHit,
    TraceSummary,
    TraceView,
)
from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.factory import DEFAULT_DATABASE_URL, open_store

__all__ = ["DEFAULT_PROJECTION_BATCH_SIZE", "DecisionGraph"]

DEFAULT_PROJECTION_BATCH_SIZE = 1000

_SourceLike = SourceRef | Mapping[str, Any]
_ActorLike = ActorRef | Mapping[str, Any]


def resolve_url(url: str | os.PathLike[str] | None) -> str:
    """The store URL: ``url``, else ``$DG_DATABASE_URL``, else the embedded default.

    A value without a scheme is a SQLite file path (``":memory:"`` for in-memory)."""
    if url is None:
        return os.environ.get("DG_DATABASE_URL") or DEFAULT_DATABASE_URL
    text = os.fspath(url)
    if text.startswith(("sqlite:", "postgresql://", "postgres://")):
        return text
    if "://" in text:
        raise InvalidArgument(
            f"Unsupported database URL {text!r}: use sqlite:///PATH or postgresql://..."
        )
    return f"sqlite:///{text}"


def _plain(value: Any) -> Any:
    """Payload JSON of a value object (``dataclasses.asdict``), a mapping or a list."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _source(value: _SourceLike) -> SourceRef:
    if isinstance(value, SourceRef):
        return value
    return SourceRef(value["producer_id"], value["system"], value.get("subsystem"))


def _actor(value: _ActorLike) -> ActorRef:
    if isinstance(value, ActorRef):
        return value
    return ActorRef(value["actor_type"], value["actor_id"])


def _entity(value: EntityRef | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(value, EntityRef):
        return dataclasses.asdict(value)
    return {
        "entity_type": value["entity_type"],
        "entity_id": value["entity_id"],
        "system": value.get("system"),
    }


class DecisionGraph:
    """One tenant of a DecisionGraph store, embedded (spec 9).

    ``url``: ``sqlite:///PATH``, ``sqlite:///:memory:``, ``postgresql://...`` or a plain
    SQLite file path; default ``$DG_DATABASE_URL``, else ``sqlite:///./decisiongraph.db``.
    ``tenant``: the tenant every call acts on (default ``"default"``).
    ``project_on_append``: catch the projections up after every append (default True).
    """

    def __init__(
        self,
        url: str | os.PathLike[str] | None = None,
        tenant: str = DEFAULT_TENANT,
        *,
        store: SqlEventStore | None = None,
        project_on_append: bool = True,
    ) -> None:
        self._tenant = validate_tenant_id(tenant)
        self._owns_store = store is None
        self._store: SqlEventStore = store if store is not None else open_store(resolve_url(url))
        self._project_on_append = project_on_append
        self._projector = Projector(self._store, batch_size=DEFAULT_PROJECTION_BATCH_SIZE)

    @classmethod
    def from_postgres(cls, conninfo: str, tenant: str = DEFAULT_TENANT) -> DecisionGraph:
        """Open a PostgreSQL store from a URI (``postgresql://...``) or a libpq conninfo
        string (``host=... dbname=...``)."""
        from decisiongraph.store.postgres import PostgresEventStore  # noqa: PLC0415

        graph = cls(tenant=tenant, store=PostgresEventStore(conninfo))
        graph._owns_store = True
        return graph

    # ------------------------------------------------------------- lifecycle

    @property
    def store(self) -> SqlEventStore:
        return self._store

    @property
    def tenant(self) -> str:
        return self._tenant

    def close(self) -> None:
        """Close the store (if this façade opened it)."""
        if self._owns_store:
            self._store.close()

    def __enter__(self) -> DecisionGraph:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DecisionGraph({self._store.url!r}, tenant={self._tenant!r})"

    # --------------------------------------------------------------- appends

    def append_event(
        self,
        trace_id: str,
        event_type: str,
        payload: Mapping[str, Any],
        source: _SourceLike,
        actor: _ActorLike,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        causation_event_id: str | None = None,
        schema_version: int = 1,
        tags: Sequence[str] | None = None,
        occurred_at: str | None = None,
    ) -> StoredEvent:
        """Append the next event of ``trace_id`` (its trace_seq is the trace's next one;
        the default idempotency key is ``{event_type}:{trace_id}:{trace_seq}``), then
        project it. A valid idempotent reuse returns the stored event."""
        trace_seq = self._store.get_next_trace_seq(self._tenant, trace_id)
        envelope = EventEnvelope(
            event_id=generate_event_id(),
            trace_id=trace_id,
            trace_seq=trace_seq,
            event_type=event_type,
            occurred_at=occurred_at if occurred_at is not None else now_rfc3339(),
            source=_source(source),
            actor=_actor(actor),
            idempotency_key=(
                idempotency_key
                if idempotency_key is not None
                else f"{event_type}:{trace_id}:{trace_seq}"
            ),
            payload=dict(payload),
            correlation_id=correlation_id,
            causation_event_id=causation_event_id,
            schema_version=schema_version,
            tags=tuple(tags or ()),
        )
        stored = self._store.append(self._tenant, envelope).event
        if self._project_on_append:
            self._projector.catch_up(self._tenant, until_log_seq=stored.log_seq)
        return stored

    def start_trace(
        self,
        workflow: str,
        title: str,
        primary_entity: EntityRef | Mapping[str, Any],
        source: _SourceLike,
        actor: _ActorLike,
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
            "primary_entity": _entity(primary_entity),
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
        source: _SourceLike,
        actor: _ActorLike,
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
        source: _SourceLike,
        actor: _ActorLike,
        **options: Any,
    ) -> StoredEvent:
        """Record an input read from ``input_source`` with its facts (InputObserved)."""
        payload = {"input_id": input_id, "source": _plain(input_source), "facts": _plain(facts)}
        return self.append_event(
            trace_id, EVENT_TYPE_INPUT_OBSERVED, payload, source, actor, **options
        )

    def observe_entity(
        self,
        trace_id: str,
        entity: EntityRef | Mapping[str, Any],
        role: str,
        facts: Sequence[Fact | Mapping[str, Any]],
        source: _SourceLike,
        actor: _ActorLike,
        **options: Any,
    ) -> StoredEvent:
        """Record an entity (``role`` primary or related) with its facts (EntityObserved)."""
        payload = {"entity": _plain(entity), "role": role, "facts": _plain(facts)}
        return self.append_event(
            trace_id, EVENT_TYPE_ENTITY_OBSERVED, payload, source, actor, **options
        )

    def evaluate_policy(
        self,
        trace_id: str,
        policy: PolicyRef | Mapping[str, Any],
        inputs: Sequence[Any],
        decision: str,
        source: _SourceLike,
        actor: _ActorLike,
        violations: Sequence[Violation | Mapping[str, Any]] | None = None,
        explanation: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> StoredEvent:
        """Record a policy decision (``allow``, ``deny``, ``require_exception``)."""
        payload: dict[str, Any] = {
            "policy": _plain(policy),
            "inputs": _plain(list(inputs)),
            "decision": decision,
        }
        if violations:
            payload["violations"] = _plain(list(violations))
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
        source: _SourceLike,
        actor: _ActorLike,
        evidence: Sequence[EvidenceRef | Mapping[str, Any]] | None = None,
        **options: Any,
    ) -> StoredEvent:
        """Request an exception to ``policy`` (ExceptionRequested)."""
        payload: dict[str, Any] = {
            "exception_id": exception_id,
            "policy": _plain(policy),
            "reason": reason,
        }
        if evidence:
            payload["evidence"] = _plain(list(evidence))
        return self.append_event(
            trace_id, EVENT_TYPE_EXCEPTION_REQUESTED, payload, source, actor, **options
        )

    def record_approval(
        self,
        trace_id: str,
        approval_id: str,
        subject: ApprovalSubject | Mapping[str, Any],
        approver: _ActorLike,
        decision: str,
        source: _SourceLike,
        actor: _ActorLike,
        reason: str | None = None,
        evidence: Sequence[EvidenceRef | Mapping[str, Any]] | None = None,
        **options: Any,
    ) -> StoredEvent:
        """Record an approval (``approved`` or ``rejected``) of an exception or action."""
        payload: dict[str, Any] = {
            "approval_id": approval_id,
            "subject": _plain(subject),
            "approver": _plain(_actor(approver)),
            "decision": decision,
        }
        if reason is not None:
            payload["reason"] = reason
        if evidence:
            payload["evidence"] = _plain(list(evidence))
        return self.append_event(
            trace_id, EVENT_TYPE_APPROVAL_RECORDED, payload, source, actor, **options
        )

    def cite_precedent(
        self,
        trace_id: str,
        cited_trace_id: str,
        reason: str,
        source: _SourceLike,
        actor: _ActorLike,
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
        source: _SourceLike,
        actor: _ActorLike,
        **options: Any,
    ) -> StoredEvent:
        """Propose an action on ``target_entity`` (ActionProposed)."""
        payload = {
            "action_id": action_id,
            "action_type": action_type,
            "target_entity": _plain(target_entity),
            "target_system": target_system,
            "changes": _plain(list(changes)),
        }
        return self.append_event(
            trace_id, EVENT_TYPE_ACTION_PROPOSED, payload, source, actor, **options
        )

    def commit_action(
        self,
        trace_id: str,
        action_id: str,
        status: str,
        source: _SourceLike,
        actor: _ActorLike,
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

    # ----------------------------------------------------------------- reads

    def get_trace_events(self, trace_id: str) -> list[StoredEvent]:
        """The trace's events in trace_seq order; DG_ERR_NOT_FOUND if it has none."""
        return trace_queries.get_trace_events(self._store, self._tenant, trace_id)

    def get_trace_summary(self, trace_id: str) -> TraceSummary:
        """The trace's summary as the reference library returns it (spec 5): a missing
        primary entity type or id reads as ``""``; DG_ERR_NOT_FOUND without a summary."""
        summary = trace_queries.get_trace_summary(self._store, self._tenant, trace_id).summary
        return dataclasses.replace(
            summary,
            primary_entity_type=summary.primary_entity_type or "",
            primary_entity_id=summary.primary_entity_id or "",
        )

    def get_trace(self, trace_id: str, *, options: ReadOptions | None = None) -> TraceView:
        """The trace's timeline and summary (nulls kept), as ``GET /traces/{id}``."""
        return trace_queries.get_trace(self._store, self._tenant, trace_id, options=options)

    def get_context_subgraph(
        self,
        node_type: str,
        node_id: str,
        max_depth: int = 1,
        *,
        filter_opts: graph_queries.GraphFilter | None = None,
    ) -> ContextSubgraph:
        """The bounded breadth-first neighbourhood of node ``{node_type}:{node_id}``."""
        return graph_queries.get_context_subgraph(
            self._store, self._tenant, NodeRef(node_type, node_id), max_depth, filter_opts
        )

    def list_node_edges(
        self,
        node_type: str,
        node_id: str,
        direction: str = "both",
        cursor: GraphEdgeCursor | None = None,
        limit: int = 100,
    ) -> GraphEdgePage:
        """A page of the node's edges in log_seq, edge_id order."""
        return graph_queries.list_node_edges(
            self._store, self._tenant, NodeRef(node_type, node_id), direction, cursor, limit
        )

    def find_precedents(
        self,
        policy_id: str | None = None,
        policy_version: str | None = None,
        entity_type: str | None = None,
        entity_id: str | None = None,
        outcome: str | None = None,
        limit: int = 100,
    ) -> list[PrecedentHit]:
        """Finished traces matching the filters, newest first; with a policy, one hit per
        trace (its exception row first, else its latest evaluation)."""
        query = precedent_queries.PrecedentQuery(
            policy_id, policy_version, entity_type, entity_id, outcome, limit
        )
        return precedent_queries.find_precedents(self._store, self._tenant, query).items

    def get_projection_health(self, include_digests: bool = False) -> ProjectionHealth:
        """Where each projection stands against the log (never raises for staleness)."""
        return get_projection_health(self._store, self._tenant, include_digests=include_digests)

    def is_trace_finished(self, trace_id: str) -> bool:
        return self._store.is_trace_finished(self._tenant, trace_id)

    # ----------------------------------------------------------- maintenance

    def _projector_for(self, batch_size: int | None) -> Projector:
        if batch_size is None:
            return self._projector
        return Projector(self._store, batch_size=batch_size)

    def sync_projections(self, batch_size: int | None = None) -> int:
        """Project the events after the cursors; returns how many events were projected."""
        projector = self._projector_for(batch_size)
        before = projector.cursors(self._tenant)
        projector.catch_up(self._tenant)
        after = projector.cursors(self._tenant)
        return max(after[name] - before[name] for name in after)

    def replay_projections(self, batch_size: int | None = None) -> int:
        """Rebuild the tenant's projections from its whole log (readers keep the old state
        until the new one is complete); returns the number of events replayed."""
        projector = self._projector_for(batch_size)
        projector.rebuild(self._tenant)
        return min(projector.cursors(self._tenant).values())
