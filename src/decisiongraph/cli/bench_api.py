"""``decisiongraph bench api``: the HTTP service's ingestion and trace-read figures
against a real ``decisiongraph serve`` process on PostgreSQL, each beside the raw
database doing the same work in the same run (docs/benchmarks/API.md).

One run: a throwaway schema (``bench store``'s driver, migrated by the bench's own
store), a writer key, the client processes (:mod:`~decisiongraph.cli.bench_api_load`)
and the server on a free loopback port (:mod:`~decisiongraph.cli.bench_api_server`),
the figures (:mod:`~decisiongraph.cli.bench_api_figures`), then SIGTERM and the schema
dropped, also on failure. The report (:mod:`~decisiongraph.cli.bench_api_report`)
states the machine, the server command, the workload and every figure's both sides.

| figure | API side | raw side (psycopg, scratch table like ``dg_event_log``) |
|---|---|---|
| append_1_client | ``POST /api/v1/events``, 1 client | INSERT + COMMIT per row, 1 connection |
| append_n_clients | the same, N clients | the same, N connections |
| batch_append | ``POST /api/v1/events/batch`` (atomic), 1 client | COPY of the batch + COMMIT |
| trace_read | ``GET /api/v1/traces/{id}`` (strict), 1 client | SELECT of the trace's rows |
| trace_read_n_clients | the same, N clients | the same, N connections |

Before the reads the projections are caught up (by the bench process, or by the
server's projector with ``--projector``), so the strict default answers 200.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from decisiongraph.cli import bench_api_figures as figures
from decisiongraph.cli.bench_api_cpu import machine_idle_pct
from decisiongraph.cli.bench_api_figures import (
    EVENTS_PER_READ,
    MIN_BATCHES,
    WARMUP_READS,
    FigureRun,
    Rounds,
)
from decisiongraph.cli.bench_api_load import LoadGenerator
from decisiongraph.cli.bench_api_report import (
    TARGETS,
    figure_report,
    render_api_report,
    size_stats,
)
from decisiongraph.cli.bench_api_server import HOST, running_server
from decisiongraph.cli.bench_report import JsonOption, report_bench
from decisiongraph.cli.bench_store import (
    DEFAULT_POSTGRES_URL,
    TENANT,
    TRACE_LENGTH,
    BenchError,
    PostgresDriver,
    _machine,
)
from decisiongraph.cli.output import warn
from decisiongraph.service.accounts import Accounts
from decisiongraph.service.settings import ServiceSettings

__all__ = ["DEFAULT_EVENTS", "api_command", "run_api_bench"]

DEFAULT_EVENTS = 10_000
#: Seconds over which the machine's idle share is measured before the run.
IDLE_SAMPLE_S = 2.0
Log = Callable[[str], None]


def run_api_bench(
    *,
    db_url: str,
    events: int = DEFAULT_EVENTS,
    clients: int = 8,
    batch_size: int = 1000,
    server_workers: int = 1,
    projector: bool = False,
    log: Log = lambda _message: None,
) -> dict[str, Any]:
    """Run every figure against a fresh server; the report as one JSON-ready object."""
    if events < TRACE_LENGTH:
        raise BenchError(f"--events must be at least {TRACE_LENGTH}, got {events}")
    machine = _machine()
    cores = int(machine["cpu_count"] or 1)
    # The load average of a VM also counts tasks waiting on the disk: the idle share
    # says better whether something else is running.
    machine["cpu_idle_pct_at_start"] = machine_idle_pct(IDLE_SAMPLE_S, cores)
    append_traces = figures.traces_per_round(events)
    batch_traces = figures.traces_per_round(max(events, MIN_BATCHES * batch_size))
    reads = max(2 * WARMUP_READS, events // EVENTS_PER_READ)
    try:
        driver = PostgresDriver(db_url)
    except BenchError as exc:  # its hint names bench store's options
        hint = str(exc).replace(", or --backend sqlite to skip PostgreSQL", "")
        raise BenchError(hint.replace("--postgres-url", "--db")) from None
    try:
        store = driver.open_store(pool_size=2)
        try:
            driver.create_raw_table()
            database = driver.setup()
            _account, key = Accounts(store).create_account("bench", "writer", [TENANT])
            assert key.token is not None  # a new key always carries its token
            log(f"starting {clients} client processes and the server")
            with (
                LoadGenerator(clients, lambda: server.pid) as load,
                running_server(driver.url, workers=server_workers, projector=projector) as server,
            ):
                run = FigureRun(driver, load, server.port, key.token)
                log(f"server pid {server.pid} ready: {server.command}")
                # figure -> (its rounds, units per side: events written or traces read)
                measured: dict[str, tuple[Rounds, int]] = {}
                appended = 2 * append_traces * TRACE_LENGTH
                for figure, count in (("append_1_client", 1), ("append_n_clients", clients)):
                    log(f"{figure}: {appended:,} events")
                    measured[figure] = (figures.appends(run, append_traces, count), appended)
                batched = 2 * batch_traces * TRACE_LENGTH
                log(f"batch_append: {batched:,} events")
                measured["batch_append"] = (figures.batches(run, batch_traces, batch_size), batched)
                catch_up = figures.catch_up(store, run.api_events, projector)
                for seed, (figure, count) in enumerate(
                    (("trace_read", 1), ("trace_read_n_clients", clients))
                ):
                    log(f"{figure}: {reads:,} reads of {len(run.trace_ids):,} traces")
                    rounds = figures.reads(run, reads, count, seed)
                    measured[figure] = (rounds, sum(m.items for m in rounds["api"]))
                server_command = server.command
        finally:
            store.close()
    finally:
        driver.cleanup()
    reports = {
        key: figure_report(key, rounds, units, cores, batch_size, clients)
        for key, (rounds, units) in measured.items()
    }
    return {
        "benchmark": "api",
        "machine": machine,
        "database": database,
        "server": {
            "command": server_command,
            "host": HOST,
            "workers": server_workers,
            "projector": projector,
            "pool_size": ServiceSettings().pool_size,  # what the server reads (DG_POOL_SIZE)
            "rate_limiter": "no rate limiter in this version",
            "same_machine_as_clients": True,
        },
        "workload": {
            "tenant": TENANT,
            "trace_length": TRACE_LENGTH,
            "events_per_append_figure": appended,
            "events_per_batch_figure": batched,
            "reads_per_read_figure": 2 * -(-reads // 2),
            "batch_size": batch_size,
            "clients": clients,
            "client": "one spawned process per client, one keep-alive HTTP/1.1 socket, "
            "requests encoded before the timed window",
            "rounds": 2,
            "payload_bytes": size_stats(run.workload.payload_sizes),
            "single_request_body_bytes": size_stats(run.single_bodies),
            "batch_request_body_bytes": size_stats(run.batch_bodies),
            "traces_readable": len(run.trace_ids),
            "projection_catch_up": catch_up,
        },
        "targets": {key: target.text() for key, target in TARGETS.items()},
        "figures": reports,
    }


# ---------------------------------------------------------------------- CLI


def api_command(
    db: Annotated[
        str,
        typer.Option(
            "--db",
            envvar="DG_BENCH_POSTGRES_URL",
            help="PostgreSQL server; the bench uses a throwaway schema and drops it.",
        ),
    ] = DEFAULT_POSTGRES_URL,
    events: Annotated[
        int,
        typer.Option(
            "--events",
            min=TRACE_LENGTH,
            help="Events per append figure (traces of 10); the batch figure sends at least "
            f"{MIN_BATCHES} batches; one trace read per {EVENTS_PER_READ} events.",
        ),
    ] = DEFAULT_EVENTS,
    clients: Annotated[
        int,
        typer.Option("--clients", min=1, max=64, help="Client processes of the N-client figures."),
    ] = 8,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=1000, help="Events per batch request.")
    ] = 1000,
    server_workers: Annotated[
        int, typer.Option("--server-workers", min=1, max=64, help="serve --workers.")
    ] = 1,
    projector: Annotated[
        bool,
        typer.Option(
            "--projector/--no-projector",
            help="Run the server's projector during the figures (default: off; the bench "
            "catches the projections up itself before the reads).",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """HTTP ingestion and trace-read figures of a real server, beside the raw database."""
    report_bench(
        lambda: run_api_bench(
            db_url=db,
            events=events,
            clients=clients,
            batch_size=batch_size,
            server_workers=server_workers,
            projector=projector,
            log=warn,
        ),
        render_api_report,
        json_output=json_output,
    )
