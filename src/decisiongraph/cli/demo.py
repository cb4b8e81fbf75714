"""``decisiongraph demo``: import the built-in refund-approval trace into tenant ``demo``
(idempotently), project it and print it with its projection digests. The README
Quickstart's "run" command until the HTTP service exists."""

from __future__ import annotations

import shlex

import typer

from decisiongraph.cli.demo_trace import DEMO_TENANT, DEMO_TRACE_ID, demo_records
from decisiongraph.cli.dump_trace import IncludePayloadOption
from decisiongraph.cli.import_command import run_import
from decisiongraph.cli.importer import DEFAULT_BATCH_SIZE, ImportReport
from decisiongraph.cli.options import DEFAULT_DATABASE_URL, DbOption
from decisiongraph.cli.output import (
    EXIT_DOMAIN_ERROR,
    exit_on_domain_error,
    warn,
    write_stdout,
)
from decisiongraph.cli.sources import ImportSource
from decisiongraph.cli.stores import opened_store
from decisiongraph.cli.trace_format import dump_trace_json
from decisiongraph.projections.runner import Projector

__all__ = ["demo_command"]


def _summary(
    url: str, db: str, report: ImportReport, trace_json: str, digests: dict[str, str]
) -> str:
    db_arg = "" if db == DEFAULT_DATABASE_URL else f" --db {shlex.quote(db)}"
    again = "all reused: the demo is idempotent" if report.new == 0 else "run it again: all reused"
    return (
        f"DecisionGraph demo: a refund-approval decision trace in tenant {DEMO_TENANT!r} "
        f"of {url}\n"
        f"Imported {report.total} events: {report.new} new, {report.reused} reused ({again}).\n"
        f"\nTrace {DEMO_TRACE_ID}:\n{trace_json}\n"
        "\nProjection digests (context graph, trace summary, precedent index):\n"
        + "".join(f"  {name}: {digests[name]}\n" for name in sorted(digests))
        + "\nNext:\n"
        f"  decisiongraph events list --tenant {DEMO_TENANT}{db_arg}\n"
        f"  decisiongraph dump-trace {DEMO_TRACE_ID} --tenant {DEMO_TENANT} "
        f"--include-payload{db_arg}\n"
    )


def demo_command(
    db: DbOption = DEFAULT_DATABASE_URL,
    include_payload: IncludePayloadOption = False,
) -> None:
    """Import a built-in demo decision trace into tenant 'demo' and print it.

    Creates the database if needed. Safe to run again: the second run reuses every event.
    """
    source = ImportSource("the built-in demo trace", "demo", demo_records())
    with exit_on_domain_error(), opened_store(db, create=True) as store:
        report = run_import(store, DEMO_TENANT, source, DEFAULT_BATCH_SIZE)
        events = store.get_trace_events(DEMO_TENANT, DEMO_TRACE_ID)
        projector = Projector(store)
        projector.catch_up(DEMO_TENANT)
        digests = projector.digests(DEMO_TENANT).as_dict()
        url = store.url
    if report.failure is not None:
        warn(f"Error: demo {report.failure.describe()}")
        raise typer.Exit(EXIT_DOMAIN_ERROR)
    trace_json = dump_trace_json(events, include_payload=include_payload)
    write_stdout(_summary(url, db, report, trace_json, digests))
