"""The OpenAPI document (HTTP_API 7): valid OpenAPI 3.1, generated from the route
declarations (every operation, status, parameter and header), committed up to date,
and served byte for byte as generated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openapi_spec_validator import OpenAPIV31SpecValidator

from decisiongraph import __version__
from decisiongraph.api.app import all_operations
from decisiongraph.api.errors import API_CODES
from decisiongraph.api.openapi import build_document, document_text, openapi_bytes
from decisiongraph.api.openapi_responses import GENERAL_ERROR_STATUSES, RAW_ROUTES
from decisiongraph.api.operations import Operation
from tests.api.openapi_checks import documented_operation, path_params, resolve

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "api" / "openapi.json"
REGENERATE = "decisiongraph openapi --output docs/api/openapi.json"
DOC = build_document()
OPERATIONS = all_operations()


def test_document_is_valid_openapi_3_1_with_the_server_version() -> None:
    OpenAPIV31SpecValidator(DOC).validate()

    assert DOC["openapi"] == "3.1.0"
    assert DOC["info"]["version"] == __version__
    assert "Deprecation" in DOC["components"]["headers"]
    assert "Deprecation" in DOC["info"]["description"]


def test_committed_document_equals_a_fresh_generation() -> None:
    committed = COMMITTED.read_text(encoding="utf-8") if COMMITTED.is_file() else ""

    assert committed == document_text(), (
        f"docs/api/openapi.json is out of date with the routes; run `{REGENERATE}` "
        "and review the diff (with its changelog entry)."
    )


def test_text_is_deterministic_sorted_two_space_indented_with_a_final_newline() -> None:
    text = document_text()

    assert text == document_text(build_document())
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert text.endswith("}\n")
    assert openapi_bytes() == text.encode("utf-8")


def test_every_operation_is_documented_once_with_a_unique_operation_id() -> None:
    ids = [op.operation_id for op in OPERATIONS]
    documented = [
        operation["operationId"]
        for path_item in DOC["paths"].values()
        for operation in path_item.values()
    ]

    assert len(set(ids)) == len(ids)
    assert sorted(documented) == sorted(ids)
    for op in OPERATIONS:
        operation = documented_operation(DOC, op)
        assert operation["operationId"] == op.operation_id
        assert operation["summary"] == op.summary
        assert operation["description"] == (op.description or op.summary)
        assert operation["x-dg-permission"] == op.permission
        assert operation["x-dg-rate-scope"] == op.rate_scope
        assert operation.get("x-dg-ordering") == (op.ordering or None)
        key: dict[str, list[str]] = {"bearerAuth": []}
        if op.permission is not None:
            assert operation["security"] == [key]
        else:  # anonymous, or optionally authenticated when it can answer 401
            assert operation["security"] == ([{}, key] if 401 in op.error_statuses else [])


def test_every_status_an_operation_can_return_is_documented() -> None:
    for op in OPERATIONS:
        statuses = {int(status) for status in documented_operation(DOC, op)["responses"]}

        assert op.success_status in statuses, op.operation_id
        assert set(op.error_statuses) <= statuses, op.operation_id
        assert 405 in statuses
        assert 500 in statuses
        if op.permission is not None:
            assert set(GENERAL_ERROR_STATUSES) <= statuses, op.operation_id
        else:
            # Unauthenticated routes cannot answer what auth, tenancy or limits decide.
            assert not {401, 403, 429} & (statuses - set(op.error_statuses)), op.operation_id


def test_documented_parameters_equal_the_declarations() -> None:
    for op in OPERATIONS:
        params = documented_operation(DOC, op)["parameters"]
        query = [p for p in params if p.get("in") == "query"]
        path = [p["name"] for p in params if p.get("in") == "path"]
        headers = [resolve(DOC, p)["name"] for p in params if "$ref" in p]

        assert query == [param.openapi() for param in op.params], op.operation_id
        assert path == path_params(op.path)
        assert all(p["required"] for p in params if p.get("in") == "path")
        assert "X-Request-Id" in headers
        assert ("X-Tenant-Id" in headers) == (op.permission is not None and op.tenant_scoped)
        assert ("Last-Event-ID" in headers) == (op.path == "/api/v1/events/stream")


def test_every_error_response_is_the_one_shared_error_envelope() -> None:
    envelope = DOC["components"]["schemas"]["ErrorEnvelope"]
    error_body = resolve(DOC, envelope["properties"]["error"])

    assert envelope["required"] == ["error", "request_id"]
    assert error_body["properties"]["code"]["enum"] == list(API_CODES)
    for op in OPERATIONS:
        for status, response in documented_operation(DOC, op)["responses"].items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}


def test_success_bodies_are_enveloped_except_on_the_raw_routes() -> None:
    for op in OPERATIONS:
        operation = documented_operation(DOC, op)
        content = operation["responses"][str(op.success_status)]["content"]
        if op.path in RAW_ROUTES:
            assert list(content) == [RAW_ROUTES[op.path].media_type]
            continue
        schema = content["application/json"]["schema"]
        assert schema["required"] == ["data", "request_id"]
        if op.success_model is not None:
            data = resolve(DOC, schema["properties"]["data"])
            assert data["title"] == op.success_model.__name__
        if op.body is not None:
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            assert resolve(DOC, body)["title"] == op.body.__name__
        else:
            assert "requestBody" not in operation


def test_batch_route_documents_201_and_207_with_the_results_body() -> None:
    responses = DOC["paths"]["/api/v1/events/batch"]["post"]["responses"]

    for status in ("201", "207"):
        data = responses[status]["content"]["application/json"]["schema"]["properties"]["data"]
        assert resolve(DOC, data)["title"] == "BatchResults", status


def _header_names(op: Operation, status: int) -> set[str]:
    response = documented_operation(DOC, op)["responses"][str(status)]
    return set(response["headers"])


def test_every_response_documents_the_contract_headers() -> None:
    for op in OPERATIONS:
        for status in map(int, documented_operation(DOC, op)["responses"]):
            names = _header_names(op, status)
            assert {"X-Request-Id", "Cache-Control"} <= names
            success = status < 300
            assert ("X-DG-Projection-Log-Seq" in names) == (
                op.projection_backed and (success or status == 409)
            ), (op.operation_id, status)
            if op.rate_scope and success:
                assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= names
            if not op.rate_scope:
                assert not any(name.startswith("RateLimit-") for name in names)
            assert ("Retry-After" in names) == (status in (429, 503))
            assert ("Allow" in names) == (status == 405)
            assert ("WWW-Authenticate" in names) == (status == 401)
    append = next(op for op in OPERATIONS if op.operation_id == "appendEvent")
    assert "Idempotent-Replayed" in _header_names(append, 201)


def _noop(call: Any) -> Any:
    raise AssertionError("never called")


def test_generator_documents_extra_responses_ordering_and_path_parameters() -> None:
    from decisiongraph.api.models.events import BatchIn, BatchResults, EventPageOut

    ops = [
        Operation(
            operation_id="appendBatchish",
            method="POST",
            path="/api/v1/things/{thing_id}/batch",
            summary="A synthetic route",
            handler=_noop,
            permission="events:write",
            rate_scope="write",
            body=BatchIn,
            success_status=201,
            success_model=BatchResults,
            error_statuses=(413,),
            ordering="index ascending",
            extra_responses={
                207: {"description": "Per-item outcomes.", "model": BatchResults},
                409: {"description": "Refined conflict."},
            },
        ),
        Operation(
            "page",
            "GET",
            "/api/v1/things",
            "Pages",
            _noop,
            "traces:read",
            "read",
            success_model=EventPageOut,
            projection_backed=True,
        ),
    ]
    doc = build_document(ops)
    OpenAPIV31SpecValidator(doc).validate()
    batch = doc["paths"]["/api/v1/things/{thing_id}/batch"]["post"]
    responses = batch["responses"]

    statuses = (201, 207, 400, 401, 403, 404, 405, 409, 413, 429, 500, 503)
    assert set(responses) == {str(status) for status in statuses}
    assert responses["207"]["description"] == "Per-item outcomes."
    data = responses["207"]["content"]["application/json"]["schema"]["properties"]["data"]
    assert data == {"$ref": "#/components/schemas/BatchResults"}
    assert {"X-Request-Id", "RateLimit-Limit"} <= set(responses["207"]["headers"])
    assert responses["409"]["description"] == "Refined conflict."
    assert batch["x-dg-ordering"] == "index ascending"
    assert batch["parameters"][0]["name"] == "thing_id"
    assert batch["tags"] == ["things"]
    page = doc["paths"]["/api/v1/things"]["get"]["responses"]["200"]
    assert "X-DG-Projection-Log-Seq" in page["headers"]
    assert set(doc["components"]["schemas"]) >= {"BatchIn", "BatchResults", "ErrorEnvelope"}
