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

import os

from decisiongraph.domain.envelope import EventEnvelope, StoredEvent
from decisiongraph.domain.ids import generate_event_id
from decisiongraph.domain.payload_builders import EventMethods
from decisiongraph.domain.tenant import DEFAULT_TENANT, validate_tenant_id
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


class DecisionGraph(EventMethods):
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

    def __repr__(self) -> str:
        return f"DecisionGraph({self._store.url!r}, tenant={self._tenant!r})"

    # --------------------------------------------------------------- appends
    # append_event and the typed event helpers come from EventMethods; these hooks
    # store through the tenant's log and keep the projections caught up.

    def _next_trace_seq(self, trace_id: str) -> int:
        return self._store.get_next_trace_seq(self._tenant, trace_id)

    def _new_event_id(self) -> str:
        return generate_event_id()  # looked up here at call time: tests pin event ids

    def _append_envelope(self, envelope: EventEnvelope) -> StoredEvent:
        """Append, then project through the appended event (reads right after are fresh)."""
        stored = self._store.append(self._tenant, envelope).event
        if self._project_on_append:
            self._projector.catch_up(self._tenant, until_log_seq=stored.log_seq)
        return stored

    # ----------------------------------------------------------------- reads

    def get_trace_events(self, trace_id: str) -> list[StoredEvent]:
        """The trace's events in trace_seq order; DG_ERR_NOT_FOUND if it has none."""
        return trace_queries.get_trace_events(self._store, self._tenant, trace_id)

    def get_trace_summary(self, trace_id: str) -> TraceSummary:
        """The trace's summary as the reference library returns it (spec 5): a missing
        primary entity type or id reads as ``""``; DG_ERR_NOT_FOUND without a summary."""
        summary = trace_queries.get_trace_summary(self._store, self._tenant, trace_id).summary
        return summary.as_reference()

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
