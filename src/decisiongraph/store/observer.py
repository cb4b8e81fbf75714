"""Telemetry hooks of the event store: a tiny observer interface.

The store reports every append outcome and every read batch to one observer. The
service layer turns these into metrics and logs; tests use :class:`RecordingObserver`.
Observers must be fast and must not raise (an exception is swallowed and logged).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = [
    "AppendOutcome",
    "AppendRecord",
    "NullObserver",
    "ReadRecord",
    "RecordingObserver",
    "StoreObserver",
    "notify_append",
    "notify_read",
]

_log = logging.getLogger(__name__)

AppendOutcome = Literal["appended", "reused", "rejected"]


@dataclass(frozen=True, slots=True)
class AppendRecord:
    """One event's append outcome.

    ``duration_s`` is the duration of the store call the event was part of (a batch
    reports its whole duration on each event); ``size_bytes`` is the payload JSON size;
    ``code`` is the ``DG_ERR_*`` code of a rejection, else None. A rejection before
    the payload could be serialised reports size 0.
    """

    tenant_id: str
    trace_id: str
    event_type: str
    outcome: AppendOutcome
    duration_s: float
    size_bytes: int
    code: str | None = None


@dataclass(frozen=True, slots=True)
class ReadRecord:
    """One read of events from the log (a page, a trace, a catch-up batch)."""

    tenant_id: str
    operation: str
    events: int
    duration_s: float
    trace_id: str | None = None


class StoreObserver(Protocol):
    """Receives the store's telemetry."""

    def on_append(self, record: AppendRecord) -> None: ...

    def on_read(self, record: ReadRecord) -> None: ...


class NullObserver:
    """The default observer: ignores everything."""

    def on_append(self, record: AppendRecord) -> None:
        return None

    def on_read(self, record: ReadRecord) -> None:
        return None


class RecordingObserver:
    """Keeps every record in memory (thread-safe); for tests and diagnostics."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.appends: list[AppendRecord] = []
        self.reads: list[ReadRecord] = []

    def on_append(self, record: AppendRecord) -> None:
        with self._lock:
            self.appends.append(record)

    def on_read(self, record: ReadRecord) -> None:
        with self._lock:
            self.reads.append(record)


def notify_append(observer: StoreObserver, record: AppendRecord) -> None:
    """Deliver ``record``; an observer failure never fails the append."""
    try:
        observer.on_append(record)
    except Exception:  # pragma: no cover - defensive
        _log.exception("store observer failed on append telemetry")


def notify_read(observer: StoreObserver, record: ReadRecord) -> None:
    """Deliver ``record``; an observer failure never fails the read."""
    try:
        observer.on_read(record)
    except Exception:  # pragma: no cover - defensive
        _log.exception("store observer failed on read telemetry")
