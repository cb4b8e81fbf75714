"""What every handler of one app shares: settings, the store and the services built
over it. Built once by :func:`decisiongraph.api.app.create_app`'s lifespan."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from decisiongraph.query.cursors import CursorCodec
from decisiongraph.service.audit import AuditLog
from decisiongraph.service.auth import Authenticator
from decisiongraph.service.settings import ServiceSettings
from decisiongraph.store.base import SqlEventStore

__all__ = ["AppState"]


@dataclass
class AppState:
    """The shared services of one running app (one per server process)."""

    settings: ServiceSettings
    store: SqlEventStore
    authenticator: Authenticator
    audit: AuditLog
    cursors: CursorCodec
    # Runs the blocking part of every request (one hop per request): a plain executor
    # is cheaper per call than AnyIO's thread pool, which showed in profiles.
    executor: ThreadPoolExecutor
    #: Requests on or waiting for the executor (bounded by ``settings.request_queue``).
    pending: int = 0
    # Filled by the features that need them (stream hub, metrics, projector worker).
    extras: dict[str, Any] = field(default_factory=dict)
