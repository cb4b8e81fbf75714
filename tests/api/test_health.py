"""``GET /api/v1/projections/health`` (HTTP_API 2.12, 6.7): cursors, lag and status
before and after projecting, digests on request (the golden scenarios' expected
digests over HTTP), never a 409, permission and tenant isolation."""

from __future__ import annotations

import re
from typing import Any

from decisiongraph.query import get_projection_health
from tests.api.conftest import OTHER_TENANT, TENANT, ApiHarness
from tests.api.reads import (
    PROJECTION_HEADER,
    assert_envelope_error,
    assert_query_error,
    data_of,
    read,
    seed,
)
from tests.conftest import GOLDEN_SCENARIOS, expected_digests, golden_envelopes
from tests.helpers import trace_envelopes

HEALTH = "/api/v1/projections/health"
NAMES = ["context_graph", "precedent_index", "trace_summary"]
SERVER_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def _by_name(health: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert [p["projection"] for p in health["projections"]] == NAMES  # ordered by name
    return {p["projection"]: p for p in health["projections"]}


def test_health_reports_lag_then_ok_and_never_409(api: ApiHarness) -> None:
    seed(api, [trace_envelopes("t1", 3), trace_envelopes("t2", 2)], project=False)
    response = read(api, HEALTH)
    assert PROJECTION_HEADER not in response.headers
    behind = data_of(response)
    contract = {"tenant_id", "tail_log_seq", "checked_at", "projections", "digests"}
    reference = {"event_count", "trace_count", "event_log_last_seq", "projected_last_seq"}
    assert set(behind) == contract | reference | {"pending_events", "is_stale"}
    assert (behind["event_count"], behind["trace_count"], behind["pending_events"]) == (5, 2, 5)
    assert behind["is_stale"] is True
    assert (behind["tenant_id"], behind["tail_log_seq"], behind["digests"]) == (TENANT, 5, None)
    assert SERVER_TIME.fullmatch(behind["checked_at"])
    for status in _by_name(behind).values():
        assert (status["cursor"], status["tail_log_seq"], status["lag_events"]) == (0, 5, 5)
        assert status["status"] == "catching_up"
        assert status["lag_seconds"] >= 0
        assert (status["last_error"], status["open_failures"]) == (None, 0)
        assert (status["active_run_id"], status["updated_at"]) == (None, None)

    api.project()
    caught_up = data_of(read(api, HEALTH, "include_digests=false"))
    assert caught_up["digests"] is None
    for status in _by_name(caught_up).values():
        assert (status["cursor"], status["lag_events"], status["lag_seconds"]) == (5, 0, 0)
        assert status["status"] == "ok"
        assert SERVER_TIME.fullmatch(status["updated_at"])


def test_digests_are_those_of_the_live_projections(api: ApiHarness) -> None:
    seed(api, [trace_envelopes("t1", 4)])
    digests = data_of(read(api, HEALTH, "include_digests=true"))["digests"]
    assert list(digests) == ["context_graph", "trace_summary", "precedent_index", "full_projection"]
    assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", d) for d in digests.values())
    assert digests == get_projection_health(api.store, TENANT, include_digests=True).digests


def test_golden_scenarios_give_the_expected_digests_over_http(api: ApiHarness) -> None:
    api.add_key("golden", "reader", list(GOLDEN_SCENARIOS))
    for scenario in GOLDEN_SCENARIOS:
        envelopes = golden_envelopes(scenario)
        seed(api, [envelopes], tenant=scenario)
        health = data_of(read(api, HEALTH, "include_digests=true", role="golden", tenant=scenario))
        assert health["tenant_id"] == scenario
        assert health["tail_log_seq"] == len(envelopes)
        assert {p["lag_events"] for p in health["projections"]} == {0}
        assert health["digests"] == expected_digests(scenario), scenario


def test_health_parameters_permission_and_tenants(api: ApiHarness) -> None:
    seed(api, [trace_envelopes("t1", 3)])
    for query, path in {
        "include_digests=yes": "include_digests",
        "include_digests=true&include_digests=true": "include_digests",
        "consistency=strict": "consistency",
    }.items():
        assert_query_error(read(api, HEALTH, query), path)

    api.add_key("other", "reader", [OTHER_TENANT])
    empty = data_of(read(api, HEALTH, "include_digests=true", role="other"))
    assert (empty["tenant_id"], empty["tail_log_seq"]) == (OTHER_TENANT, 0)
    assert {(p["cursor"], p["lag_events"], p["status"]) for p in empty["projections"]} == {
        (0, 0, "ok")
    }
    assert empty["digests"] != data_of(read(api, HEALTH, "include_digests=true"))["digests"]

    api.add_key("narrow", "reader", [TENANT], permissions=["traces:read"])
    details = assert_envelope_error(read(api, HEALTH, role="narrow"), 403, "forbidden")
    assert details["required_permission"] == "health:read"
    for role in ("reader", "writer", "admin"):
        assert data_of(read(api, HEALTH, role=role))["tail_log_seq"] == 3
