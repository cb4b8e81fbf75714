"""``POST /api/v1/events`` (HTTP_API 2.2, 1.3-1.6) on SQLite and PostgreSQL: the 201
and the idempotent reuse, every rejection with its status, code and details in the
contract's order of checks, and the store left unchanged by each rejection."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import pytest

from tests.api.conftest import OTHER_TENANT, TENANT, ApiHarness, make_harness
from tests.helpers import make_envelope

URL = "/api/v1/events"
JSON = {"Content-Type": "application/json"}
BIG = 2**70
#: The TestClient answers with httpx2 responses, a real server through httpx.
AnyResponse = httpx.Response | httpx2.Response


def envelope(trace_id: str = "t-1", seq: int = 0, event_type: str | None = None, **kw: Any) -> Any:
    """A valid envelope as a JSON object; ``idempotency_key`` is taken as given ("" too)."""
    key = kw.pop("idempotency_key", None)
    body = make_envelope(trace_id, seq, event_type, **kw).to_dict()
    if key is not None:
        body["idempotency_key"] = key
    return body


def post(api: ApiHarness, body: Any, role: str = "writer", **headers: str) -> httpx2.Response:
    return api.client.post(URL, json=body, headers={**api.headers(role), **headers})


def post_raw(api: ApiHarness, raw: bytes | str, headers: dict[str, str]) -> httpx2.Response:
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    return api.client.post(URL, content=data, headers=headers)


def error_of(response: AnyResponse, status: int, code: str) -> dict[str, Any]:
    """The error object of an enveloped error response, after checking it."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["details"], dict)
    error: dict[str, Any] = body["error"]
    return error


@pytest.fixture
def unchanged(api: ApiHarness) -> Iterator[None]:
    """Fails the test if its requests changed the tenant's log."""
    before = api.store.list_events(TENANT)
    yield
    after = api.store.list_events(TENANT)
    assert [e.event_id for e in after] == [e.event_id for e in before]


def test_append_answers_201_with_the_stored_event(api: ApiHarness) -> None:
    sent = envelope(tags=("a", "b"), correlation_id="corr-1")
    headers = {**api.headers(), "Content-Type": "application/json; charset=UTF-8"}
    response = post_raw(api, json.dumps(sent), headers)
    assert response.status_code == 201, response.text
    assert "idempotent-replayed" not in response.headers
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    data = response.json()["data"]
    assert data["reused"] is False
    event = data["event"]
    assert event["tenant_id"] == TENANT
    assert event["log_seq"] == 1
    for name in ("event_id", "trace_id", "trace_seq", "event_type", "occurred_at", "payload"):
        assert event[name] == sent[name]
    assert event["tags"] == ["a", "b"]
    assert event["correlation_id"] == "corr-1"
    assert event["payload_hash"].startswith("sha256:")
    assert len(event["payload_hash"]) == len("sha256:") + 64
    assert event["recorded_at"].endswith("Z")
    assert len(event["recorded_at"]) == len("2025-01-01T00:00:00.000000Z")
    [stored] = api.store.list_events(TENANT)
    assert stored.event_id == sent["event_id"]
    assert stored.payload_hash == event["payload_hash"]


def test_idempotent_reuse_returns_the_original_event(api: ApiHarness) -> None:
    first = post(api, envelope("t-1", 0)).json()["data"]["event"]
    post(api, envelope("t-1", 1, "TraceFinished"))
    # Same producer, key, payload and metadata; event_id, trace_seq and occurred_at
    # differ and are not compared. The trace is finished: a reuse still succeeds.
    retry = envelope(
        "t-1", 7, "TraceStarted", idempotency_key="t-1-0", occurred_at="2030-01-01T00:00:00Z"
    )
    response = post(api, retry)
    assert response.status_code == 201, response.text
    assert response.headers["idempotent-replayed"] == "true"
    data = response.json()["data"]
    assert data["reused"] is True
    assert data["event"] == first
    assert api.store.get_last_log_seq(TENANT) == 2


def test_rejections_of_the_append_pipeline(api: ApiHarness, unchanged: None) -> None:
    pii = envelope(tags=("ok", "password=hunter2"))
    cases: list[tuple[str, dict[str, Any], int, str, str | None]] = [
        ("nul", envelope(event_id="e\x00"), 400, "invalid_argument", "$.event_id"),
        ("occurred_at", envelope(occurred_at="yesterday"), 422, "schema_violation", None),
        ("empty key", envelope(idempotency_key=""), 400, "invalid_argument", None),
        ("long key", envelope(idempotency_key="k" * 201), 400, "invalid_argument", None),
        ("type", envelope(event_type="TraceStarted") | {"event_type": "Nope"}, 422,
         "schema_violation", None),
        ("shape", envelope(payload={"title": "x"}), 422, "schema_violation", "$.payload.workflow"),
        ("float", envelope(payload={**envelope()["payload"], "score": 0.5}), 422,
         "schema_violation", "$.payload.score"),
    ]  # fmt: skip
    for name, body, status, code, path in cases:
        error = error_of(post(api, body), status, code)
        if path is not None:
            paths = [item["path"] for item in error["details"]["errors"]]
            assert paths == [path], (name, error)
    error = error_of(post(api, pii), 422, "pii_policy_violation")
    assert error["details"] == {"path": "$.tags[1]", "pattern": "secret_assignment"}
    assert "hunter2" not in json.dumps(error)


def test_lone_surrogates_and_nul_escapes_are_400(api: ApiHarness, unchanged: None) -> None:
    # The stdlib parser turns these escapes into a lone surrogate / U+0000 string.
    base = json.dumps(envelope())
    cases = (
        ('"A title"', '"x\\ud800"', "$.payload.title"),
        ('"wf"', '"\\udfff"', "$.payload.workflow"),
        ('"A title"', '"\\u0000"', "$.payload.title"),
        ('"test-agent"', '"a\\udc00b"', "$.actor.actor_id"),
    )
    for old, new, path in cases:
        raw = base.replace(old, new)
        assert raw != base
        error = error_of(post_raw(api, raw, {**api.headers(), **JSON}), 400, "invalid_argument")
        assert error["details"]["errors"][0]["path"] == path


def test_several_faults_get_the_first_code_of_the_library_order(
    api: ApiHarness, unchanged: None
) -> None:
    shape = {"title": "x"}
    cases: list[tuple[dict[str, Any], str]] = [
        # U+0000 before occurred_at, occurred_at before the key, the key before the
        # event type, the shape before PII, PII before floats.
        (envelope(event_id="\x00", occurred_at="bad"), "invalid_argument"),
        (envelope(occurred_at="bad", idempotency_key=""), "schema_violation"),
        (envelope(idempotency_key="", payload=shape), "invalid_argument"),
        (envelope(payload=shape, tags=("password=x",)), "schema_violation"),
        (
            envelope(payload={**envelope()["payload"], "f": 1.5}, tags=("password=x",)),
            "pii_policy_violation",
        ),
    ]
    for body, code in cases:
        response = post(api, body)
        assert response.json()["error"]["code"] == code, (body, response.text)


def test_conflicts_of_the_append_pipeline(api: ApiHarness) -> None:
    first = post(api, envelope("t-1", 0)).json()["data"]["event"]
    post(api, envelope("t-done", 0))
    post(api, envelope("t-done", 1, "TraceFinished"))
    tail = api.store.get_last_log_seq(TENANT)

    changed_payload = envelope("t-1", 0, payload={**envelope()["payload"], "title": "Other"})
    error = error_of(post(api, changed_payload), 409, "idempotency_conflict")
    assert error["details"]["mismatches"] == ["payload"]
    assert error["details"]["existing_event_id"] == first["event_id"]
    assert error["details"]["existing_log_seq"] == first["log_seq"]
    changed_meta = envelope("t-1", 0, actor_id="someone-else", tags=("x",))
    error = error_of(post(api, changed_meta), 409, "idempotency_conflict")
    assert error["details"]["mismatches"] == ["actor", "tags"]

    finished = envelope("t-done", 2)
    error = error_of(post(api, finished), 409, "conflict")
    assert error["details"]["reason"] == "trace_finished"
    # A finished trace is reported before a sequencing fault.
    error = error_of(post(api, envelope("t-done", 9)), 409, "conflict")
    assert error["details"]["reason"] == "trace_finished"

    for seq in (5, -1, 0):
        error = error_of(post(api, envelope("t-1", seq, "InputObserved",
                                            idempotency_key=f"k{seq}")), 409,
                         "event_sequence_invalid")  # fmt: skip
        assert error["details"]["trace_id"] == "t-1"
        assert error["details"]["expected_trace_seq"] == 1
    error = error_of(post(api, envelope("t-new", 1)), 409, "event_sequence_invalid")
    assert error["details"]["expected_trace_seq"] == 0

    duplicate = envelope("t-1", 1, event_id=first["event_id"])
    error = error_of(post(api, duplicate), 409, "conflict")
    assert error["details"]["reason"] == "duplicate_event_id"
    assert api.store.get_last_log_seq(TENANT) == tail


def test_body_rejections_before_the_pipeline(api: ApiHarness, unchanged: None) -> None:
    auth = api.headers()
    valid = json.dumps(envelope())
    for content_type in (None, "text/plain", "application/json; charset=latin-1"):
        headers = auth if content_type is None else {**auth, "Content-Type": content_type}
        error = error_of(post_raw(api, valid, headers), 415, "unsupported_media_type")
        assert error["details"] == {"expected": "application/json"}
    for raw in (
        "{",
        valid.replace('"trace_seq": 0', '"trace_seq": NaN'),
        valid.replace('"trace_seq": 0', '"trace_seq": Infinity'),
        valid[:-1] + ', "trace_id": "again"}',
        valid.replace('"trace_seq": 0', '"trace_seq": ' + "9" * 5000),
        b"\xff\xfe",
    ):
        error_of(post_raw(api, raw, {**auth, **JSON}), 400, "invalid_argument")
    shapes: list[tuple[Any, str]] = [
        ({**envelope(), "tenant_id": TENANT}, "$.tenant_id"),
        ({**envelope(), "source": {**envelope()["source"], "extra": 1}}, "$.source.extra"),
        ({**envelope(), "trace_seq": "0"}, "$.trace_seq"),
        ({**envelope(), "trace_seq": 0.0}, "$.trace_seq"),
        ({**envelope(), "trace_seq": True}, "$.trace_seq"),
        ({**envelope(), "tags": "a"}, "$.tags"),
        ({k: v for k, v in envelope().items() if k != "payload"}, "$.payload"),
        ([envelope()], "$"),
    ]
    for body, path in shapes:
        error = error_of(post(api, body), 422, "schema_violation")
        assert [e["path"] for e in error["details"]["errors"]] == [path], error
        assert error["details"]["errors"][0]["location"] == "body"


def test_body_limit_is_413(api: ApiHarness, unchanged: None) -> None:
    payload = {**envelope()["payload"], "blob": "x" * (1024 * 1024)}
    error = error_of(post(api, envelope(payload=payload)), 413, "payload_too_large")
    assert error["details"] == {"limit_bytes": 1024 * 1024}


def test_body_limit_is_configurable(api_store_url: str) -> None:
    for harness in make_harness(api_store_url, max_event_bytes=2048):
        small = post(harness, envelope())
        assert small.status_code == 201, small.text
        payload = {**envelope()["payload"], "blob": "x" * 2048}
        error = error_of(post(harness, envelope("t-2", 0, payload=payload)), 413,
                         "payload_too_large")  # fmt: skip
        assert error["details"] == {"limit_bytes": 2048}
        assert harness.store.get_last_log_seq(TENANT) == 1


def test_authentication_and_tenancy(api: ApiHarness, unchanged: None) -> None:
    body = envelope()
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = api.client.post(URL, json=body, headers=headers)
        error_of(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
    unknown = "dg_" + "a" * 16 + "_" + "b" * 43
    error_of(api.client.post(URL, json=body, headers={"Authorization": f"Bearer {unknown}"}),
             401, "unauthorized")  # fmt: skip
    # A reader may not write; the permission check comes before the body checks.
    error = error_of(post_raw(api, "{", {**api.headers("reader"), **JSON}), 403, "forbidden")
    assert error["details"] == {"required_permission": "events:write"}
    # Missing authentication comes before the content type.
    error_of(post_raw(api, "{", {}), 401, "unauthorized")
    api.add_key("globex-writer", "writer", [OTHER_TENANT])
    error = error_of(post(api, body, "globex-writer", **{"X-Tenant-Id": TENANT}), 403,
                     "forbidden")  # fmt: skip
    assert error["details"] == {"tenant_id": TENANT}
    error = error_of(post(api, body, **{"X-Tenant-Id": "bad tenant!"}), 400, "invalid_argument")
    assert error["details"]["errors"][0]["location"] == "header"
    assert api.store.get_last_log_seq(OTHER_TENANT) == 0


def test_explicit_tenant_header_and_tenant_isolation(api: ApiHarness) -> None:
    api.add_key("both", "writer", [TENANT, OTHER_TENANT])
    error_of(post(api, envelope(), "both"), 400, "invalid_argument")
    assert post(api, envelope(), "both", **{"X-Tenant-Id": OTHER_TENANT}).status_code == 201
    # Tenants reuse ids freely: the same envelope is new in acme.
    response = post(api, envelope(), **{"X-Tenant-Id": TENANT})
    assert response.status_code == 201
    assert response.json()["data"]["reused"] is False
    assert api.store.get_last_log_seq(OTHER_TENANT) == 1
    assert api.store.get_last_log_seq(TENANT) == 1


def test_big_integers_survive_post_and_get(api: ApiHarness) -> None:
    payload = {**envelope()["payload"], "amount": BIG, "nested": [{"n": -BIG}]}
    response = post(api, envelope(payload=payload))
    assert response.status_code == 201, response.text
    assert f'"amount":{BIG}' in response.text
    assert response.json()["data"]["event"]["payload"]["nested"] == [{"n": -BIG}]
    listed = api.client.get(URL, headers=api.headers("reader"))
    assert listed.json()["data"]["items"][0]["payload"]["amount"] == BIG
    assert f"{BIG}" in listed.text
    assert "1.1805916207174113e+21" not in listed.text


def _variants(valid: dict[str, Any]) -> Iterator[Any]:
    """``valid`` and many near misses: each member missing or of every JSON type,
    unknown members at every level, non-string tags."""
    values: list[Any] = [None, True, 0, 1, 1.0, -(2**70), "", "s", [], ["a"], {}, {"k": "v"}]
    yield valid
    yield {**valid, "extra": 1}
    yield [valid]
    for key in valid:
        yield {k: v for k, v in valid.items() if k != key}
        for value in values:
            yield {**valid, key: value}
    for member in ("source", "actor"):
        nested = valid[member]
        yield {**valid, member: {**nested, "extra": "x"}}
        for key in nested:
            yield {**valid, member: {k: v for k, v in nested.items() if k != key}}
            for value in values:
                yield {**valid, member: {**nested, key: value}}
    for tags in (["a", 1], ["a", None], [["a"]]):
        yield {**valid, "tags": tags}


def test_fast_envelope_check_accepts_exactly_what_the_full_check_accepts() -> None:
    from decisiongraph.api.envelopes import _checked, _well_typed
    from decisiongraph.errors import SchemaViolation

    full = envelope(tags=("t",), correlation_id="c")
    minimal = {k: v for k, v in envelope().items() if k not in ("tags", "schema_version")}
    minimal["source"] = {k: v for k, v in minimal["source"].items() if k != "subsystem"}
    accepted = 0
    for valid in (full, minimal):
        for body in _variants(valid):
            fast = _well_typed(body)
            try:
                reference = _checked(body, "$")
            except SchemaViolation:
                assert fast is None, body
                continue
            assert fast == reference, body
            accepted += 1
    assert accepted > 20  # both paths accept the valid bodies and the harmless variants
