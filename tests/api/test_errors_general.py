"""General rules of every route (HTTP_API 1.1, 1.3-1.5): 404 for unknown routes (a
trailing slash included, no redirects), 405 with ``Allow`` for every listed path,
``X-Request-Id`` echoed or generated and ``Cache-Control: no-store`` on every kind of
response, 401 with ``WWW-Authenticate``, and 500s that reveal nothing."""

from __future__ import annotations

import logging
import re

import pytest
from httpx2 import Response

from decisiongraph.api.app import all_operations
from decisiongraph.projections.tables import Sql
from tests.api.conftest import OTHER_TENANT, TENANT, ApiHarness
from tests.api.reads import assert_envelope_error, read, seed
from tests.helpers import trace_envelopes

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


def _allowed_by_path() -> dict[str, list[str]]:
    paths: dict[str, list[str]] = {}
    for op in all_operations():
        paths.setdefault(op.path, []).append(op.method)
    return {path: sorted(methods) for path, methods in paths.items()}


def _assert_common(response: Response, request_id: str | None = None) -> None:
    assert response.headers["Cache-Control"] == "no-store"
    sent = response.headers["X-Request-Id"]
    if request_id is None:
        assert GENERATED_ID.fullmatch(sent), sent
    else:
        assert sent == request_id
    if response.headers.get("Content-Type", "").startswith("application/json"):
        body = response.json()
        if "request_id" in body:
            assert body["request_id"] == sent


def test_unknown_routes_are_404_without_redirects(api: ApiHarness) -> None:
    paths = ["/nope", "/api/v1/nope", "/api/v2/traces", "/api/v1/traces/x1/events/more"]
    paths += [f"{_concrete(path)}/" for path in _allowed_by_path()]  # trailing slashes
    for path in paths:
        for method in ("GET", "POST"):
            response = api.client.request(
                method, path, headers=api.headers("admin"), follow_redirects=False
            )
            assert assert_envelope_error(response, 404, "not_found") == {}, (method, path)
            assert "Location" not in response.headers
            _assert_common(response)


def test_unlisted_methods_are_405_with_the_allow_list(api: ApiHarness) -> None:
    allowed_by_path = _allowed_by_path()
    assert "/api/v1/graph/edges" in allowed_by_path
    assert len(allowed_by_path) >= 10
    for path, allowed in allowed_by_path.items():
        for method in (m for m in METHODS if m not in allowed):
            # No credentials: the method check comes first (1.6 step 1).
            response = api.client.request(method, _concrete(path))
            details = assert_envelope_error(response, 405, "method_not_allowed")
            assert details == {"allowed": allowed}, (method, path)
            assert response.headers["Allow"] == ", ".join(allowed)
            _assert_common(response)


def test_missing_or_bad_keys_are_401_with_www_authenticate(api: ApiHarness) -> None:
    for authorization in (
        None,
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer dg_short_secret",
        f"Bearer dg_{'a' * 16}_{'b' * 43}",  # well formed, unknown key
        f"Bearer {api.tokens['reader']}x",
    ):
        headers = {} if authorization is None else {"Authorization": authorization}
        response = api.client.get("/api/v1/graph/edges?node_type=trace&node_id=x", headers=headers)
        assert assert_envelope_error(response, 401, "unauthorized") == {}, authorization
        assert response.headers["WWW-Authenticate"] == "Bearer"
        _assert_common(response)


def test_request_ids_are_echoed_or_generated_on_every_kind_of_response(api: ApiHarness) -> None:
    seed(api, [trace_envelopes("t1", 2)])
    seed(api, [trace_envelopes("t2", 2)], project=False)
    auth = api.headers("reader")
    cases: list[tuple[str, str, dict[str, str], int]] = [
        ("GET", "/healthz", {}, 200),
        ("GET", "/api/v1/traces?consistency=eventual", auth, 200),
        ("GET", "/api/v1/traces?limit=0", auth, 400),
        ("GET", "/api/v1/traces", {}, 401),
        ("GET", "/api/v1/traces", {**auth, "X-Tenant-Id": OTHER_TENANT}, 403),
        ("GET", "/api/v1/traces/unknown", auth, 404),
        ("GET", "/api/v1/unknown", auth, 404),
        ("DELETE", "/api/v1/traces", auth, 405),
        ("GET", "/api/v1/traces", auth, 409),
    ]
    for method, path, headers, status in cases:
        for sent, expected in (
            ("client-id.1:A_b-c", "client-id.1:A_b-c"),
            ("a" * 128, "a" * 128),
            ("a" * 129, None),
            ("bad id!", None),
            ("", None),
        ):
            response = api.client.request(method, path, headers={**headers, "X-Request-Id": sent})
            assert response.status_code == status, (path, response.text)
            _assert_common(response, expected)
        generated = api.client.request(method, path, headers=headers)
        _assert_common(generated)
        again = api.client.request(method, path, headers=headers)
        assert again.headers["X-Request-Id"] != generated.headers["X-Request-Id"]


def test_an_unexpected_failure_is_a_bare_500(
    api: ApiHarness, caplog: pytest.LogCaptureFixture
) -> None:
    seed(api, [trace_envelopes("t1", 2)])
    # Corrupt a projection row behind the app's back: the graph read then fails with
    # an error no layer expects (a JSON decode error), as a bug would.
    with api.store.transaction() as conn:
        Sql(conn, api.store.dialect).execute(
            "UPDATE dg_cg_edges SET metadata_json = %s WHERE tenant_id = %s",
            ("{corrupt: SELECT secret", TENANT),
        )
    with caplog.at_level(logging.ERROR, logger="decisiongraph.api"):
        response = read(api, "/api/v1/graph/context?node_type=trace&node_id=t1")
    assert assert_envelope_error(response, 500, "internal_error") == {}
    _assert_common(response)
    text = response.text
    for leak in ("Traceback", "JSONDecode", "Expecting", "corrupt", "SELECT", "dg_cg", "line "):
        assert leak not in text, leak
    request_id = response.headers["X-Request-Id"]
    assert any(request_id in record.getMessage() for record in caplog.records)
    # The app keeps serving.
    assert read(api, "/api/v1/traces").status_code == 200


def test_a_failing_database_is_503_storage_with_retry_after(api: ApiHarness) -> None:
    api.store.close()
    response = read(api, "/api/v1/traces")
    assert assert_envelope_error(response, 503, "storage") == {}
    assert int(response.headers["Retry-After"]) >= 1
    _assert_common(response)
    assert api.client.get("/healthz").status_code == 200
