"""The OpenAPI document as the server serves it and the CLI writes it, and the server's
real responses checked against it (statuses, required headers, JSON bodies)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from decisiongraph.api.app import all_operations
from decisiongraph.api.openapi import build_document, document_text
from decisiongraph.api.openapi_responses import RAW_ROUTES
from decisiongraph.api.operations import Operation
from tests.api.conftest import TENANT, ApiHarness
from tests.api.openapi_checks import assert_documented, path_params
from tests.cli.helpers import Cli
from tests.helpers import make_envelope

DOC = build_document()
OPERATIONS = all_operations()


def _by_id(operation_id: str) -> Operation:
    return next(op for op in OPERATIONS if op.operation_id == operation_id)


def _url(op: Operation) -> str:
    return re.sub(r"\{[^}]+\}", "no-such-id", op.path)


def test_served_document_is_the_generated_text_without_authentication(api: ApiHarness) -> None:
    response = api.client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    assert response.content == document_text().encode("utf-8")
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert_documented(DOC, _by_id("getOpenApi"), response)
    assert json.loads(response.content)["paths"].keys() == {op.path for op in OPERATIONS}


def test_probes_and_route_errors_match_the_document(api: ApiHarness) -> None:
    assert_documented(DOC, _by_id("healthz"), api.client.get("/healthz"))
    assert_documented(DOC, _by_id("readyz"), api.client.get("/readyz"))
    for path in sorted({op.path for op in OPERATIONS}):
        op = next(op for op in OPERATIONS if op.path == path)
        wrong_method = api.client.request("PATCH", _url(op))
        assert wrong_method.status_code == 405
        assert_documented(DOC, op, wrong_method)


def test_unauthenticated_requests_get_the_documented_401(api: ApiHarness) -> None:
    # One operation per area: enough to check the document, few enough to stay under the
    # failed-authentication throttle (HTTP_API 3.2).
    first_per_tag: dict[str, Operation] = {}
    for op in OPERATIONS:
        if op.permission is not None:
            tag = DOC["paths"][op.path][op.method.lower()]["tags"][0]
            first_per_tag.setdefault(tag, op)
    assert first_per_tag
    for op in first_per_tag.values():
        response = api.client.request(op.method, _url(op))
        assert response.status_code == 401, op.operation_id
        assert_documented(DOC, op, response)


def test_successful_reads_and_appends_match_the_document(api: ApiHarness) -> None:
    append = _by_id("appendEvent")
    envelope = make_envelope("trace-openapi", 0).to_dict()
    created = api.client.post(append.path, json=envelope, headers=api.headers("writer"))
    assert created.status_code == 201
    assert_documented(DOC, append, created)
    reused = api.client.post(append.path, json=envelope, headers=api.headers("writer"))
    assert reused.headers["Idempotent-Replayed"] == "true"
    assert_documented(DOC, append, reused)
    batch = _by_id("appendEventBatch")
    events = [
        make_envelope("trace-openapi", 1).to_dict(),
        make_envelope("trace-openapi", 5).to_dict(),
    ]
    outcomes = api.client.post(
        batch.path, json={"events": events, "atomic": False}, headers=api.headers("writer")
    )
    assert outcomes.status_code == 207
    assert_documented(DOC, batch, outcomes)
    api.project(TENANT)
    # Every read that needs no path or required query parameter, answered for real.
    simple_reads = [
        op
        for op in OPERATIONS
        if op.method == "GET"
        and op.permission is not None
        and op.path not in RAW_ROUTES
        and not path_params(op.path)
        and not any(param.required for param in op.params)
    ]
    assert simple_reads
    for op in simple_reads:
        response = api.client.get(op.path, headers=api.headers("admin"))
        assert response.status_code == op.success_status, (op.operation_id, response.text)
        assert_documented(DOC, op, response)


def test_cli_prints_and_writes_the_document(tmp_path: Path) -> None:
    cli = Cli()
    target = tmp_path / "docs" / "api" / "openapi.json"

    printed = cli.ok("openapi")
    cli.ok("openapi", "--output", str(target))

    assert printed.stdout == document_text()
    assert target.read_bytes() == document_text().encode("utf-8")
    assert cli.ok("openapi", "--output", str(target), "--check").stdout == ""


def test_cli_check_fails_on_a_stale_document(tmp_path: Path) -> None:
    cli = Cli()
    target = tmp_path / "openapi.json"
    target.write_text("{}\n", encoding="utf-8")

    stale = cli("openapi", "--output", str(target), "--check")
    missing = cli("openapi", "--output", str(tmp_path / "absent.json"), "--check")

    assert stale.exit_code == 1
    assert "decisiongraph openapi --output" in stale.stderr
    assert missing.exit_code == 1
    assert target.read_text(encoding="utf-8") == "{}\n"
