"""Running a benchmark command and printing its report, shared by ``bench store`` and
``bench projector``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

from decisiongraph.cli.bench_store import BenchError
from decisiongraph.cli.output import (
    EXIT_DOMAIN_ERROR,
    exit_on_domain_error,
    stdout_console,
    warn,
    write_json,
)

__all__ = ["report_bench"]


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
