"""Machinery shared by the concurrency tests.

* :class:`ThreadGroup` and :class:`ProcessGroup` run callables on real threads and on
  processes of the ``spawn`` start method, with bounded waits: a worker that hangs or
  dies fails the test instead of hanging it.
* Worker entry points for child processes live in :mod:`tests.concurrency.workers`
  (importable by a spawned interpreter); they exchange plain data only.
* :func:`check_tenant_log` asserts the invariants every test relies on (spec 5, 13.2,
  14.9): ``log_seq`` 1..N without gaps, ``recorded_at`` never decreasing, and each
  trace's ``trace_seq`` appearing as 0, 1, 2, ... in log order.
"""

from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.context
import queue
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Generic, TypeVar

from decisiongraph.domain.envelope import StoredEvent
from decisiongraph.errors import DecisionGraphError
from decisiongraph.store.base import SqlEventStore

__all__ = [
    "BARRIER_TIMEOUT",
    "JOIN_TIMEOUT",
    "Outcome",
    "ProcessGroup",
    "ThreadGroup",
    "check_tenant_log",
    "outcome_of",
    "spawn_context",
]

#: Upper bound of every wait on workers: generous, but a hang fails the test.
JOIN_TIMEOUT = 120.0
#: Upper bound of a barrier wait (workers start together, processes need to spawn).
BARRIER_TIMEOUT = 60.0

T = TypeVar("T")

#: A plain-data append outcome, safe to send between processes:
#: ``("ok", reused, log_seq, event_id, recorded_at, trace_seq)`` or
#: ``("error", code, message)``.
Outcome = tuple[Any, ...]


def outcome_of(call: Callable[[], Any]) -> Outcome:
    """Run an append and describe its result (or its DecisionGraphError) as plain data."""
    try:
        result = call()
    except DecisionGraphError as error:
        return ("error", error.code, error.message)
    event: StoredEvent = result.event
    return ("ok", result.reused, event.log_seq, event.event_id, event.recorded_at, event.trace_seq)


def spawn_context() -> multiprocessing.context.SpawnContext:
    """The start method every test uses: a fresh interpreter, no inherited connections."""
    return multiprocessing.get_context("spawn")


class ThreadGroup(Generic[T]):
    """Runs each callable on its own thread; :meth:`wait` joins with one deadline and
    returns the results in order, or fails naming the stuck or failed threads."""

    def __init__(self, functions: Sequence[Callable[[], T]], *, name: str = "worker") -> None:
        self._functions = list(functions)
        self._results: dict[int, T] = {}
        self._errors: dict[int, BaseException] = {}
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(i,), name=f"{name}-{i}", daemon=True)
            for i in range(len(self._functions))
        ]

    def _run(self, index: int) -> None:
        try:
            value = self._functions[index]()
        except BaseException as exc:  # reported by wait(), never lost in the thread
            with self._lock:
                self._errors[index] = exc
        else:
            with self._lock:
                self._results[index] = value

    def start(self) -> ThreadGroup[T]:
        for thread in self._threads:
            thread.start()
        return self

    def wait(self, timeout: float = JOIN_TIMEOUT) -> list[T]:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck:
            raise AssertionError(f"threads still running after {timeout:g}s: {stuck}")
        if self._errors:
            index = min(self._errors)
            first = self._errors[index]
            raise AssertionError(
                f"{len(self._errors)} of {len(self._threads)} threads failed; "
                f"first ({self._threads[index].name}): {first!r}"
            ) from first
        return [self._results[i] for i in range(len(self._functions))]

    def run(self, timeout: float = JOIN_TIMEOUT) -> list[T]:
        """Start, then wait."""
        return self.start().wait(timeout)

    def still_running_after(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True if some thread has not finished by then."""
        deadline = time.monotonic() + seconds
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return any(t.is_alive() for t in self._threads)


def _child_main(
    target: Callable[..., Any], index: int, args: tuple[Any, ...], results: Any
) -> None:
    """Entry point of a spawned child: run ``target(*args)`` and report on ``results``."""
    try:
        value = target(*args)
    except BaseException:
        results.put((index, False, traceback.format_exc()))
    else:
        results.put((index, True, value))


class ProcessGroup:
    """Runs ``target(*args)`` for each ``args`` in its own spawned process.

    ``target`` must be a module-level function (it is pickled by name) and ``args`` and
    its result plain, picklable data (synchronisation objects of the same context may be
    passed as arguments). Use as a context manager: leaving it kills whatever still runs.
    """

    def __init__(
        self,
        target: Callable[..., Any],
        args_list: Sequence[tuple[Any, ...]],
        *,
        ctx: multiprocessing.context.SpawnContext | None = None,
    ) -> None:
        self._ctx = ctx or spawn_context()
        self._queue: Any = self._ctx.Queue()
        self._procs = [
            self._ctx.Process(
                target=_child_main,
                args=(target, i, args, self._queue),
                name=f"dg-child-{i}",
                daemon=True,
            )
            for i, args in enumerate(args_list)
        ]
        self._started = False

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> ProcessGroup:
        for proc in self._procs:
            proc.start()
        self._started = True
        return self

    def wait(self, timeout: float = JOIN_TIMEOUT) -> list[Any]:
        """Each child's return value, in order.

        Fails at the first child error (with the child's traceback), at a child that
        dies without reporting, or when ``timeout`` runs out; leaving the context
        manager then kills the children still running.
        """
        deadline = time.monotonic() + timeout
        values: dict[int, Any] = {}
        while len(values) < len(self._procs):
            if time.monotonic() > deadline:
                missing = sorted(set(range(len(self._procs))) - set(values))
                raise AssertionError(f"child processes {missing} still running after {timeout}s")
            try:
                report = self._queue.get(timeout=0.5)
            except queue.Empty:
                report = self._crash_report(values)
                if report is None:
                    continue
            index, ok, value = report
            if not ok:
                raise AssertionError(f"child process {self._procs[index].name} failed:\n{value}")
            values[index] = value
        for proc in self._procs:
            proc.join(max(5.0, deadline - time.monotonic()))
            if proc.is_alive():
                raise AssertionError(f"{proc.name} did not exit after reporting")
        bad_exit = [(p.name, p.exitcode) for p in self._procs if p.exitcode != 0]
        assert not bad_exit, f"child processes exited abnormally: {bad_exit}"
        return [values[i] for i in range(len(self._procs))]

    def _crash_report(self, values: dict[int, Any]) -> tuple[int, bool, Any] | None:
        """The report of a child that has exited (it is already in the pipe), None if
        every unreported child still runs; fails for a child that died silently."""
        for index, proc in enumerate(self._procs):
            if index in values or proc.exitcode is None:
                continue
            try:
                report: tuple[int, bool, Any] = self._queue.get(timeout=2.0)
            except queue.Empty:
                raise AssertionError(
                    f"{proc.name} died without reporting (exit code {proc.exitcode})"
                ) from None
            return report
        return None

    def run(self, timeout: float = JOIN_TIMEOUT) -> list[Any]:
        """Start, then wait."""
        return self.start().wait(timeout)

    def close(self) -> None:
        """Kill children that still run and release every process resource."""
        if self._started:
            for proc in self._procs:
                if proc.is_alive():
                    proc.kill()
                proc.join(10.0)
            for proc in self._procs:
                if not proc.is_alive():
                    proc.close()
        self._queue.close()
        self._queue.join_thread()


def check_tenant_log(store: SqlEventStore, tenant_id: str) -> list[StoredEvent]:
    """Every event of the tenant in log order, after asserting the log invariants:

    * ``log_seq`` is exactly 1..N and the tail (``get_last_log_seq``) is N;
    * ``recorded_at`` never decreases as ``log_seq`` grows (spec 14.9);
    * each trace's events appear in log order as trace_seq 0, 1, 2, ... with
      TraceStarted first and TraceFinished, if present, last; no event has a
      (trace_id, trace_seq), event_id or (producer, idempotency key) of another.
    """
    events = [e for page in store.iter_event_batches(tenant_id, batch_size=1000) for e in page]
    seqs = [e.log_seq for e in events]
    assert seqs == list(range(1, len(events) + 1)), _first_gap(seqs)
    assert store.get_last_log_seq(tenant_id) == len(events)
    assert {e.tenant_id for e in events} <= {tenant_id}
    for before, after in itertools.pairwise(events):
        assert before.recorded_at <= after.recorded_at, (
            f"recorded_at decreases: log_seq {before.log_seq} {before.recorded_at} > "
            f"log_seq {after.log_seq} {after.recorded_at}"
        )
    traces: dict[str, list[StoredEvent]] = {}
    for event in events:
        traces.setdefault(event.trace_id, []).append(event)
    for trace_id, trace in traces.items():
        assert [e.trace_seq for e in trace] == list(range(len(trace))), trace_id
        assert trace[0].event_type == "TraceStarted", trace_id
        finished = [i for i, e in enumerate(trace) if e.event_type == "TraceFinished"]
        assert finished in ([], [len(trace) - 1]), trace_id
    assert len({e.event_id for e in events}) == len(events)
    assert len({(e.source.producer_id, e.idempotency_key) for e in events}) == len(events)
    return events


def _first_gap(seqs: list[int]) -> str:
    for expected, got in enumerate(seqs, start=1):
        if got != expected:
            return f"log_seq not 1..N: position {expected} holds {got}"
    return "log_seq not 1..N"
