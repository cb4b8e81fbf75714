"""The load generator of ``decisiongraph bench api``: worker PROCESSES replaying work
that was built before the timed window, one connection each.

Why processes: Python threads in one process share the GIL, so eight threads issuing
requests would mostly measure the client. Each worker is a ``spawn``-ed process holding
one keep-alive HTTP/1.1 socket (requests encoded to bytes before the window) or one
psycopg connection for the raw-database side (:mod:`~decisiongraph.cli.bench_api_jobs`).

Protocol of one figure: the main process sends each worker a job (its requests or rows,
built in advance); the worker connects, runs the job's warm-up items untimed, encodes
the timed items and answers "ready"; once every worker of the figure is ready, the main
process samples the CPU counters of the server, PostgreSQL and the machine
(:mod:`~decisiongraph.cli.bench_api_cpu`) and sends "go" to each; each worker times
every item with ``perf_counter`` (CLOCK_MONOTONIC on Linux, one clock for all
processes, so windows of different workers compare) and sends back its window and
latencies; the main process samples the counters again. Throughput = items completed /
(last end - first start). Any failed item (an unexpected HTTP status, an empty read)
fails the figure: a benchmark that counts errors as work is not a benchmark.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from decisiongraph.cli.bench_api_cpu import CpuSample
from decisiongraph.cli.bench_api_jobs import Job, LoadError, Session

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

__all__ = ["LoadGenerator", "Measurement", "WorkerResult"]

_READY, _GO, _ABORT, _DONE, _FAILED = "ready", "go", "abort", "done", "failed"
#: Seconds to wait for a worker's answer (a job's warm-up or timed run) before giving up.
_ANSWER_TIMEOUT_S = 600.0


@dataclass(frozen=True, slots=True)
class WorkerResult:
    """One worker's timed window (``perf_counter`` seconds) and per-item latencies."""

    started: float
    finished: float
    latencies: list[float]
    cpu_s: float


def _worker_main(pipe: Connection) -> None:
    """A worker's loop: one job at a time until the main process sends None."""
    while (job := pipe.recv()) is not None:
        session: Session | None = None
        try:
            session = job.open()
            for item in job.warmup:
                session(session.encode(item))
            items = [session.encode(item) for item in job.items]
            pipe.send((_READY, None))
            if pipe.recv() != _GO:
                continue
            latencies: list[float] = []
            clock = time.perf_counter
            cpu = time.process_time()
            started = clock()
            for item in items:
                begin = clock()
                session(item)
                latencies.append(clock() - begin)
            finished = clock()
            pipe.send(
                (_DONE, WorkerResult(started, finished, latencies, time.process_time() - cpu))
            )
        except Exception as exc:  # reported to the main process, which fails the figure
            pipe.send((_FAILED, f"{type(exc).__name__}: {exc}"))
        finally:
            if session is not None:
                session.close()


@dataclass(frozen=True)
class Measurement:
    """A figure's timed window over all its workers."""

    clients: int
    items: int
    seconds: float
    latencies: list[float]
    clients_cpu_s: float
    server_cpu_s: float
    postgres_cpu_s: float
    machine_busy_s: float
    #: Wall seconds between the two CPU samples (a little more than ``seconds``).
    sampled_seconds: float


class LoadGenerator:
    """``workers`` spawned processes, reused by every figure; a context manager."""

    def __init__(self, workers: int, server_pid: Callable[[], int]) -> None:
        self._count = workers
        self._server_pid = server_pid
        self._pipes: list[Connection] = []
        self._processes: list[BaseProcess] = []

    def __enter__(self) -> LoadGenerator:
        context = multiprocessing.get_context("spawn")
        for index in range(self._count):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=_worker_main, args=(theirs,), name=f"dg-bench-client-{index}", daemon=True
            )
            process.start()
            theirs.close()
            self._pipes.append(ours)
            self._processes.append(process)
        return self

    def __exit__(self, *_exc: object) -> None:
        for pipe in self._pipes:
            with contextlib.suppress(OSError):  # that worker is already gone
                pipe.send(None)
        for process in self._processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()

    def _answer(self, index: int) -> tuple[str, Any]:
        pipe = self._pipes[index]
        if not pipe.poll(_ANSWER_TIMEOUT_S):
            raise LoadError(f"Client process {index} did not answer in {_ANSWER_TIMEOUT_S:.0f} s")
        try:
            answer: tuple[str, Any] = pipe.recv()
        except EOFError:
            raise LoadError(f"Client process {index} died") from None
        return answer

    def run(self, jobs: Sequence[Job]) -> Measurement:
        """Run ``jobs`` (one per worker) together; the combined timed window."""
        if not 0 < len(jobs) <= self._count:
            raise ValueError(f"{len(jobs)} jobs for {self._count} client processes")
        used = range(len(jobs))
        for index, job in zip(used, jobs, strict=True):
            self._pipes[index].send(job)
        answers = [self._answer(index) for index in used]
        failures = [text for kind, text in answers if kind == _FAILED]
        if failures:
            for index, (kind, _) in zip(used, answers, strict=True):
                if kind == _READY:
                    self._pipes[index].send(_ABORT)
            raise LoadError(f"Warm-up failed: {failures[0]}")
        server_pid = self._server_pid()
        before = CpuSample.take(server_pid, machine_first=False)
        for index in used:
            self._pipes[index].send(_GO)
        answers = [self._answer(index) for index in used]
        after = CpuSample.take(server_pid, machine_first=True)
        failures = [text for kind, text in answers if kind == _FAILED]
        if failures:
            raise LoadError(failures[0])
        results: list[WorkerResult] = [result for _, result in answers]
        return Measurement(
            clients=len(jobs),
            items=sum(len(result.latencies) for result in results),
            seconds=max(r.finished for r in results) - min(r.started for r in results),
            latencies=[value for result in results for value in result.latencies],
            clients_cpu_s=sum(result.cpu_s for result in results),
            server_cpu_s=after.server_s - before.server_s,
            postgres_cpu_s=after.postgres_since(before),
            machine_busy_s=after.machine_busy_s - before.machine_busy_s,
            sampled_seconds=after.at - before.at,
        )
