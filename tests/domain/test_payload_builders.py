"""The shared event methods and value coercions (spec 2, 9), with no store behind them:
a recording surface keeps the envelopes the methods build."""

from __future__ import annotations

from typing import Any

import pytest

from decisiongraph.domain import values as v
from decisiongraph.domain.envelope import ActorRef, EventEnvelope, SourceRef, StoredEvent
from decisiongraph.domain.payload_builders import EventMethods
from decisiongraph.domain.payload_values import as_actor, as_source, entity_json, plain
from decisiongraph.domain.validation import prepare_event

SOURCE = SourceRef("agent-service", "orchestrator")
AGENT = ActorRef("agent", "a1")
AT = "2026-01-05T10:00:00Z"


class Recorder(EventMethods):
    """Numbers events per trace and keeps every envelope it is asked to append."""

    def __init__(self) -> None:
        self.envelopes: list[EventEnvelope] = []
        self.closed = False

    def _next_trace_seq(self, trace_id: str) -> int:
        return 1 + sum(e.trace_id == trace_id for e in self.envelopes)

    def _new_event_id(self) -> str:
        return f"00000000-0000-4000-8000-{len(self.envelopes):012d}"

    def _append_envelope(self, envelope: EventEnvelope) -> StoredEvent:
        self.envelopes.append(envelope)
        prepared = prepare_event(envelope)  # every built envelope passes spec validation
        return StoredEvent(
            "t", len(self.envelopes), envelope.event_id, envelope.trace_id, envelope.trace_seq,
            envelope.event_type, envelope.occurred_at, AT, envelope.source, envelope.actor,
            envelope.idempotency_key, envelope.payload, prepared.payload_hash,
        )  # fmt: skip

    def close(self) -> None:
        self.closed = True


def _record(typed: bool) -> list[EventEnvelope]:
    """Every helper once, with value objects (``typed``) or their mapping forms."""
    o = plain if not typed else (lambda x: x)
    dg = Recorder()
    trace = dg.start_trace("w", "t", o(v.EntityRef("account", "a")), SOURCE, AGENT, trace_id="tr")
    fact = o(v.Fact("size", v.Value("int", "3")))
    dg.observe_input("tr", "in", o(v.SourceObjectRef("crm", "deal", "d1")), [fact], SOURCE, AGENT)
    dg.observe_entity(trace, o(v.EntityRef("deal", "d1", "crm")), "related", [fact], SOURCE, AGENT)
    policy = o(v.PolicyRef("discount", "v3"))
    dg.evaluate_policy(
        trace, policy, ["in"], "deny", SOURCE, AGENT, [o(v.Violation("max", "too big"))], {"k": 1}
    )
    evidence = [o(v.EvidenceRef(v.SourceObjectRef("dms", "doc", "e1"), "p.2"))]
    dg.request_exception(trace, "ex", policy, "why", SOURCE, AGENT, evidence)
    subject = o(v.ApprovalSubject("exception", "ex"))
    dg.record_approval(trace, "ap", subject, o(AGENT), "approved", SOURCE, AGENT, "ok", evidence)
    dg.cite_precedent(trace, "old", "alike", SOURCE, AGENT, "0.9")
    changes = [o(v.Change("discount", v.Value("int", "5"), v.Value("int", "20")))]
    deal = o(v.EntityRef("deal", "d1"))
    dg.propose_action(trace, "ac", "update", deal, "crm", changes, SOURCE, AGENT)
    dg.commit_action(trace, "ac", "success", SOURCE, AGENT, "ext-1", "none")
    dg.finish_trace(trace, "success", SOURCE, AGENT, "done")
    return dg.envelopes


def test_value_objects_and_their_mappings_give_the_same_payloads() -> None:
    typed, mapped = _record(typed=True), _record(typed=False)
    assert [e.payload for e in typed] == [e.payload for e in mapped]
    assert typed[0].payload["primary_entity"] == {
        "entity_type": "account", "entity_id": "a", "system": None,
    }  # fmt: skip
    assert typed[5].payload["approver"] == {"actor_type": "agent", "actor_id": "a1"}


def test_default_idempotency_keys_and_trace_positions() -> None:
    envelopes = _record(typed=True)
    keys = [e.idempotency_key for e in envelopes]
    assert keys[0] == "start:tr"
    assert keys[1:3] == ["InputObserved:tr:2", "EntityObserved:tr:3"]
    assert keys[-1] == "finish:tr"
    assert [e.trace_seq for e in envelopes] == list(range(1, 11))


def test_empty_or_none_optional_arguments_are_left_out_of_the_payload() -> None:
    dg = Recorder()
    trace = dg.start_trace("w", "t", {"entity_type": "a", "entity_id": "1"}, SOURCE, AGENT, {})
    dg.evaluate_policy(trace, v.PolicyRef("p", "1"), (), "allow", SOURCE, AGENT, [], {})
    dg.request_exception(trace, "ex", v.PolicyRef("p", "1"), "r", SOURCE, AGENT, [])
    dg.record_approval(trace, "ap", v.ApprovalSubject("exception", "ex"), AGENT, "rejected",
                       SOURCE, AGENT)  # fmt: skip
    dg.cite_precedent(trace, "old", "alike", SOURCE, AGENT)
    dg.commit_action(trace, "ac", "failure", SOURCE, AGENT)
    dg.finish_trace(trace, "abandoned", SOURCE, AGENT, "")
    assert [sorted(e.payload) for e in dg.envelopes] == [
        ["primary_entity", "title", "workflow"],
        ["decision", "inputs", "policy"],
        ["exception_id", "policy", "reason"],
        ["approval_id", "approver", "decision", "subject"],
        ["cited_trace_id", "reason"],
        ["action_id", "status"],
        ["outcome"],
    ]
    assert dg.envelopes[0].payload["primary_entity"]["system"] is None


def test_append_event_passes_envelope_options_through() -> None:
    dg = Recorder()
    options: dict[str, Any] = {"correlation_id": "c", "tags": ["x", "y"], "occurred_at": AT}
    payload = {"action_id": "ac", "status": "success"}
    event = dg.append_event("tr", "ActionCommitted", payload, plain(SOURCE),
                            {"actor_type": "agent", "actor_id": "a1"}, "k", **options)  # fmt: skip
    sent = dg.envelopes[0]
    assert (sent.idempotency_key, sent.correlation_id, sent.tags, sent.occurred_at) == (
        "k", "c", ("x", "y"), AT,
    )  # fmt: skip
    assert (sent.source, sent.actor, event.log_seq) == (SOURCE, AGENT, 1)
    assert dg.start_trace("w", "t", v.EntityRef("a", "1"), SOURCE, AGENT) != "tr"  # a new uuid


def test_coercions_read_mappings_by_spec_field_names() -> None:
    assert as_source({"producer_id": "p", "system": "s"}) == SourceRef("p", "s", None)
    assert as_actor(AGENT) is AGENT
    assert entity_json({"entity_type": "a", "entity_id": "1", "extra": 1}) == {
        "entity_type": "a", "entity_id": "1", "system": None,
    }  # fmt: skip
    assert plain((v.Fact("n", v.Value("str", "v")), 3)) == [
        {"key": "n", "value": {"type": "str", "value": "v"}, "as_of": None}, 3,
    ]  # fmt: skip
    with pytest.raises(KeyError):
        as_actor({"actor_type": "agent"})


def test_the_surface_is_a_context_manager_over_close() -> None:
    with Recorder() as dg:
        assert not dg.closed
    assert dg.closed
