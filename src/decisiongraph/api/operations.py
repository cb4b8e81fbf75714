"""Operations: each route declared once (method, path, permission, rate scope, query
parameters, body, responses) and wrapped so the checks of HTTP_API 1.6 run in the
contract's order before the handler sees the request:

1. route and method (404, 405; the router),
2. failed-auth throttle and 3. authentication (401),
4. tenant resolution (400, 403; a denial is audited), 5. permission (403),
6. admission: ``Operation.admission`` (the stream cap; the rate limiter of a later
   issue joins here),
7. content type (415), body size (413), JSON syntax (400),
8. query parameters (400),
9. body schema (422) and 10. route semantics: the handler.

The body is read (bounded by the route's limit) before the blocking part starts, so
steps 2-10 run in ONE worker-thread hop; its size and syntax are judged only at step
7. Handlers are plain functions of a :class:`Call` returning a :class:`Result`;
streaming handlers are ``async`` and return a Response.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from decisiongraph.api.body import check_content_type, parse_json
from decisiongraph.api.errors import error_response
from decisiongraph.api.middleware import request_id_of
from decisiongraph.api.params import Param, parse_query
from decisiongraph.api.rendering import render_json
from decisiongraph.api.state import AppState
from decisiongraph.errors import (
    DecisionGraphError,
    Forbidden,
    PayloadTooLarge,
    ProjectionOutOfDate,
    Unavailable,
)
from decisiongraph.service.auth import (
    Principal,
    is_well_formed_credential,
    require_permission,
    resolve_tenant,
)

__all__ = ["Call", "Operation", "Result", "make_endpoint"]

JSON_MEDIA_TYPE = "application/json; charset=utf-8"


@dataclass(slots=True)
class Result:
    """A handler's success: the ``data`` payload, the status and extra headers."""

    data: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Call:
    """One authorised request as a handler sees it."""

    request: Request
    request_id: str
    state: AppState
    principal: Principal | None
    tenant: str
    params: dict[str, Any]
    body: Any = None
    #: Bytes of the request body as received (0 without a body).
    body_size: int = 0
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def client_address(self) -> str | None:
        client = self.request.client
        return client.host if client else None


SyncHandler = Callable[[Call], Result]
AsyncHandler = Callable[[Call], Awaitable[Response]]


@dataclass(frozen=True)
class Operation:
    """A route of the contract. ``permission`` None: no authentication (probes,
    OpenAPI). ``body``: the request model (documentation and step 9 shape) or None
    for routes without a body; ``body_limit`` names the settings field bounding it."""

    operation_id: str
    method: str
    path: str
    summary: str
    handler: SyncHandler | AsyncHandler
    permission: str | None = None
    rate_scope: str | None = None
    params: Sequence[Param] = ()
    body: type[BaseModel] | None = None
    body_limit: str = "max_body_bytes"
    success_status: int = 200
    success_model: type[BaseModel] | None = None
    error_statuses: tuple[int, ...] = ()
    projection_backed: bool = False
    ordering: str | None = None
    description: str = ""
    tenant_scoped: bool = True
    # Step 6 (admission: rate limits, stream caps), run after the permission check and
    # before the body and parameters are judged; raises RateLimited to refuse.
    admission: Callable[[Call], None] | None = None
    extra_responses: dict[int, dict[str, Any]] = field(default_factory=dict)


class _RawBody:
    """The body bytes as read (bounded), judged later at step 7."""

    __slots__ = ("data", "too_large")

    def __init__(self, data: bytes, too_large: bool) -> None:
        self.data = data
        self.too_large = too_large


async def _read_bounded(request: Request, limit: int) -> _RawBody:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return _RawBody(b"", True)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return _RawBody(b"", True)
        chunks.append(chunk)
    return _RawBody(b"".join(chunks), False)


def _authorise(op: Operation, request: Request, state: AppState, request_id: str) -> Call:
    """Steps 2-5: authentication, tenant resolution, permission."""
    principal: Principal | None = None
    tenant = ""
    if op.permission is not None:
        principal = state.authenticator.authenticate(request.headers.get("authorization"))
        if op.tenant_scoped:
            try:
                tenant = resolve_tenant(principal, request.headers.get("x-tenant-id"))
            except Forbidden as denied:
                state.audit.record_tenant_denied(
                    principal,
                    str(denied.details.get("tenant_id", "")),
                    op.path,
                    request_id,
                    request.client.host if request.client else None,
                )
                raise
        require_permission(principal, op.permission)
    call = Call(request, request_id, state, principal, tenant, {})
    if op.admission is not None:
        op.admission(call)
    return call


def _prepare(op: Operation, call: Call, raw: _RawBody | None) -> None:
    """Steps 7-8: body (content type, size, JSON syntax), then query parameters."""
    if raw is not None:
        check_content_type(call.request)
        if raw.too_large:
            limit = getattr(call.state.settings, op.body_limit)
            raise PayloadTooLarge(f"The body is larger than {limit} bytes", {"limit_bytes": limit})
        call.body = parse_json(raw.data)
        call.body_size = len(raw.data)
    call.params = parse_query(call.request.query_params, op.params)


def _respond(result: Result, call: Call) -> Response:
    headers = {**call.headers, **result.headers}
    body = {"data": result.data, "request_id": call.request_id}
    return Response(
        render_json(body), status_code=result.status, headers=headers, media_type=JSON_MEDIA_TYPE
    )


def _error_headers(op: Operation, exc: DecisionGraphError) -> dict[str, str] | None:
    # Projection-backed routes name the cursor that answered, 409 included (1.8).
    if op.projection_backed and isinstance(exc, ProjectionOutOfDate):
        return {"X-DG-Projection-Log-Seq": str(exc.details.get("projection_log_seq", 0))}
    return None


async def _in_executor(state: AppState, fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn`` on the request executor, refusing work beyond the queue bound
    (HTTP_API 1.5: 503 ``unavailable`` on overload) instead of queueing without end.
    The counter is only touched on the event loop's thread, so it needs no lock."""
    if state.pending >= state.settings.request_queue:
        raise Unavailable(
            "The server is overloaded; retry shortly", {"retry_after_s": 1, "reason": "overload"}
        )
    state.pending += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(state.executor, fn, *args)
    finally:
        state.pending -= 1


def make_endpoint(op: Operation) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint running the checks of 1.6 and then ``op.handler``."""
    is_async = inspect.iscoroutinefunction(op.handler)
    has_body = op.body is not None

    def run_sync(request: Request, state: AppState, request_id: str, raw: _RawBody | None) -> Any:
        call = _authorise(op, request, state, request_id)
        _prepare(op, call, raw)
        if is_async:
            return call
        return _respond(op.handler(call), call)  # type: ignore[arg-type]

    # Routes without authentication and body (probes, the OpenAPI document, metrics)
    # run their checks on the event loop: nothing there blocks, and liveness must not
    # wait behind database work queued on the executor.
    on_loop = op.permission is None and not has_body

    async def endpoint(request: Request) -> Response:
        state: AppState = request.app.state.dg
        request_id = request_id_of(request.scope)
        try:
            if on_loop:
                outcome = run_sync(request, state, request_id, None)
            else:
                raw = None
                # A request whose credential cannot be a key gets its 401 (steps 2-3
                # come first) without the server buffering its body.
                if has_body and is_well_formed_credential(request.headers.get("authorization")):
                    raw = await _read_bounded(request, getattr(state.settings, op.body_limit))
                outcome = await _in_executor(state, run_sync, request, state, request_id, raw)
            if not is_async:
                return outcome  # type: ignore[no-any-return]
            return await op.handler(outcome)  # type: ignore[no-any-return,misc]
        except DecisionGraphError as exc:
            return error_response(exc, request_id, headers=_error_headers(op, exc))

    endpoint.__name__ = op.operation_id
    return endpoint
