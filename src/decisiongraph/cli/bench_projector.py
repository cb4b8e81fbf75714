"""``decisiongraph bench projector``: catch-up and rebuild rates of the projections and
the latencies of the projection-backed queries, beside the targets of the issue.

One run per backend, on a throwaway database (the same drivers as ``bench store``):

1. load ``--traces`` finished traces of 10 events (realistic payloads, several policies
   from very common to rare, entities shared by a few traces, mixed outcomes, precedents
   citing earlier traces) into one tenant with ``append_batch`` (not a figure of this
   bench, but its rate is printed);
2. project the whole log from scratch with :meth:`Projector.catch_up` (timed: log events
   per second, each event going into all three projections);
3. time ``--queries`` calls of each projection-backed query on random targets, strict
   consistency (the projections are caught up): precedent search (several filters),
   context subgraph of depth 2 (around trace nodes and entity nodes), trace read
   (timeline and summary) and trace summary read;
4. rebuild every projection with :meth:`Projector.rebuild` (timed as well).

Run it with ``python -m decisiongraph.cli.bench_projector`` or ``decisiongraph bench
projector``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from decisiongraph.cli.bench_report import (
    Backend,
    BackendOption,
    JsonOption,
    PostgresUrlOption,
    SqliteDirOption,
    backends_of,
    print_backend_setup,
    print_machine,
    report_bench,
)
from decisiongraph.cli.bench_store import (
    BACKENDS,
    DEFAULT_POSTGRES_URL,
    TENANT,
    TRACE_LENGTH,
    BenchError,
    PostgresDriver,
    RawDriver,
    SqliteDriver,
    Workload,
    _machine,
)
from decisiongraph.cli.output import (
    warn,
)
from decisiongraph.cli.project import BatchSizeOption
from decisiongraph.domain.envelope import EventEnvelope
from decisiongraph.projections.engine import PROJECTION_NAMES
from decisiongraph.projections.runner import DEFAULT_BATCH_SIZE, Projector
from decisiongraph.projections.tables import Sql
from decisiongraph.query import (
    GraphFilter,
    NodeRef,
    PrecedentQuery,
    find_precedents,
    get_context_subgraph,
    get_trace,
    get_trace_summary,
)
from decisiongraph.store.base import SqlEventStore

__all__ = [
    "CATCH_UP_TARGETS",
    "QUERIES",
    "ProjectorWorkload",
    "projector_command",
    "render_projector_report",
    "run_projector_bench",
]

DEFAULT_TRACES = 100_000
DEFAULT_QUERIES = 300
#: Events per ``append_batch`` call while loading (whole traces).
LOAD_BATCH = 1000
#: Untimed rounds of every query before the timed ones (caches, prepared plans).
WARMUP_ROUNDS = 20
GRAPH_DEPTH = 2

#: The issue's catch-up targets, log events per second, on this 2-core machine.
CATCH_UP_TARGETS: dict[str, int] = {"postgres": 10_000, "sqlite": 20_000}


@dataclass(frozen=True, slots=True)
class LatencyTarget:
    """``percentile`` of the latencies must be at most ``ms`` milliseconds."""

    percentile: str
    ms: float


_PRECEDENT_TARGET = LatencyTarget("p95", 20.0)
_GRAPH_TARGET = LatencyTarget("p95", 20.0)
_TRACE_TARGET = LatencyTarget("p50", 2.0)

#: key -> (short label, what one call does, the issue's target or None)
QUERIES: dict[str, tuple[str, str, LatencyTarget | None]] = {
    "precedents_common_policy": (
        "precedents: common policy",
        "find_precedents(policy_id) with one of the 4 common policies",
        _PRECEDENT_TARGET,
    ),
    "precedents_rare_policy": (
        "precedents: rare policy",
        "find_precedents(policy_id) with one of the rare policies",
        _PRECEDENT_TARGET,
    ),
    "precedents_policy_version": (
        "precedents: policy+version",
        "find_precedents(policy_id, policy_version) of a random trace",
        _PRECEDENT_TARGET,
    ),
    "precedents_entity": (
        "precedents: entity",
        "find_precedents(entity_type, entity_id) of a random trace",
        _PRECEDENT_TARGET,
    ),
    "precedents_policy_entity": (
        "precedents: policy+entity",
        "find_precedents(policy_id, entity_type, entity_id) of a random trace",
        _PRECEDENT_TARGET,
    ),
    "precedents_outcome": (
        "precedents: outcome",
        "find_precedents(outcome), one of the outcomes drawn uniformly",
        _PRECEDENT_TARGET,
    ),
    "precedents_policy_outcome": (
        "precedents: policy+outcome",
        "find_precedents(policy_id, outcome): a random trace's policy, an outcome drawn uniformly",
        _PRECEDENT_TARGET,
    ),
    "subgraph_trace": (
        f"subgraph depth {GRAPH_DEPTH}: trace",
        f"get_context_subgraph(depth {GRAPH_DEPTH}, default bounds) around a random trace node",
        _GRAPH_TARGET,
    ),
    "subgraph_entity": (
        f"subgraph depth {GRAPH_DEPTH}: entity",
        f"get_context_subgraph(depth {GRAPH_DEPTH}, default bounds) around a random entity node",
        _GRAPH_TARGET,
    ),
    "trace_read": (
        "trace read",
        "get_trace of a random trace: timeline (10 events) and summary",
        _TRACE_TARGET,
    ),
    "trace_summary": (
        "trace summary read",
        "get_trace_summary of a random trace",
        None,
    ),
}
#: The row that sums up every precedent query (its target: p95).
PRECEDENTS_ALL = "precedents_all"

Log = Callable[[str], None]


# ----------------------------------------------------------------- workload

#: (policy_id, share of traces). The rest of the traces use one of the rare policies.
_COMMON_POLICIES: tuple[tuple[str, float], ...] = (
    ("discount_policy", 0.45),
    ("credit_limit_policy", 0.25),
    ("pricing_floor_policy", 0.15),
    ("regional_compliance_policy", 0.13),
)
RARE_POLICIES: tuple[str, ...] = tuple(f"special_terms_policy_{n:02d}" for n in range(40))
_VERSIONS: tuple[tuple[str, float], ...] = (("2.1", 0.7), ("2.0", 0.25), ("1.0", 0.05))
_OUTCOMES: tuple[tuple[str, float], ...] = (
    ("success", 0.80),
    ("failure", 0.12),
    ("abandoned", 0.05),
    ("approved", 0.03),
)
_APPROVERS = ("vp_sales_emea", "vp_sales_us", "vp_sales_apac", "cfo", "deal_desk_lead")
#: (entity_type, system, id prefix, traces per entity on average, share of traces)
_ENTITY_KINDS: tuple[tuple[str, str, str, int, float], ...] = (
    ("opportunity", "salesforce", "sf:opp:", 4, 0.75),
    ("account", "salesforce", "sf:acct:", 12, 0.25),
)


@dataclass(frozen=True, slots=True)
class TraceInfo:
    """What the queries need to know about one loaded trace."""

    trace_id: str
    policy_id: str
    policy_version: str
    entity_type: str
    entity_id: str
    outcome: str


def _weighted(rng: random.Random, choices: Sequence[tuple[str, float]]) -> str:
    return rng.choices([name for name, _ in choices], [weight for _, weight in choices])[0]


class ProjectorWorkload(Workload):
    """The traces of ``bench store`` with what makes the projections and queries real.

    Each trace gets one policy (shared by its PolicyEvaluated and ExceptionRequested):
    four common ones cover 98% of the traces, 40 rare ones the other 2%; a primary
    entity drawn from a pool so that an opportunity appears in about 4 traces and an
    account in about 12; an outcome (success, failure, abandoned, approved); an approver
    among five; and a PrecedentCited naming an earlier trace of the run.
    """

    def __init__(self, total_traces: int, seed: int = 20260101) -> None:
        super().__init__(seed)
        self._pools = {
            kind: max(1, round(total_traces * share / per_entity))
            for kind, _, _, per_entity, share in _ENTITY_KINDS
        }
        self._current: TraceInfo | None = None
        self._approver = ""
        self.loaded: list[TraceInfo] = []

    def _trace(self) -> list[EventEnvelope]:
        envelopes = super()._trace()
        if self._current is not None:
            self.loaded.append(dataclasses.replace(self._current, trace_id=envelopes[0].trace_id))
        self._current = None
        return envelopes

    def _draw(self) -> TraceInfo:
        """The attributes of the trace being generated, drawn at its first event."""
        if self._current is not None:
            return self._current
        rng = self._rng
        if rng.random() < sum(share for _, share in _COMMON_POLICIES):
            policy_id = _weighted(rng, _COMMON_POLICIES)
        else:
            policy_id = rng.choice(RARE_POLICIES)
        entity_type = _weighted(rng, [(kind, share) for kind, _, _, _, share in _ENTITY_KINDS])
        prefix = next(p for kind, _, p, _, _ in _ENTITY_KINDS if kind == entity_type)
        self._current = TraceInfo(
            "",  # known once the trace is complete
            policy_id,
            _weighted(rng, _VERSIONS),
            entity_type,
            f"{prefix}{rng.randrange(self._pools[entity_type])}",
            _weighted(rng, _OUTCOMES),
        )
        self._approver = rng.choice(_APPROVERS)
        return self._current

    def _payload(self, event_type: str, number: int) -> dict[str, Any]:
        payload = super()._payload(event_type, number)
        info = self._draw()
        system = next(s for kind, s, _, _, _ in _ENTITY_KINDS if kind == info.entity_type)
        entity = {"entity_type": info.entity_type, "entity_id": info.entity_id, "system": system}
        for key in ("primary_entity", "entity", "target_entity"):
            if key in payload:
                payload[key] = dict(entity)
        if "policy" in payload:
            payload["policy"] = {
                "policy_id": info.policy_id,
                "policy_version": info.policy_version,
            }
        if event_type == "TraceFinished":
            payload["outcome"] = info.outcome
        elif event_type == "PrecedentCited" and self.loaded:
            payload["cited_trace_id"] = self._rng.choice(self.loaded).trace_id
        elif event_type == "ApprovalRecorded":
            payload["approver"] = {"actor_type": "person", "actor_id": self._approver}
        return payload

    def batches(self, traces: int, events_per_batch: int) -> Iterator[list[EventEnvelope]]:
        """``traces`` new traces, generated lazily, as batches of whole traces."""
        per_batch = max(1, events_per_batch // TRACE_LENGTH)
        remaining = traces
        while remaining > 0:
            count = min(per_batch, remaining)
            remaining -= count
            yield [envelope for trace in self.traces(count) for envelope in trace]


# ------------------------------------------------------------------ measuring


def _percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks (``fraction`` in 0..1)."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    position = fraction * (len(sorted_values) - 1)
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def latency_figure(
    label: str,
    description: str,
    seconds: Sequence[float],
    results: Sequence[int],
    target: LatencyTarget | None,
) -> dict[str, Any]:
    """p50/p95/p99/mean/max in milliseconds of ``seconds``, and the target check."""
    values = sorted(1000.0 * value for value in seconds)
    figure: dict[str, Any] = {
        "label": label,
        "description": description,
        "calls": len(values),
        "p50_ms": round(_percentile(values, 0.50), 3),
        "p95_ms": round(_percentile(values, 0.95), 3),
        "p99_ms": round(_percentile(values, 0.99), 3),
        "mean_ms": round(sum(values) / len(values), 3),
        "max_ms": round(values[-1], 3),
        "mean_results": round(sum(results) / len(results), 1),
    }
    if target is not None:
        figure["target"] = {"percentile": target.percentile, "max_ms": target.ms}
        figure["meets_target"] = figure[f"{target.percentile}_ms"] <= target.ms
    return figure


def _rate_figure(
    label: str,
    description: str,
    events: int,
    wall: float,
    cpu: float,
    target: int | None = None,
) -> dict[str, Any]:
    figure: dict[str, Any] = {
        "label": label,
        "description": description,
        "events": events,
        "seconds": round(wall, 3),
        "events_per_s": round(events / wall, 1),
        "client_cpu_us_per_event": round(1e6 * cpu / events, 1),
    }
    if target is not None:
        figure["target_events_per_s"] = target
        figure["meets_target"] = events / wall >= target
    return figure


#: One query call on a random target; returns the size of its answer (hits, nodes...).
QueryCall = Callable[[], int]


class _Queries:
    """Random targets for every query of :data:`QUERIES`, from the loaded traces."""

    def __init__(self, store: SqlEventStore, traces: Sequence[TraceInfo], seed: int) -> None:
        self.store = store
        self.traces = traces
        self.rng = random.Random(seed)
        counts = Counter(info.policy_id for info in traces)
        common = [name for name, _ in _COMMON_POLICIES if name in counts]
        self.common_policies = common or [name for name, _ in _COMMON_POLICIES]
        self.rare_policies = [name for name in RARE_POLICIES if name in counts] or list(
            RARE_POLICIES
        )
        self.outcomes = sorted({info.outcome for info in traces})
        self.graph = GraphFilter(max_depth=GRAPH_DEPTH)

    def _trace(self) -> TraceInfo:
        return self.rng.choice(self.traces)

    def _precedents(self, query: PrecedentQuery) -> int:
        return len(find_precedents(self.store, TENANT, query).items)

    def call(self, key: str) -> QueryCall:
        """A call of query ``key`` with its target already drawn."""
        info = self._trace()
        store, rng = self.store, self.rng
        if key == "precedents_common_policy":
            query = PrecedentQuery(policy_id=rng.choice(self.common_policies))
        elif key == "precedents_rare_policy":
            query = PrecedentQuery(policy_id=rng.choice(self.rare_policies))
        elif key == "precedents_policy_version":
            query = PrecedentQuery(policy_id=info.policy_id, policy_version=info.policy_version)
        elif key == "precedents_entity":
            query = PrecedentQuery(entity_type=info.entity_type, entity_id=info.entity_id)
        elif key == "precedents_policy_entity":
            query = PrecedentQuery(
                policy_id=info.policy_id, entity_type=info.entity_type, entity_id=info.entity_id
            )
        elif key == "precedents_outcome":
            query = PrecedentQuery(outcome=rng.choice(self.outcomes))
        elif key == "precedents_policy_outcome":
            query = PrecedentQuery(policy_id=info.policy_id, outcome=rng.choice(self.outcomes))
        elif key in {"subgraph_trace", "subgraph_entity"}:
            center = (
                NodeRef("trace", info.trace_id)
                if key == "subgraph_trace"
                else NodeRef("entity", f"{info.entity_type}:{info.entity_id}")
            )
            graph = self.graph
            return lambda: len(
                get_context_subgraph(store, TENANT, center, GRAPH_DEPTH, graph).nodes
            )
        elif key == "trace_read":
            return lambda: len(get_trace(store, TENANT, info.trace_id).events)
        elif key == "trace_summary":
            return lambda: get_trace_summary(store, TENANT, info.trace_id).summary.event_total
        else:
            raise BenchError(f"Unknown query {key!r}")
        return lambda: self._precedents(query)


def _time_queries(
    store: SqlEventStore, traces: Sequence[TraceInfo], calls: int, name: str, log: Log
) -> dict[str, Any]:
    """``calls`` timed calls of every query, in rounds (one call of each query per round,
    so that every query sees the same background load), after untimed warm-up rounds."""
    queries = _Queries(store, traces, seed=len(traces))
    seconds: dict[str, list[float]] = {key: [] for key in QUERIES}
    results: dict[str, list[int]] = {key: [] for key in QUERIES}
    warmup = min(WARMUP_ROUNDS, calls)
    step = max(1, calls // 5)
    for index in range(-warmup, calls):
        for key in QUERIES:
            call = queries.call(key)
            started = time.perf_counter()
            size = call()
            elapsed = time.perf_counter() - started
            if index >= 0:
                seconds[key].append(elapsed)
                results[key].append(size)
        if index >= 0 and (index + 1) % step == 0:
            log(f"[{name}] queries: {index + 1:,}/{calls:,} rounds")
    figures: dict[str, Any] = {}
    precedent_keys = [key for key in QUERIES if key.startswith("precedents_")]
    for key, (label, description, target) in QUERIES.items():
        figures[key] = latency_figure(label, description, seconds[key], results[key], target)
        if key == precedent_keys[-1]:
            figures[PRECEDENTS_ALL] = latency_figure(
                "precedents: all kinds",
                "every precedent search above, together",
                [value for k in precedent_keys for value in seconds[k]],
                [value for k in precedent_keys for value in results[k]],
                _PRECEDENT_TARGET,
            )
    return figures


def _load(
    store: SqlEventStore, workload: ProjectorWorkload, traces: int, name: str, log: Log
) -> dict[str, Any]:
    """Append ``traces`` traces; the time spent in ``append_batch`` only."""
    wall = cpu = 0.0
    events = 0
    step = max(1, traces // 10)
    next_report = step
    for batch in workload.batches(traces, LOAD_BATCH):
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        store.append_batch(TENANT, batch)
        wall += time.perf_counter() - wall_start
        cpu += time.process_time() - cpu_start
        events += len(batch)
        loaded = events // TRACE_LENGTH
        if loaded >= next_report or loaded == traces:
            log(
                f"[{name}] loaded {loaded:,}/{traces:,} traces "
                f"({events / wall:,.0f} events/s in append_batch)"
            )
            next_report = (loaded // step + 1) * step
    return _rate_figure(
        "load (setup)",
        f"store.append_batch, {LOAD_BATCH} events (whole traces) per call; time in the call only",
        events,
        wall,
        cpu,
    )


def _timed_projection(
    work: Callable[[], int], events: int, label: str, description: str, target: int | None
) -> dict[str, Any]:
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    applied = work()
    wall = time.perf_counter() - wall_start
    cpu = time.process_time() - cpu_start
    figure = _rate_figure(label, description, events, wall, cpu, target)
    figure["applied"] = applied
    return figure


def _check_caught_up(projector: Projector, tail: int, what: str) -> None:
    cursors = projector.cursors(TENANT)
    behind = {name: cursor for name, cursor in cursors.items() if cursor != tail}
    if behind:
        raise BenchError(f"After {what} the projections are not at the tail {tail}: {behind}")


_ROW_COUNTS = {
    "graph_nodes": "dg_cg_nodes",
    "graph_edges": "dg_cg_edges",
    "trace_summaries": "dg_trace_summary",
    "precedent_rows": "dg_precedent_index",
}


def _row_counts(store: SqlEventStore) -> dict[str, int]:
    """Rows of each projection table of the tenant (one live version after catch-up)."""
    counts: dict[str, int] = {}
    with store.read_snapshot() as conn:
        sql = Sql(conn, store.dialect)
        for key, table in _ROW_COUNTS.items():
            row = sql.one(f"SELECT COUNT(*) FROM {table} WHERE tenant_id = %s", (TENANT,))
            counts[key] = int(row[0]) if row else 0
    return counts


def _server_settings(store: SqlEventStore) -> dict[str, str]:
    """Settings that change projection and query times (PostgreSQL only)."""
    if store.dialect != "postgres":
        return {}
    settings: dict[str, str] = {}
    with store.read_snapshot() as conn:
        for name in ("autovacuum", "work_mem", "effective_cache_size", "random_page_cost"):
            row = conn.execute(f"SHOW {name}").fetchone()
            settings[name] = str(row[0]) if row else "?"
    return settings


def run_backend(
    driver: RawDriver[Any],
    *,
    traces: int,
    batch_size: int,
    queries: int,
    log: Log,
) -> tuple[dict[str, Any], ProjectorWorkload]:
    """Load, catch up, query and rebuild on ``driver``; its report and the workload."""
    name = driver.name
    workload = ProjectorWorkload(traces)
    try:
        log(f"[{name}] preparing a fresh database")
        store = driver.open_store(pool_size=4)
        try:
            setup = driver.setup()
            setup["settings"].update(_server_settings(store))
            load = _load(store, workload, traces, name, log)
            tail = store.get_last_log_seq(TENANT)
            if tail != traces * TRACE_LENGTH:
                raise BenchError(f"The store holds {tail} events, expected {traces * TRACE_LENGTH}")

            log(f"[{name}] catch-up of {tail:,} events, batches of {batch_size:,}")
            projector = Projector(store, batch_size=batch_size)
            catch_up = _timed_projection(
                lambda: projector.catch_up(TENANT),
                tail,
                "catch-up",
                f"Projector(batch_size={batch_size}).catch_up from an empty state into "
                f"{len(PROJECTION_NAMES)} projections; events of the log per second",
                CATCH_UP_TARGETS.get(name),
            )
            _check_caught_up(projector, tail, "catch-up")
            log(f"[{name}] catch-up: {catch_up['events_per_s']:,.0f} events/s")
            rows = _row_counts(store)

            latencies = _time_queries(store, workload.loaded, queries, name, log)

            log(f"[{name}] rebuild of {tail:,} events")
            rebuild = _timed_projection(
                lambda: Projector(store, batch_size=batch_size).rebuild(TENANT),
                tail,
                "rebuild",
                f"Projector(batch_size={batch_size}).rebuild of the {len(PROJECTION_NAMES)} "
                "caught-up projections (new versions, swap, old ones dropped)",
                None,
            )
            _check_caught_up(projector, tail, "the rebuild")
            log(f"[{name}] rebuild: {rebuild['events_per_s']:,.0f} events/s")
        finally:
            store.close()
    finally:
        driver.cleanup()
    report = {
        "setup": setup,
        "projection_rows": rows,
        "load": load,
        "catch_up": catch_up,
        "rebuild": rebuild,
        "queries": latencies,
    }
    return report, workload


def _workload_report(
    workload: ProjectorWorkload, traces: int, batch_size: int, queries: int
) -> dict[str, Any]:
    sizes = workload.payload_sizes
    loaded = workload.loaded
    policies = Counter(info.policy_id for info in loaded)
    rare = sum(count for policy, count in policies.items() if policy in RARE_POLICIES)
    return {
        "traces": traces,
        "events": traces * TRACE_LENGTH,
        "trace_length": TRACE_LENGTH,
        "tenant": TENANT,
        "load_batch_events": LOAD_BATCH,
        "projector_batch_size": batch_size,
        "queries_per_kind": queries,
        "warmup_rounds": min(WARMUP_ROUNDS, queries),
        "payload_bytes": {
            "mean": round(sum(sizes) / len(sizes)),
            "min": min(sizes),
            "max": max(sizes),
        },
        "policies": {
            "common": {name: policies[name] for name, _ in _COMMON_POLICIES if policies.get(name)},
            "rare_policies": len([p for p in RARE_POLICIES if policies.get(p)]),
            "rare_traces": rare,
        },
        "entities": len({(info.entity_type, info.entity_id) for info in loaded}),
        "outcomes": dict(Counter(info.outcome for info in loaded).most_common()),
    }


def run_projector_bench(
    *,
    traces: int = DEFAULT_TRACES,
    postgres_url: str = DEFAULT_POSTGRES_URL,
    sqlite_dir: Path | None = None,
    backends: Sequence[str] = BACKENDS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    queries: int = DEFAULT_QUERIES,
    log: Log = lambda _message: None,
) -> dict[str, Any]:
    """Run the projector benchmark on ``backends``; the report as one JSON-ready object."""
    if traces < 1:
        raise BenchError(f"--traces must be at least 1, got {traces}")
    if queries < 1:
        raise BenchError(f"--queries must be at least 1, got {queries}")
    if batch_size < 1:
        raise BenchError(f"--batch-size must be at least 1, got {batch_size}")
    machine = _machine()
    results: dict[str, Any] = {}
    workload: ProjectorWorkload | None = None
    for name in backends:
        with contextlib.ExitStack() as stack:
            driver: RawDriver[Any]
            if name == "postgres":
                driver = PostgresDriver(postgres_url)
            elif name == "sqlite":
                directory = sqlite_dir or Path(
                    stack.enter_context(tempfile.TemporaryDirectory(prefix="dg-bench-"))
                )
                driver = SqliteDriver(directory)
            else:
                raise BenchError(f"Unknown backend {name!r}: use one of {', '.join(BACKENDS)}")
            results[name], workload = run_backend(
                driver, traces=traces, batch_size=batch_size, queries=queries, log=log
            )
    if workload is None:
        raise BenchError("No backend to measure")
    return {
        "benchmark": "projector",
        "machine": machine,
        "workload": _workload_report(workload, traces, batch_size, queries),
        "backends": results,
    }


# ---------------------------------------------------------------------- CLI


def projector_command(
    traces: Annotated[
        int,
        typer.Option("--traces", min=1, help="Finished traces to load (10 events each)."),
    ] = DEFAULT_TRACES,
    postgres_url: PostgresUrlOption = DEFAULT_POSTGRES_URL,
    sqlite_dir: SqliteDirOption = None,
    backend: BackendOption = Backend.all,
    batch_size: BatchSizeOption = DEFAULT_BATCH_SIZE,
    queries: Annotated[
        int,
        typer.Option("--queries", min=1, help="Timed calls of each query kind."),
    ] = DEFAULT_QUERIES,
    json_output: JsonOption = False,
) -> None:
    """Catch-up and rebuild rates of the projections and query latencies, beside targets."""
    report_bench(
        lambda: run_projector_bench(
            traces=traces,
            postgres_url=postgres_url,
            sqlite_dir=sqlite_dir,
            backends=backends_of(backend),
            batch_size=batch_size,
            queries=queries,
            log=warn,
        ),
        render_projector_report,
        json_output=json_output,
    )


def _mark(ok: bool) -> str:
    return "[green]ok[/]" if ok else "[red]MISS[/]"


def render_projector_report(report: dict[str, Any], console: Console) -> None:
    """The report as Rich text: machine and workload, then two tables per backend."""
    machine, workload = report["machine"], report["workload"]
    payload = workload["payload_bytes"]
    policies = workload["policies"]
    print_machine(console, machine)
    console.print(
        f"[bold]Workload:[/] {workload['traces']:,} finished traces of "
        f"{workload['trace_length']} events ({workload['events']:,} events), one tenant; "
        f"payload JSON {payload['min']}-{payload['max']} B (mean {payload['mean']} B); "
        f"{len(policies['common'])} common policies + {policies['rare_policies']} rare ones "
        f"({policies['rare_traces']:,} traces), {workload['entities']:,} entities; "
        f"projector batches of {workload['projector_batch_size']:,}; "
        f"{workload['queries_per_kind']:,} timed calls per query "
        f"(after {workload['warmup_rounds']} warm-up rounds), strict consistency",
    )
    for result in report["backends"].values():
        print_backend_setup(console, result["setup"])
        rows = ", ".join(
            f"{key.replace('_', ' ')} {n:,}" for key, n in result["projection_rows"].items()
        )
        console.print(f"  projections: {rows}")
        rates = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        rates.add_column("Figure", no_wrap=True)
        rates.add_column("Events", justify="right")
        rates.add_column("Seconds", justify="right")
        rates.add_column("Events/s", justify="right")
        rates.add_column("CPU µs/ev", justify="right")
        rates.add_column("Target", justify="right")
        for key in ("load", "catch_up", "rebuild"):
            figure = result[key]
            target = figure.get("target_events_per_s")
            target_text = "" if target is None else f">={target:,} {_mark(figure['meets_target'])}"
            rates.add_row(
                figure["label"],
                f"{figure['events']:,}",
                f"{figure['seconds']:,.1f}",
                f"{figure['events_per_s']:,.0f}",
                f"{figure['client_cpu_us_per_event']:,.0f}",
                target_text,
            )
        console.print(rates)
        latencies = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        latencies.add_column("Query", no_wrap=True)
        latencies.add_column("Calls", justify="right")
        latencies.add_column("p50 ms", justify="right")
        latencies.add_column("p95 ms", justify="right")
        latencies.add_column("p99 ms", justify="right")
        latencies.add_column("Results", justify="right")
        latencies.add_column("Target", justify="right")
        for figure in result["queries"].values():
            target = figure.get("target")
            target_text = (
                ""
                if target is None
                else f"{target['percentile']}<={target['max_ms']:g} {_mark(figure['meets_target'])}"
            )
            latencies.add_row(
                figure["label"],
                f"{figure['calls']:,}",
                f"{figure['p50_ms']:.2f}",
                f"{figure['p95_ms']:.2f}",
                f"{figure['p99_ms']:.2f}",
                f"{figure['mean_results']:,.0f}",
                target_text,
            )
        console.print(latencies)


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``bench projector`` with ``argv`` (default: the process arguments)."""
    from decisiongraph.cli import bench  # noqa: PLC0415 - bench imports this module

    args = list(sys.argv[1:] if argv is None else argv)
    bench.bench_app(["projector", *args], prog_name="decisiongraph bench")


if __name__ == "__main__":  # pragma: no cover - convenience entry point
    main()
