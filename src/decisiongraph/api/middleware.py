"""The request-id middleware (HTTP_API 1.3): every response of every route carries
``X-Request-Id`` and ``Cache-Control: no-store``.

A client's ``X-Request-Id`` matching ``^[A-Za-z0-9._:-]{1,128}$`` is kept, otherwise a
new one (32 lowercase hex characters) is generated. The id is stored in the ASGI
scope's state (``request.state.request_id``) so handlers, error handlers and logs use
the same value. A plain ASGI middleware: no per-request task or body buffering.
"""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RequestIdMiddleware", "request_id_of"]

_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}", re.ASCII)
_HEADER = b"x-request-id"


def request_id_of(scope: Scope) -> str:
    """The request id of ``scope`` (set by the middleware; generated if missing)."""
    state = scope.setdefault("state", {})
    request_id = state.get("request_id")
    if request_id is None:
        request_id = uuid.uuid4().hex
        state["request_id"] = request_id
    return str(request_id)


def _client_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == _HEADER:
            text = value.decode("latin-1")
            return text if _VALID_ID.fullmatch(text) else None
    return None


class RequestIdMiddleware:
    """Assigns the request id and stamps it on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _client_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Request-Id"] = request_id
                if "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_id)
