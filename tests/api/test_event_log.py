"""``GET /api/v1/events`` (HTTP_API 2.4, 1.3, 1.7) on SQLite and PostgreSQL: log_seq
order, decimal cursors that are plain positions, ``next_cursor`` non-null exactly when
more matching events existed, filters, and the 400s of bad parameters."""

from __future__ import annotations

from typing import Any

import httpx2

from tests.api.conftest import OTHER_TENANT, TENANT, ApiHarness
from tests.api.test_batch import trace
from tests.api.test_ingest import error_of

URL = "/api/v1/events"


def seed(api: ApiHarness, traces: int, length: int) -> None:
    events = [e for t in range(traces) for e in trace(f"t-{t}", length)]
    response = api.client.post(
        "/api/v1/events/batch", json={"events": events}, headers=api.headers()
    )
    assert response.status_code == 201, response.text


def get(api: ApiHarness, params: Any = None, role: str = "reader") -> httpx2.Response:
    return api.client.get(URL, params=params, headers=api.headers(role))


def page(api: ApiHarness, params: Any = None) -> tuple[list[int], str | None]:
    response = get(api, params)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return [item["log_seq"] for item in data["items"]], data["next_cursor"]


def test_pages_follow_log_seq_with_decimal_cursors(api: ApiHarness) -> None:
    seed(api, 5, 5)  # log_seq 1..25
    seen: list[int] = []
    cursor: str | None = None
    cursors: list[str | None] = []
    while True:
        items, cursor = page(api, {"limit": 10, **({"cursor": cursor} if cursor else {})})
        seen += items
        cursors.append(cursor)
        if cursor is None:
            break
    assert seen == list(range(1, 26))
    assert cursors == ["10", "20", None]
    # Exactly `limit` left: the last page still says "caught up" (null).
    assert page(api, {"since_log_seq": 15, "limit": 10}) == (list(range(16, 26)), None)
    # The cursor is a plain position with since_log_seq's meaning.
    assert page(api, {"cursor": "7", "limit": 2}) == page(api, {"since_log_seq": 7, "limit": 2})
    assert page(api, {"since_log_seq": 25}) == ([], None)
    assert page(api, {"since_log_seq": 99}) == ([], None)
    assert page(api) == (list(range(1, 26)), None)  # default limit 100, since 0
    assert page(api, {"limit": 10000})[0] == list(range(1, 26))


def test_filters(api: ApiHarness) -> None:
    seed(api, 4, 3)  # per trace: TraceStarted, InputObserved, TraceFinished
    items, cursor = page(api, {"event_type": "TraceStarted,TraceFinished", "limit": 3})
    assert (items, cursor) == ([1, 3, 4], "4")
    items, cursor = page(api, {"event_type": "TraceStarted,TraceFinished", "cursor": cursor})
    assert (items, cursor) == ([6, 7, 9, 10, 12], None)
    repeated = [("event_type", "InputObserved"), ("event_type", "TraceFinished,InputObserved")]
    assert page(api, repeated) == ([2, 3, 5, 6, 8, 9, 11, 12], None)
    assert page(api, {"trace_id": "t-2"}) == ([7, 8, 9], None)
    assert page(api, {"trace_id": "t-2", "limit": 2}) == ([7, 8], "8")
    assert page(api, {"trace_id": "nope"}) == ([], None)
    assert page(api, {"until_log_seq": 5}) == ([1, 2, 3, 4, 5], None)
    assert page(api, {"since_log_seq": 2, "until_log_seq": 5, "limit": 3}) == ([3, 4, 5], None)
    assert page(api, {"since_log_seq": 2, "until_log_seq": 6, "limit": 3}) == ([3, 4, 5], "5")
    assert page(api, {"since_log_seq": 5, "until_log_seq": 5}) == ([], None)
    # An empty optional parameter is the same as omitting it.
    assert page(api, {"since_log_seq": "", "trace_id": "", "cursor": "3", "limit": ""})[0] == (
        list(range(4, 13))
    )
    items = get(api, {"trace_id": "t-1", "limit": 1}).json()["data"]["items"]
    assert items[0]["trace_id"] == "t-1"
    assert items[0]["payload"]["workflow"] == "wf"


def test_bad_parameters_are_400(api: ApiHarness) -> None:
    seed(api, 1, 2)
    cases: list[tuple[Any, str]] = [
        ({"since_log_seq": 5, "until_log_seq": 4}, "until_log_seq"),
        ({"cursor": 5, "until_log_seq": 4}, "until_log_seq"),
        ({"since_log_seq": 1, "cursor": 2}, "cursor"),
        ({"event_type": "Nope"}, "event_type"),
        ({"event_type": "TraceStarted,"}, "event_type"),
        ({"limit": 0}, "limit"),
        ({"limit": 10001}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "abc"}, "cursor"),
        ({"cursor": "-1"}, "cursor"),
        ({"since_log_seq": "1.0"}, "since_log_seq"),
        ({"since_log_seq": -1}, "since_log_seq"),
        ([("since_log_seq", "1"), ("since_log_seq", "2")], "since_log_seq"),
        ([("trace_id", "a"), ("trace_id", "b")], "trace_id"),
        ({"offset": 10}, "offset"),
    ]
    for params, name in cases:
        error = error_of(get(api, params), 400, "invalid_argument")
        assert error["details"]["errors"] == [
            {"location": "query", "path": name, "message": error["details"]["errors"][0]["message"]}
        ], (params, error)


def test_permission_and_tenant_isolation(api: ApiHarness) -> None:
    seed(api, 1, 2)
    api.add_key("globex", "writer", [OTHER_TENANT])
    other = trace("g-1", 3)
    response = api.client.post(
        "/api/v1/events/batch", json={"events": other}, headers=api.headers("globex")
    )
    assert response.status_code == 201
    ids = [i["event_id"] for i in get(api, role="globex").json()["data"]["items"]]
    assert ids == [e["event_id"] for e in other]
    assert page(api) == ([1, 2], None)
    api.add_key("streamer", "reader", [TENANT], permissions=["events:stream"])
    error = error_of(get(api, role="streamer"), 403, "forbidden")
    assert error["details"] == {"required_permission": "traces:read"}
    error = error_of(api.client.get(URL, headers={"X-Tenant-Id": TENANT}), 401, "unauthorized")
    assert error["details"] == {}
