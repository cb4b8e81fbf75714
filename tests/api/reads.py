"""Helpers of the read-route tests: seeding a tenant through the real store and the
projector, issuing reads, and checking the contract's envelopes (HTTP_API 1.4, 1.5).

Events are appended with ``store.append_batch`` (the same pipeline the write routes
use); projections are caught up explicitly, so every test decides what is projected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from httpx2 import Response

from decisiongraph.domain.envelope import EventEnvelope, StoredEvent
from decisiongraph.projections.runner import Projector
from decisiongraph.store.base import AppendResult
from tests.api.conftest import TENANT, ApiHarness
from tests.query.support import TraceSpec

__all__ = [
    "assert_envelope_error",
    "assert_out_of_date",
    "assert_query_error",
    "data_of",
    "read",
    "seed",
]

PROJECTION_HEADER = "X-DG-Projection-Log-Seq"


def seed(
    api: ApiHarness,
    traces: Sequence[TraceSpec | Sequence[EventEnvelope]],
    *,
    tenant: str = TENANT,
    project: bool = True,
) -> list[StoredEvent]:
    """Append each trace (atomically, in order) and, if ``project``, catch the tenant's
    projections up. Returns the stored events in log order."""
    stored: list[StoredEvent] = []
    for trace in traces:
        envelopes = trace.envelopes() if isinstance(trace, TraceSpec) else list(trace)
        for outcome in api.store.append_batch(tenant, envelopes):
            assert isinstance(outcome, AppendResult), outcome  # atomic: all or an error
            stored.append(outcome.event)
    if project:
        Projector(api.store).catch_up(tenant)
    return stored


def read(
    api: ApiHarness,
    path: str,
    params: dict[str, Any] | str | None = None,
    *,
    role: str = "reader",
    tenant: str | None = None,
) -> Response:
    """``GET path`` with the key of ``role`` (and ``X-Tenant-Id`` if ``tenant``)."""
    if isinstance(params, str):
        path, params = f"{path}?{params}", None
    return api.client.get(path, params=params, headers=api.headers(role, tenant))


def data_of(response: Response, status: int = 200) -> Any:
    """The ``data`` of a success envelope (asserting the status and the envelope)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"data", "request_id"}
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    return body["data"]


def assert_envelope_error(response: Response, status: int, code: str) -> dict[str, Any]:
    """Assert the error envelope of ``status``/``code``; return its ``details``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "request_id"}
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    details: dict[str, Any] = body["error"]["details"]
    assert isinstance(details, dict)
    return details


def assert_query_error(response: Response, path: str) -> None:
    """A 400 ``invalid_argument`` naming the query parameter ``path``."""
    details = assert_envelope_error(response, 400, "invalid_argument")
    errors = details["errors"]
    assert [(e["location"], e["path"]) for e in errors] == [("query", path)], errors
    assert all(isinstance(e["message"], str) and e["message"] for e in errors)


def assert_out_of_date(
    response: Response, projection: str, projection_log_seq: int, required: int
) -> None:
    """A strict read's 409 with its details and the projection header."""
    details = assert_envelope_error(response, 409, "projection_out_of_date")
    assert details == {
        "projection": projection,
        "projection_log_seq": projection_log_seq,
        "required_log_seq": required,
    }
    assert response.headers[PROJECTION_HEADER] == str(projection_log_seq)
