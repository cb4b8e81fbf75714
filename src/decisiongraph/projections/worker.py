"""The catch-up worker: keeps the projections of one tenant, or of every tenant, at the
tail of the log, for as long as a process runs.

One :class:`ProjectionWorker` per process. It loops over the tenants that may have
work, and for each runs :meth:`Projector.step` until a step makes no progress (every
projection at the tail, failed, or leased by another worker). Between rounds it sleeps
until woken:

* PostgreSQL: a dedicated autocommit connection ``LISTEN``\\s on
  :data:`~decisiongraph.store.postgres.EVENTS_CHANNEL` (the tenant id is the payload,
  delivered at commit), on a background thread; a slow periodic scan (``poll_interval``,
  default 5 s) is the safety net for anything missed, and while that connection is down
  (it reconnects with backoff) the worker polls every 0.5 s instead;
* SQLite: the store's in-process commit listener wakes it at once; a short poll
  (default 0.5 s) picks up events appended by other processes.

Several workers (processes) can share one database: the step's meta-row leases (``FOR
UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's single writer) let exactly one of them
advance a (tenant, projection) at a time, and the cursor commits with the rows, so no
event is ever projected twice, even if a worker is killed mid-step. A tenant whose
lease is held elsewhere is retried shortly (the holder may be a rebuild, which does not
advance the live version).

Storage errors (``DG_ERR_STORAGE``: the database is down, a connection broke) are
logged and retried with exponential backoff, capped; other errors of a step are logged
and retried the same way. A parked event is not an error of the worker: the projection
stops for that tenant (health shows it) and the others go on.

:meth:`ProjectionWorker.run` returns when its ``stop`` event is set, after the step in
progress; it closes the LISTEN connection and joins its thread. The store belongs to the
caller (the worker's commit listener stays registered on it, inert once stopped).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from decisiongraph.errors import STORAGE, DecisionGraphError, InvalidArgument
from decisiongraph.projections import tables
from decisiongraph.projections.engine import PROJECTION_NAMES
from decisiongraph.projections.runner import DEFAULT_BATCH_SIZE, Projector
from decisiongraph.projections.tables import Sql
from decisiongraph.store.base import SqlEventStore

__all__ = [
    "DEFAULT_POLL_INTERVAL_LISTEN",
    "DEFAULT_POLL_INTERVAL_SQLITE",
    "Backoff",
    "ProjectionWorker",
    "WorkerStats",
    "catch_up_tenant",
]

_log = logging.getLogger(__name__)

#: Poll period when no notification can reach the worker (SQLite, other processes).
DEFAULT_POLL_INTERVAL_SQLITE = 0.5
#: Safety-net scan period when LISTEN/NOTIFY wakes the worker (PostgreSQL).
DEFAULT_POLL_INTERVAL_LISTEN = 5.0
#: Delay before retrying a tenant whose lease another worker (or a rebuild) holds.
_BUSY_RETRY = 0.1
#: Granularity of every wait: how soon a set ``stop`` event is noticed.
_WAIT_SLICE = 0.1
#: How long a LISTEN wait lasts before the listener thread checks whether to stop.
_LISTEN_SLICE = 0.25


@dataclass(slots=True)
class WorkerStats:
    """What a worker did: events applied per tenant and projection, steps run, events
    parked, and errors retried."""

    applied: dict[str, dict[str, int]] = field(default_factory=dict)
    steps: int = 0
    failures: int = 0
    errors: int = 0

    def add(self, tenant_id: str, applied: dict[str, int]) -> None:
        counts = self.applied.setdefault(tenant_id, {})
        for name, n in applied.items():
            if n:
                counts[name] = counts.get(name, 0) + n

    @property
    def total(self) -> int:
        """Events applied, summed over tenants and projections."""
        return sum(sum(c.values()) for c in self.applied.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": {t: dict(sorted(c.items())) for t, c in sorted(self.applied.items())},
            "total": self.total,
            "steps": self.steps,
            "failures": self.failures,
            "errors": self.errors,
        }


class Backoff:
    """Exponential backoff: ``initial``, doubling up to ``maximum``; :meth:`reset` after
    a success."""

    def __init__(self, initial: float = 0.1, maximum: float = 10.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.delay = initial

    def next(self) -> float:
        """The delay to wait now; the following one doubles (capped)."""
        delay = self.delay
        self.delay = min(self.delay * 2, self.maximum)
        return delay

    def reset(self) -> None:
        self.delay = self.initial


def catch_up_tenant(projector: Projector, tenant_id: str) -> tuple[dict[str, int], int]:
    """Step ``tenant_id`` until no step progresses; (events applied per projection,
    events parked). Raises the step's DecisionGraphError (storage errors included)."""
    applied = dict.fromkeys(PROJECTION_NAMES, 0)
    parked = 0
    while True:
        result = projector.step(tenant_id)
        for name, n in result.applied.items():
            applied[name] += n
        parked += len(result.failures)
        if not result.progressed:
            return applied, parked


class _Wakeups:
    """Tenants signalled since the last :meth:`take` (``None`` = scan every tenant), and
    an event to sleep on until the next signal."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._tenants: set[str] = set()
        self._everything = False

    def signal(self, tenant_id: str | None) -> None:
        with self._lock:
            if tenant_id is None:
                self._everything = True
            else:
                self._tenants.add(tenant_id)
        self._event.set()

    def take(self) -> tuple[set[str], bool]:
        """(tenants signalled, whether a full scan was asked for); clears both."""
        with self._lock:
            tenants, everything = self._tenants, self._everything
            self._tenants, self._everything = set(), False
            self._event.clear()
        return tenants, everything

    def wait(self, timeout: float, stop: threading.Event) -> None:
        """Sleep until a signal, ``stop`` or ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._event.wait(min(remaining, _WAIT_SLICE)):
                return


class _PostgresListener:
    """A background thread LISTENing on the events channel over its own autocommit
    connection; each notification signals its tenant. Reconnects with backoff; every
    (re)connection asks for a full scan (notifications may have been missed)."""

    def __init__(self, url: str, wakeups: _Wakeups) -> None:
        self._url = url
        self._wakeups = wakeups
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dg-listen", daemon=True)
        self.connected = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        self._closing.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        import psycopg  # noqa: PLC0415 - only PostgreSQL deployments load the driver

        from decisiongraph.store.postgres import EVENTS_CHANNEL, mask_url  # noqa: PLC0415

        backoff = Backoff(0.2, 10.0)
        while not self._closing.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {EVENTS_CHANNEL}")
                    self.connected.set()
                    backoff.reset()
                    self._wakeups.signal(None)
                    while not self._closing.is_set():
                        for notify in conn.notifies(timeout=_LISTEN_SLICE):
                            self._wakeups.signal(notify.payload or None)
            except psycopg.Error as exc:
                self.connected.clear()
                delay = backoff.next()
                _log.warning(
                    "LISTEN connection to %s failed (%s); retrying in %.1f s",
                    mask_url(self._url),
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                    delay,
                )
                self._wakeups.signal(None)  # the worker falls back on scanning
                self._closing.wait(delay)
        self.connected.clear()


class ProjectionWorker:
    """Keeps ``tenant_id``'s projections (every tenant's if None) at the tail of the log.

    ``listen_url`` is the database URL (with its credentials) used for the LISTEN
    connection on PostgreSQL; without it a PostgreSQL worker polls every
    ``poll_interval`` seconds like a SQLite one. ``poll_interval`` defaults to 0.5 s,
    or 5 s with LISTEN.
    """

    def __init__(
        self,
        store: SqlEventStore,
        *,
        tenant_id: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        listen_url: str | None = None,
        poll_interval: float | None = None,
        backoff_initial: float = 0.1,
        backoff_max: float = 10.0,
    ) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.projector = Projector(store, batch_size=batch_size)
        self._listen_url = listen_url if store.dialect == "postgres" else None
        if poll_interval is None:
            poll_interval = (
                DEFAULT_POLL_INTERVAL_LISTEN if self._listen_url else DEFAULT_POLL_INTERVAL_SQLITE
            )
        if poll_interval <= 0:
            raise InvalidArgument(f"poll_interval must be > 0, got {poll_interval}")
        self.poll_interval = poll_interval
        self.backoff = Backoff(backoff_initial, backoff_max)
        self.stats = WorkerStats()
        self._wakeups = _Wakeups()
        self._listener: _PostgresListener | None = None
        self._active = False
        store.add_commit_listener(self._on_commit)

    # ------------------------------------------------------------------ public

    def tenants(self) -> list[str]:
        """The tenants this worker serves (every tenant with events, or its one)."""
        if self.tenant_id is not None:
            return [self.tenant_id]
        return self.store.list_tenants()

    def catch_up_once(self) -> dict[str, dict[str, int]]:
        """Catch every served tenant up once (no waiting, no retries); events applied
        per tenant and projection. Raises the first DecisionGraphError."""
        report: dict[str, dict[str, int]] = {}
        for tenant_id in self.tenants():
            if self.store.get_last_log_seq(tenant_id) == 0:
                report[tenant_id] = dict.fromkeys(PROJECTION_NAMES, 0)
                continue  # nothing to project (and no meta rows to create)
            applied, parked = catch_up_tenant(self.projector, tenant_id)
            self.stats.add(tenant_id, applied)
            self.stats.failures += parked
            report[tenant_id] = applied
        return report

    def run(self, stop: threading.Event) -> WorkerStats:
        """Project until ``stop`` is set; returns the statistics."""
        self._active = True
        if self._listen_url is not None:
            self._listener = _PostgresListener(self._listen_url, self._wakeups)
            self._listener.start()
        try:
            self._loop(stop)
        finally:
            self._active = False
            if self._listener is not None:
                self._listener.close()
                self._listener = None
        return self.stats

    @property
    def listening(self) -> bool:
        """True while the PostgreSQL LISTEN connection is up."""
        return self._listener is not None and self._listener.connected.is_set()

    # --------------------------------------------------------------- the loop

    def _on_commit(self, tenant_id: str, _tail: int) -> None:
        if self._active and (self.tenant_id is None or tenant_id == self.tenant_id):
            self._wakeups.signal(tenant_id)

    def _loop(self, stop: threading.Event) -> None:
        pending: set[str] = set()
        next_scan = 0.0
        while not stop.is_set():
            signalled, everything = self._wakeups.take()
            if self.tenant_id is not None:
                signalled &= {self.tenant_id}
            pending |= signalled
            failed = False
            now = time.monotonic()
            if everything or now >= next_scan:
                lagging = self._lagging(stop)
                if lagging is None:
                    failed = True
                else:
                    pending |= lagging
                next_scan = now + self._scan_period()
            retry: set[str] = set()
            for tenant_id in sorted(pending):
                if stop.is_set():
                    return
                outcome = self._drain(tenant_id, stop)
                if outcome != "done":
                    retry.add(tenant_id)
                failed = failed or outcome == "error"
            pending = retry
            if failed:
                self._wakeups.wait(self.backoff.next(), stop)
            elif pending:
                self._wakeups.wait(_BUSY_RETRY, stop)
            else:
                self._wakeups.wait(max(next_scan - time.monotonic(), 0.0), stop)

    def _scan_period(self) -> float:
        """The poll interval; while a LISTEN connection is down, at most the SQLite one
        (nothing else would wake the worker)."""
        if self._listener is not None and not self.listening:
            return min(self.poll_interval, DEFAULT_POLL_INTERVAL_SQLITE)
        return self.poll_interval

    def _lagging(self, stop: threading.Event) -> set[str] | None:
        """The served tenants where a projection that is not failed is behind the tail
        (read-only checks: an idle scan takes no write lock); None if the scan failed."""
        lagging: set[str] = set()
        try:
            for tenant_id in self.tenants():
                if stop.is_set():
                    break
                if self._is_lagging(tenant_id):
                    lagging.add(tenant_id)
        except Exception as error:  # a long-lived worker logs, backs off and retries
            self._report(error, "scanning tenants for work")
            return None
        return lagging

    def _is_lagging(self, tenant_id: str) -> bool:
        tail = self.store.get_last_log_seq(tenant_id)
        if tail == 0:
            return False
        with self.store.read_snapshot() as conn:
            metas = tables.read_meta(Sql(conn, self.store.dialect), tenant_id)
        for name in PROJECTION_NAMES:
            meta = metas.get(name)
            if meta is None or (meta.status != "failed" and meta.cursor < tail):
                return True
        return False

    def _drain(self, tenant_id: str, stop: threading.Event) -> str:
        """Step the tenant until no progress: ``done``, ``busy`` (a lease was held
        elsewhere: retry soon), ``error`` (retry after backoff) or ``stopped``."""
        while not stop.is_set():
            try:
                result = self.projector.step(tenant_id)
            except Exception as error:  # a long-lived worker logs, backs off and retries
                self._report(error, f"projecting tenant {tenant_id!r}")
                return "error"
            self.backoff.reset()
            self.stats.steps += 1
            self.stats.add(tenant_id, result.applied)
            self.stats.failures += len(result.failures)
            if not result.progressed:
                return "busy" if result.skipped else "done"
        return "stopped"

    def _report(self, error: Exception, doing: str) -> None:
        """Log a failed step: storage errors as warnings, anything unexpected (a bug)
        as an error with its traceback."""
        self.stats.errors += 1
        expected = isinstance(error, DecisionGraphError)
        storage = expected and getattr(error, "code", None) == STORAGE
        _log.log(
            logging.WARNING if storage else logging.ERROR,
            "%s failed (%s); retrying in %.1f s",
            doing,
            error,
            self.backoff.delay,
            exc_info=None if expected else error,
        )
