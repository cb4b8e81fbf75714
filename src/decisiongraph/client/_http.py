"""The HTTP exchange of the client: requests built as HTTP_API 1.3 defines them,
responses parsed exactly, error envelopes raised as library errors.

* Every request carries ``Authorization: Bearer <key>``, ``X-Tenant-Id`` when a tenant
  was given, and a fresh ``X-Request-Id`` (so even a request that got no answer has an
  id to quote).
* Query values: None is omitted; booleans are ``true``/``false``; sequences are *list*
  parameters, sent comma-joined (HTTP_API 1.3: values cannot hold commas).
* Bodies are encoded with the stdlib ``json`` (ASCII escapes, so a lone surrogate
  reaches the server, which refuses it with the library's code) and responses decoded
  with it too: integers of any size stay exact (no float or 64-bit detour).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from decisiongraph.client._errors import error_from_body, transport_error
from decisiongraph.errors import InvalidArgument, SchemaViolation

__all__ = ["Reply", "Transport", "encode_json", "path_segment"]

QueryValue = str | int | bool | Sequence[str] | None


@dataclass(frozen=True, slots=True)
class Reply:
    """A successful enveloped response: its ``data``, status and headers."""

    data: Any
    status: int
    headers: httpx.Headers
    request_id: str | None


def encode_json(document: Any) -> bytes:
    """``document`` as JSON bytes; NaN and infinities are refused here because JSON
    cannot carry them (the library refuses floats in payloads the same way)."""
    try:
        text = json.dumps(document, separators=(",", ":"), allow_nan=False)
    except ValueError as exc:
        raise SchemaViolation(f"The body holds a value JSON cannot carry: {exc}") from exc
    except TypeError as exc:
        raise InvalidArgument(f"The body is not JSON-serialisable: {exc}") from exc
    return text.encode("ascii")


def path_segment(value: str) -> str:
    """``value`` as one percent-encoded path segment."""
    return quote(value, safe="")


def _query(params: Mapping[str, QueryValue]) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        elif isinstance(value, int | str):
            pairs.append((name, str(value)))
        else:
            pairs.append((name, ",".join(value)))
    return tuple(pairs)


def _decode(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


class Transport:
    """One service endpoint, key and tenant over an ``httpx.Client``."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        tenant: str | None,
        *,
        timeout: float,
        http_client: httpx.Client | None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        if tenant is not None:
            self._headers["X-Tenant-Id"] = tenant
        self._owns_client = http_client is None
        self._client = http_client if http_client is not None else httpx.Client(timeout=timeout)
        self.timeout = timeout

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, QueryValue] | None,
        body: Any,
        headers: Mapping[str, str] | None,
    ) -> tuple[httpx.Request, str]:
        request_id = uuid.uuid4().hex
        all_headers = {**self._headers, "X-Request-Id": request_id, **(headers or {})}
        content = None
        if body is not None:
            content = encode_json(body)
            all_headers["Content-Type"] = "application/json"
        request = self._client.build_request(
            method,
            self.base_url + path,
            params=_query(params or {}),
            content=content,
            headers=all_headers,
            timeout=self.timeout,
        )
        return request, request_id

    def call(
        self,
        method: str,
        path: str,
        params: Mapping[str, QueryValue] | None = None,
        body: Any = None,
    ) -> Reply:
        """Send a request; the parsed success envelope, or raise its error."""
        request, request_id = self._request(method, path, params, body, None)
        try:
            response = self._client.send(request)
        except httpx.TransportError as exc:
            raise transport_error(exc, request_id) from exc
        document = _decode(response)
        answered_id = response.headers.get("X-Request-Id", request_id)
        if response.status_code >= 400 or not isinstance(document, dict) or "data" not in document:
            raise error_from_body(response.status_code, document, answered_id)
        return Reply(document["data"], response.status_code, response.headers, answered_id)

    @contextmanager
    def stream(
        self,
        path: str,
        params: Mapping[str, QueryValue],
        headers: Mapping[str, str],
        read_timeout: float,
    ) -> Iterator[httpx.Response]:
        """Open a streaming GET; yields the 200 response, raises the error otherwise."""
        request, request_id = self._request("GET", path, params, None, headers)
        request.extensions["timeout"] = httpx.Timeout(self.timeout, read=read_timeout).as_dict()
        try:
            response = self._client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise transport_error(exc, request_id) from exc
        try:
            if response.status_code != 200:
                response.read()
                answered_id = response.headers.get("X-Request-Id", request_id)
                raise error_from_body(response.status_code, _decode(response), answered_id)
            yield response
        finally:
            response.close()
