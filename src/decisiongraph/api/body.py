"""Request bodies (HTTP_API 1.3, 1.6 step 7): content type (415) and strict JSON
syntax (400); the size limit (413) is applied where the body is read
(:mod:`decisiongraph.api.operations`).

Bodies are parsed with the stdlib ``json`` module so integers of any size stay exact;
``NaN``/``Infinity`` literals and duplicate member names are refused (a JSON object with
a repeated name has no single meaning, and an audit trail must not guess).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from decisiongraph.errors import InvalidArgument, UnsupportedMediaType

__all__ = ["check_content_type", "parse_json"]

_JSON_TYPES = ("application/json",)


class _DuplicateKeyError(ValueError):
    pass


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _body_error(message: str) -> InvalidArgument:
    return InvalidArgument(
        message, {"errors": [{"location": "body", "path": "$", "message": message}]}
    )


def parse_json(raw: bytes) -> Any:
    """Parse ``raw`` strictly; raises InvalidArgument (400) saying what is wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _body_error(f"The body is not UTF-8 (byte {exc.start})") from exc
    try:
        return json.loads(
            text, object_pairs_hook=_object_without_duplicates, parse_constant=_refuse_constant
        )
    except _DuplicateKeyError as exc:
        raise _body_error(f"Duplicate member name {exc.args[0]!r} in the JSON body") from exc
    except RecursionError as exc:
        raise _body_error("The JSON body is nested too deeply") from exc
    except ValueError as exc:
        raise _body_error(f"The body is not valid JSON: {exc}") from exc


def check_content_type(request: Request) -> None:
    """415 unless the body is declared ``application/json`` (optionally UTF-8)."""
    content_type = request.headers.get("content-type", "")
    media, _, params = content_type.partition(";")
    charset = params.strip().lower().replace(" ", "")
    if media.strip().lower() not in _JSON_TYPES or charset not in ("", "charset=utf-8"):
        raise UnsupportedMediaType(
            "Send the body as Content-Type: application/json",
            {"expected": "application/json"},
        )
