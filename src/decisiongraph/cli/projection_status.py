"""``decisiongraph projection-status``: a tenant's projection health (spec 7, 9;
HTTP_API 6.7): a Rich table per projection, or the health object as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from decisiongraph.cli.options import (
    DEFAULT_DATABASE_URL,
    DEFAULT_TENANT,
    DbOption,
    JsonOption,
    TenantOption,
)
from decisiongraph.cli.output import exit_on_domain_error, stdout_console, write_stdout
from decisiongraph.cli.stores import opened_store
from decisiongraph.query.health import ProjectionHealth, get_projection_health

__all__ = ["health_json", "projection_status_command"]

#: Width of the table when stdout is not a terminal (a pipe or a file): ids stay whole.
_PIPE_WIDTH = 200

IncludeDigestsOption = Annotated[
    bool,
    typer.Option(
        "--include-digests",
        help="Also compute the four digests of the live projections (reads every row).",
    ),
]


def health_json(health: ProjectionHealth) -> str:
    """``json.dumps(asdict(health), indent=2, sort_keys=True)`` (spec 9)."""
    return json.dumps(asdict(health), indent=2, sort_keys=True)


def _headline(health: ProjectionHealth) -> str:
    state = f"stale, {health.pending_events} event(s) pending" if health.is_stale else "up to date"
    return (
        f"Tenant {health.tenant_id!r}: {health.event_count} event(s) in "
        f"{health.trace_count} trace(s), tail log_seq {health.tail_log_seq}; projected to "
        f"{health.projected_last_seq} ({state}). Checked at {health.checked_at}."
    )


def _table(health: ProjectionHealth) -> Table:
    table = Table()
    table.add_column("projection", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("cursor", justify="right", no_wrap=True)
    table.add_column("lag", justify="right", no_wrap=True)
    table.add_column("lag (s)", justify="right", no_wrap=True)
    table.add_column("open failures", justify="right", no_wrap=True)
    table.add_column("last error", overflow="fold")
    table.add_column("updated_at", no_wrap=True)
    for p in health.projections:
        error = p.last_error
        table.add_row(
            Text(p.projection),
            Text(p.status + (f" ({p.active_run_id})" if p.active_run_id else "")),
            Text(str(p.cursor)),
            Text(str(p.lag_events)),
            Text(f"{p.lag_seconds:.3f}"),
            Text(str(p.open_failures)),
            Text(
                f"{error.code} at log_seq {error.log_seq} ({error.at}): {error.message}"
                if error
                else "-"
            ),
            Text(p.updated_at or "-"),
        )
    return table


def projection_status_command(
    include_digests: IncludeDigestsOption = False,
    as_json: JsonOption = False,
    db: DbOption = DEFAULT_DATABASE_URL,
    tenant: TenantOption = DEFAULT_TENANT,
) -> None:
    """Show where each projection of the tenant stands against its log.

    Per projection: cursor, lag in events and seconds, status (rebuilding, failed,
    catching_up or ok), last error and open failures. With --json, prints the health
    object ("digests" is null unless --include-digests).
    """
    with exit_on_domain_error(), opened_store(db) as store:
        health = get_projection_health(store, tenant, include_digests=include_digests)
    if as_json:
        write_stdout(health_json(health) + "\n")
        return
    console = stdout_console()
    if not console.is_terminal:
        console.width = _PIPE_WIDTH
    console.print(Text(_headline(health)))
    console.print(_table(health))
    if health.digests is not None:
        console.print(Text("Digests of the live projections:"))
        for key, value in sorted(health.digests.items()):
            console.print(Text(f"  {key}: {value}"))
