"""What the ``bench`` commands share: their common options (``--postgres-url``,
``--sqlite-dir``, ``--backend``, ``--json``) and running a benchmark to print its
report."""

from __future__ import annotations

import enum
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from decisiongraph.cli.bench_store import BACKENDS, DEFAULT_POSTGRES_URL, BenchError
from decisiongraph.cli.output import (
    EXIT_DOMAIN_ERROR,
    exit_on_domain_error,
    stdout_console,
    warn,
    write_json,
)

__all__ = [
    "DEFAULT_POSTGRES_URL",
    "Backend",
    "BackendOption",
    "JsonOption",
    "PostgresUrlOption",
    "SqliteDirOption",
    "backends_of",
    "print_backend_setup",
    "print_machine",
    "report_bench",
]


class Backend(enum.StrEnum):
    """Which backends a benchmark measures."""

    postgres = "postgres"
    sqlite = "sqlite"
    all = "all"


def backends_of(backend: Backend) -> tuple[str, ...]:
    """The backend names ``--backend`` selects."""
    return BACKENDS if backend is Backend.all else (backend.value,)


PostgresUrlOption = Annotated[
    str,
    typer.Option(
        "--postgres-url",
        envvar="DG_BENCH_POSTGRES_URL",
        help="PostgreSQL server; the bench uses a throwaway schema and drops it.",
    ),
]
SqliteDirOption = Annotated[
    Path | None,
    typer.Option(
        "--sqlite-dir",
        file_okay=False,
        help="Directory for the throwaway SQLite file (default: a temporary one).",
    ),
]
BackendOption = Annotated[Backend, typer.Option("--backend", help="Backend(s) to measure.")]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON object instead of tables.")
]


def report_bench(
    measure: Callable[[], dict[str, Any]],
    render: Callable[[dict[str, Any], Console], None],
    *,
    json_output: bool,
) -> None:
    """Run ``measure`` and print its report: one JSON object with ``json_output``, else
    ``render``'s tables. A BenchError or a domain error is one line on stderr, exit 1."""
    try:
        with exit_on_domain_error():
            report = measure()
    except BenchError as exc:
        warn(f"Error: {exc}")
        raise typer.Exit(EXIT_DOMAIN_ERROR) from None
    if json_output:
        write_json(report)
    else:
        render(report, stdout_console())


def print_machine(console: Console, machine: dict[str, Any]) -> None:
    """The report's machine line (cores, memory, platform, Python, load)."""
    console.print(
        f"[bold]Machine:[/] {machine['cpu_count']} cores, {machine['memory_gib']} GiB RAM, "
        f"{machine['platform']}, Python {machine['python']}, "
        f"load average at start {machine['load_average_at_start']}",
    )


def print_backend_setup(console: Console, setup: dict[str, Any]) -> None:
    """A backend's heading: engine and version, where it ran, and its settings."""
    where = str(setup.get("url") or setup.get("path"))
    if "schema" in setup:
        where += f", schema {setup['schema']}"
    if setup.get("filesystem"):
        where += f" ({setup['filesystem']})"
    settings = ", ".join(f"{key}={value}" for key, value in setup["settings"].items())
    console.print()
    console.print(f"[bold]{setup['backend']} {setup['version']}[/] {where}")
    console.print(f"  {settings}")
