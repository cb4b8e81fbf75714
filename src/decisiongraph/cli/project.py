"""``decisiongraph project``: catch a tenant's projections (or every tenant's) up with
the log once, or keep them caught up as a long-lived worker (``--follow``) until SIGINT
or SIGTERM, which stop it gracefully after the step in progress."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated, Any

import typer

from decisiongraph.cli.options import (
    DEFAULT_DATABASE_URL,
    DEFAULT_TENANT,
    DbOption,
    JsonOption,
    TenantOption,
)
from decisiongraph.cli.output import exit_on_domain_error, warn, write_json, write_stdout
from decisiongraph.cli.stores import opened_store
from decisiongraph.projections import tables
from decisiongraph.projections.engine import PROJECTION_NAMES
from decisiongraph.projections.runner import DEFAULT_BATCH_SIZE
from decisiongraph.projections.tables import Sql
from decisiongraph.projections.worker import ProjectionWorker, WorkerStats
from decisiongraph.store.base import MAX_QUERY_LIMIT, SqlEventStore

__all__ = ["BatchSizeOption", "project_command"]

BatchSizeOption = Annotated[
    int,
    typer.Option(
        "--batch-size",
        min=1,
        max=MAX_QUERY_LIMIT,
        metavar="N",
        help="Events per projection transaction.",
    ),
]

AllOption = Annotated[
    bool, typer.Option("--all", help="Every tenant of the database (instead of --tenant).")
]
FollowOption = Annotated[
    bool,
    typer.Option(
        "--follow",
        help="Keep running as a worker, woken by new events, until SIGINT or SIGTERM.",
    ),
]


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT and SIGTERM for the block (handlers restored after)."""

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _positions(store: SqlEventStore, tenants: list[str]) -> dict[str, dict[str, Any]]:
    """Per tenant: its tail, each live cursor and the projections that are failed."""
    positions: dict[str, dict[str, Any]] = {}
    for tenant in tenants:
        tail = store.get_last_log_seq(tenant)
        with store.read_snapshot() as conn:
            metas = tables.read_meta(Sql(conn, store.dialect), tenant)
        positions[tenant] = {
            "tail_log_seq": tail,
            "cursors": {n: metas[n].cursor if n in metas else 0 for n in PROJECTION_NAMES},
            "failed": [n for n in PROJECTION_NAMES if n in metas and metas[n].status == "failed"],
        }
    return positions


def _document(stats: WorkerStats, positions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    tenants = {}
    for tenant, position in sorted(positions.items()):
        applied = dict.fromkeys(PROJECTION_NAMES, 0)
        applied.update(stats.applied.get(tenant, {}))
        tenants[tenant] = {"applied": applied, **position}
    return {
        "tenants": tenants,
        "total_applied": stats.total,
        "steps": stats.steps,
        "parked": stats.failures,
        "errors": stats.errors,
    }


def _text(document: dict[str, Any]) -> str:
    if not document["tenants"]:
        return "No tenant has events; nothing to project.\n"
    lines = []
    for tenant, info in document["tenants"].items():
        applied = ", ".join(f"{n} {c}" for n, c in info["applied"].items())
        cursors = ", ".join(f"{n} {c}" for n, c in info["cursors"].items())
        lines.append(
            f"Tenant {tenant!r}: applied {sum(info['applied'].values())} event(s) ({applied}); "
            f"cursors {cursors}; tail log_seq {info['tail_log_seq']}."
        )
    return "\n".join(lines) + "\n"


def _warn_failed(positions: dict[str, dict[str, Any]]) -> None:
    for tenant, info in sorted(positions.items()):
        for name in info["failed"]:
            warn(
                f"Warning: projection {name} of tenant {tenant!r} is stopped on a parked "
                f"event at log_seq {info['cursors'][name] + 1}; see 'decisiongraph "
                f"projection-status --tenant {tenant}'"
            )


def project_command(
    ctx: typer.Context,
    all_tenants: AllOption = False,
    follow: FollowOption = False,
    batch_size: BatchSizeOption = DEFAULT_BATCH_SIZE,
    as_json: JsonOption = False,
    db: DbOption = DEFAULT_DATABASE_URL,
    tenant: TenantOption = DEFAULT_TENANT,
) -> None:
    """Catch projections up with the log: one tenant (--tenant) or every tenant (--all).

    Without --follow, projects every pending event once and prints what it applied.
    With --follow, runs as a worker (several may share a PostgreSQL database: they divide
    the work and never project an event twice) until SIGINT or SIGTERM, then prints the
    same report. A projection stopped on a parked event is reported on stderr.
    """
    source = ctx.get_parameter_source("tenant")
    if all_tenants and source is not None and source.name == "COMMANDLINE":
        raise typer.BadParameter("use either --tenant or --all, not both", param_hint="--all")
    with exit_on_domain_error(), opened_store(db) as store:
        worker = ProjectionWorker(
            store,
            tenant_id=None if all_tenants else tenant,
            batch_size=batch_size,
            listen_url=db,
        )
        if follow:
            stop = threading.Event()
            scope = "every tenant" if all_tenants else f"tenant {tenant!r}"
            warn(f"Projecting {scope} of {store.url}; stop with Ctrl-C or SIGTERM.")
            with _stop_on_signals(stop):
                worker.run(stop)
        else:
            worker.catch_up_once()
        tenants = sorted(set(worker.tenants()) | set(worker.stats.applied))
        positions = _positions(store, tenants)
    document = _document(worker.stats, positions)
    if as_json:
        write_json(document)
    else:
        write_stdout(_text(document))
    _warn_failed(positions)
