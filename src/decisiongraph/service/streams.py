"""Following a tenant's event log for live streams (HTTP_API 2.5): wake-ups, the per-key
cap on concurrent streams, and the follower that reads the log by ``log_seq``.

Invariants:

* a :class:`LogFollower` returns every event above its start position that matches its
  filters, once, in ascending ``log_seq``: it only reads ranges ``(position, tail]`` of
  the log and moves ``position`` to the end of what it read; ``log_seq`` is gap-free and
  commit-ordered, so no event can appear later below a position already passed;
* catch-up and live delivery are one loop (read pages until a short one, then wait), so
  the transition between them has no gap and no duplicate;
* waiting holds no database connection and blocking reads run in worker threads, never
  on the event loop;
* wake-ups are hints (commits of this process, PostgreSQL ``NOTIFY`` from the others): a
  lost one only delays delivery until the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence

import anyio
import anyio.to_thread

from decisiongraph.domain.envelope import StoredEvent
from decisiongraph.errors import RateLimited
from decisiongraph.store.base import MAX_QUERY_LIMIT, SqlEventStore

__all__ = ["LogFollower", "StreamHub"]

_log = logging.getLogger(__name__)

# Poll period while the LISTEN connection is up (NOTIFY then does the waking).
_LISTENING_POLL_S = 5.0
# Seconds a client should wait before opening another stream when at the cap.
_CAP_RETRY_AFTER_S = 5


class _Waiter:
    """An asyncio event that any thread may set (one per open stream)."""

    __slots__ = ("_event", "_loop")

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def wake(self) -> None:
        # RuntimeError: the loop has closed, nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._event.set)

    def clear(self) -> None:
        self._event.clear()

    async def wait(self, timeout: float) -> None:
        with anyio.move_on_after(timeout):
            await self._event.wait()


class StreamHub:
    """The streams of one server process: per-key slots, per-tenant wake-ups and, on
    PostgreSQL (``listen_url`` given), a LISTEN thread running while streams are open.

    Thread-safe. :meth:`shutdown` marks the hub closing and wakes every stream so each
    can end with an error frame.
    """

    def __init__(
        self,
        store: SqlEventStore,
        *,
        max_per_key: int,
        poll_s: float,
        listen_url: str | None = None,
    ) -> None:
        self.store = store
        self.max_per_key = max_per_key
        self._poll_s = poll_s
        self._listen_url = listen_url
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}
        self._waiters: dict[str, set[_Waiter]] = {}
        self._listener: _Listener | None = None
        self._closing = False
        store.add_commit_listener(self._on_commit)

    @property
    def closing(self) -> bool:
        return self._closing

    @property
    def poll_s(self) -> float:
        """How long a caught-up stream waits before rereading without a wake-up."""
        listener = self._listener
        if listener is not None and listener.connected.is_set():
            return max(self._poll_s, _LISTENING_POLL_S)
        return self._poll_s

    def open_streams(self, key_id: str) -> int:
        """Streams currently open with ``key_id``."""
        with self._lock:
            return self._open.get(key_id, 0)

    def _at_cap(self, key_id: str) -> RateLimited | None:
        count = self._open.get(key_id, 0)
        if count < self.max_per_key:
            return None
        return RateLimited(
            f"This API key already has {count} open streams (the limit); close one or retry later",
            {
                "scope": "stream",
                "reason": "concurrent_streams",
                "limit": self.max_per_key,
                "retry_after_s": _CAP_RETRY_AFTER_S,
            },
        )

    def check_capacity(self, key_id: str) -> None:
        """RateLimited if the key is at its cap now (the admission step of HTTP_API 1.6,
        before parameters are judged); :meth:`acquire` checks again atomically."""
        with self._lock:
            refusal = self._at_cap(key_id)
        if refusal is not None:
            raise refusal

    def acquire(self, key_id: str) -> Callable[[], None]:
        """Take one of the key's stream slots; returns the (idempotent) release.
        RateLimited (``reason: concurrent_streams``) when the key is at its cap."""
        with self._lock:
            refusal = self._at_cap(key_id)
            if refusal is not None:
                raise refusal
            self._open[key_id] = self._open.get(key_id, 0) + 1
        released = threading.Event()

        def release() -> None:
            with self._lock:
                if released.is_set():
                    return
                released.set()
                remaining = self._open.get(key_id, 1) - 1
                if remaining > 0:
                    self._open[key_id] = remaining
                else:
                    self._open.pop(key_id, None)

        return release

    def follow(
        self,
        tenant_id: str,
        position: int,
        *,
        event_types: Sequence[str] | None = None,
        trace_id: str | None = None,
        page_size: int = 1000,
    ) -> LogFollower:
        """A follower of ``tenant_id``'s log after ``position`` (call from the event loop;
        :meth:`LogFollower.close` it when done)."""
        waiter = _Waiter()
        with self._lock:
            self._waiters.setdefault(tenant_id, set()).add(waiter)
            if self._listen_url is not None and (self._listener is None or self._listener.stopping):
                self._listener = _Listener(self._listen_url, self)
                self._listener.start()
        return LogFollower(self, tenant_id, position, waiter, event_types, trace_id, page_size)

    def _unsubscribe(self, tenant_id: str, waiter: _Waiter) -> None:
        with self._lock:
            waiters = self._waiters.get(tenant_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[tenant_id]
            if not self._waiters and self._listener is not None:
                self._listener.stop()  # no stream left to wake
                self._listener = None

    def signal(self, tenant_id: str | None) -> None:
        """Wake the streams of ``tenant_id`` (every stream if None)."""
        with self._lock:
            if tenant_id is None:
                waiters = [w for group in self._waiters.values() for w in group]
            else:
                waiters = list(self._waiters.get(tenant_id, ()))
        for waiter in waiters:
            waiter.wake()

    def _on_commit(self, tenant_id: str, _tail: int) -> None:
        if self._waiters:  # cheap unlocked check: appends with no stream open pay nothing
            self.signal(tenant_id)

    def shutdown(self) -> None:
        """Mark the hub closing and wake every stream (each then ends with an error
        frame); new streams are refused. Never blocks, so a signal handler may call it:
        when the lock is busy the streams notice at their next poll instead."""
        self._closing = True
        if self._lock.acquire(blocking=False):
            try:
                waiters = [w for group in self._waiters.values() for w in group]
            finally:
                self._lock.release()
            for waiter in waiters:
                waiter.wake()
        listener = self._listener
        if listener is not None:
            listener.stop()


class LogFollower:
    """Reads one tenant's log after a position, with optional filters; see the module
    invariants. ``position`` is the last ``log_seq`` read past (delivered or skipped
    by the filters)."""

    def __init__(
        self,
        hub: StreamHub,
        tenant_id: str,
        position: int,
        waiter: _Waiter,
        event_types: Sequence[str] | None,
        trace_id: str | None,
        page_size: int,
    ) -> None:
        self.hub = hub
        self.tenant_id = tenant_id
        self.position = position
        self._waiter = waiter
        self._event_types = event_types
        self._trace_id = trace_id
        self._page_size = max(1, min(page_size, MAX_QUERY_LIMIT))

    def read_page(self) -> list[StoredEvent]:
        """The next matching events (at most one page), advancing ``position``; blocking."""
        store = self.hub.store
        if self._event_types is None and self._trace_id is None:
            events = store.list_events(
                self.tenant_id, since_log_seq=self.position, limit=self._page_size
            )
            if events:
                self.position = events[-1].log_seq
            return events
        # Filtered: bound the read by the tail so a range without matches is passed
        # once, not rescanned on every wake-up.
        tail = store.get_last_log_seq(self.tenant_id)
        if tail <= self.position:
            return []
        events = store.list_events(
            self.tenant_id,
            since_log_seq=self.position,
            until_log_seq=tail,
            event_types=self._event_types,
            trace_id=self._trace_id,
            limit=self._page_size,
        )
        self.position = events[-1].log_seq if len(events) == self._page_size else tail
        return events

    async def next_events(self, timeout: float) -> list[StoredEvent]:
        """The next events, waiting up to ``timeout`` seconds for some; ``[]`` if none
        came (or the hub is closing)."""
        deadline = anyio.current_time() + timeout
        while True:
            # Cleared before reading: a commit landing during the read wakes the wait.
            self._waiter.clear()
            events = await anyio.to_thread.run_sync(self.read_page)
            remaining = deadline - anyio.current_time()
            if events or self.hub.closing or remaining <= 0:
                return events
            await self._waiter.wait(min(remaining, self.hub.poll_s))

    def close(self) -> None:
        self.hub._unsubscribe(self.tenant_id, self._waiter)


class _Listener:
    """LISTENs on the store's events channel over its own connection and wakes the
    tenant named by each notification; reconnects with a growing delay."""

    def __init__(self, url: str, hub: StreamHub) -> None:
        self._url = url
        self._hub = hub
        self._stop = threading.Event()
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dg-stream-listen", daemon=True)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()  # the thread notices within one notifies() slice

    def _run(self) -> None:
        import psycopg  # noqa: PLC0415 - only PostgreSQL deployments load the driver

        from decisiongraph.store.postgres import EVENTS_CHANNEL  # noqa: PLC0415

        delay = 0.2
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {EVENTS_CHANNEL}")
                    self.connected.set()
                    delay = 0.2
                    self._hub.signal(None)  # notifications may have been missed
                    while not self._stop.is_set():
                        for notify in conn.notifies(timeout=0.5):
                            self._hub.signal(notify.payload or None)
            except psycopg.Error as exc:
                self.connected.clear()
                _log.warning("Stream LISTEN connection failed (%s); polling meanwhile", exc)
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)
        self.connected.clear()
