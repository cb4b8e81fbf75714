"""``GET /metrics`` (HTTP_API 2.1): requests by route template and status, appends by
outcome, authentication failures and refusals, projection lag computed at scrape time;
tenant ids only behind ``metrics_require_auth``; one registry per app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, Router
from starlette.testclient import TestClient

from decisiongraph.api import create_app
from decisiongraph.api.metrics import Metrics
from decisiongraph.api.middleware import RequestMiddleware
from decisiongraph.service.settings import ServiceSettings
from decisiongraph.store.factory import open_store
from decisiongraph.store.observer import RecordingObserver
from tests.api.conftest import OTHER_TENANT, TENANT, ApiHarness, make_harness
from tests.helpers import make_envelope
from tests.prometheus_text import Samples, samples, value

FORGED_TOKEN = "dg_abcdefghijklmnop_" + "S" * 43


def scrape(client: TestClient, **headers: str) -> Samples:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


def post_event(api: ApiHarness, event: dict[str, Any]) -> int:
    return api.client.post("/api/v1/events", json=event, headers=api.headers("writer")).status_code


def test_requests_are_counted_by_route_template_never_by_raw_path(api: ApiHarness) -> None:
    reader = api.headers("reader")
    assert api.client.get("/api/v1/traces/secret-trace-77", headers=reader).status_code == 404
    assert api.client.get("/no/such/secret-path").status_code == 404
    assert api.client.delete("/healthz").status_code == 405
    for _ in range(2):
        assert api.client.get("/healthz").status_code == 200
    page = api.client.get("/metrics").text
    assert "secret-trace-77" not in page
    assert "secret-path" not in page
    metrics = samples(page)
    trace_route = {"route": "/api/v1/traces/{trace_id}", "method": "GET"}
    assert value(metrics, "dg_http_requests_total", **trace_route, status="404") == 1
    assert value(metrics, "dg_http_request_duration_seconds_count", **trace_route) == 1
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    assert value(metrics, "dg_http_requests_total", **unmatched) == 1
    deleted = {"route": "/healthz", "method": "DELETE", "status": "405"}
    assert value(metrics, "dg_http_requests_total", **deleted) == 1
    ok = {"route": "/healthz", "method": "GET", "status": "200"}
    assert value(metrics, "dg_http_requests_total", **ok) == 2


def test_authentication_failures_are_counted_and_no_credential_appears(api: ApiHarness) -> None:
    event = make_envelope("t-auth", 0).to_dict()
    forged = {"Authorization": f"Bearer {FORGED_TOKEN}"}
    assert api.client.post("/api/v1/events", json=event, headers=forged).status_code == 401
    assert api.client.post("/api/v1/events", json=event).status_code == 401
    assert post_event(api, event) == 201
    page = api.client.get("/metrics").text
    assert FORGED_TOKEN[3:19] not in page  # not even the key id
    metrics = samples(page)
    assert value(metrics, "dg_auth_failures_total", route="/api/v1/events") == 2
    assert value(metrics, "dg_rate_limited_total", route="/api/v1/events") is None


def test_appends_are_counted_by_outcome_and_code(api: ApiHarness) -> None:
    started = make_envelope("t-out", 0).to_dict()
    assert post_event(api, started) == 201
    assert post_event(api, started) == 201  # idempotent reuse
    assert post_event(api, make_envelope("t-out", 5).to_dict()) == 409  # sequence
    assert post_event(api, make_envelope("t-other", 1).to_dict()) == 409
    assert post_event(api, {"event_id": "only this"}) == 422  # never reached the store
    metrics = scrape(api.client)
    assert value(metrics, "dg_appends_total", outcome="new", code="") == 1
    assert value(metrics, "dg_appends_total", outcome="reused", code="") == 1
    rejected = {"outcome": "rejected", "code": "DG_ERR_EVENT_SEQUENCE_INVALID"}
    assert value(metrics, "dg_appends_total", **rejected) == 2
    assert sum(v for (n, _), v in metrics.items() if n == "dg_appends_total") == 4


def test_anonymous_lag_is_aggregated_over_tenants_without_their_ids(api: ApiHarness) -> None:
    for seq in range(3):
        assert post_event(api, make_envelope("t-lag", seq).to_dict()) == 201
    for seq in range(2):
        api.store.append(OTHER_TENANT, make_envelope("t-lag", seq))
    page = api.client.get("/metrics").text
    assert TENANT not in page
    assert OTHER_TENANT not in page
    metrics = samples(page)
    for projection in ("context_graph", "precedent_index", "trace_summary"):
        assert value(metrics, "dg_projection_lag_events_max", projection=projection) == 3
        assert value(metrics, "dg_projection_lag_events_sum", projection=projection) == 5
        lag_s = value(metrics, "dg_projection_lag_seconds_max", projection=projection)
        assert lag_s is not None
        assert lag_s >= 0
    assert value(metrics, "dg_tenants") == 2
    assert value(metrics, "dg_projection_health_up") == 1

    api.project(TENANT)
    metrics = scrape(api.client)
    assert value(metrics, "dg_projection_lag_events_max", projection="trace_summary") == 2
    assert value(metrics, "dg_projection_lag_events_sum", projection="trace_summary") == 2


@pytest.fixture
def secured(api_store_url: str) -> Iterator[ApiHarness]:
    """An app whose /metrics needs an admin-role key."""
    yield from make_harness(api_store_url, metrics_require_auth=True)


def test_required_authentication_admits_admin_keys_only(secured: ApiHarness) -> None:
    anonymous = secured.client.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert anonymous.json()["error"]["code"] == "unauthorized"
    writer = secured.client.get("/metrics", headers=secured.headers("writer"))
    assert writer.status_code == 403
    assert writer.json()["error"]["code"] == "forbidden"
    forged = secured.client.get("/metrics", headers={"Authorization": f"Bearer {FORGED_TOKEN}"})
    assert forged.status_code == 401
    metrics = scrape(secured.client, **secured.headers("admin"))
    assert value(metrics, "dg_auth_failures_total", route="/metrics") == 2


def test_required_authentication_labels_lag_and_appends_by_tenant(secured: ApiHarness) -> None:
    event = make_envelope("t-ten", 0).to_dict()
    assert secured.client.post(
        "/api/v1/events", json=event, headers=secured.headers("writer")
    ).status_code == 201  # fmt: skip
    metrics = scrape(secured.client, **secured.headers("admin"))
    assert value(metrics, "dg_appends_total", tenant=TENANT, outcome="new", code="") == 1
    per_tenant = {"tenant": TENANT, "projection": "context_graph"}
    assert value(metrics, "dg_projection_lag_events", **per_tenant) == 1
    assert value(metrics, "dg_projection_lag_events_max", projection="context_graph") is None


def test_each_app_counts_only_its_own_requests(api: ApiHarness, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'second.db'}"
    with TestClient(create_app(ServiceSettings(database_url=url, projector=False))) as second:
        for _ in range(3):
            assert second.get("/healthz").status_code == 200
        assert api.client.get("/healthz").status_code == 200
        ok = {"route": "/healthz", "method": "GET", "status": "200"}
        assert value(scrape(second), "dg_http_requests_total", **ok) == 3
        assert value(scrape(api.client), "dg_http_requests_total", **ok) == 1


def test_the_store_observer_is_chained_while_serving_and_restored(tmp_path: Path) -> None:
    recording = RecordingObserver()
    url = f"sqlite:///{tmp_path / 'observed.db'}"
    store = open_store(url, observer=recording)
    try:
        app = create_app(ServiceSettings(database_url=url, projector=False), store=store)
        with TestClient(app) as client:
            store.append(TENANT, make_envelope("t-obs", 0))
            metrics = scrape(client)
        assert store.observer is recording
        assert [r.outcome for r in recording.appends] == ["appended"]
        assert value(metrics, "dg_appends_total", outcome="new", code="") == 1
    finally:
        store.close()


def test_a_database_failure_is_reported_not_raised(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gone.db'}"
    store = open_store(url)
    app = create_app(ServiceSettings(database_url=url, projector=False), store=store)
    with TestClient(app) as client:
        store.append(TENANT, make_envelope("t-gone", 0))
        store.close()
        scrape(client)
        metrics = scrape(client)
    assert value(metrics, "dg_projection_health_up") == 0
    scraped = {"route": "/metrics", "method": "GET", "status": "200"}
    assert value(metrics, "dg_http_requests_total", **scraped) == 1


async def _refuse(request: Request) -> Response:
    return PlainTextResponse("slow down", status_code=429)


async def _fail(request: Request) -> Response:
    raise RuntimeError("boom")


def _inner_app() -> Router:
    # A bare router, as the app serves it (no framework error middleware inside).
    return Router(
        routes=[Route("/items/{item_id}", _refuse, methods=["GET", "BREW"]), Route("/fail", _fail)]
    )


def test_the_middleware_counts_refusals_failures_and_odd_methods() -> None:
    metrics = Metrics()
    client = TestClient(RequestMiddleware(_inner_app(), metrics.observe_request))
    assert client.get("/items/secret-item").status_code == 429
    assert client.request("BREW", "/items/other").status_code == 429
    assert client.get("/fail").status_code == 500
    page = samples(generate_latest(metrics.registry).decode())
    assert value(page, "dg_rate_limited_total", route="/items/{item_id}") == 2
    refused = {"route": "/items/{item_id}", "status": "429"}
    assert value(page, "dg_http_requests_total", method="GET", **refused) == 1
    assert value(page, "dg_http_requests_total", method="other", **refused) == 1
    failed = {"route": "/fail", "method": "GET", "status": "500"}
    assert value(page, "dg_http_requests_total", **failed) == 1


def test_an_exception_becomes_the_500_envelope_and_is_counted() -> None:
    metrics = Metrics()
    client = TestClient(RequestMiddleware(_inner_app(), metrics.observe_request))
    response = client.get("/fail", headers={"X-Request-Id": "req-1"})
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "code": "internal_error",
            "message": "Internal error; the request id is logged.",
            "details": {},
        },
        "request_id": "req-1",
    }
    assert "boom" not in response.text
    assert response.headers["x-request-id"] == "req-1"
    page = samples(generate_latest(metrics.registry).decode())
    assert value(page, "dg_http_requests_total", route="/fail", method="GET", status="500") == 1
