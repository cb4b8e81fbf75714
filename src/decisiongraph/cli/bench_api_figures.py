"""The figures of ``decisiongraph bench api``: the jobs of both sides of each round.

Every figure runs in two rounds of fresh traces, raw then API, then API then raw, so
both sides see the same table sizes and background load; the raw side of a round writes
(or reads) exactly the traces of the API side. Each side warms its connections up
before each round, untimed (warm-up appends are real appends: :class:`FigureRun`
counts every event the API accepted, and the tenant must hold exactly those).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from decisiongraph.cli.bench_api_jobs import HttpJob, HttpRequest, Job, LoadError, SqlJob
from decisiongraph.cli.bench_api_load import LoadGenerator, Measurement
from decisiongraph.cli.bench_api_server import HOST
from decisiongraph.cli.bench_store import (
    RAW_TABLE,
    TENANT,
    TRACE_LENGTH,
    BenchError,
    PostgresDriver,
    Workload,
    raw_rows,
)
from decisiongraph.domain.envelope import EventEnvelope
from decisiongraph.projections.runner import Projector
from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.rows import EVENT_COLUMNS

__all__ = [
    "EVENTS_PER_READ",
    "MIN_BATCHES",
    "WARMUP_READS",
    "FigureRun",
    "Rounds",
    "appends",
    "batches",
    "catch_up",
    "reads",
    "traces_per_round",
]

#: The batch figure sends at least this many batches (it is fast: a few are noise).
MIN_BATCHES = 20
#: Trace reads per read figure: one per this many events of ``--events``.
EVENTS_PER_READ = 5
WARMUP_READS = 10
#: Seconds the server's projector may take to catch up before the reads (--projector).
PROJECTOR_WAIT_S = 600.0
_SELECT_TRACE = (
    f"SELECT {EVENT_COLUMNS} FROM {RAW_TABLE} WHERE tenant_id = %s AND trace_id = %s "
    "ORDER BY trace_seq"
)
Traces = list[list[EventEnvelope]]
Rounds = dict[str, list[Measurement]]


def _json_bytes(envelope: EventEnvelope) -> bytes:
    return json.dumps(envelope.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()


def _split(items: Sequence[Any], parts: int) -> list[list[Any]]:
    """``items`` dealt round-robin into at most ``parts`` non-empty lists."""
    return [share for index in range(parts) if (share := list(items[index::parts]))]


def _chunks(items: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


class FigureRun:
    """One run: the clients, the server's port and key, the workload, and what the API
    side wrote (its events and trace ids)."""

    def __init__(self, driver: PostgresDriver, load: LoadGenerator, port: int, token: str) -> None:
        self.driver = driver
        self.load = load
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}"}
        self.workload = Workload()
        self.raw_log_seq = 1
        self.api_events = 0
        self.trace_ids: list[str] = []
        self.single_bodies: list[int] = []
        self.batch_bodies: list[int] = []

    def traces(self, count: int) -> Traces:
        return self.workload.traces(count)

    def rows(self, traces: Traces) -> list[Any]:
        rows = raw_rows(traces, self.raw_log_seq)
        self.raw_log_seq += len(rows)
        return rows

    def http(self, status: int, items: list[HttpRequest], warmup: list[HttpRequest]) -> HttpJob:
        return HttpJob(HOST, self.port, self.headers, status, items, warmup)

    def posts(self, traces: Traces) -> list[HttpRequest]:
        bodies = [_json_bytes(envelope) for trace in traces for envelope in trace]
        self.single_bodies.extend(len(body) for body in bodies)
        self.api_events += len(bodies)
        return [HttpRequest("POST", "/api/v1/events", body) for body in bodies]

    def batches(self, traces: Traces, size: int) -> list[HttpRequest]:
        events = [_json_bytes(envelope) for trace in traces for envelope in trace]
        self.api_events += len(events)
        requests = []
        for chunk in _chunks(events, size):
            body = b'{"events":[' + b",".join(chunk) + b'],"atomic":true}'
            self.batch_bodies.append(len(body))
            requests.append(HttpRequest("POST", "/api/v1/events/batch", body))
        return requests

    def measure(self, build: Callable[[], dict[str, list[Job]]]) -> Rounds:
        """Two rounds, raw then API, then API then raw; ``build()`` makes one round's
        jobs of both sides (before either is timed)."""
        rounds: Rounds = {"api": [], "raw": []}
        for order in (("raw", "api"), ("api", "raw")):
            jobs = build()
            for side in order:
                try:
                    rounds[side].append(self.load.run(jobs[side]))
                except LoadError as exc:
                    raise BenchError(f"{side} side: {exc}") from None
        return rounds


def traces_per_round(events: int) -> int:
    """Whole traces per round (two rounds) for at least ``events`` events."""
    return max(1, -(-events // (2 * TRACE_LENGTH)))


def appends(run: FigureRun, per_round: int, clients: int) -> Rounds:
    def build() -> dict[str, list[Job]]:
        shares = _split(run.traces(per_round), clients)
        run.trace_ids.extend(trace[0].trace_id for share in shares for trace in share)
        return {
            "api": [run.http(201, run.posts(share), run.posts(run.traces(1))) for share in shares],
            "raw": [
                SqlJob(run.driver, "insert", run.rows(share), run.rows(run.traces(1)))
                for share in shares
            ],
        }

    return run.measure(build)


def batches(run: FigureRun, per_round: int, size: int) -> Rounds:
    warm_traces = max(1, -(-size // TRACE_LENGTH))

    def build() -> dict[str, list[Job]]:
        traces = run.traces(per_round)
        run.trace_ids.extend(trace[0].trace_id for trace in traces)
        warmup = run.batches(run.traces(warm_traces), size)
        raw_warmup = _chunks(run.rows(run.traces(warm_traces)), size)
        return {
            "api": [run.http(201, run.batches(traces, size), warmup)],
            "raw": [SqlJob(run.driver, "copy", _chunks(run.rows(traces), size), raw_warmup)],
        }

    return run.measure(build)


def reads(run: FigureRun, reads: int, clients: int, seed: int) -> Rounds:
    rng = random.Random(seed)

    def build() -> dict[str, list[Job]]:
        shares = _split([rng.choice(run.trace_ids) for _ in range(-(-reads // 2))], clients)
        warm = [rng.choice(run.trace_ids) for _ in range(WARMUP_READS)]

        def gets(ids: list[str]) -> list[HttpRequest]:
            return [HttpRequest("GET", f"/api/v1/traces/{trace_id}") for trace_id in ids]

        def params(ids: list[str]) -> list[tuple[str, str]]:
            return [(TENANT, trace_id) for trace_id in ids]

        return {
            "api": [run.http(200, gets(share), gets(warm)) for share in shares],
            "raw": [
                SqlJob(run.driver, "select", params(share), params(warm), _SELECT_TRACE)
                for share in shares
            ],
        }

    return run.measure(build)


def catch_up(store: SqlEventStore, expected: int, in_server: bool) -> dict[str, Any]:
    """Check the tenant holds exactly what the API accepted; bring the projections to
    its tail (strict reads would answer 409 otherwise)."""
    tail = store.get_last_log_seq(TENANT)
    if tail != expected:
        raise BenchError(f"The tenant holds {tail} events, but the API accepted {expected}")
    projector = Projector(store)
    started = time.perf_counter()
    if in_server:
        deadline = time.monotonic() + PROJECTOR_WAIT_S
        while min(projector.cursors(TENANT).values()) < tail:
            if time.monotonic() > deadline:
                raise BenchError(f"The server's projector did not reach {tail} in time")
            time.sleep(0.2)
    else:
        projector.catch_up(TENANT)
    return {
        "by": "the server's projector" if in_server else "Projector.catch_up in the bench",
        "events": tail,
        "seconds": round(time.perf_counter() - started, 2),
    }
