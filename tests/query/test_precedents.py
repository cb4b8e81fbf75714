"""Precedent search (spec 6.8, 14.3; HTTP_API 2.11, 6.4): finished traces only, one
hit per trace with a policy (exception rows first, then log_seq descending, then
source_event_id), newest trace first, filters and limits."""

from __future__ import annotations

import random
from typing import Any

import pytest

from decisiongraph.errors import InvalidArgument
from decisiongraph.query import PrecedentQuery, find_precedents
from decisiongraph.query import precedents as precedent_module
from decisiongraph.store.base import SqlEventStore
from tests.query.support import (
    TraceSpec,
    append,
    append_and_project,
    exception_payload,
    policy_payload,
    reference_precedents,
)


def _hits(store: SqlEventStore, tenant: str, **query: Any) -> list[tuple[str, str | None]]:
    result = find_precedents(store, tenant, PrecedentQuery(**query))
    return [(h.trace_id, h.source_event_id) for h in result.items]


def test_one_hit_per_trace_ranked_by_exception_then_latest(
    qstore: SqlEventStore, tenant: str
) -> None:
    first = TraceSpec(
        "t1",
        [
            ("PolicyEvaluated", policy_payload("p", "v1")),  # log_seq 2
            ("ExceptionRequested", exception_payload("x1", "p", "v1")),  # 3
            ("PolicyEvaluated", policy_payload("p", "v2")),  # 4
        ],
    )
    second = TraceSpec(
        "t2",
        [
            ("PolicyEvaluated", policy_payload("p", "v1")),  # 7
            ("PolicyEvaluated", policy_payload("q", "v1")),  # 8
            ("PolicyEvaluated", policy_payload("p", "v2")),  # 9
        ],
        outcome="failure",
    )
    unfinished = TraceSpec("t3", [("PolicyEvaluated", policy_payload("p"))], outcome=None)
    envelopes = first.envelopes() + second.envelopes() + unfinished.envelopes()
    append_and_project(qstore, tenant, envelopes)
    ids = {(e.trace_id, e.trace_seq): e.event_id for e in envelopes}

    result = find_precedents(qstore, tenant, PrecedentQuery(policy_id="p"))
    assert result.projection_log_seq == 12
    assert [h.to_dict() for h in result.items] == [
        {
            "trace_id": "t2",
            "workflow": "wf",
            "title": "wf trace",
            "outcome": "failure",
            "policy_id": "p",
            "policy_version": "v2",
            "finished_at": "2025-12-31T12:00:00Z",
            "last_log_seq": 10,
            "source_event_id": ids[("t2", 3)],
        },
        {
            "trace_id": "t1",
            "workflow": "wf",
            "title": "wf trace",
            "outcome": "success",
            "policy_id": "p",
            "policy_version": "v1",
            "finished_at": "2025-12-31T12:00:00Z",
            "last_log_seq": 5,
            "source_event_id": ids[("t1", 2)],  # the exception row wins
        },
    ]
    assert _hits(qstore, tenant, policy_id="p", policy_version="v2") == [
        ("t2", ids[("t2", 3)]),
        ("t1", ids[("t1", 3)]),
    ]
    assert _hits(qstore, tenant, policy_id="q") == [("t2", ids[("t2", 2)])]
    assert _hits(qstore, tenant, policy_id="p", outcome="success") == [("t1", ids[("t1", 2)])]
    assert _hits(qstore, tenant, policy_id="p", limit=1) == [("t2", ids[("t2", 3)])]
    assert _hits(qstore, tenant, policy_id="none") == []
    # Without a policy: every finished trace, newest first, no policy fields.
    plain = find_precedents(qstore, tenant, PrecedentQuery()).items
    assert [(h.trace_id, h.policy_id, h.policy_version, h.source_event_id) for h in plain] == [
        ("t2", None, None, None),
        ("t1", None, None, None),
    ]


def test_entity_filters_and_empty_strings(qstore: SqlEventStore, tenant: str) -> None:
    specs = [
        TraceSpec("a", [("PolicyEvaluated", policy_payload("p"))], entity=("account", "1")),
        TraceSpec("b", [("PolicyEvaluated", policy_payload("p"))], entity=("account", "2")),
        TraceSpec("c", [], entity=("order", "1")),
    ]
    for spec in specs:
        append(qstore, tenant, spec.envelopes())
    append_and_project(qstore, tenant, [])
    assert [t for t, _ in _hits(qstore, tenant, entity_type="account")] == ["b", "a"]
    assert [t for t, _ in _hits(qstore, tenant, entity_type="account", entity_id="1")] == ["a"]
    assert [t for t, _ in _hits(qstore, tenant, entity_type="order")] == ["c"]
    assert [t for t, _ in _hits(qstore, tenant, policy_id="p", entity_type="order")] == []
    # Spec 14.3: an empty string is the same as not given.
    assert _hits(qstore, tenant, policy_id="", policy_version="", entity_type="", outcome="") == (
        _hits(qstore, tenant)
    )
    assert [t for t, _ in _hits(qstore, tenant, entity_type="account", entity_id="")] == ["b", "a"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"policy_version": "v1"},
        {"policy_id": "", "policy_version": "v1"},
        {"entity_id": "1"},
        {"entity_type": "", "entity_id": "1"},
        {"limit": 0},
        {"limit": 10_001},
        {"limit": True},
        {"policy_id": 3},
    ],
)
def test_precedent_query_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument):
        PrecedentQuery(**kwargs)


def test_limits_are_accepted_up_to_the_maximum() -> None:
    assert PrecedentQuery(limit=1).limit == 1
    assert PrecedentQuery(limit=10_000).limit == 10_000


@pytest.mark.parametrize("probe_rows", [0, 3, 1000])
def test_random_histories_match_the_reference(
    qstore: SqlEventStore, tenant: str, monkeypatch: pytest.MonkeyPatch, probe_rows: int
) -> None:
    """Both plans (rank a rare policy in memory; walk traces newest first) give the
    reference answer."""
    monkeypatch.setattr(precedent_module, "_PROBE_ROWS", probe_rows)
    rng = random.Random(probe_rows)
    policies, versions = ["p1", "p2", "p3"], ["v1", "v2"]
    envelopes = []
    for index in range(40):
        middle: list[tuple[str, dict[str, Any]]] = []
        for _ in range(rng.randrange(0, 4)):
            policy, version = rng.choice(policies), rng.choice(versions)
            if rng.random() < 0.3:
                middle.append(
                    (
                        "ExceptionRequested",
                        exception_payload(f"x{index}-{len(middle)}", policy, version),
                    )
                )
            else:
                middle.append(("PolicyEvaluated", policy_payload(policy, version)))
        spec = TraceSpec(
            f"trace-{index:02d}",
            middle,
            outcome=rng.choice(["success", "failure", None]),
            entity=(rng.choice(["account", "order"]), rng.choice(["1", "2"])),
        )
        envelopes += spec.envelopes()
    rng.shuffle(envelopes)
    # Interleave traces (each keeps its own trace_seq order).
    envelopes.sort(key=lambda e: e.trace_seq)
    stored = [o.event for o in append(qstore, tenant, envelopes)]
    append_and_project(qstore, tenant, [])
    queries: list[dict[str, Any]] = [{}, {"outcome": "success"}, {"limit": 3}]
    for policy in [*policies, "absent"]:
        queries += [
            {"policy_id": policy},
            {"policy_id": policy, "policy_version": "v2"},
            {"policy_id": policy, "entity_type": "account"},
            {"policy_id": policy, "entity_type": "order", "entity_id": "2"},
            {"policy_id": policy, "outcome": "failure", "limit": 2},
            {"policy_id": policy, "limit": 1},
        ]
    for query in queries:
        assert _hits(qstore, tenant, **query) == reference_precedents(stored, **query), query
