"""The read models of the OpenAPI document (``api/models/reads.py``) describe the real
responses exactly: every response of the read routes validates strictly against its
model, and dumping the validated model gives back the response member for member, so a
member added, dropped or retyped on either side fails here."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from decisiongraph.api.models.events import EventPageOut
from decisiongraph.api.models.reads import (
    ContextSubgraphOut,
    EdgePageOut,
    PrecedentListOut,
    ProjectionHealthOut,
    TracePageOut,
    TraceViewOut,
)
from decisiongraph.api.routes import graph, health, precedents, traces
from tests.api.conftest import ApiHarness
from tests.api.reads import data_of, read, seed
from tests.helpers import MINIMAL_PAYLOADS, trace_envelopes
from tests.query.support import TraceSpec, exception_payload, policy_payload


def _assert_describes(model: type[BaseModel], data: Any) -> None:
    parsed = model.model_validate(data, strict=True)
    assert parsed.model_dump(mode="json", exclude_unset=True) == data, model.__name__


def test_the_operations_name_these_models() -> None:
    declared = {
        op.operation_id: op.success_model
        for module in (traces, graph, precedents, health)
        for op in module.OPERATIONS
    }
    assert declared == {
        "listTraces": TracePageOut,
        "getTrace": TraceViewOut,
        "listTraceEvents": EventPageOut,
        "getContextSubgraph": ContextSubgraphOut,
        "listNodeEdges": EdgePageOut,
        "findPrecedents": PrecedentListOut,
        "getProjectionHealth": ProjectionHealthOut,
    }


def test_real_responses_validate_against_the_read_models(api: ApiHarness) -> None:
    seed(
        api,
        [
            TraceSpec(
                "full",
                [
                    ("PolicyEvaluated", policy_payload("pol-A")),
                    ("ExceptionRequested", exception_payload("exc-1", "pol-A")),
                    ("ApprovalRecorded", MINIMAL_PAYLOADS["ApprovalRecorded"]),
                    ("ActionProposed", MINIMAL_PAYLOADS["ActionProposed"]),
                ],
            ),
            trace_envelopes("open", 3, finish=False),
            trace_envelopes("more", 2),
        ],
    )
    checks: list[tuple[type[BaseModel], str]] = [
        (TracePageOut, "/api/v1/traces"),
        (TracePageOut, "/api/v1/traces?limit=1"),
        (TraceViewOut, "/api/v1/traces/full"),
        (TraceViewOut, "/api/v1/traces/open?include_payload=false"),
        (TraceViewOut, "/api/v1/traces/open?min_log_seq=0"),
        (EventPageOut, "/api/v1/traces/full/events?limit=2"),
        (EventPageOut, "/api/v1/traces/full/events?include_payload=false"),
        (ContextSubgraphOut, "/api/v1/graph/context?node_type=trace&node_id=full&max_depth=3"),
        (ContextSubgraphOut, "/api/v1/graph/context?node_type=entity&node_id=none"),
        (EdgePageOut, "/api/v1/graph/edges?node_type=trace&node_id=full&limit=2"),
        (PrecedentListOut, "/api/v1/precedents"),
        (PrecedentListOut, "/api/v1/precedents?policy_id=pol-A"),
        (ProjectionHealthOut, "/api/v1/projections/health"),
        (ProjectionHealthOut, "/api/v1/projections/health?include_digests=true"),
    ]
    for model, path in checks:
        data = data_of(read(api, path))
        _assert_describes(model, data)
    summary = data_of(read(api, "/api/v1/traces/open"))["summary"]
    assert summary is not None
    assert summary["outcome"] is None
