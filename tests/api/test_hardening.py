"""Edge cases of the HTTP layer found in review: member names no encoder can write,
the shape of pipeline errors, database text kept from clients, and overload."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from tests.api.conftest import TENANT, ApiHarness, make_harness
from tests.api.test_ingest import envelope, error_of, post_raw
from tests.helpers import make_envelope


def _json_with_member(member_escape: str, where: str) -> str:
    """An envelope as JSON text with a member named by a raw JSON escape (such as a
    lone surrogate, which Python's encoder would not write)."""
    body = envelope("t-sur", 0, "TraceStarted", idempotency_key="k-sur")
    text = '{"' + member_escape + '":1,'
    if where == "envelope":
        return text + json.dumps(body)[1:]
    payload = json.dumps(body["payload"])
    body_text = json.dumps({**body, "payload": {}})
    return body_text.replace('"payload": {}', f'"payload": {text}{payload[1:]}')


@pytest.mark.parametrize(
    ("where", "status", "code"),
    [("envelope", 422, "schema_violation"), ("payload", 400, "invalid_argument")],
)
def test_a_lone_surrogate_member_name_is_a_client_error_not_a_500(
    api: ApiHarness, where: str, status: int, code: str
) -> None:
    headers = {**api.headers("writer"), "Content-Type": "application/json"}
    response = post_raw(api, _json_with_member("\\ud800", where), headers)
    error_of(response, status, code)
    assert api.store.list_events(TENANT) == []


def test_pipeline_errors_name_the_body_location(api: ApiHarness) -> None:
    headers = {**api.headers("writer"), "Content-Type": "application/json"}
    bad_key = envelope("t-loc", 0, "TraceStarted", idempotency_key="")
    error = error_of(post_raw(api, json.dumps(bad_key), headers), 400, "invalid_argument")
    assert error["details"]["errors"] == [
        {"location": "body", "path": "$.idempotency_key", "message": "empty"}
    ]
    batch = {"events": [envelope("t-loc", 0, "TraceStarted", idempotency_key="k0"), bad_key]}
    response = api.client.post("/api/v1/events/batch", json=batch, headers=api.headers("writer"))
    error = error_of(response, 400, "invalid_argument")
    assert error["details"]["index"] == 1
    assert error["details"]["errors"] == [
        {"location": "body", "path": "$.events[1].idempotency_key", "message": "empty"}
    ]
    response = api.client.post(
        "/api/v1/events/batch", json={**batch, "atomic": False}, headers=api.headers("writer")
    )
    assert response.status_code == 207
    item = response.json()["data"]["results"][1]
    assert item["error"]["details"]["errors"][0]["location"] == "body"
    assert item["error"]["details"]["errors"][0]["path"] == "$.events[1].idempotency_key"


def test_storage_failures_keep_the_database_text_from_the_client(api: ApiHarness) -> None:
    api.store.close()
    response = api.client.post(
        "/api/v1/events", json=envelope("t-db", 0, "TraceStarted"), headers=api.headers("writer")
    )
    error = error_of(response, 503, "storage")
    assert error["details"] == {}
    assert "closed" not in error["message"].lower()
    assert "idempotency key" in error["message"]


@pytest.fixture
def narrow_api(api_store_url: str) -> Iterator[ApiHarness]:
    """One request thread and a queue of one: a second concurrent request is refused."""
    yield from make_harness(api_store_url, request_threads=1, request_queue=1)


def test_overload_is_503_unavailable_and_probes_still_answer(narrow_api: ApiHarness) -> None:
    api = narrow_api
    api.store.append(TENANT, make_envelope("behind", 0))  # never projected: reads wait
    holding = threading.Event()
    slow: dict[str, int] = {}

    def wait_for_the_projector() -> None:
        holding.set()
        response = api.client.get(
            "/api/v1/traces", params={"wait_ms": "3000"}, headers=api.headers("reader")
        )
        slow["status"] = response.status_code

    thread = threading.Thread(target=wait_for_the_projector)
    thread.start()
    holding.wait()
    state = api.client.app.state.dg  # type: ignore[attr-defined]
    for _ in range(500):  # until the slow read holds the only slot
        if state.pending == 1:
            break
        threading.Event().wait(0.01)
    response = api.client.get("/api/v1/traces", headers=api.headers("reader"))
    refused = error_of(response, 503, "unavailable")
    assert response.headers["retry-after"] == "1"
    assert refused["details"] == {"retry_after_s": 1, "reason": "overload"}
    # Liveness and readiness never queue behind database work.
    assert api.client.get("/healthz").status_code == 200
    thread.join()
    assert slow["status"] == 409  # the slow read itself ran to its end
