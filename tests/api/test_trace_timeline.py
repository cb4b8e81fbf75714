"""``GET /api/v1/traces/{trace_id}`` (HTTP_API 2.7) and ``GET
/api/v1/traces/{trace_id}/events`` (2.8): timelines from the log, the summary from the
projection, payload omission, decimal cursors, 404 rules and tenant isolation."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import OTHER_TENANT, TENANT, ApiHarness
from tests.api.reads import (
    PROJECTION_HEADER,
    assert_envelope_error,
    assert_out_of_date,
    assert_query_error,
    data_of,
    read,
    seed,
)
from tests.helpers import make_envelope, trace_envelopes


def _seqs(events: list[dict[str, Any]]) -> list[int]:
    return [event["trace_seq"] for event in events]


def test_trace_read_gives_the_log_timeline_and_the_summary(api: ApiHarness) -> None:
    seed(api, [trace_envelopes("other", 2)])
    stored = seed(api, [trace_envelopes("t1", 4)])
    response = read(api, "/api/v1/traces/t1")
    view = data_of(response)
    assert set(view) == {"events", "events_truncated", "summary"}
    assert [e["event_id"] for e in view["events"]] == [e.event_id for e in stored]
    assert _seqs(view["events"]) == [0, 1, 2, 3]
    assert [e["payload"] for e in view["events"]] == [e.payload for e in stored]
    assert view["events"][0]["tenant_id"] == TENANT
    assert view["events_truncated"] is False
    listed = data_of(read(api, "/api/v1/traces", "limit=1"))["items"][0]
    assert view["summary"] == listed
    assert response.headers[PROJECTION_HEADER] == "6"

    bare = data_of(read(api, "/api/v1/traces/t1", "include_payload=false"))
    assert all("payload" not in e for e in bare["events"])
    with_payload = [{k: v for k, v in e.items() if k != "payload"} for e in view["events"]]
    assert bare["events"] == with_payload


def test_summary_is_null_until_the_projection_reached_the_trace(api: ApiHarness) -> None:
    seed(api, [trace_envelopes("done", 3)])
    seed(api, [trace_envelopes("fresh", 2)], project=False)
    path = "/api/v1/traces/fresh"

    eventual = read(api, path, "consistency=eventual")
    view = data_of(eventual)
    assert view["summary"] is None
    assert _seqs(view["events"]) == [0, 1]
    assert eventual.headers[PROJECTION_HEADER] == "3"
    below = data_of(read(api, path, "min_log_seq=3"))
    assert below["summary"] is None
    assert len(below["events"]) == 2
    assert_out_of_date(read(api, path), "trace_summary", 3, 5)
    assert data_of(read(api, "/api/v1/traces/done", "consistency=eventual"))["summary"]


def test_unknown_or_foreign_traces_are_404(api: ApiHarness) -> None:
    seed(api, [trace_envelopes("mine", 2)])
    seed(api, [trace_envelopes("theirs", 2)], tenant=OTHER_TENANT)
    for path in (
        "/api/v1/traces/nope",
        "/api/v1/traces/theirs",
        "/api/v1/traces/nope/events",
        "/api/v1/traces/theirs/events",
        "/api/v1/traces/theirs/events?since_trace_seq=0",
    ):
        details = assert_envelope_error(read(api, path), 404, "not_found")
        assert details == {"resource": "trace"}, path
    api.add_key("other", "reader", [OTHER_TENANT])
    theirs = data_of(read(api, "/api/v1/traces/theirs/events", role="other"))["items"]
    assert {e["tenant_id"] for e in theirs} == {OTHER_TENANT}


def test_trace_read_parameters_are_validated(api: ApiHarness) -> None:
    seed(api, [trace_envelopes("t1", 2)])
    for query, path in {
        "include_payload=no": "include_payload",
        "include_payload=true&include_payload=false": "include_payload",
        "limit=5": "limit",
        "consistency=eventual&min_log_seq=1": "min_log_seq",
    }.items():
        assert_query_error(read(api, "/api/v1/traces/t1", query), path)


def test_a_long_trace_is_truncated_at_10000_events(api: ApiHarness) -> None:
    seed(api, [[make_envelope("long", seq) for seq in range(10_001)]], project=False)
    view = data_of(read(api, "/api/v1/traces/long", "include_payload=false&consistency=eventual"))
    assert len(view["events"]) == 10_000
    assert view["events_truncated"] is True
    assert view["events"][-1]["trace_seq"] == 9_999
    rest = data_of(read(api, "/api/v1/traces/long/events", "since_trace_seq=9999"))
    assert _seqs(rest["items"]) == [10_000]
    assert rest["next_cursor"] is None


def test_trace_events_page_with_decimal_cursors(api: ApiHarness) -> None:
    seed(api, [trace_envelopes("t1", 7), trace_envelopes("t2", 6)], project=False)
    path = "/api/v1/traces/t1/events"
    pages: list[list[int]] = []
    cursors: list[str | None] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        response = read(api, path, params)
        assert PROJECTION_HEADER not in response.headers  # from the log, no freshness
        page = data_of(response)
        pages.append(_seqs(page["items"]))
        cursors.append(page["next_cursor"])
        if page["next_cursor"] is None:
            break
        params = {"limit": 3, "cursor": page["next_cursor"]}
    assert pages == [[0, 1, 2], [3, 4, 5], [6]]
    assert cursors == ["2", "5", None]

    exact = [
        data_of(read(api, "/api/v1/traces/t2/events", f"limit=3{c}")) for c in ("", "&cursor=2")
    ]
    assert [p["next_cursor"] for p in exact] == ["2", None]
    since = data_of(read(api, path, "since_trace_seq=4&limit=10000"))
    assert _seqs(since["items"]) == [5, 6]
    assert since["next_cursor"] is None
    for query in ("since_trace_seq=6", "since_trace_seq=1000", "cursor=6"):
        assert data_of(read(api, path, query)) == {"items": [], "next_cursor": None}, query
    bare = data_of(read(api, path, "include_payload=false&limit=2"))
    assert all("payload" not in e for e in bare["items"])
    assert bare["next_cursor"] == "1"


def test_trace_events_parameters_are_validated(api: ApiHarness) -> None:
    seed(api, [trace_envelopes("t1", 3)], project=False)
    for query, path in {
        "since_trace_seq=0&cursor=1": "cursor",
        "cursor=abc": "cursor",
        "cursor=-1": "cursor",
        "since_trace_seq=-1": "since_trace_seq",
        "since_trace_seq=1.0": "since_trace_seq",
        "limit=0": "limit",
        "limit=10001": "limit",
        "include_payload=1": "include_payload",
        "consistency=strict": "consistency",
    }.items():
        assert_query_error(read(api, "/api/v1/traces/t1/events", query), path)


def test_trace_ids_are_percent_decoded_single_path_segments(api: ApiHarness) -> None:
    seed(api, [trace_envelopes("t ü:1?#%", 2), trace_envelopes("a/b", 2)])
    encoded = "/api/v1/traces/t%20%C3%BC:1%3F%23%25"
    view = data_of(read(api, encoded))
    assert {e["trace_id"] for e in view["events"]} == {"t ü:1?#%"}
    assert view["summary"]["trace_id"] == "t ü:1?#%"
    assert len(data_of(read(api, f"{encoded}/events"))["items"]) == 2
    # An id holding "/" cannot be addressed in a path: no such route (HTTP_API 1.1).
    assert assert_envelope_error(read(api, "/api/v1/traces/a%2Fb"), 404, "not_found") == {}
