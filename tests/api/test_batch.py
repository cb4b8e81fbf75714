"""``POST /api/v1/events/batch`` (HTTP_API 2.3) on SQLite and PostgreSQL: atomic (201 or
the first failing event's error with ``details.index``, nothing written) and
non-atomic (207, per-item results, committed events kept when the database fails
midway), and the whole-request limits and shape checks."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from decisiongraph.api.routes.events import NON_ATOMIC_CHUNK
from decisiongraph.store.base import SqlEventStore
from tests.api.conftest import TENANT, ApiHarness, make_harness
from tests.api.test_ingest import BIG, JSON, envelope, error_of

URL = "/api/v1/events/batch"


def post(api: ApiHarness, body: Any, role: str = "writer") -> httpx2.Response:
    return api.client.post(URL, json=body, headers=api.headers(role))


def trace(trace_id: str, length: int, *, finish: bool = True) -> list[dict[str, Any]]:
    """A trace of ``length`` events, the last one TraceFinished if ``finish``."""
    return [
        envelope(trace_id, seq, "TraceFinished" if finish and seq == length - 1 and seq else None)
        for seq in range(length)
    ]


def test_atomic_batch_appends_every_event_in_index_order(api: ApiHarness) -> None:
    events = trace("t-1", 3) + trace("t-2", 2)
    events.append({**events[0], "event_id": "another-id", "trace_seq": 9})  # a reuse
    response = post(api, {"events": events})
    assert response.status_code == 201, response.text
    results = response.json()["data"]["results"]
    assert [r["index"] for r in results] == list(range(6))
    assert all(r["status"] == 201 and "error" not in r for r in results)
    assert [r["event"]["log_seq"] for r in results[:5]] == [1, 2, 3, 4, 5]
    assert [r["event"]["event_id"] for r in results[:5]] == [e["event_id"] for e in events[:5]]
    assert [r["reused"] for r in results] == [False] * 5 + [True]
    assert results[5]["event"] == results[0]["event"]
    assert [e.event_id for e in api.store.list_events(TENANT)] == [
        e["event_id"] for e in events[:5]
    ]


def test_atomic_batch_failure_writes_nothing(api: ApiHarness) -> None:
    post(api, {"events": trace("t-0", 1)})
    failures: list[tuple[int, dict[str, Any], int, str]] = [
        (3, envelope("t-1", 5), 409, "event_sequence_invalid"),
        (2, envelope("t-9", 0, event_id="\x00"), 400, "invalid_argument"),
        (1, envelope("t-9", 0, tags=("token=abc",)), 422, "pii_policy_violation"),
        (0, envelope("t-0", 0, actor_id="other"), 409, "idempotency_conflict"),
    ]
    for index, bad, status, code in failures:
        events = [*trace("t-1", 4)[:index], bad, *trace("t-2", 2)]
        response = post(api, {"events": events, "atomic": True})
        error = error_of(response, status, code)
        assert error["details"]["index"] == index, error
        assert api.store.get_last_log_seq(TENANT) == 1
    events = [*trace("t-1", 3, finish=False), envelope("t-1", 5)]
    error = error_of(post(api, {"events": events}), 409, "event_sequence_invalid")
    assert error["details"] == {"index": 3, "trace_id": "t-1", "expected_trace_seq": 3}


def test_non_atomic_batch_reports_each_event(api: ApiHarness) -> None:
    events = [
        *trace("t-1", 2),
        envelope("t-1", 2),  # trace finished
        envelope("t-2", 1),  # sequencing
        envelope("t-3", 0, occurred_at="nope"),
        envelope("t-4", 0, idempotency_key=""),
        envelope("t-5", 0),
    ]
    response = post(api, {"events": events, "atomic": False})
    assert response.status_code == 207, response.text
    results = response.json()["data"]["results"]
    assert [r["index"] for r in results] == list(range(7))
    assert [r["status"] for r in results] == [201, 201, 409, 409, 422, 400, 201]
    codes = [r["error"]["code"] if "error" in r else None for r in results]
    assert codes == [None, None, "conflict", "event_sequence_invalid", "schema_violation",
                     "invalid_argument", None]  # fmt: skip
    assert results[2]["error"]["details"]["reason"] == "trace_finished"
    assert results[3]["error"]["details"] == {"trace_id": "t-2", "expected_trace_seq": 0}
    assert set(results[4]["error"]) == {"code", "message", "details"}
    assert all("event" not in r for r in results if r["status"] != 201)
    stored = [e.event_id for e in api.store.list_events(TENANT)]
    assert stored == [events[0]["event_id"], events[1]["event_id"], events[6]["event_id"]]
    # 207 whatever the outcomes, even when every event fails.
    response = post(api, {"events": [envelope("t-2", 3)], "atomic": False})
    assert response.status_code == 207
    assert response.json()["data"]["results"][0]["status"] == 409


def test_whole_request_shape_errors(api: ApiHarness) -> None:
    cases: list[tuple[Any, str]] = [
        ({"events": []}, "$.events"),
        ({}, "$.events"),
        ({"events": {}}, "$.events"),
        ({"events": trace("t", 1), "atomic": "yes"}, "$.atomic"),
        ({"events": trace("t", 1), "atomic": None}, "$.atomic"),
        ({"events": trace("t", 1), "extra": 1}, "$.extra"),
        ([], "$"),
        ({"events": [*trace("t", 2), {**envelope("u"), "source": {"producer_id": "p"}}]},
         "$.events[2].source.system"),
        ({"events": [*trace("t", 1), 5]}, "$.events[1]"),
        ({"events": [{**envelope("u"), "trace_seq": "1"}], "atomic": False},
         "$.events[0].trace_seq"),
        ({"events": [{**envelope("u"), "tenant_id": "acme"}]}, "$.events[0].tenant_id"),
    ]  # fmt: skip
    for body, path in cases:
        error = error_of(post(api, body), 422, "schema_violation")
        assert [e["path"] for e in error["details"]["errors"]] == [path], (body, error)
    error_of(api.client.post(URL, content=b"{", headers={**api.headers(), **JSON}), 400,
             "invalid_argument")  # fmt: skip
    error_of(api.client.post(URL, content=b"{}", headers=api.headers()), 415,
             "unsupported_media_type")  # fmt: skip
    error = error_of(post(api, {"events": [envelope("t")] * 1001}), 413, "payload_too_large")
    assert error["details"] == {"limit_events": 1000}
    too_big = b" " * (10 * 1024 * 1024 + 1)
    error = error_of(api.client.post(URL, content=too_big, headers={**api.headers(), **JSON}),
                     413, "payload_too_large")  # fmt: skip
    assert error["details"] == {"limit_bytes": 10 * 1024 * 1024}
    error = error_of(post(api, {"events": trace("t", 1)}, "reader"), 403, "forbidden")
    assert error["details"] == {"required_permission": "events:write"}
    assert api.store.get_last_log_seq(TENANT) == 0


def test_limits_are_413(api_store_url: str) -> None:
    settings = {"max_batch_events": 3, "max_event_bytes": 2048, "max_batch_bytes": 8192}
    for api in make_harness(api_store_url, **settings):
        error = error_of(post(api, {"events": trace("t", 4)}), 413, "payload_too_large")
        assert error["details"] == {"limit_events": 3}
        big = envelope("u", payload={**envelope()["payload"], "blob": "é" * 1100})
        error = error_of(post(api, {"events": [envelope("t"), big]}), 413, "payload_too_large")
        assert error["details"] == {"limit_bytes": 2048, "index": 1}
        blob = "x" * 1500
        fat = [envelope(f"t{i}", payload={**envelope()["payload"], "b": blob}) for i in range(3)]
        body = json.dumps({"events": fat, "atomic": False}, indent=2)
        assert 4096 < len(body) < 8192
        error = error_of(api.client.post(URL, content=body * 2, headers={**api.headers(), **JSON}),
                         413, "payload_too_large")  # fmt: skip
        assert error["details"] == {"limit_bytes": 8192}
        # An event's size is its compact encoding: whitespace the client adds is free.
        near = envelope("w", payload={**envelope()["payload"], "b": "x" * 1500})
        spaced = json.dumps({"events": [near]}, indent=20)
        assert 8192 > len(spaced) > 2048 >= len(json.dumps(near, separators=(",", ":")))
        response = api.client.post(URL, content=spaced, headers={**api.headers(), **JSON})
        assert response.status_code == 201, response.text
        assert api.store.get_last_log_seq(TENANT) == 1


def _fail_inserts_of(store: SqlEventStore, event_id: str) -> None:
    """Make the database refuse to insert the event ``event_id`` (a simulated outage)."""
    with store.transaction() as conn:
        if store.dialect == "sqlite":
            conn.execute(
                "CREATE TRIGGER test_outage BEFORE INSERT ON dg_event_log "
                f"WHEN NEW.event_id = '{event_id}' BEGIN SELECT RAISE(ABORT, 'outage'); END"
            )
        else:
            conn.execute(
                "CREATE FUNCTION test_outage() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.event_id = '{event_id}' THEN RAISE EXCEPTION 'outage'; END IF; "
                "RETURN NEW; END $$"
            )
            conn.execute(
                "CREATE TRIGGER test_outage BEFORE INSERT ON dg_event_log "
                "FOR EACH ROW EXECUTE FUNCTION test_outage()"
            )


def _drop_outage(store: SqlEventStore) -> None:
    with store.transaction() as conn:
        conn.execute(
            "DROP TRIGGER test_outage" + (" ON dg_event_log" * (store.dialect != "sqlite"))
        )


@pytest.fixture
def outage(api: ApiHarness) -> list[dict[str, Any]]:
    """Events of which one, after the first non-atomic chunk, the database refuses."""
    events = [envelope(f"t-{i}", 0) for i in range(NON_ATOMIC_CHUNK + 20)]
    events[NON_ATOMIC_CHUNK + 5]["event_id"] = "boom"
    _fail_inserts_of(api.store, "boom")
    return events


def test_database_failure_midway(api: ApiHarness, outage: list[dict[str, Any]]) -> None:
    error_of(post(api, {"events": outage}), 503, "storage")
    assert api.store.get_last_log_seq(TENANT) == 0
    response = post(api, {"events": outage, "atomic": False})
    assert response.status_code == 207
    statuses = [r["status"] for r in response.json()["data"]["results"]]
    committed = statuses.index(503)
    # Events before the failure stay committed; the failing one and the rest are 503.
    assert 0 < committed <= NON_ATOMIC_CHUNK + 5
    assert statuses == [201] * committed + [503] * (len(outage) - committed)
    failed = response.json()["data"]["results"][committed]["error"]
    assert failed["code"] == "storage"
    assert failed["details"] == {}
    assert [e.event_id for e in api.store.list_events(TENANT, limit=10_000)] == [
        e["event_id"] for e in outage[:committed]
    ]
    # Resending the whole batch is safe: the committed events are reused.
    _drop_outage(api.store)
    response = post(api, {"events": outage, "atomic": False})
    reused = [r["reused"] for r in response.json()["data"]["results"]]
    assert reused == [True] * committed + [False] * (len(outage) - committed)
    assert api.store.get_last_log_seq(TENANT) == len(outage)


def test_big_integers_survive_the_batch_route(api: ApiHarness) -> None:
    payload = {**envelope()["payload"], "amount": BIG}
    for atomic in (True, False):
        body = {"events": [envelope(f"t-{atomic}", payload=payload)], "atomic": atomic}
        response = post(api, body)
        assert response.status_code in (201, 207)
        assert response.json()["data"]["results"][0]["event"]["payload"]["amount"] == BIG
        assert f'"amount":{BIG}' in response.text
    assert api.store.list_events(TENANT)[1].payload["amount"] == BIG
