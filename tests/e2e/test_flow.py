"""End to end on real server processes over PostgreSQL: authenticated writes reach
every read through the in-process projector; a two-worker server with a separate
``project --follow`` process; and a SIGTERM during a burst of writes loses no
acknowledged event."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from decisiongraph.service.accounts import Accounts
from decisiongraph.store.factory import open_store
from tests.e2e.conftest import E2E, TENANT
from tests.helpers import make_envelope
from tests.prometheus_text import samples, value
from tests.server_process import SCRIPT, ServerProcess, clean_env

pytestmark = pytest.mark.postgres

POLICY = {"policy_id": "pol-e2e", "policy_version": "v3"}


def trace_events(trace_id: str) -> list[dict[str, Any]]:
    """A finished trace: started (entity account acc-1), a policy evaluation, finished."""
    policy = {"policy": POLICY, "inputs": [], "decision": "allow"}
    return [
        make_envelope(trace_id, 0).to_dict(),
        make_envelope(trace_id, 1, "PolicyEvaluated", payload=policy).to_dict(),
        make_envelope(trace_id, 2, "TraceFinished").to_dict(),
    ]


def append(client: httpx.Client, event: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/events", json=event)
    assert response.status_code == 201, response.text
    stored: dict[str, Any] = response.json()["data"]["event"]
    return stored


def data(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_writes_flow_through_the_projector_into_every_read(e2e: E2E) -> None:
    with e2e.client("writer") as client:
        stored = [append(client, event) for event in trace_events("flow-1")]
        assert [e["log_seq"] for e in stored] == [1, 2, 3]
        assert {e["tenant_id"] for e in stored} == {TENANT}
        reuse = client.post("/api/v1/events", json=trace_events("flow-1")[0])
        assert reuse.status_code == 201
        assert reuse.headers["Idempotent-Replayed"] == "true"
        assert reuse.json()["data"]["event"]["log_seq"] == 1
        fresh = {"min_log_seq": 3, "wait_ms": 5000}

        view = client.get("/api/v1/traces/flow-1", params=fresh)
        trace = data(view)
        assert int(view.headers["X-DG-Projection-Log-Seq"]) >= 3
        assert [e["event_type"] for e in trace["events"]] == [
            "TraceStarted",
            "PolicyEvaluated",
            "TraceFinished",
        ]
        assert trace["summary"]["outcome"] == "success"

        graph = data(
            client.get(
                "/api/v1/graph/context",
                params={"node_type": "trace", "node_id": "flow-1", **fresh},
            )
        )
        assert {n["node_id"] for n in graph["nodes"]} >= {
            "trace:flow-1",
            "policy:pol-e2e:v3",
            "entity:account:acc-1",
        }
        assert {e["edge_type"] for e in graph["edges"]} == {
            "trace_involves_entity",
            "trace_evaluated_policy",
        }

        hits = data(client.get("/api/v1/precedents", params={"policy_id": "pol-e2e", **fresh}))
        assert [(h["trace_id"], h["policy_version"]) for h in hits["items"]] == [("flow-1", "v3")]

        health = data(client.get("/api/v1/projections/health"))
        assert health["tail_log_seq"] == 3
        assert {(p["cursor"], p["lag_events"], p["status"]) for p in health["projections"]} == {
            (3, 0, "ok")
        }

        # The key is bound to acme only: another tenant is refused, nothing leaks.
        other = client.get("/api/v1/projections/health", headers={"X-Tenant-Id": "globex"})
        assert other.status_code == 403
    assert httpx.post(f"{e2e.url}/api/v1/events", json=trace_events("x")[0]).status_code == 401

    page = httpx.get(f"{e2e.url}/metrics")
    assert page.status_code == 200
    assert "acme" not in page.text  # anonymous scrape: no tenant id
    metrics = samples(page.text)
    assert value(metrics, "dg_appends_total", outcome="new", code="") == 3
    assert value(metrics, "dg_appends_total", outcome="reused", code="") == 1
    posted = {"route": "/api/v1/events", "method": "POST"}
    assert value(metrics, "dg_http_requests_total", **posted, status="201") == 4
    assert value(metrics, "dg_auth_failures_total", route="/api/v1/events") == 1
    assert value(metrics, "dg_projection_lag_events_max", projection="trace_summary") == 0


def test_two_workers_without_projector_and_a_separate_project_process(
    pg_url: str, serve: Callable[..., ServerProcess]
) -> None:
    server = serve("--workers", "2", "--no-projector", ready=False)
    projector = subprocess.Popen(
        [str(SCRIPT), "project", "--all", "--follow", "--db", pg_url, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    try:
        # In process (the CLI way is the e2e fixture's): one child process less to start.
        store = open_store(pg_url)
        try:
            _account, key = Accounts(store).create_account("e2e-writer", "writer", [TENANT])
        finally:
            store.close()
        assert key.token is not None
        token = key.token
        server.wait_ready()
        headers = {"Authorization": f"Bearer {token}"}
        # A new connection per request, so the kernel spreads them over the workers.
        for trace in ("w-1", "w-2", "w-3"):
            for event in trace_events(trace):
                assert httpx.post(
                    f"{server.url}/api/v1/events", json=event, headers=headers
                ).is_success
        # Only the separate process projects: the strict read waits for it.
        hits = httpx.get(
            f"{server.url}/api/v1/precedents",
            params={"policy_id": "pol-e2e", "min_log_seq": 9, "wait_ms": 10_000},
            headers=headers,
        )
        assert [h["trace_id"] for h in data(hits)["items"]] == ["w-3", "w-2", "w-1"]
        # Counters are summed over both workers: every request above is counted.
        metrics = samples(httpx.get(f"{server.url}/metrics").text)
        posted = {"route": "/api/v1/events", "method": "POST", "status": "201"}
        assert value(metrics, "dg_http_requests_total", **posted) == 9
        assert value(metrics, "dg_appends_total", outcome="new", code="") == 9
    finally:
        projector.terminate()
        out, err = projector.communicate(timeout=30)
    assert projector.returncode == 0, err
    assert '"total_applied"' in out


def test_sigterm_during_a_burst_keeps_every_acknowledged_event_and_ends_streams(
    e2e: E2E,
) -> None:
    acknowledged: dict[str, int] = {}  # event_id -> log_seq of every 2xx
    lock = threading.Lock()
    enough = threading.Event()
    opened = threading.Event()
    frames: list[str] = []

    def writer(name: str) -> None:
        with e2e.client("writer") as client:
            seq = 0
            while True:
                event = make_envelope(name, seq).to_dict()
                try:
                    response = client.post("/api/v1/events", json=event)
                except httpx.TransportError:
                    return  # the server is gone: stop
                if response.status_code != 201:
                    return  # e.g. a 503 while shutting down
                with lock:
                    acknowledged[event["event_id"]] = response.json()["data"]["event"]["log_seq"]
                    if len(acknowledged) >= 40:
                        enough.set()
                seq += 1

    def stream_reader() -> None:
        # An open stream never completes: the server must end it, not wait for it.
        with (
            e2e.client("writer") as client,
            client.stream("GET", "/api/v1/events/stream", timeout=60) as response,
        ):
            for line in response.iter_lines():
                frames.append(line)
                opened.set()

    reader = threading.Thread(target=stream_reader)
    reader.start()
    assert opened.wait(30), "the stream never opened"
    threads = [threading.Thread(target=writer, args=(f"burst-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    assert enough.wait(30), "the writers never got going"
    assert e2e.server.stop() == 0, e2e.server.stderr
    for thread in [*threads, reader]:
        thread.join(30)

    store = open_store(e2e.db)
    try:
        logged = {e.event_id: e.log_seq for e in store.list_events(TENANT, limit=10_000)}
    finally:
        store.close()
    assert {k: logged.get(k) for k in acknowledged} == acknowledged
    # At most one write per writer may have committed without its answer arriving.
    assert len(logged) - len(acknowledged) <= len(threads)

    assert frames[0] == "retry: 5000"
    assert frames[1].startswith("id: ")
    closing = frames[frames.index("event: error") + 1]
    assert closing.startswith("data: ")
    assert json.loads(closing[6:])["error"]["details"]["reason"] == "shutdown"
