"""``decisiongraph import PATH``: append the envelopes of a fixture file, JSON array or
NDJSON stream to one tenant, in file order, in atomic batches."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from decisiongraph.cli.importer import DEFAULT_BATCH_SIZE, ImportReport, import_records
from decisiongraph.cli.options import (
    DEFAULT_DATABASE_URL,
    DEFAULT_TENANT,
    DbOption,
    JsonOption,
    TenantOption,
)
from decisiongraph.cli.output import (
    EXIT_DOMAIN_ERROR,
    exit_on_domain_error,
    stderr_console,
    stderr_is_terminal,
    warn,
    write_json,
    write_stdout,
)
from decisiongraph.cli.sources import ImportSource, read_source
from decisiongraph.cli.stores import opened_store
from decisiongraph.store.base import EventStore

__all__ = ["import_command", "run_import"]


def run_import(
    store: EventStore, tenant: str, source: ImportSource, batch_size: int
) -> ImportReport:
    """Import ``source`` with a progress bar on stderr when it is a terminal."""
    with Progress(
        TextColumn("Importing {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr_console(),
        disable=not stderr_is_terminal(),
        transient=True,
    ) as progress:
        task = progress.add_task(source.name, total=len(source.records))
        return import_records(
            store,
            tenant,
            source.records,
            batch_size=batch_size,
            on_progress=lambda done: progress.advance(task, done),
        )


def _summary(source: ImportSource, tenant: str, report: ImportReport, last_log_seq: int) -> str:
    head = "Imported" if report.failure is None else "Stopped at a rejected event after importing"
    return (
        f"{head} {report.total} event(s) from {source.name} into tenant {tenant!r}: "
        f"{report.new} new, {report.reused} reused; "
        f"the tenant's log ends at log_seq {last_log_seq}.\n"
    )


def _document(
    source: ImportSource, url: str, tenant: str, report: ImportReport, last_log_seq: int
) -> dict[str, Any]:
    return {
        "source": source.name,
        "format": source.format,
        "database": url,
        "tenant": tenant,
        "new": report.new,
        "reused": report.reused,
        "total": report.total,
        "last_log_seq": last_log_seq,
        "error": None if report.failure is None else report.failure.to_dict(),
    }


def import_command(
    path: Annotated[
        str,
        typer.Argument(
            metavar="PATH",
            help="Fixture file (object with an 'events' array), JSON array of envelopes, "
            "or NDJSON (one envelope per line); '-' reads stdin.",
            show_default=False,
        ),
    ],
    batch_size: Annotated[
        int,
        typer.Option("--batch-size", min=1, metavar="N", help="Events per atomic batch."),
    ] = DEFAULT_BATCH_SIZE,
    db: DbOption = DEFAULT_DATABASE_URL,
    tenant: TenantOption = DEFAULT_TENANT,
    as_json: JsonOption = False,
) -> None:
    """Import event envelopes into a tenant, in file order (creates the database if needed).

    Re-importing the same file adds nothing (every event is an idempotent reuse). On a
    rejected event the import stops with exit code 1, naming the event's 0-based index in
    the file, its event_id and the error; exactly the events before it are committed.
    """
    with exit_on_domain_error():
        source = read_source(path)
        with opened_store(db, create=True) as store:
            report = run_import(store, tenant, source, batch_size)
            last_log_seq = store.get_last_log_seq(tenant)
            url = store.url
    if as_json:
        write_json(_document(source, url, tenant, report, last_log_seq))
    else:
        write_stdout(_summary(source, tenant, report, last_log_seq))
    if report.failure is not None:
        failure = report.failure
        warn(f"Error: {failure.describe(source.location(failure.index))}")
        raise typer.Exit(EXIT_DOMAIN_ERROR)
