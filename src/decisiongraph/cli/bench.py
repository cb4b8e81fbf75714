"""``decisiongraph bench``: benchmarks that print figures beside raw database rates.

The measuring lives in :mod:`decisiongraph.cli.bench_store` and
:mod:`decisiongraph.cli.bench_projector`; these commands only parse options and choose
the output (Rich tables, or one JSON object with ``--json``).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from decisiongraph.cli.bench_api import api_command
from decisiongraph.cli.bench_projector import projector_command
from decisiongraph.cli.bench_report import (
    DEFAULT_POSTGRES_URL,
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
from decisiongraph.cli.bench_store import run_store_bench
from decisiongraph.cli.output import (
    warn,
)

bench_app = typer.Typer(help="Benchmarks that print figures beside raw database rates.")


@bench_app.callback()
def bench() -> None:
    """Benchmarks that print figures beside raw database rates, measured in the same run."""


@bench_app.command("store")
def store(
    events: Annotated[
        int, typer.Option("--events", min=10, help="Events per figure (traces of 10).")
    ] = 5000,
    postgres_url: PostgresUrlOption = DEFAULT_POSTGRES_URL,
    sqlite_dir: SqliteDirOption = None,
    backend: BackendOption = Backend.all,
    json_output: JsonOption = False,
) -> None:
    """Append and read rates of the event store beside the raw database rates."""
    report_bench(
        lambda: run_store_bench(
            events=events,
            postgres_url=postgres_url,
            sqlite_dir=sqlite_dir,
            backends=backends_of(backend),
            log=warn,
        ),
        render_report,
        json_output=json_output,
    )


#: ``bench projector``: options, measuring and tables live in its own module.
bench_app.command("projector")(projector_command)
bench_app.command("api")(api_command)


def render_report(report: dict[str, Any], console: Console) -> None:
    """The report as Rich text: machine and workload, then one table per backend."""
    machine, workload = report["machine"], report["workload"]
    payload = workload["payload_bytes"]
    print_machine(console, machine)
    console.print(
        f"[bold]Workload:[/] {workload['events_per_figure']:,} events per append figure "
        f"(traces of {workload['trace_length']}), payload JSON {payload['min']}-"
        f"{payload['max']} B (mean {payload['mean']} B), batch size {workload['batch_size']}, "
        f"{workload['clients']} concurrent clients, one tenant",
    )
    for result in report["backends"].values():
        print_backend_setup(console, result["setup"])
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column("Figure (raw method)", ratio=1)
        table.add_column("Events", justify="right")
        table.add_column("Ours/s", justify="right")
        table.add_column("Raw/s", justify="right")
        table.add_column("Ours/raw", justify="right")
        table.add_column("Target", justify="right")
        for figure in result["figures"].values():
            target = figure.get("target_pct")
            target_text = "" if target is None else f">={target}%"
            if target is not None:
                target_text += " [green]ok[/]" if figure["meets_target"] else " [red]MISS[/]"
            table.add_row(
                f"{figure['description']}\n[dim]raw: {figure['raw_method']}[/]",
                f"{figure['events']:,}"
                + (f" x{passes}" if (passes := figure["passes"]) > 1 else ""),
                f"{figure['ours_events_per_s']:,.0f}",
                f"{figure['raw_events_per_s']:,.0f}",
                f"{figure['ratio_pct']:.1f}%",
                target_text,
            )
        console.print(table)
