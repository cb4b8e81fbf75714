"""Serving the app with uvicorn (uvloop + httptools): ``decisiongraph serve``.

Invariants:

* one worker serves ``create_app(settings)`` in this process (built by the server, as
  in every worker, once uvicorn's signal handlers are in place); ``workers > 1`` uses
  uvicorn's multi-process mode, whose workers build the app with
  :func:`app_from_environment` from the ``DG_*`` variables this module exports
  (:func:`settings_environment` round-trips every setting), and whose counters are
  summed through a fresh ``PROMETHEUS_MULTIPROC_DIR`` (removed at exit);
* the socket is bound before serving (:func:`bind_listener`: a taken port is an
  OSError for the caller, not an exit from inside uvicorn), so ``port=0`` picks a
  free port and the announced URL names the real one; the announcement comes once
  the port accepts connections (one worker: once the app has started);
* SIGTERM and SIGINT shut down gracefully (open event streams end at once with an
  error frame, new connections are refused, in-flight requests finish within
  ``graceful_timeout_s``, then the lifespan stops the projector and closes the store),
  and :func:`run_server` returns normally, so the command exits 0 (uvicorn re-raises
  the signal after its shutdown; the handlers installed here absorb it);
* logs go to stderr; the access log only when asked for.
"""

from __future__ import annotations

import copy
import gc
import math
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG
from uvicorn.supervisors import Multiprocess

from decisiongraph.api.app import create_app
from decisiongraph.api.routes.stream import shutdown_streams
from decisiongraph.service.settings import ServiceSettings

__all__ = [
    "app_from_environment",
    "bind_listener",
    "log_config",
    "run_server",
    "settings_environment",
]

_ENV_PREFIX = "DG_"
_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


_EXIT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


# Young-generation GC threshold of a serving process. Every request allocates many
# short-lived containers (parsed JSON, rows, response dicts); with the default (700)
# the collector runs every few requests and re-scans the long-lived objects of the
# app. Measured on the batch route: 63 -> 42 ms of server CPU per 1000 events.
_GC_THRESHOLDS = (50_000, 20, 100)


def _tune_gc() -> None:
    """Freeze what exists once the app is built (modules, settings, routes: never
    garbage) out of every future collection, and collect young objects less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)


def _serving_app(settings: ServiceSettings) -> FastAPI:
    """The app, built inside the server (uvicorn's signal handlers are installed by
    then): a shutdown signal first ends the open event streams, which the server
    would otherwise wait for until the graceful timeout, then reaches uvicorn."""
    app = create_app(settings)
    for sig in _EXIT_SIGNALS:
        previous = signal.getsignal(sig)

        def end_streams(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
            state = getattr(app.state, "dg", None)
            if state is not None:
                shutdown_streams(state)
            if callable(previous):
                previous(signum, frame)

        signal.signal(sig, end_streams)
    _tune_gc()
    return app


def app_from_environment() -> FastAPI:
    """The app factory of the workers of ``serve --workers N``: settings from ``DG_*``."""
    return _serving_app(ServiceSettings())


def settings_environment(settings: ServiceSettings) -> dict[str, str]:
    """``DG_*`` variables from which ``ServiceSettings()`` rebuilds ``settings``."""
    return {
        f"{_ENV_PREFIX}{name.upper()}": str(value)
        for name, value in settings.model_dump().items()
        if value is not None
    }


def log_config(*, access_log: bool) -> dict[str, Any]:
    """uvicorn's logging configuration: warnings and errors (and the access log when
    asked for) on stderr; the package's own loggers through the root logger."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["plain"] = {"format": "%(levelname)s %(name)s: %(message)s"}
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    config["handlers"]["root"] = {
        "formatter": "plain",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["uvicorn"]["level"] = "WARNING"
    config["loggers"]["uvicorn.error"]["level"] = "WARNING"
    config["loggers"]["uvicorn.access"]["level"] = "INFO" if access_log else "WARNING"
    config["root"] = {"handlers": ["root"], "level": "WARNING"}
    return config


def bind_listener(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``(host, port)`` (``port`` 0: a free one), inheritable by
    the workers; OSError (e.g. the port is taken) is the caller's to report."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _url(config: uvicorn.Config, sock: socket.socket) -> str:
    host = config.host
    port = sock.getsockname()[1]
    scheme = "https" if config.is_ssl else "http"
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


class _AnnouncingServer(uvicorn.Server):
    """A uvicorn server that calls ``announce()`` once it accepts connections."""

    def __init__(self, config: uvicorn.Config, announce: Callable[[], None]) -> None:
        super().__init__(config)
        self._announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and not self.should_exit:
            self._announce()


@contextmanager
def _graceful_signals(server: uvicorn.Server) -> Iterator[None]:
    """SIGINT/SIGTERM ask ``server`` to stop; uvicorn's re-raise after its graceful
    shutdown lands here too and is absorbed (exit code 0 instead of death by signal)."""

    def stop(_signum: int, _frame: FrameType | None) -> None:
        server.should_exit = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _worker_environment(settings: ServiceSettings) -> Iterator[None]:
    """Export the settings (and a metrics directory shared by the workers) for the
    spawned workers; restore the environment afterwards."""
    saved = dict(os.environ)
    created: str | None = None
    os.environ.update(settings_environment(settings))
    if not os.environ.get(_MULTIPROC_ENV):
        created = tempfile.mkdtemp(prefix="dg-metrics-")
        os.environ[_MULTIPROC_ENV] = created
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)


def run_server(
    settings: ServiceSettings,
    sock: socket.socket,
    *,
    announce: Callable[[str], None],
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    access_log: bool = False,
) -> None:
    """Serve on ``sock`` (:func:`bind_listener`) until SIGINT or SIGTERM;
    ``announce(url)`` once listening."""
    multi = settings.workers > 1
    # A factory either way: the app must be built after uvicorn installed its handlers.
    factory = "decisiongraph.api.server:app_from_environment" if multi else None
    config = uvicorn.Config(
        factory or (lambda: _serving_app(settings)),
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http="httptools",
        # No WebSocket routes: an upgrade request is served as plain HTTP, so it gets
        # the contract's 404/405/401 envelopes instead of a text 500.
        ws="none",
        lifespan="on",
        log_config=log_config(access_log=access_log),
        access_log=access_log,
        # Client addresses are the peers': no proxy is trusted unless configured.
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=math.ceil(settings.graceful_timeout_s),
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
    )
    url = _url(config, sock)
    if multi:
        with _worker_environment(settings):
            sock.listen(config.backlog)
            announce(url)
            Multiprocess(config, sockets=[sock]).run()
        return
    server = _AnnouncingServer(config, lambda: announce(url))
    with _graceful_signals(server):
        server.run(sockets=[sock])
    if not server.started:
        raise SystemExit(3)  # uvicorn's STARTUP_FAILURE: the app did not start
