"""``decisiongraph events ...``: read a tenant's event log."""

from __future__ import annotations

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
from decisiongraph.cli.output import exit_on_domain_error, stdout_console, write_json
from decisiongraph.cli.stores import opened_store
from decisiongraph.domain.envelope import StoredEvent
from decisiongraph.store.base import MAX_QUERY_LIMIT

__all__ = ["DEFAULT_LIST_LIMIT", "events_app", "list_command"]

DEFAULT_LIST_LIMIT = 100
#: Width of the table when stdout is not a terminal (a pipe or a file): ids stay whole.
_PIPE_WIDTH = 200

events_app = typer.Typer(
    help="Read the event log of a tenant.",
    no_args_is_help=True,
)


def _caption(events: list[StoredEvent], tenant: str, since: int, limit: int) -> str:
    caption = f"{len(events)} event(s) of tenant {tenant!r} after log_seq {since}"
    if len(events) == limit:
        caption += f"; more may follow: --since {events[-1].log_seq}"
    return caption


def _table(events: list[StoredEvent]) -> Table:
    table = Table()
    table.add_column("log_seq", justify="right", no_wrap=True)
    table.add_column("recorded_at", no_wrap=True)
    table.add_column("trace_id", overflow="fold")
    table.add_column("seq", justify="right", no_wrap=True)
    table.add_column("event_type", no_wrap=True)
    table.add_column("event_id", overflow="fold")
    table.add_column("producer", overflow="fold")
    for event in events:
        table.add_row(
            Text(str(event.log_seq)),
            Text(event.recorded_at),
            Text(event.trace_id),
            Text(str(event.trace_seq)),
            Text(event.event_type),
            Text(event.event_id),
            Text(event.source.producer_id),
        )
    return table


@events_app.command("list")
def list_command(
    since: Annotated[
        int,
        typer.Option("--since", min=0, metavar="N", help="Only events with log_seq > N."),
    ] = 0,
    limit: Annotated[
        int,
        typer.Option("--limit", min=1, max=MAX_QUERY_LIMIT, metavar="N", help="At most N events."),
    ] = DEFAULT_LIST_LIMIT,
    as_json: JsonOption = False,
    db: DbOption = DEFAULT_DATABASE_URL,
    tenant: TenantOption = DEFAULT_TENANT,
) -> None:
    """List a tenant's events in log_seq order, after --since (exclusive).

    With --json, prints one JSON array of stored events, each with every stored field.
    """
    with exit_on_domain_error(), opened_store(db) as store:
        events = store.list_events(tenant, since_log_seq=since, limit=limit)
    if as_json:
        write_json([event.to_dict() for event in events])
        return
    console = stdout_console()
    if not events:
        console.print(Text(f"No events in tenant {tenant!r} after log_seq {since}."))
        return
    if not console.is_terminal:
        console.width = _PIPE_WIDTH
    console.print(_table(events))
    console.print(Text(_caption(events, tenant, since, limit)))
