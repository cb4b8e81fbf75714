"""Parity: one scenario through the embedded ``DecisionGraph`` (its own store) and
through ``Client`` (the service) gives identical digests and equal query results.

Event ids are made deterministic on both sides (the same counter replaces
``generate_event_id`` in the façade and in the client) and every event has a fixed
``occurred_at``, so everything but the server clock (``recorded_at``) must be equal:
the stored events, edge ids (which embed event ids), precedent hits' source events.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from decisiongraph import (
    ActorRef,
    ApprovalSubject,
    Change,
    DecisionGraph,
    EntityRef,
    EvidenceRef,
    Fact,
    PolicyRef,
    SourceObjectRef,
    SourceRef,
    Value,
    Violation,
)
from decisiongraph.client import Client
from decisiongraph.client import client as client_module
from decisiongraph.domain.envelope import StoredEvent
from decisiongraph.errors import Conflict, DecisionGraphError, IdempotencyConflict, NotFound
from decisiongraph.query import GraphEdgePage, GraphFilter
from decisiongraph.service import facade as facade_module
from tests.client.conftest import Service, fresh_database
from tests.conftest import GOLDEN_SCENARIOS, expected_digests, golden_envelopes

SOURCE = SourceRef("deal-agent-service", "deal-orchestrator")
AGENT = ActorRef("agent", "deal-agent-v1")
LEAD = ActorRef("person", "desk-lead")
AT = "2026-01-05T10:00:00Z"
OPP = EntityRef("opportunity", "opp-1", "salesforce")
Graph = DecisionGraph | Client


@pytest.fixture
def embedded(service: Service, tmp_path: Path) -> Iterator[DecisionGraph]:
    """The embedded façade on a store of its own (same backend as the server)."""
    with (
        fresh_database(service.server.backend, tmp_path) as url,
        DecisionGraph(url, tenant=service.tenant) as dg,
    ):
        yield dg


def _same_ids(monkeypatch: pytest.MonkeyPatch, make: Any) -> None:
    facade_ids = (make(i) for i in itertools.count())
    client_ids = (make(i) for i in itertools.count())
    monkeypatch.setattr(facade_module, "generate_event_id", lambda: next(facade_ids))
    monkeypatch.setattr(client_module, "generate_event_id", lambda: next(client_ids))


def _deal(dg: Graph, trace: str, outcome: str, *, cite: str | None = None) -> None:
    """A deal desk trace with every event type (finished unless ``outcome`` is empty)."""
    opts: dict[str, Any] = {"occurred_at": AT}
    context = {"r": "emea"}
    dg.start_trace("deal_approval", f"Deal {trace}", OPP, SOURCE, AGENT, context, trace, **opts)
    dg.observe_entity(
        trace, EntityRef("account", "acme"), "related",
        [Fact("industry", Value("string", "Healthcare"))], SOURCE, AGENT, **opts,
    )  # fmt: skip
    dg.observe_input(
        trace, "input:size", SourceObjectRef("salesforce", "opportunity", "opp-1"),
        [Fact("deal_value", Value("int", "250000"), AT)], SOURCE, AGENT, **opts,
    )  # fmt: skip
    dg.evaluate_policy(
        trace, PolicyRef("discount", "v3"), ["input:size"], "require_exception", SOURCE, AGENT,
        violations=[Violation("OVER_LIMIT", details={"limit": "15"})], **opts,
    )  # fmt: skip
    dg.request_exception(
        trace, f"exc-{trace}", PolicyRef("discount", "v3"), "cycles", SOURCE, AGENT,
        evidence=[EvidenceRef(SourceObjectRef("crm", "note", "n1"), "notes/n1")], **opts,
    )  # fmt: skip
    subject = ApprovalSubject("exception", f"exc-{trace}")
    dg.record_approval(trace, f"ap-{trace}", subject, LEAD, "approved", SOURCE, LEAD, **opts)
    if cite is not None:
        dg.cite_precedent(trace, cite, "similar", SOURCE, AGENT, similarity_score="0.9", **opts)
    dg.propose_action(
        trace, f"act-{trace}", "apply_discount", OPP, "salesforce",
        [Change("discount", None, Value("decimal", "0.25"))], SOURCE, AGENT, **opts,
    )  # fmt: skip
    dg.commit_action(trace, f"act-{trace}", "success", SOURCE, AGENT, tags=["a", "b"], **opts)
    if outcome:
        dg.finish_trace(trace, outcome, SOURCE, AGENT, summary="done", occurred_at=AT)


def _events(events: list[StoredEvent]) -> list[dict[str, Any]]:
    """Events without the server clock's ``recorded_at``."""
    return [{k: v for k, v in e.to_dict().items() if k != "recorded_at"} for e in events]


def _edge_pages(dg: Graph, node_type: str, node_id: str) -> list[GraphEdgePage]:
    pages = [dg.list_node_edges(node_type, node_id, "both", None, 2)]
    while pages[-1].next_cursor is not None:
        pages.append(dg.list_node_edges(node_type, node_id, "both", pages[-1].next_cursor, 2))
    return pages


def _error(call: Any, *args: Any) -> DecisionGraphError:
    with pytest.raises(DecisionGraphError) as caught:
        call(*args)
    return caught.value


def test_the_helpers_give_identical_results_through_both(
    service: Service, embedded: DecisionGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    _same_ids(monkeypatch, lambda i: f"00000000-0000-4000-8000-{i:012d}")
    with service.client() as remote:
        for dg in (embedded, remote):
            _deal(dg, "t1", "success")
            _deal(dg, "t2", "failure", cite="t1")
            _deal(dg, "t3", "")
        for trace in ("t1", "t2", "t3"):
            assert _events(remote.get_trace_events(trace)) == _events(
                embedded.get_trace_events(trace)
            )
            local_view, remote_view = embedded.get_trace(trace), remote.get_trace(trace)
            assert _events(remote_view.events) == _events(local_view.events)
            assert remote_view.summary == local_view.summary
            assert remote.get_trace_summary(trace) == embedded.get_trace_summary(trace)
            assert remote.is_trace_finished(trace) is embedded.is_trace_finished(trace)
        assert remote.is_trace_finished("t1")
        assert not remote.is_trace_finished("t3")
        for query in (
            {},
            {"policy_id": "discount"},
            {"policy_id": "discount", "policy_version": "v3", "outcome": "failure"},
            {"entity_type": "opportunity", "entity_id": "opp-1", "limit": 1},
        ):
            hits = remote.find_precedents(**query)
            assert hits == embedded.find_precedents(**query)
        assert [h.trace_id for h in remote.find_precedents(policy_id="discount")] == ["t2", "t1"]
        bounded = GraphFilter(edge_types=("trace_evaluated_policy",), max_nodes=3)
        nodes = remote.get_context_subgraph("trace", "t1").nodes
        entity = next(n.node_id for n in nodes if n.node_type == "entity")
        for node_type, node_id, depth, bounds in (
            ("trace", "t1", 2, None),
            ("entity", entity.split(":", 1)[1], 1, None),
            ("trace", "t2", 1, bounded),
            ("trace", "t2", 3, bounded),
        ):
            subgraph = remote.get_context_subgraph(node_type, node_id, depth, filter_opts=bounds)
            local = embedded.get_context_subgraph(node_type, node_id, depth, filter_opts=bounds)
            assert subgraph == local
        remote_pages = _edge_pages(remote, "trace", "t2")
        assert remote_pages == _edge_pages(embedded, "trace", "t2")
        assert len(remote_pages) > 2
        local_health = embedded.get_projection_health(include_digests=True)
        remote_health = remote.wait_for_projections(include_digests=True)
        assert remote_health.digests == local_health.digests is not None
        assert remote_health.event_count == local_health.event_count == 27
        # Same key, other payload: an idempotency conflict naming the same original.
        remote_error = _error(lambda: remote.finish_trace("t1", "success", SOURCE, AGENT))
        local_error = _error(lambda: embedded.finish_trace("t1", "success", SOURCE, AGENT))
        assert isinstance(remote_error, IdempotencyConflict)
        assert type(remote_error) is type(local_error)
        assert remote_error.details == local_error.details
    assert isinstance(_error(lambda: embedded.get_trace_events("nope")), NotFound)


@pytest.mark.parametrize("scenario", GOLDEN_SCENARIOS)
def test_golden_scenarios_give_the_golden_digests_through_both(
    service: Service, embedded: DecisionGraph, monkeypatch: pytest.MonkeyPatch, scenario: str
) -> None:
    envelopes = golden_envelopes(scenario)
    ids = [e.event_id for e in envelopes]
    _same_ids(monkeypatch, lambda i: ids[i])
    with service.client() as remote:
        for dg in (embedded, remote):
            for env in envelopes:
                stored = dg.append_event(
                    env.trace_id, env.event_type, env.payload, env.source, env.actor,
                    idempotency_key=env.idempotency_key, correlation_id=env.correlation_id,
                    causation_event_id=env.causation_event_id,
                    schema_version=env.schema_version, tags=env.tags,
                    occurred_at=env.occurred_at,
                )  # fmt: skip
                assert stored.envelope() == env
        expected = expected_digests(scenario)
        assert remote.wait_for_projections(include_digests=True).digests == expected
        assert embedded.get_projection_health(include_digests=True).digests == expected
        trace = envelopes[0].trace_id
        assert remote.get_trace(trace).summary == embedded.get_trace(trace).summary
        assert remote.find_precedents() == embedded.find_precedents()


def test_errors_are_the_same_classes_and_codes(service: Service, embedded: DecisionGraph) -> None:
    with service.client() as remote:
        for dg in (embedded, remote):
            _deal(dg, "t1", "success")
        cases = [
            lambda dg: dg.get_trace_events("missing"),
            lambda dg: dg.observe_input("t1", "i", {}, [], SOURCE, AGENT),
            lambda dg: dg.append_event("t9", "InputObserved", {}, SOURCE, AGENT),
            lambda dg: dg.append_event("t9", "NoSuchType", {}, SOURCE, AGENT),
            lambda dg: dg.append_event("t9", "TraceStarted", {}, SOURCE, AGENT),
            lambda dg: dg.append_event(
                "t9", "TraceStarted", {"workflow": 1.5}, SOURCE, AGENT, idempotency_key=""
            ),
        ]
        for case in cases:
            local, remote_error = _error(case, embedded), _error(case, remote)
            assert remote_error.code == local.code, (local, remote_error)
            # The service cannot tell FloatFoundError from its base SchemaViolation.
            assert isinstance(local, type(remote_error))
        input_source = SourceObjectRef("crm", "account", "a1")
        conflict = _error(lambda: remote.observe_input("t1", "i", input_source, [], SOURCE, AGENT))
        assert isinstance(conflict, Conflict)
        assert conflict.details["reason"] == "trace_finished"
