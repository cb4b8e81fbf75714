"""Read consistency of projection-backed reads (spec 5, 13.6; HTTP_API 1.8).

A projection-backed read runs in ONE snapshot (``store.read_snapshot()``): it reads the
tenant's tail and the live version and cursor of every projection it touches, checks
them, and reads the rows of those live versions, so the answer reflects exactly the
events up to each cursor and never a partly built version.

* ``strict`` (the default, the reference staleness rule): the required position is
  ``min_log_seq`` if given, else the tenant tail at the start of the read. When every
  touched projection's cursor has reached it, the read answers; otherwise it polls
  (short sleeps holding no database connection) for up to ``wait_ms`` and then raises
  :class:`~decisiongraph.errors.ProjectionOutOfDate` naming the most-behind projection.
  A tenant without events is always fresh.
* ``eventual``: the current state, at once, never out of date.

Projections per read (spec 13.6): summaries and trace lists use ``trace_summary``; the
graph reads use ``context_graph``; precedent search uses ``trace_summary`` and
``precedent_index``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from decisiongraph.domain.tenant import validate_tenant_id
from decisiongraph.errors import InvalidArgument, ProjectionOutOfDate
from decisiongraph.projections.engine import PROJECTION_NAMES
from decisiongraph.projections.tables import Sql
from decisiongraph.store.base import SqlEventStore

__all__ = [
    "CONSISTENCY_MODES",
    "EVENTUAL",
    "MAX_WAIT_MS",
    "STRICT",
    "ProjectionState",
    "ReadOptions",
    "projected_read",
]

CONSISTENCY_MODES: tuple[str, ...] = ("strict", "eventual")
MAX_WAIT_MS = 10_000
_FIRST_POLL_S = 0.002
_MAX_POLL_S = 0.05

T = TypeVar("T")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How fresh a projection-backed read must be (HTTP_API 1.8)."""

    consistency: str = "strict"
    min_log_seq: int | None = None
    wait_ms: int = 0

    def __post_init__(self) -> None:
        if self.consistency not in CONSISTENCY_MODES:
            raise InvalidArgument(
                f"consistency must be 'strict' or 'eventual', got {self.consistency!r}"
            )
        if self.min_log_seq is not None and (not _is_int(self.min_log_seq) or self.min_log_seq < 0):
            raise InvalidArgument(f"min_log_seq must be an integer >= 0, got {self.min_log_seq!r}")
        if not _is_int(self.wait_ms) or not 0 <= self.wait_ms <= MAX_WAIT_MS:
            raise InvalidArgument(
                f"wait_ms must be between 0 and {MAX_WAIT_MS}, got {self.wait_ms!r}"
            )
        if self.consistency == "eventual" and (self.min_log_seq is not None or self.wait_ms):
            raise InvalidArgument(
                "min_log_seq and wait_ms apply to strict reads only; "
                "drop them or use consistency='strict'"
            )


STRICT = ReadOptions()
EVENTUAL = ReadOptions("eventual")


@dataclass(frozen=True, slots=True)
class ProjectionState:
    """What a read sees inside its snapshot: the connection, and the live version and
    cursor of each projection it touches."""

    sql: Sql
    tenant_id: str
    versions: dict[str, int]
    cursors: dict[str, int]
    tail: int

    @property
    def projection_log_seq(self) -> int:
        """The smallest cursor among the projections read."""
        return min(self.cursors.values())

    def version(self, projection: str) -> int:
        return self.versions[projection]


_STATE_SQL = (
    "SELECT projection_name, live_version, last_processed_log_seq FROM dg_projection_meta "
    "WHERE tenant_id = %s UNION ALL "
    "SELECT '', 0, last_log_seq FROM dg_tenants WHERE tenant_id = %s"
)


def _read_state(sql: Sql, tenant_id: str, projections: Sequence[str]) -> ProjectionState:
    versions = dict.fromkeys(projections, 1)  # no meta row: version 1, cursor 0
    cursors = dict.fromkeys(projections, 0)
    tail = 0
    for name, version, position in sql.all(_STATE_SQL, (tenant_id, tenant_id)):
        if name == "":
            tail = int(position)
        elif name in versions:
            versions[name], cursors[name] = int(version), int(position)
    return ProjectionState(sql, tenant_id, versions, cursors, tail)


def projected_read(
    store: SqlEventStore,
    tenant_id: str,
    projections: Sequence[str],
    options: ReadOptions | None,
    read: Callable[[ProjectionState], T],
    *,
    sleep: Callable[[float], Any] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run ``read`` in one snapshot once the projections satisfy ``options``.

    Raises ProjectionOutOfDate (details: ``projection``, ``projection_log_seq``,
    ``required_log_seq``) when a strict read is still behind after ``wait_ms``.
    """
    validate_tenant_id(tenant_id)
    unknown = [p for p in projections if p not in PROJECTION_NAMES]
    if unknown or not projections:
        raise InvalidArgument(f"Unknown projection(s): {unknown}")
    options = options or STRICT
    deadline = clock() + options.wait_ms / 1000
    required: int | None = options.min_log_seq
    delay = _FIRST_POLL_S
    while True:
        with store.read_snapshot() as conn:
            state = _read_state(Sql(conn, store.dialect), tenant_id, projections)
            if options.consistency == "eventual":
                return read(state)
            if required is None:
                required = state.tail  # the tenant tail at the start of the read
            behind = sorted(
                (cursor, name) for name, cursor in state.cursors.items() if cursor < required
            )
            if not behind or state.tail == 0:
                return read(state)
        remaining = deadline - clock()
        if remaining <= 0:
            cursor, name = behind[0]
            raise ProjectionOutOfDate(
                f"Projections at log_seq={cursor}, events at {required}",
                {"projection": name, "projection_log_seq": cursor, "required_log_seq": required},
            )
        sleep(min(delay, remaining))
        delay = min(delay * 2, _MAX_POLL_S)
