"""Readers of the OpenAPI document for the tests: find an operation, resolve a local
``$ref``, and check a real response against what the document says of it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

from openapi_schema_validator import OAS31Validator, validate

from decisiongraph.api.operations import Operation

__all__ = ["assert_documented", "documented_operation", "path_params", "resolve"]

_PATH_PARAM = re.compile(r"\{([^}]+)\}")


class Response(Protocol):
    """What the checks read of a response (httpx's, whichever httpx the client uses)."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def text(self) -> str: ...
    def json(self, **kwargs: Any) -> Any: ...


def documented_operation(doc: dict[str, Any], op: Operation) -> dict[str, Any]:
    """The operation object of ``op`` in ``doc`` (KeyError if it is missing)."""
    operation: dict[str, Any] = doc["paths"][op.path][op.method.lower()]
    return operation


def path_params(path: str) -> list[str]:
    """The ``{name}`` segments of a path template, in order."""
    return _PATH_PARAM.findall(path)


def resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with a local ``$ref`` (``#/a/b``) followed; other nodes unchanged."""
    ref = node.get("$ref")
    if ref is None:
        return node
    target: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    resolved: dict[str, Any] = target
    return resolved


def validate_json(doc: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    """Validate ``instance`` against a document schema (its local refs resolved)."""
    validate(instance, {**schema, "components": doc["components"]}, cls=OAS31Validator)


def assert_documented(doc: dict[str, Any], op: Operation, response: Response) -> None:
    """The response's status is documented for ``op``, every header the document marks
    required is present, and a JSON body validates against the documented schema."""
    responses = documented_operation(doc, op)["responses"]
    status = str(response.status_code)
    assert status in responses, (op.operation_id, status, response.text[:300])
    documented = responses[status]
    for name, header in documented["headers"].items():
        if resolve(doc, header)["required"]:
            assert name in response.headers, (op.operation_id, status, name)
    media = response.headers["content-type"].split(";")[0].strip()
    assert media in documented["content"], (op.operation_id, status, media)
    if media == "application/json":
        validate_json(doc, documented["content"][media]["schema"], response.json())
