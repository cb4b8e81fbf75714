"""JSON rendering of responses: fast (orjson) and exact (integers of any size).

orjson refuses integers beyond 64 bits instead of losing them, so :func:`render_json`
falls back to the stdlib encoder for such documents. Stored payloads are embedded as
their stored JSON text (``orjson.Fragment``) without being parsed, which is both the
fastest path and exact by construction: the stored text (spec 3.3, on both backends)
came from the stdlib encoder, which writes big integers exactly.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from decisiongraph.domain.envelope import StoredEvent

__all__ = ["event_json", "render_json", "render_line"]


def _default(value: Any) -> Any:
    if isinstance(value, orjson.Fragment):  # pragma: no cover - orjson handles these
        return value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _stdlib_default(value: Any) -> Any:
    if isinstance(value, orjson.Fragment):
        # The stdlib encoder cannot splice raw text: parse it (exact for big ints).
        return json.loads(value.contents)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def render_json(document: Any) -> bytes:
    """``document`` as compact UTF-8 JSON, big integers exact."""
    try:
        return orjson.dumps(document, default=_default)
    except TypeError:
        # ASCII escapes: valid JSON even for a lone surrogate (a client's member name
        # echoed in an error message), which has no UTF-8 encoding.
        return json.dumps(
            document, ensure_ascii=True, separators=(",", ":"), default=_stdlib_default
        ).encode("ascii")


def render_line(document: Any) -> str:
    """``document`` as one line of JSON text (SSE ``data:`` lines)."""
    return render_json(document).decode("utf-8")


def event_json(event: StoredEvent, *, include_payload: bool = True) -> dict[str, Any]:
    """The API's ``StoredEvent`` object (HTTP_API 6.1), the payload spliced in as its
    stored text when available."""
    data = event.to_dict(include_payload=False)
    if include_payload:
        text = event.payload_json
        data["payload"] = orjson.Fragment(text) if text is not None else event.payload
    return data
