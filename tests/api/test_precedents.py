"""``GET /api/v1/precedents`` (HTTP_API 2.11): the reference precedent search over HTTP
(ranking, one hit per trace with a policy, filters, limit), dependent-parameter rules,
the two-projection header and tenant isolation."""

from __future__ import annotations

from typing import Any

from decisiongraph.projections.engine import PRECEDENT_INDEX, TRACE_SUMMARY
from decisiongraph.projections.runner import Projector
from decisiongraph.query import PrecedentQuery, find_precedents
from tests.api.conftest import OTHER_TENANT, TENANT, ApiHarness
from tests.api.reads import (
    PROJECTION_HEADER,
    assert_out_of_date,
    assert_query_error,
    data_of,
    read,
    seed,
)
from tests.query.support import TraceSpec, exception_payload, policy_payload

PRECEDENTS = "/api/v1/precedents"


def _corpus() -> list[TraceSpec]:
    return [
        TraceSpec("p1", [("PolicyEvaluated", policy_payload("pol-A"))], "success"),
        TraceSpec(
            "p2",
            [
                ("PolicyEvaluated", policy_payload("pol-A", "v2")),
                ("ExceptionRequested", exception_payload("exc-2", "pol-A", "v2")),
                ("PolicyEvaluated", policy_payload("pol-A", "v2")),
            ],
            "failure",
            entity=("account", "acc-2"),
        ),
        TraceSpec("p3", [("PolicyEvaluated", policy_payload("pol-B"))], "success", "support"),
        TraceSpec("p4", [("PolicyEvaluated", policy_payload("pol-A"))], None),
        TraceSpec("p5", [], "abandoned", entity=("ticket", "t-1")),
    ]


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [hit["trace_id"] for hit in items]


def test_search_ranks_finished_traces_like_the_library(api: ApiHarness) -> None:
    stored = seed(api, _corpus())
    cases: dict[str, tuple[PrecedentQuery, list[str]]] = {
        "": (PrecedentQuery(), ["p5", "p3", "p2", "p1"]),
        "policy_id=pol-A": (PrecedentQuery(policy_id="pol-A"), ["p2", "p1"]),
        "policy_id=pol-A&policy_version=v1": (
            PrecedentQuery(policy_id="pol-A", policy_version="v1"),
            ["p1"],
        ),
        "entity_type=account": (PrecedentQuery(entity_type="account"), ["p3", "p2", "p1"]),
        "entity_type=account&entity_id=acc-2": (
            PrecedentQuery(entity_type="account", entity_id="acc-2"),
            ["p2"],
        ),
        "outcome=success": (PrecedentQuery(outcome="success"), ["p3", "p1"]),
        "limit=2": (PrecedentQuery(limit=2), ["p5", "p3"]),
        "policy_id=pol-C": (PrecedentQuery(policy_id="pol-C"), []),
        "policy_id=&entity_id=": (PrecedentQuery(), ["p5", "p3", "p2", "p1"]),
    }
    for query, (library_query, expected) in cases.items():
        response = read(api, PRECEDENTS, query)
        data = data_of(response)
        assert set(data) == {"items"}, query
        assert _ids(data["items"]) == expected, query
        assert data == find_precedents(api.store, TENANT, library_query).to_dict(), query
        assert response.headers[PROJECTION_HEADER] == str(stored[-1].log_seq)

    plain = data_of(read(api, PRECEDENTS))["items"]
    assert all(h["policy_id"] is h["source_event_id"] is None for h in plain)
    seqs = [h["last_log_seq"] for h in plain]
    assert seqs == sorted(seqs, reverse=True)
    by_policy = {
        h["trace_id"]: h for h in data_of(read(api, PRECEDENTS, "policy_id=pol-A"))["items"]
    }
    exception_event = next(e for e in stored if e.event_type == "ExceptionRequested")
    assert by_policy["p2"]["source_event_id"] == exception_event.event_id
    assert (by_policy["p2"]["policy_id"], by_policy["p2"]["policy_version"]) == ("pol-A", "v2")
    assert by_policy["p2"]["outcome"] == "failure"


def test_dependent_and_bounded_parameters_are_400(api: ApiHarness) -> None:
    for query, path in {
        "policy_version=v1": "policy_version",
        "entity_id=acc-1": "entity_id",
        "entity_type=&entity_id=acc-1": "entity_id",
        "limit=0": "limit",
        "limit=10001": "limit",
        "limit=x": "limit",
        "outcome=success&outcome=failure": "outcome",
        "cursor=abc": "cursor",
        "min_log_seq=-1": "min_log_seq",
    }.items():
        assert_query_error(read(api, PRECEDENTS, query), path)
    assert data_of(read(api, PRECEDENTS, "limit=10000")) == {"items": []}


def test_the_header_reports_the_smaller_of_the_two_cursors(api: ApiHarness) -> None:
    stored = seed(api, _corpus(), project=False)
    tail = stored[-1].log_seq
    projector = Projector(api.store)
    projector.catch_up(TENANT, projections=[TRACE_SUMMARY])
    projector.catch_up(TENANT, projections=[PRECEDENT_INDEX], until_log_seq=5)

    assert_out_of_date(read(api, PRECEDENTS), PRECEDENT_INDEX, 5, tail)
    eventual = read(api, PRECEDENTS, "consistency=eventual")
    assert eventual.headers[PROJECTION_HEADER] == "5"
    # p1 (log_seq 1-3) is the only trace the precedent index has seen finished.
    assert _ids(data_of(eventual)["items"]) == ["p5", "p3", "p2", "p1"]
    assert _ids(
        data_of(read(api, PRECEDENTS, "consistency=eventual&policy_id=pol-A"))["items"]
    ) == ["p1"]
    assert data_of(read(api, PRECEDENTS, "min_log_seq=5&policy_id=pol-B")) == {"items": []}


def test_a_tenant_never_sees_another_tenants_precedents(api: ApiHarness) -> None:
    seed(api, _corpus(), tenant=OTHER_TENANT)
    seed(api, [TraceSpec("mine", [("PolicyEvaluated", policy_payload("pol-A"))])])
    assert _ids(data_of(read(api, PRECEDENTS))["items"]) == ["mine"]
    assert _ids(data_of(read(api, PRECEDENTS, "policy_id=pol-B"))["items"]) == []
    api.add_key("other", "writer", [OTHER_TENANT])
    assert _ids(data_of(read(api, PRECEDENTS, "policy_id=pol-B", role="other"))["items"]) == ["p3"]
