"""The shared golden scenarios sent over HTTP to a real server process (PostgreSQL, the
in-process projector) give the reference digests in projection health.

Each scenario goes to its own tenant through ``POST /api/v1/events/batch`` with one
admin key bound to ``*``; once health reports no lag, ``include_digests=true`` must
give exactly ``expected_digest.txt``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.conftest import GOLDEN_SCENARIOS, expected_digests, load_golden
from tests.e2e.conftest import E2E

pytestmark = pytest.mark.postgres

LAG_TIMEOUT_S = 15.0


def tenant_of(scenario: str) -> str:
    return f"golden-{scenario}".replace("_", "-")


def send_scenario(client: httpx.Client, scenario: str) -> int:
    """POST the scenario's events (exactly as shipped) as one atomic batch; the tail."""
    events = load_golden(scenario)["events"]
    response = client.post(
        "/api/v1/events/batch",
        content=json.dumps({"events": events, "atomic": True}).encode(),
        headers={"Content-Type": "application/json", "X-Tenant-Id": tenant_of(scenario)},
    )
    assert response.status_code == 201, response.text
    results = response.json()["data"]["results"]
    assert [r["status"] for r in results] == [201] * len(events)
    assert [r["event"]["event_id"] for r in results] == [e["event_id"] for e in events]
    tail: int = results[-1]["event"]["log_seq"]
    assert tail == len(events)
    return tail


def caught_up_health(client: httpx.Client, tenant: str, tail: int) -> dict[str, Any]:
    """Health with digests, once every projection of ``tenant`` reached ``tail``."""
    deadline = time.monotonic() + LAG_TIMEOUT_S
    while True:
        response = client.get(
            "/api/v1/projections/health",
            params={"include_digests": "true"},
            headers={"X-Tenant-Id": tenant},
        )
        assert response.status_code == 200, response.text
        health: dict[str, Any] = response.json()["data"]
        if all(p["lag_events"] == 0 and p["cursor"] == tail for p in health["projections"]):
            return health
        assert time.monotonic() < deadline, f"the projector did not catch up: {health}"
        time.sleep(0.05)


def test_every_golden_scenario_over_http_gives_the_reference_digests(e2e: E2E) -> None:
    with e2e.client("admin") as client:
        tails = {scenario: send_scenario(client, scenario) for scenario in GOLDEN_SCENARIOS}
        digests = {
            scenario: caught_up_health(client, tenant_of(scenario), tail)["digests"]
            for scenario, tail in tails.items()
        }
    assert digests == {scenario: expected_digests(scenario) for scenario in GOLDEN_SCENARIOS}
