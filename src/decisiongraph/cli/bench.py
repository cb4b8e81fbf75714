"""``decisiongraph bench``: benchmark commands (work in progress)."""

from __future__ import annotations

import typer

bench_app = typer.Typer(help="Benchmarks that print figures beside raw database rates.")
