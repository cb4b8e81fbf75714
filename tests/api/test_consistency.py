"""Read consistency over HTTP (HTTP_API 1.8): strict 409 with details and header on
every projection-backed route, eventual reads, ``min_log_seq``, parameter rules, empty
tenants, and read-your-writes against the in-process projector thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from decisiongraph.domain.envelope import EventEnvelope
from tests.api.conftest import OTHER_TENANT, ApiHarness, make_harness
from tests.api.reads import (
    PROJECTION_HEADER,
    assert_out_of_date,
    assert_query_error,
    data_of,
    read,
    seed,
)
from tests.helpers import make_envelope, trace_envelopes

#: Every projection-backed read, with the projection a strict 409 names when all
#: projections are equally behind (the most-behind one, ties by name).
ROUTES = {
    "/api/v1/traces": "trace_summary",
    "/api/v1/traces/old": "trace_summary",
    "/api/v1/graph/context?node_type=trace&node_id=old": "context_graph",
    "/api/v1/graph/edges?node_type=trace&node_id=old": "context_graph",
    "/api/v1/precedents": "precedent_index",
}


def _with(path: str, query: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}{query}"


@pytest.fixture
def behind(api: ApiHarness) -> ApiHarness:
    """``old`` (log_seq 1-3) projected, ``new`` (4-6) appended but not projected."""
    seed(api, [trace_envelopes("old", 3)])
    seed(api, [trace_envelopes("new", 3)], project=False)
    return api


def test_strict_reads_of_a_stale_projection_are_409_with_the_header(behind: ApiHarness) -> None:
    for path, projection in ROUTES.items():
        assert_out_of_date(read(behind, path), projection, 3, 6)
        assert_out_of_date(
            read(behind, _with(path, "consistency=strict&wait_ms=20")), projection, 3, 6
        )
        assert_out_of_date(read(behind, _with(path, "min_log_seq=4")), projection, 3, 4)


def test_eventual_and_lower_positions_answer_from_the_current_state(behind: ApiHarness) -> None:
    for path in ROUTES:
        for query in ("consistency=eventual", "min_log_seq=3", "min_log_seq=0"):
            response = read(behind, _with(path, query))
            assert response.status_code == 200, (path, query, response.text)
            assert response.headers[PROJECTION_HEADER] == "3", (path, query)
        # An empty value is an omitted parameter: strict at the tail.
        assert read(behind, _with(path, "min_log_seq=&consistency=")).status_code == 409
    listed = data_of(read(behind, "/api/v1/traces?consistency=eventual"))["items"]
    assert [s["trace_id"] for s in listed] == ["old"]  # exactly the projected events
    assert (
        data_of(read(behind, "/api/v1/precedents?consistency=eventual"))["items"][0]["last_log_seq"]
        == 3
    )


def test_consistency_parameters_are_validated(api: ApiHarness) -> None:
    for path in ROUTES:
        for query, name in {
            "consistency=eventual&min_log_seq=1": "min_log_seq",
            "consistency=eventual&min_log_seq=0": "min_log_seq",
            "consistency=eventual&wait_ms=0": "wait_ms",
            "consistency=eventual&wait_ms=100": "wait_ms",
            "consistency=EVENTUAL": "consistency",
            "consistency=strict&consistency=strict": "consistency",
            "min_log_seq=-1": "min_log_seq",
            "min_log_seq=1e3": "min_log_seq",
            "wait_ms=10001": "wait_ms",
            "wait_ms=-1": "wait_ms",
        }.items():
            assert_query_error(read(api, _with(path, query)), name)
        eventual = read(api, _with(path, "consistency=eventual&min_log_seq=&wait_ms="))
        assert eventual.status_code in (200, 404), eventual.text  # /traces/old: no trace


def test_an_empty_tenant_is_always_fresh(api: ApiHarness) -> None:
    seed(api, [trace_envelopes("old", 3)], project=False)  # acme is behind, globex empty
    api.add_key("other", "reader", [OTHER_TENANT])
    for path in ROUTES:
        if path.startswith("/api/v1/traces/"):
            continue  # a trace read of an empty tenant is 404 (no event), tested elsewhere
        for query in ("", "min_log_seq=50&wait_ms=10000"):
            response = read(api, _with(path, query), role="other")
            assert response.status_code == 200, (path, response.text)
            assert response.headers[PROJECTION_HEADER] == "0"


@pytest.fixture
def live(api_store_url: str) -> Iterator[ApiHarness]:
    """The app with its projector thread running."""
    yield from make_harness(api_store_url, projector=True)


def _append(api: ApiHarness, envelope: EventEnvelope) -> int:
    response = api.client.post(
        "/api/v1/events", json=envelope.to_dict(), headers=api.headers("writer")
    )
    assert response.status_code == 201, response.text
    log_seq: int = response.json()["data"]["event"]["log_seq"]
    return log_seq


def test_read_your_writes_with_min_log_seq_and_wait_ms(live: ApiHarness) -> None:
    wait = "wait_ms=10000"
    started = _append(live, make_envelope("ryw", 0))
    view = read(live, f"/api/v1/traces/ryw?min_log_seq={started}&{wait}")
    assert data_of(view)["summary"]["outcome"] is None
    assert int(view.headers[PROJECTION_HEADER]) >= started

    finished = _append(live, make_envelope("ryw", 1, "TraceFinished"))
    hits = read(live, f"/api/v1/precedents?min_log_seq={finished}&{wait}")
    assert [h["trace_id"] for h in data_of(hits)["items"]] == ["ryw"]
    assert int(hits.headers[PROJECTION_HEADER]) >= finished
    graph = data_of(read(live, f"/api/v1/graph/context?node_type=trace&node_id=ryw&{wait}"))
    assert "entity:account:acc-1" in [n["node_id"] for n in graph["nodes"]]
    listed = data_of(read(live, f"/api/v1/traces?finished=true&min_log_seq={finished}&{wait}"))
    assert [s["trace_id"] for s in listed["items"]] == ["ryw"]
