"""The application factory: ``create_app(settings)`` builds the FastAPI app of the
contract (HTTP_API.md).

Routes are registered from their :class:`~decisiongraph.api.operations.Operation`
declarations, one Starlette route per path that dispatches on the method, so an
unlisted method gets 405 with the path's complete ``Allow`` list and an unlisted path
(a trailing slash included: no redirects) gets 404, both in the error envelope. The
OpenAPI document is generated from the same declarations
(:mod:`decisiongraph.api.openapi`).

The lifespan opens the store (unless one is given), builds the shared services and,
unless ``settings.projector`` is off, runs a projection worker thread; on shutdown the
worker stops (releasing its leases) and the store closes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from decisiongraph import __version__
from decisiongraph.api.errors import error_response
from decisiongraph.api.metrics import Metrics
from decisiongraph.api.middleware import RequestMiddleware, request_id_of
from decisiongraph.api.operations import Operation, make_endpoint
from decisiongraph.api.state import AppState
from decisiongraph.errors import MethodNotAllowed, NotFound
from decisiongraph.projections.worker import ProjectionWorker
from decisiongraph.query.cursors import CursorCodec
from decisiongraph.service.audit import AuditLog
from decisiongraph.service.auth import Authenticator
from decisiongraph.service.secrets import cursor_secret
from decisiongraph.service.settings import ServiceSettings
from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.factory import open_store

__all__ = ["all_operations", "create_app"]

logger = logging.getLogger("decisiongraph.api")


def all_operations() -> list[Operation]:
    """Every operation of the contract served by this version, in document order."""
    from decisiongraph.api.routes import (  # noqa: PLC0415 - avoids an import cycle
        events,
        graph,
        health,
        metrics,
        precedents,
        probes,
        stream,
        traces,
    )

    return [
        *probes.OPERATIONS,
        *metrics.OPERATIONS,
        *events.OPERATIONS,
        *stream.OPERATIONS,
        *traces.OPERATIONS,
        *graph.OPERATIONS,
        *precedents.OPERATIONS,
        *health.OPERATIONS,
    ]


class _PathApp:
    """The ASGI app of one path: dispatch on the method; any other method is 405 with
    the path's complete ``Allow`` list (an ASGI app, not a function endpoint, so the
    router matches every method and leaves the decision here)."""

    def __init__(self, path: str, operations: Sequence[Operation]) -> None:
        self.path = path
        self.by_method = {op.method: make_endpoint(op) for op in operations}
        self.allowed = sorted(self.by_method)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        handler = self.by_method.get(request.method)
        if handler is None:
            error = MethodNotAllowed(
                f"{request.method} is not allowed on {self.path}; use {', '.join(self.allowed)}",
                {"allowed": self.allowed},
            )
            response = error_response(error, request_id_of(scope))
        else:
            response = await handler(request)
        await response(scope, receive, send)


def _routes(operations: Sequence[Operation]) -> list[Route]:
    paths: dict[str, list[Operation]] = {}
    for op in operations:
        paths.setdefault(op.path, []).append(op)
    return [
        Route(path, _PathApp(path, ops), include_in_schema=False) for path, ops in paths.items()
    ]


async def _no_route(scope: Scope, receive: Receive, send: Send) -> None:
    """The router's default app: an unlisted path is 404 in the envelope."""
    if scope["type"] != "http":
        return
    error = NotFound(f"No route {scope['path']}; see /api/v1/openapi.json")
    await error_response(error, request_id_of(scope))(scope, receive, send)


class _ServiceApp(FastAPI):
    """The FastAPI app with ONE middleware, :class:`RequestMiddleware`, around the
    router (request id, headers, last-resort 500 envelope, metrics) instead of the
    framework's default stack; errors are enveloped by the routes and the router's
    default app, so exception handlers are not needed."""

    observe: Callable[[str, str, int, float], None] | None = None

    def build_middleware_stack(self) -> ASGIApp:
        return RequestMiddleware(self.router, self.observe)


def _build_state(settings: ServiceSettings, store: SqlEventStore) -> AppState:
    codec = CursorCodec(settings.cursor_secret or cursor_secret(store))
    return AppState(
        settings=settings,
        store=store,
        authenticator=Authenticator(store),
        audit=AuditLog(store),
        cursors=codec,
        executor=ThreadPoolExecutor(settings.request_threads, thread_name_prefix="dg-request"),
    )


@contextlib.contextmanager
def _projector_thread(settings: ServiceSettings, store: SqlEventStore) -> Iterator[None]:
    if not settings.projector:
        yield
        return
    worker = ProjectionWorker(store, listen_url=settings.database_url)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), name="dg-projector", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def create_app(
    settings: ServiceSettings | None = None, *, store: SqlEventStore | None = None
) -> FastAPI:
    """The DecisionGraph HTTP app. ``store``: serve this (already open) store instead of
    opening ``settings.database_url``; the caller keeps ownership of it."""
    settings = settings or ServiceSettings()
    metrics = Metrics(per_tenant=settings.metrics_require_auth)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = store is None
        active = (
            store
            if store is not None
            else open_store(settings.database_url, pool_size=settings.pool_size)
        )
        try:
            app.state.dg = _build_state(settings, active)
            try:
                with metrics.serving(app.state.dg), _projector_thread(settings, active):
                    yield
            finally:
                app.state.dg.executor.shutdown(wait=True)
        finally:
            if owned:
                active.close()

    app = _ServiceApp(
        title="DecisionGraph",
        version=__version__,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
        lifespan=lifespan,
    )
    app.router.routes.extend(_routes(all_operations()))
    app.router.default = _no_route
    app.observe = metrics.observe_request
    return app
