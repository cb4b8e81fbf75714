"""The library façade ``DecisionGraph`` (spec 9, 13.5): construction, the payload
builders of spec 2, default idempotency keys, projection right after each append, the
reads, and projection maintenance."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

import decisiongraph
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
from decisiongraph.errors import (
    Conflict,
    InvalidArgument,
    NotFound,
    ProjectionOutOfDate,
    StorageError,
)
from decisiongraph.service import facade as facade_module
from decisiongraph.store.base import SqlEventStore
from tests.conftest import GOLDEN_SCENARIOS, expected_digests, golden_envelopes
from tests.query.support import write_summary_row

SOURCE = SourceRef("deal-agent-service", "deal-orchestrator")
AGENT = ActorRef("agent", "deal-agent-v1")
LEAD = ActorRef("person", "desk-lead")
AT = "2026-01-05T10:00:00Z"


@pytest.fixture
def dg(store_url: str) -> Iterator[DecisionGraph]:
    with DecisionGraph(store_url, tenant="acme") as graph:
        yield graph


def test_public_surface() -> None:
    assert decisiongraph.__all__[:3] == ["__version__", "DecisionGraph", "DecisionGraphError"]
    assert decisiongraph.DecisionGraph is DecisionGraph


def _full_trace(dg: DecisionGraph) -> str:
    trace = dg.start_trace(
        "deal_approval",
        "Discount for ACME",
        EntityRef("opportunity", "opp-1", "salesforce"),
        SOURCE,
        AGENT,
        context={"region": "emea"},
        occurred_at=AT,
    )
    dg.observe_entity(
        trace,
        EntityRef("account", "acme"),
        "related",
        [Fact("industry", Value("string", "Healthcare"))],
        SOURCE,
        AGENT,
    )
    dg.observe_input(
        trace,
        "input:deal_size",
        SourceObjectRef("salesforce", "opportunity", "opp-1"),
        [Fact("deal_value", Value("int", "250000"), "2026-01-05T09:00:00Z")],
        SOURCE,
        AGENT,
    )
    dg.evaluate_policy(
        trace,
        PolicyRef("discount", "v3"),
        ["input:deal_size"],
        "require_exception",
        SOURCE,
        AGENT,
        violations=[Violation("OVER_LIMIT", details={"limit": "15"})],
        explanation={"summary": "above the limit"},
    )
    dg.request_exception(
        trace,
        "exc-1",
        PolicyRef("discount", "v3"),
        "healthcare cycles",
        SOURCE,
        AGENT,
        evidence=[EvidenceRef(SourceObjectRef("crm", "note", "n1"), "notes/n1")],
    )
    dg.record_approval(
        trace,
        "appr-1",
        ApprovalSubject("exception", "exc-1"),
        LEAD,
        "approved",
        SOURCE,
        LEAD,
        reason="ok",
    )
    dg.cite_precedent(trace, "older-trace", "similar", SOURCE, AGENT, similarity_score="0.9")
    dg.propose_action(
        trace,
        "act-1",
        "apply_discount",
        EntityRef("opportunity", "opp-1", "salesforce"),
        "salesforce",
        [Change("discount", None, Value("decimal", "0.25"))],
        SOURCE,
        AGENT,
    )
    dg.commit_action(trace, "act-1", "success", SOURCE, AGENT, external_reference="sf:1")
    dg.finish_trace(trace, "success", SOURCE, AGENT, summary="applied")
    return trace


def test_a_full_trace_builds_the_reference_payloads(dg: DecisionGraph) -> None:
    trace = _full_trace(dg)
    events = dg.get_trace_events(trace)
    assert [e.trace_seq for e in events] == list(range(10))
    assert [e.idempotency_key for e in events] == [
        f"start:{trace}",
        *(f"{e.event_type}:{trace}:{e.trace_seq}" for e in events[1:-1]),
        f"finish:{trace}",
    ]
    assert events[0].occurred_at == AT
    assert all(e.source == SOURCE for e in events)
    assert events[5].actor == LEAD
    assert [e.payload for e in events] == [
        {
            "workflow": "deal_approval",
            "title": "Discount for ACME",
            "primary_entity": {
                "entity_type": "opportunity",
                "entity_id": "opp-1",
                "system": "salesforce",
            },
            "context": {"region": "emea"},
        },
        {
            "entity": {"entity_type": "account", "entity_id": "acme", "system": None},
            "role": "related",
            "facts": [
                {
                    "key": "industry",
                    "value": {"type": "string", "value": "Healthcare"},
                    "as_of": None,
                }
            ],
        },
        {
            "input_id": "input:deal_size",
            "source": {
                "system": "salesforce",
                "object_type": "opportunity",
                "object_id": "opp-1",
                "locator": None,
            },
            "facts": [
                {
                    "key": "deal_value",
                    "value": {"type": "int", "value": "250000"},
                    "as_of": "2026-01-05T09:00:00Z",
                }
            ],
        },
        {
            "policy": {"policy_id": "discount", "policy_version": "v3"},
            "inputs": ["input:deal_size"],
            "decision": "require_exception",
            "violations": [{"code": "OVER_LIMIT", "message": None, "details": {"limit": "15"}}],
            "explanation": {"summary": "above the limit"},
        },
        {
            "exception_id": "exc-1",
            "policy": {"policy_id": "discount", "policy_version": "v3"},
            "reason": "healthcare cycles",
            "evidence": [
                {
                    "source": {
                        "system": "crm",
                        "object_type": "note",
                        "object_id": "n1",
                        "locator": None,
                    },
                    "locator": "notes/n1",
                    "excerpt_redacted": None,
                }
            ],
        },
        {
            "approval_id": "appr-1",
            "subject": {"subject_type": "exception", "subject_id": "exc-1"},
            "approver": {"actor_type": "person", "actor_id": "desk-lead"},
            "decision": "approved",
            "reason": "ok",
        },
        {"cited_trace_id": "older-trace", "reason": "similar", "similarity_score": "0.9"},
        {
            "action_id": "act-1",
            "action_type": "apply_discount",
            "target_entity": {
                "entity_type": "opportunity",
                "entity_id": "opp-1",
                "system": "salesforce",
            },
            "target_system": "salesforce",
            "changes": [
                {
                    "path": "discount",
                    "old_value": None,
                    "new_value": {"type": "decimal", "value": "0.25"},
                }
            ],
        },
        {"action_id": "act-1", "status": "success", "external_reference": "sf:1"},
        {"outcome": "success", "summary": "applied"},
    ]
    assert dg.is_trace_finished(trace)


def test_optional_keys_are_left_out_when_empty(dg: DecisionGraph) -> None:
    trace = dg.start_trace(
        "wf", "t", {"entity_type": "account", "entity_id": "a"}, SOURCE, AGENT, context={}
    )
    dg.evaluate_policy(trace, PolicyRef("p", "1"), [], "allow", SOURCE, AGENT, violations=[])
    dg.request_exception(trace, "x", {"policy_id": "p", "policy_version": "1"}, "r", SOURCE, AGENT)
    dg.record_approval(
        trace,
        "a1",
        {"subject_type": "action", "subject_id": "act", "action_id": "act"},
        {"actor_type": "person", "actor_id": "p"},
        "rejected",
        {"producer_id": SOURCE.producer_id, "system": SOURCE.system},
        {"actor_type": "person", "actor_id": "p"},
    )
    dg.cite_precedent(trace, "other", "why", SOURCE, AGENT)
    dg.commit_action(trace, "act", "failure", SOURCE, AGENT)
    dg.finish_trace(trace, "failure", SOURCE, AGENT)
    payloads = [e.payload for e in dg.get_trace_events(trace)]
    assert payloads[0]["primary_entity"] == {
        "entity_type": "account",
        "entity_id": "a",
        "system": None,
    }
    assert "context" not in payloads[0]
    assert set(payloads[1]) == {"policy", "inputs", "decision"}
    assert set(payloads[2]) == {"exception_id", "policy", "reason"}
    assert payloads[3]["subject"] == {
        "subject_type": "action",
        "subject_id": "act",
        "action_id": "act",
    }
    assert set(payloads[3]) == {"approval_id", "subject", "approver", "decision"}
    assert payloads[4] == {"cited_trace_id": "other", "reason": "why"}
    assert payloads[5] == {"action_id": "act", "status": "failure"}
    assert payloads[6] == {"outcome": "failure"}


def test_reads_are_fresh_right_after_each_append(dg: DecisionGraph) -> None:
    trace = _full_trace(dg)
    hits = dg.find_precedents(policy_id="discount")
    assert [(h.trace_id, h.policy_version, h.outcome) for h in hits] == [(trace, "v3", "success")]
    exception_event = dg.get_trace_events(trace)[4]
    assert hits[0].source_event_id == exception_event.event_id  # exception rows first
    assert dg.find_precedents(entity_type="opportunity", entity_id="opp-2") == []
    graph = dg.get_context_subgraph("trace", trace)
    assert {n.node_type for n in graph.nodes} == {
        "trace",
        "entity",
        "input",
        "policy",
        "exception",
        "action",
    }
    assert len(graph.edges) == 8
    assert not graph.truncated
    deeper = dg.get_context_subgraph("trace", trace, max_depth=2)
    assert "actor:person:desk-lead" in [n.node_id for n in deeper.nodes]
    summary = dg.get_trace_summary(trace)
    assert (summary.outcome, summary.primary_entity_id, summary.event_total) == (
        "success",
        "opp-1",
        10,
    )
    view = dg.get_trace(trace)
    assert len(view.events) == 10
    assert view.summary is not None
    page = dg.list_node_edges("trace", trace, "outgoing", limit=3)
    assert len(page.edges) == 3
    assert page.next_cursor is not None
    health = dg.get_projection_health(include_digests=True)
    assert health.tail_log_seq == 10
    assert not health.is_stale
    assert health.digests is not None
    assert set(health.digests) == {
        "context_graph",
        "trace_summary",
        "precedent_index",
        "full_projection",
    }
    assert dg.get_projection_health().digests is None


def test_reference_summary_turns_a_missing_entity_into_empty_strings(
    dg: DecisionGraph,
) -> None:
    write_summary_row(dg.store, dg.tenant, "t-null", entity=None)
    summary = dg.get_trace_summary("t-null")
    assert (summary.primary_entity_type, summary.primary_entity_id) == ("", "")
    with pytest.raises(NotFound):
        dg.get_trace_summary("missing")


def test_idempotent_retries_and_the_finished_lock(dg: DecisionGraph) -> None:
    entity = EntityRef("account", "a")
    trace = dg.start_trace("wf", "t", entity, SOURCE, AGENT, trace_id="fixed-trace")
    assert trace == "fixed-trace"
    first = dg.get_trace_events(trace)[0]
    # The same start again is a valid reuse ("start:{trace_id}"), even at trace_seq 1.
    assert dg.start_trace("wf", "t", entity, SOURCE, AGENT, trace_id=trace) == trace
    assert dg.get_trace_events(trace) == [first]
    finished = dg.finish_trace(trace, "success", SOURCE, AGENT)
    assert dg.finish_trace(trace, "success", SOURCE, AGENT) == finished
    with pytest.raises(Conflict):
        dg.cite_precedent(trace, "x", "late", SOURCE, AGENT)
    with pytest.raises(NotFound):
        dg.get_trace_events("never-started")


def test_projection_maintenance(store_url: str) -> None:
    with DecisionGraph(store_url, project_on_append=False) as dg:
        assert dg.tenant == "default"
        trace = dg.start_trace("wf", "t", EntityRef("account", "a"), SOURCE, AGENT)
        dg.finish_trace(trace, "success", SOURCE, AGENT)
        with pytest.raises(ProjectionOutOfDate):
            dg.find_precedents()
        assert dg.sync_projections(batch_size=1) == 2
        assert dg.sync_projections() == 0
        assert [h.trace_id for h in dg.find_precedents()] == [trace]
        digests = dg.get_projection_health(include_digests=True).digests
        assert dg.replay_projections(batch_size=1) == 2
        assert dg.get_projection_health(include_digests=True).digests == digests
        for bad in (0, -1):
            with pytest.raises(InvalidArgument):
                dg.sync_projections(batch_size=bad)
            with pytest.raises(InvalidArgument):
                dg.replay_projections(batch_size=bad)


@pytest.mark.parametrize("scenario", GOLDEN_SCENARIOS)
def test_golden_scenarios_through_append_event(
    store_url: str, scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """append_event with the golden envelopes' fields (and their event ids) gives the
    golden digests, projected live event by event."""
    envelopes = golden_envelopes(scenario)
    ids = iter([e.event_id for e in envelopes])
    monkeypatch.setattr(facade_module, "generate_event_id", lambda: next(ids))
    with DecisionGraph(store_url, tenant=scenario.replace("_", "-")) as dg:
        for env in envelopes:
            stored = dg.append_event(
                env.trace_id,
                env.event_type,
                env.payload,
                env.source,
                env.actor,
                idempotency_key=env.idempotency_key,
                correlation_id=env.correlation_id,
                causation_event_id=env.causation_event_id,
                schema_version=env.schema_version,
                tags=env.tags,
                occurred_at=env.occurred_at,
            )
            assert stored.envelope() == env
        assert dg.get_projection_health(include_digests=True).digests == expected_digests(scenario)


def test_urls_paths_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str
) -> None:
    path = tmp_path / "plain.db"
    with DecisionGraph(str(path)) as dg:
        assert dg.store.url == f"sqlite:///{path}"
    with DecisionGraph(path) as dg:
        assert dg.store.dialect == "sqlite"
    monkeypatch.setenv("DG_DATABASE_URL", store_url)
    with DecisionGraph() as dg:
        assert dg.store.dialect == ("postgres" if store_url.startswith("postgres") else "sqlite")
    monkeypatch.delenv("DG_DATABASE_URL")
    monkeypatch.chdir(tmp_path)
    with DecisionGraph(tenant="t1") as dg:
        assert dg.store.url == "sqlite:///./decisiongraph.db"
        assert "t1" in repr(dg)
    assert (tmp_path / "decisiongraph.db").is_file()
    with pytest.raises(InvalidArgument):
        DecisionGraph("mysql://host/db")
    with pytest.raises(InvalidArgument):
        DecisionGraph(":memory:", tenant="bad tenant")


def test_close_and_shared_stores(store: SqlEventStore) -> None:
    with DecisionGraph(store=store, tenant="a") as first:
        first.start_trace("wf", "t", EntityRef("account", "a"), SOURCE, AGENT, trace_id="x")
    # The façade did not open the store: it leaves it open.
    with DecisionGraph(store=store, tenant="b") as second:
        assert second.find_precedents() == []
        with pytest.raises(NotFound):
            second.get_trace_events("x")  # another tenant's trace
    dg = DecisionGraph("sqlite:///:memory:")
    dg.close()
    with pytest.raises(StorageError):
        dg.get_trace_events("x")


@pytest.mark.postgres
def test_from_postgres_accepts_a_conninfo_string(pg_url: str) -> None:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    conninfo = make_conninfo("", **{k: str(v) for k, v in conninfo_to_dict(pg_url).items()})
    with DecisionGraph.from_postgres(conninfo, tenant="pg") as dg:
        trace = dg.start_trace("wf", "t", EntityRef("account", "a"), SOURCE, AGENT)
        assert dg.store.dialect == "postgres"
        assert [e.trace_id for e in dg.get_trace_events(trace)] == [trace]


def test_many_events_keep_their_order(dg: DecisionGraph) -> None:
    trace = dg.start_trace("wf", "t", EntityRef("account", "a"), SOURCE, AGENT)
    for index in itertools.islice(itertools.count(), 12):
        dg.observe_input(
            trace, f"in-{index}", SourceObjectRef("crm", "doc", f"d{index}"), [], SOURCE, AGENT
        )
    assert [e.trace_seq for e in dg.get_trace_events(trace)] == list(range(13))
    assert len(dg.get_context_subgraph("trace", trace).edges) == 13
