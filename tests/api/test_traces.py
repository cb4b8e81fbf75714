"""``GET /api/v1/traces`` (HTTP_API 2.6): order, filters, opaque cursors bound to the
tenant and the filters, parameter validation and tenant isolation."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.api.conftest import OTHER_TENANT, TENANT, ApiHarness
from tests.api.reads import (
    PROJECTION_HEADER,
    assert_envelope_error,
    assert_query_error,
    data_of,
    read,
    seed,
)
from tests.helpers import trace_envelopes
from tests.query.support import TraceSpec

TRACES = "/api/v1/traces"


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["trace_id"] for item in items]


def _moved(cursor: str) -> str:
    """``cursor`` with its position edited and re-encoded, its signature kept."""
    token = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    token["p"] = {key: value + 1 for key, value in token["p"].items()}
    return base64.urlsafe_b64encode(json.dumps(token).encode()).decode().rstrip("=")


def _filter_fixture(api: ApiHarness) -> None:
    # Start instants (UTC): a 10:00, b 11:30, c 12:00:00.5, d 13:00. Text order of
    # b and d differs from their instant order, so the filters must compare instants.
    seed(
        api,
        [
            TraceSpec("a", [], "success", "sales", ("account", "acc-1"), "2025-12-31T10:00:00Z"),
            TraceSpec(
                "b", [], "failure", "sales", ("account", "acc-2"), "2025-12-31T13:30:00+02:00"
            ),
            TraceSpec("c", [], None, "support", ("ticket", "t-9"), "2025-12-31T12:00:00.5Z"),
            TraceSpec("d", [], "abandoned", "ops", ("vendor", "v-1"), "2025-12-31T07:00:00-06:00"),
        ],
    )


def test_list_is_newest_first_and_pages_without_gaps_or_duplicates(api: ApiHarness) -> None:
    seed(api, [trace_envelopes(f"t{i}", 2 + i % 3) for i in range(7)])
    response = read(api, TRACES)
    everything = data_of(response)
    assert _ids(everything["items"]) == [f"t{i}" for i in reversed(range(7))]
    assert everything["next_cursor"] is None
    started = [item["started_log_seq"] for item in everything["items"]]
    assert started == sorted(started, reverse=True)
    tail = api.store.get_last_log_seq(TENANT)
    assert response.headers[PROJECTION_HEADER] == str(tail)

    pages: list[list[str]] = []
    cursor: str | None = None
    for limit in (2, 3, 2, 3):  # limit may change from page to page
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        page = data_of(read(api, TRACES, params))
        pages.append(_ids(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [["t6", "t5"], ["t4", "t3", "t2"], ["t1", "t0"]]

    exact = data_of(read(api, TRACES, {"limit": 7}))
    assert len(exact["items"]) == 7
    assert exact["next_cursor"] is None


def test_summaries_carry_digest_and_service_fields(api: ApiHarness) -> None:
    seed(api, [trace_envelopes("one", 4), trace_envelopes("open", 3, finish=False)])
    items = {item["trace_id"]: item for item in data_of(read(api, TRACES))["items"]}
    assert items["one"] == {
        "trace_id": "one",
        "workflow": "wf",
        "title": "A title",
        "primary_entity_type": "account",
        "primary_entity_id": "acc-1",
        "outcome": "success",
        "started_at": "2025-12-31T12:00:00Z",
        "finished_at": "2025-12-31T12:00:00Z",
        "event_count": 2,
        "last_log_seq": 4,
        "started_log_seq": 1,
        "event_total": 4,
    }
    assert items["open"]["outcome"] is None
    assert items["open"]["finished_at"] is None
    assert (items["open"]["event_count"], items["open"]["event_total"]) == (1, 3)


def test_filters_are_anded_and_compare_start_times_as_instants(api: ApiHarness) -> None:
    _filter_fixture(api)
    cases = {
        "workflow=sales": ["b", "a"],
        "workflow=sales,ops": ["d", "b", "a"],
        "workflow=sales&workflow=support,sales": ["c", "b", "a"],
        "workflow=nothing": [],
        "outcome=failure,abandoned": ["d", "b"],
        "primary_entity_type=account": ["b", "a"],
        "primary_entity_type=account&primary_entity_id=acc-2": ["b"],
        "finished=false": ["c"],
        "finished=true": ["d", "b", "a"],
        "started_after=2025-12-31T11:30:00Z": ["d", "c", "b"],
        "started_before=2025-12-31T12:00:00.5Z": ["b", "a"],
        "started_after=2025-12-31T13:00:00%2B01:00&started_before=2025-12-31T08:00:00-05:00": ["c"],
        "workflow=sales&finished=true&outcome=success": ["a"],
        "primary_entity_type=": ["d", "c", "b", "a"],  # empty optional = omitted
    }
    for query, expected in cases.items():
        assert _ids(data_of(read(api, TRACES, query))["items"]) == expected, query


def test_bad_parameters_are_400_naming_the_parameter(api: ApiHarness) -> None:
    cases = {
        "primary_entity_id=x": "primary_entity_id",
        "started_after=2025-12-31": "started_after",
        "started_after=2025-02-30T00:00:00Z": "started_after",
        "started_after=2025-12-31T10:00:00": "started_after",
        "started_before=2025-12-31T25:00:00Z": "started_before",
        "finished=yes": "finished",
        "finished=1": "finished",
        "limit=0": "limit",
        "limit=1001": "limit",
        "limit=1.5": "limit",
        "limit=1&limit=2": "limit",
        "workflow=a,,b": "workflow",
        "outcome=,": "outcome",
        "sort=asc": "sort",
        "cursor=not-a-cursor": "cursor",
        "consistency=fresh": "consistency",
    }
    for query, path in cases.items():
        assert_query_error(read(api, TRACES, query), path)


def test_cursors_are_bound_to_tenant_and_filters_and_refuse_tampering(api: ApiHarness) -> None:
    _filter_fixture(api)
    seed(api, [trace_envelopes("g", 2)], tenant=OTHER_TENANT)
    api.add_key("both", "reader", [TENANT, OTHER_TENANT])
    first = data_of(read(api, TRACES, "workflow=sales&limit=1"))
    cursor = first["next_cursor"]
    assert _ids(first["items"]) == ["b"]
    assert cursor

    again = data_of(read(api, TRACES, {"workflow": "sales", "limit": 5, "cursor": cursor}))
    assert _ids(again["items"]) == ["a"]
    assert again["next_cursor"] is None

    middle = len(cursor) // 2
    garbled = cursor[:middle] + ("A" if cursor[middle] != "A" else "B") + cursor[middle + 1 :]
    for params in (
        {"workflow": "sales", "cursor": garbled},
        {"workflow": "sales", "cursor": _moved(cursor)},
        {"workflow": "support", "cursor": cursor},
        {"cursor": cursor},
        {"workflow": "sales", "finished": "true", "cursor": cursor},
    ):
        assert_query_error(read(api, TRACES, params), "cursor")
    other_tenant = read(
        api, TRACES, {"workflow": "sales", "cursor": cursor}, role="both", tenant=OTHER_TENANT
    )
    assert_query_error(other_tenant, "cursor")
    same_tenant = read(
        api, TRACES, {"workflow": "sales", "cursor": cursor}, role="both", tenant=TENANT
    )
    assert _ids(data_of(same_tenant)["items"]) == ["a"]


def test_a_tenant_never_sees_another_tenants_traces(api: ApiHarness) -> None:
    seed(api, [TraceSpec("shared", [], workflow="acme-wf")])
    seed(
        api,
        [TraceSpec("shared", [], workflow="globex-wf"), TraceSpec("secret", [])],
        tenant=OTHER_TENANT,
    )
    api.add_key("other", "writer", [OTHER_TENANT])

    mine = data_of(read(api, TRACES))["items"]
    assert [(s["trace_id"], s["workflow"]) for s in mine] == [("shared", "acme-wf")]
    theirs = data_of(read(api, TRACES, role="other"))["items"]
    assert [(s["trace_id"], s["workflow"]) for s in theirs] == [
        ("secret", "wf"),
        ("shared", "globex-wf"),
    ]
    assert data_of(read(api, TRACES, "workflow=globex-wf"))["items"] == []
    denied = assert_envelope_error(read(api, TRACES, tenant=OTHER_TENANT), 403, "forbidden")
    assert denied["tenant_id"] == OTHER_TENANT


def test_every_role_reads_and_a_key_without_traces_read_is_refused(api: ApiHarness) -> None:
    for role in ("reader", "writer", "admin"):
        assert data_of(read(api, TRACES, role=role)) == {"items": [], "next_cursor": None}
    api.add_key("narrow", "reader", [TENANT], permissions=["health:read"])
    details = assert_envelope_error(read(api, TRACES, role="narrow"), 403, "forbidden")
    assert details["required_permission"] == "traces:read"
