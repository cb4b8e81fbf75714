"""Appends through the client: trace numbering, idempotent reuse, raw envelopes,
batches (atomic and not), big integers and ids that cannot be a path segment."""

from __future__ import annotations

import dataclasses
import re

import pytest

from decisiongraph import ActorRef, EntityRef, PolicyRef, SourceRef
from decisiongraph.client import BatchItem, Client
from decisiongraph.domain.canonical import compute_payload_hash
from decisiongraph.errors import (
    EventSequenceInvalid,
    IdempotencyConflict,
    InvalidArgument,
    PiiPolicyViolation,
    SchemaViolation,
)
from tests.client.conftest import Service
from tests.helpers import make_envelope

SOURCE = SourceRef("agent-svc", "crm")
AGENT = ActorRef("agent", "a1")
OPP = EntityRef("opportunity", "opp-1")
AT = "2026-02-01T08:00:00Z"
SERVER_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def test_append_event_numbers_the_trace_and_applies_the_default_keys(client: Client) -> None:
    trace = client.start_trace("wf", "T", OPP, SOURCE, AGENT, trace_id="tr-1", occurred_at=AT)
    assert trace == "tr-1"
    policy = client.evaluate_policy(trace, PolicyRef("p", "v1"), [], "allow", SOURCE, AGENT)
    raw = client.append_event(trace, "ActionCommitted", {"action_id": "x", "status": "success"},
                              {"producer_id": "agent-svc", "system": "crm"},
                              {"actor_type": "agent", "actor_id": "a1"}, tags=["t"])  # fmt: skip
    finish = client.finish_trace(trace, "success", SOURCE, AGENT, occurred_at=AT)
    events = client.get_trace_events(trace)
    assert events[1:] == [policy, raw, finish]
    assert [e.trace_seq for e in events] == [0, 1, 2, 3]
    assert [e.idempotency_key for e in events] == [
        "start:tr-1", "PolicyEvaluated:tr-1:1", "ActionCommitted:tr-1:2", "finish:tr-1",
    ]  # fmt: skip
    assert events[0].occurred_at == AT
    assert SERVER_TIME.fullmatch(policy.occurred_at)  # defaulted by the client's clock
    assert raw.source == SOURCE
    assert raw.tags == ("t",)
    assert client.last_log_seq == finish.log_seq == 4
    assert client.is_trace_finished(trace)


def test_a_trace_continued_by_another_client_is_numbered_from_the_log(service: Service) -> None:
    with service.client() as first, service.client() as second:
        trace = first.start_trace("wf", "T", OPP, SOURCE, AGENT)
        first.evaluate_policy(trace, PolicyRef("p", "v1"), [], "allow", SOURCE, AGENT)
        assert second.evaluate_policy(trace, PolicyRef("p", "v2"), [], "deny", SOURCE, AGENT)
        third = first.evaluate_policy(trace, PolicyRef("p", "v3"), [], "allow", SOURCE, AGENT)
        assert third.trace_seq == 3  # first's known position was stale: read on from it
        assert not first.is_trace_finished(trace)
        second.finish_trace(trace, "failure", SOURCE, AGENT)
        assert first.is_trace_finished(trace)


def test_an_idempotent_reuse_returns_the_original_event(client: Client) -> None:
    envelope = make_envelope("tr-r", 0)
    created = client.append(envelope)
    again = client.append(dataclasses.replace(envelope, event_id="other-id"))
    assert not created.reused
    assert again.reused
    assert again.event == created.event
    assert again.event.envelope() == envelope
    changed = dataclasses.replace(envelope, payload={**envelope.payload, "title": "other"})
    with pytest.raises(IdempotencyConflict) as caught:
        client.append(changed)
    assert caught.value.details["mismatches"] == ["payload"]
    assert caught.value.details["existing_event_id"] == envelope.event_id


def test_append_sends_a_mapping_as_given(client: Client) -> None:
    body = make_envelope("tr-d", 0).to_dict()
    assert client.append(body).event.envelope() == make_envelope(
        "tr-d", 0, event_id=body["event_id"]
    )
    with pytest.raises(SchemaViolation) as caught:
        client.append({**body, "trace_seq": 1, "extra": True})
    assert caught.value.details["errors"][0]["path"] == "$.extra"


def test_big_integers_survive_the_round_trip(client: Client) -> None:
    big = {"huge": 2**70, "negative": -(2**64) - 1, "list": [10**30, 1]}
    trace = client.start_trace("wf", "T", OPP, SOURCE, AGENT)
    stored = client.evaluate_policy(
        trace, PolicyRef("p", "v1"), [], "allow", SOURCE, AGENT, explanation=big
    )
    assert stored.payload["explanation"] == big
    assert stored.payload_hash == compute_payload_hash(stored.payload)
    assert client.get_trace_events(trace)[1].payload["explanation"] == big
    assert client.get_trace(trace).events[1].payload["explanation"] == big
    assert next(client.iter_events(since_log_seq=1)).payload["explanation"] == big


def test_values_json_cannot_carry_are_refused_like_the_library(client: Client) -> None:
    trace = client.start_trace("wf", "T", OPP, SOURCE, AGENT)
    with pytest.raises(InvalidArgument):  # a lone surrogate, escaped on the wire
        client.evaluate_policy(trace, PolicyRef("p", "\ud800"), [], "allow", SOURCE, AGENT)
    with pytest.raises(SchemaViolation) as caught:  # a float
        client.evaluate_policy(trace, PolicyRef("p", "v"), [], "allow", SOURCE, AGENT,
                               explanation={"x": 0.5})  # fmt: skip
    assert caught.value.status == 422
    with pytest.raises(SchemaViolation):  # NaN is not JSON: refused before sending
        client.evaluate_policy(trace, PolicyRef("p", "v"), [], "allow", SOURCE, AGENT,
                               explanation={"x": float("nan")})  # fmt: skip
    with pytest.raises(PiiPolicyViolation) as pii:
        client.evaluate_policy(trace, PolicyRef("p", "v"), [], "allow", SOURCE, AGENT,
                               tags=["AKIAABCDEFGHIJKLMNOP"])  # fmt: skip
    assert pii.value.details["path"] == "$.tags[0]"
    assert len(client.get_trace_events(trace)) == 1


def test_an_atomic_batch_writes_all_or_nothing(client: Client) -> None:
    results = client.append_batch([make_envelope("tr-b", i) for i in range(3)])
    assert [(r.index, r.status, r.reused) for r in results] == [(i, 201, False) for i in range(3)]
    assert all(r.ok and r.event is not None for r in results)
    assert client.last_log_seq == 3
    with pytest.raises(EventSequenceInvalid) as caught:
        client.append_batch([make_envelope("tr-c", 0), make_envelope("tr-c", 2)])
    error = caught.value
    assert error.details["index"] == 1
    assert error.details["expected_trace_seq"] == 1
    assert error.status == 409
    assert error.api_code == "event_sequence_invalid"
    assert client.list_events(since_log_seq=3).items == []


def test_a_non_atomic_batch_reports_each_event(client: Client) -> None:
    first = make_envelope("tr-n", 0)
    envelopes = [first, make_envelope("tr-n", 5), dataclasses.replace(first, event_id="x"),
                 make_envelope("tr-n", 1, "NoSuchType", payload={})]  # fmt: skip
    results = client.append_batch(envelopes, atomic=False)
    assert [r.status for r in results] == [201, 409, 201, 422]
    assert [r.reused for r in results] == [False, None, True, None]
    rejected: BatchItem = results[1]
    assert isinstance(rejected.error, EventSequenceInvalid)
    assert rejected.event is None
    assert rejected.error.details["expected_trace_seq"] == 1
    assert rejected.error.status == 409
    assert rejected.error.api_code == "event_sequence_invalid"
    assert isinstance(results[3].error, SchemaViolation)
    assert results[2].event == results[0].event
    assert client.get_trace_events("tr-n") == [results[0].event]


@pytest.mark.parametrize("trace_id", ["a/b", "..", "."])
def test_ids_that_cannot_be_a_path_segment_are_read_from_the_log(
    service: Service, client: Client, trace_id: str
) -> None:
    client.start_trace("wf", "T", OPP, SOURCE, AGENT, trace_id=trace_id)
    second = client.evaluate_policy(trace_id, PolicyRef("p", "v1"), [], "allow", SOURCE, AGENT)
    assert second.trace_seq == 1
    with service.client() as fresh:  # no known position: reads the whole trace
        assert [e.trace_seq for e in fresh.get_trace_events(trace_id)] == [0, 1]
        assert not fresh.is_trace_finished(trace_id)
        assert fresh.finish_trace(trace_id, "success", SOURCE, AGENT).trace_seq == 2
        assert fresh.is_trace_finished(trace_id)
