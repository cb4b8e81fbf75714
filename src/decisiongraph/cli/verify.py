"""``decisiongraph verify``: prove a tenant's live projections against its log.

For each projection, the tenant's events up to that projection's cursor are copied into
a scratch in-memory SQLite store (``log_seq`` stays identical: the log is gap-free from
1) and projected there; the projection's digest there must equal the live one. The
cursors and live digests come from one snapshot, so a worker projecting meanwhile does
not matter. Projections at the same cursor share one replay, and the replay moves
forward from one cursor to the next (catch-up is batch-invariant).

Exit codes: 0 every projection matches, 1 a difference (or a replay that could not be
done), 3 a projection is failed (stopped on a parked event), whatever else holds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

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
from decisiongraph.cli.output import (
    exit_on_domain_error,
    one_line,
    stdout_console,
    write_json,
)
from decisiongraph.cli.project import BatchSizeOption
from decisiongraph.cli.stores import opened_store
from decisiongraph.errors import DecisionGraphError, StorageError
from decisiongraph.projections.engine import PROJECTION_NAMES
from decisiongraph.projections.runner import (
    DEFAULT_BATCH_SIZE,
    Projector,
    live_digests,
    projection_digest,
)
from decisiongraph.projections.tables import Sql, read_meta
from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.factory import open_store

__all__ = [
    "EXIT_DIFFERENT",
    "EXIT_FAILED",
    "ProjectionCheck",
    "VerifyReport",
    "verify_command",
    "verify_tenant",
]

EXIT_DIFFERENT = 1
EXIT_FAILED = 3
#: Width of the table when stdout is not a terminal (a pipe or a file): digests stay whole.
_PIPE_WIDTH = 240
_COPY_PAGE = 1000


@dataclass(frozen=True, slots=True)
class ProjectionCheck:
    """One projection: its live cursor, status and digest, the replay's digest, and
    whether they are equal (``error`` says why a replay could not be made)."""

    projection: str
    status: str
    cursor: int
    live_digest: str
    replay_digest: str | None
    equal: bool
    error: str | None = None


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The checks of a tenant's three projections."""

    tenant_id: str
    tail_log_seq: int
    projections: tuple[ProjectionCheck, ...]

    @property
    def exit_code(self) -> int:
        if any(p.status == "failed" for p in self.projections):
            return EXIT_FAILED
        if not all(p.equal for p in self.projections):
            return EXIT_DIFFERENT
        return 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "tail_log_seq": self.tail_log_seq,
            "projections": [asdict(p) for p in self.projections],
            "all_equal": all(p.equal for p in self.projections),
            "exit_code": self.exit_code,
        }


def _copy(
    source: SqlEventStore, scratch: SqlEventStore, tenant: str, since: int, until: int
) -> None:
    """Append the tenant's events ``since < log_seq <= until`` to ``scratch``, checking
    that each keeps its log_seq."""
    for page in source.iter_event_batches(
        tenant, since_log_seq=since, until_log_seq=until, batch_size=_COPY_PAGE
    ):
        outcomes = scratch.append_batch(tenant, [event.envelope() for event in page])
        for event, outcome in zip(page, outcomes, strict=True):
            if isinstance(outcome, DecisionGraphError):  # pragma: no cover - atomic raises
                raise outcome
            if outcome.reused or outcome.event.log_seq != event.log_seq:
                raise StorageError(
                    f"The scratch copy diverged at log_seq {event.log_seq} "
                    f"(event {event.event_id}); the log is not gap-free"
                )


def verify_tenant(
    store: SqlEventStore, tenant: str, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> VerifyReport:
    """Replay the tenant's log into scratch storage up to each projection's cursor and
    compare each projection's digest with the live one."""
    with store.read_snapshot() as conn:
        sql = Sql(conn, store.dialect)
        metas = read_meta(sql, tenant)
        live = live_digests(sql, tenant, metas)
        row = sql.one("SELECT last_log_seq FROM dg_tenants WHERE tenant_id = %s", (tenant,))
    tail = int(row[0]) if row else 0
    cursors = {n: metas[n].cursor if n in metas else 0 for n in PROJECTION_NAMES}
    checks: dict[str, ProjectionCheck] = {}
    scratch = open_store("sqlite:///:memory:")
    try:
        projector = Projector(scratch, batch_size=batch_size)
        copied = 0
        error: str | None = None
        for cursor in sorted(set(cursors.values())):
            replay = None
            reached: dict[str, int] = {}
            if error is None:
                try:
                    _copy(store, scratch, tenant, copied, cursor)
                    copied = cursor
                    projector.catch_up(tenant)
                    replay = projector.digests(tenant)
                    reached = projector.cursors(tenant)
                except DecisionGraphError as exc:
                    error = f"replay up to log_seq {cursor} failed: {one_line(str(exc))}"
            for name in PROJECTION_NAMES:
                if cursors[name] != cursor:
                    continue
                live_digest = projection_digest(live, name)
                replay_digest = None if replay is None else projection_digest(replay, name)
                problem = error
                if replay is not None and reached.get(name, 0) != cursor:
                    problem = f"the replay stopped at log_seq {reached.get(name, 0)}"
                checks[name] = ProjectionCheck(
                    projection=name,
                    status=metas[name].status if name in metas else "ok",
                    cursor=cursor,
                    live_digest=live_digest,
                    replay_digest=replay_digest,
                    equal=problem is None and replay_digest == live_digest,
                    error=problem,
                )
    finally:
        scratch.close()
    return VerifyReport(tenant, tail, tuple(checks[n] for n in PROJECTION_NAMES))


def _table(report: VerifyReport) -> Table:
    table = Table()
    table.add_column("projection", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("cursor", justify="right", no_wrap=True)
    table.add_column("live digest", no_wrap=True)
    table.add_column("replay digest", no_wrap=True)
    table.add_column("equal", no_wrap=True)
    for p in report.projections:
        table.add_row(
            Text(p.projection),
            Text(p.status),
            Text(str(p.cursor)),
            Text(p.live_digest),
            Text(p.replay_digest or "-"),
            Text("yes" if p.equal else f"NO{f' ({p.error})' if p.error else ''}"),
        )
    return table


def _verdict(report: VerifyReport) -> str:
    code = report.exit_code
    if code == EXIT_FAILED:
        failed = ", ".join(p.projection for p in report.projections if p.status == "failed")
        return (
            f"Failed projection(s) in tenant {report.tenant_id!r}: {failed} "
            "(see 'decisiongraph projection-status')."
        )
    if code == EXIT_DIFFERENT:
        different = ", ".join(p.projection for p in report.projections if not p.equal)
        return (
            f"MISMATCH in tenant {report.tenant_id!r}: {different} differ from a replay of "
            "the log; rebuild with 'decisiongraph replay'."
        )
    return f"All projections of tenant {report.tenant_id!r} match a replay of the log."


def verify_command(
    as_json: JsonOption = False,
    batch_size: BatchSizeOption = DEFAULT_BATCH_SIZE,
    db: DbOption = DEFAULT_DATABASE_URL,
    tenant: TenantOption = DEFAULT_TENANT,
) -> None:
    """Replay the log into scratch storage up to each projection's cursor and compare
    digests with the live projections.

    Exit code 0 when every projection matches, 1 on a difference, 3 when a projection
    is failed (stopped on a parked event).
    """
    with exit_on_domain_error(), opened_store(db) as store:
        report = verify_tenant(store, tenant, batch_size=batch_size)
    if as_json:
        write_json(report.to_dict())
    else:
        console = stdout_console()
        if not console.is_terminal:
            console.width = _PIPE_WIDTH
        console.print(_table(report))
        console.print(Text(_verdict(report)))
    if report.exit_code:
        raise typer.Exit(report.exit_code)
