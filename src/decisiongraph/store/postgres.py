"""PostgreSQL backend (psycopg 3 + psycopg_pool): the production store.

An append is one READ COMMITTED transaction on a pooled connection:

1. ``SELECT ... FROM dg_tenants ... FOR UPDATE`` takes the tenant's write lock and
   reads its tail; pipelined behind it (same round trip, each statement with a fresh
   snapshot taken after the lock is granted) come the state reads of the batch:
   idempotency matches, trace states and existing event ids;
2. the shared planner decides; accepted rows are inserted (COPY for large batches), the
   tenant row is moved to the new tail and the transaction commits, in one round trip.

The row lock is held until commit, which is what makes ``log_seq`` gap-free and
commit-ordered per tenant while different tenants never wait for each other. Driver
errors become DecisionGraphError in :func:`_translate` only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
import psycopg.errors
from psycopg_pool import ConnectionPool

from decisiongraph.domain.envelope import StoredEvent
from decisiongraph.domain.tenant import validate_tenant_id
from decisiongraph.errors import (
    Conflict,
    DecisionGraphError,
    EventSequenceInvalid,
    IdempotencyConflict,
    StorageError,
)
from decisiongraph.store.base import Decide, EventQuery, PlannedRows, SqlEventStore
from decisiongraph.store.migrations import latest_version, load_migrations
from decisiongraph.store.observer import StoreObserver
from decisiongraph.store.planner import BatchPlan, LoadedState, TraceState
from decisiongraph.store.rows import (
    EVENT_COLUMNS,
    INSERT_COLUMNS,
    insert_row,
    row_to_event,
    rows_to_events,
)

__all__ = ["EVENTS_CHANNEL", "PostgresEventStore", "mask_url"]

# Arbitrary constant: the advisory lock that serialises concurrent migrations.
_MIGRATION_LOCK_KEY = 0x6467_6D69_6772  # "dgmigr"
# The store ANALYZEs the log after this many written events, then at every fourfold
# growth up to the last threshold (see _refresh_statistics).
_FIRST_ANALYZE = 1_000
_LAST_ANALYZE = 1_100_000
# At or above this many rows an insert uses COPY instead of a prepared INSERT.
_COPY_THRESHOLD = 16

_BEGIN_APPEND = "SELECT * FROM dg_begin_append(%s, %s, %s, %s, %s)"
_BEGIN_APPEND_ONE = "SELECT * FROM dg_begin_append_one(%s, %s, %s, %s, %s)"
_EVENT_AT = f"SELECT {EVENT_COLUMNS} FROM dg_event_log WHERE tenant_id = %s AND log_seq = %s"
_COLUMN_TYPES = (
    "text", "bigint", "text", "text", "bigint", "text", "text", "text", "text", "text",
    "text", "text", "text", "text", "text", "text", "bigint", "text", "text", "text",
)  # fmt: skip
#: Channel notified (payload: the tenant id) when a tenant's tail moves; delivered
#: at commit, so a listener never hears of an event it cannot read yet.
EVENTS_CHANNEL = "dg_events"
_MOVE_TAIL = (
    "UPDATE dg_tenants SET last_log_seq = %s, last_recorded_at = %s WHERE tenant_id = %s "
    f"RETURNING pg_notify('{EVENTS_CHANNEL}', tenant_id)"
)
# Insert and move the tail in one statement (one round trip with its COMMIT).
_WRITE_ONE = (
    f"WITH ins AS (INSERT INTO dg_event_log ({EVENT_COLUMNS}) "
    f"VALUES ({', '.join('%s' for _ in INSERT_COLUMNS)})) {_MOVE_TAIL}"
)
_WRITE_MANY = (
    f"WITH ins AS (INSERT INTO dg_event_log ({EVENT_COLUMNS}) SELECT * FROM unnest("
    f"{', '.join(f'%s::{t}[]' for t in _COLUMN_TYPES)})) {_MOVE_TAIL}"
)
_COPY = f"COPY dg_event_log ({EVENT_COLUMNS}) FROM STDIN"

_SECRET_IN_URL = re.compile(r"(://[^:/@]*:)([^@]*)(@)")


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    return _SECRET_IN_URL.sub(r"\1***\3", url)


class _CancelCopyError(Exception):
    """Raised inside a COPY block to make psycopg cancel it (CopyFail)."""


class _RetryAppendError(Exception):
    """A unique index caught a concurrent writer that bypassed the tenant lock; the
    append is planned again on fresh state (spec 4.2: rerun the idempotency step)."""


class PostgresEventStore(SqlEventStore):
    """Event store on PostgreSQL. ``url`` is a libpq URI or conninfo string.

    ``pool_size`` bounds the connections this store opens. Migrations are applied on
    open unless ``migrate=False``.
    """

    _prefetch_pages = True

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        observer: StoreObserver | None = None,
        group_commit: bool = True,
        migrate: bool = True,
    ) -> None:
        super().__init__(observer=observer, group_commit=group_commit)
        self._url = url
        self._closed = False
        self._analyze_lock = threading.Lock()
        self._written = 0
        self._next_analyze = _FIRST_ANALYZE
        self._close_lock = threading.Lock()
        try:
            # One direct connection first: a wrong URL, password or database fails at
            # once with the server's reason instead of after the pool's retries.
            psycopg.connect(url, connect_timeout=10).close()
            self._pool = _open_pool(url, pool_size, autocommit=False, name="decisiongraph")
            # Single-statement reads need no transaction: autocommit connections spare
            # them the BEGIN and ROLLBACK round trips.
            self._read_pool = _open_pool(url, pool_size, autocommit=True, name="dg-read")
        except (psycopg.Error, TimeoutError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StorageError(
                f"Cannot connect to PostgreSQL at {mask_url(url)}: {reason}"
            ) from exc
        if migrate:
            self.migrate()

    @property
    def dialect(self) -> str:
        return "postgres"

    @property
    def url(self) -> str:
        return mask_url(self._url)

    # ------------------------------------------------------------- connections

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection inside a transaction: commit on success, rollback on
        error, driver errors translated."""
        with self._borrow(self._pool) as conn:
            yield conn

    @contextmanager
    def _read_connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled autocommit connection for one-statement reads."""
        with self._borrow(self._read_pool) as conn:
            yield conn

    def single_read(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        """One-statement reads on the autocommit read pool (one round trip)."""
        return self._read_connection()

    @contextmanager
    def _borrow(self, pool: ConnectionPool[Any]) -> Iterator[psycopg.Connection[Any]]:
        if self._closed:
            raise StorageError("The store is closed")
        try:
            with pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise _translate(exc) from exc
        except TimeoutError as exc:  # psycopg_pool.PoolTimeout subclasses it
            raise StorageError(f"No database connection available: {exc}") from exc

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """A write transaction (READ COMMITTED) for the layers that keep their own
        tables in this database (projections); commit on success, rollback on error."""
        with self._connection() as conn:
            yield conn

    @contextmanager
    def read_snapshot(self) -> Iterator[psycopg.Connection[Any]]:
        """A read-only REPEATABLE READ transaction: one snapshot for every statement."""
        with self._connection() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield conn
            finally:
                conn.rollback()

    def close(self) -> None:
        with self._close_lock:
            if not self._closed:
                self._closed = True
                self._pool.close()
                self._read_pool.close()

    # -------------------------------------------------------------- migrations

    def migrate(self) -> int:
        """Apply pending migrations under an advisory lock; return the schema version."""
        with self._connection() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK_KEY,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                " applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"
            )
            applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for migration in load_migrations("postgres"):
                if migration.version in applied:
                    continue
                conn.execute(migration.sql.encode("utf-8"))
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
        return self.schema_version()

    def schema_version(self) -> int:
        """The highest applied migration version (0 if none)."""
        with self._connection() as conn:
            row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0) if row else 0

    @staticmethod
    def latest_schema_version() -> int:
        return latest_version("postgres")

    # ------------------------------------------------------------------ writes

    def _write_plan(
        self,
        tenant_id: str,
        keys: list[tuple[str, str]],
        trace_ids: list[str],
        event_ids: list[str],
        decide: Decide,
        warm_up: Callable[[], object],
    ) -> BatchPlan:
        for _attempt in range(3):
            try:
                with self._connection() as conn:
                    plan = self._write_once(
                        conn, tenant_id, keys, trace_ids, event_ids, decide, warm_up
                    )
                self._refresh_statistics(len(plan.rows))
                return plan
            except _RetryAppendError:
                continue
        raise StorageError("Append kept colliding with concurrent writers; retry it")

    def _refresh_statistics(self, written: int) -> None:
        """ANALYZE the log while it is young and growing.

        Plans cached by a session (prepared statements, the append function's queries)
        are made from the table's statistics; made while they still say "empty", a plan
        may probe the wrong index and scan a whole tenant on every later append until
        autovacuum analyzes the table. So each store analyzes the log itself after its
        first 1,000 written events and at every fourfold growth after that (up to
        about a million); ANALYZE also invalidates the stale plans.
        """
        if self._next_analyze > _LAST_ANALYZE or not written:
            return
        with self._analyze_lock:
            self._written += written
            if self._written < self._next_analyze:
                return
            self._next_analyze *= 4
        with self._connection() as conn:
            conn.execute("ANALYZE dg_event_log, dg_tenants")

    def _write_once(
        self,
        conn: psycopg.Connection[Any],
        tenant_id: str,
        keys: list[tuple[str, str]],
        trace_ids: list[str],
        event_ids: list[str],
        decide: Decide,
        warm_up: Callable[[], object],
    ) -> BatchPlan:
        # Four round trips: BEGIN, the lock-and-read function, the write, COMMIT.
        # (psycopg's pipeline mode would merge them but costs more than it saves here.)
        if len(keys) == len(trace_ids) == len(event_ids) == 1:
            tail, last_recorded_at, state = _load_one(
                conn, tenant_id, keys[0], trace_ids[0], event_ids[0]
            )
        else:
            # Pipeline mode sends the lookup without waiting, so the batch's stateless
            # checks (warm_up) run in Python while the database works.
            with conn.pipeline():
                cursor = conn.execute(
                    _BEGIN_APPEND,
                    (tenant_id, [k[0] for k in keys], [k[1] for k in keys], trace_ids, event_ids),
                )
                warm_up()
                rows = cursor.fetchall()
            tail, last_recorded_at, state = _loaded_state(rows)
        try:
            if len(event_ids) >= _COPY_THRESHOLD:
                plan = self._copy_streaming(conn, tenant_id, decide, tail, last_recorded_at, state)
            else:
                plan = decide(tail, last_recorded_at, state)
                if plan.rows:
                    last = plan.rows[-1][1]
                    tail_params = (last.log_seq, last.recorded_at, tenant_id)
                    values = [insert_row(p, e) for p, e in plan.rows]
                    if len(values) == 1:
                        conn.execute(_WRITE_ONE, (*values[0], *tail_params))
                    else:
                        columns = [list(column) for column in zip(*values, strict=True)]
                        conn.execute(_WRITE_MANY, (*columns, *tail_params))
            if not plan.rows:
                conn.rollback()
                return plan
            conn.commit()
        except psycopg.errors.UniqueViolation as exc:
            conn.rollback()
            if exc.diag.constraint_name == "idx_event_log_idempotency":
                raise _RetryAppendError from exc
            raise
        return plan

    @staticmethod
    def _copy_streaming(
        conn: psycopg.Connection[Any],
        tenant_id: str,
        decide: Decide,
        tail: int,
        last_recorded_at: str | None,
        state: LoadedState,
    ) -> BatchPlan:
        """Large batches: COPY the accepted rows chunk by chunk while later chunks are
        still being checked, so the database indexes rows on one core while Python
        validates on the other. An atomic batch that fails cancels the COPY."""
        plan: BatchPlan | None = None
        try:
            with conn.cursor() as cursor, cursor.copy(_COPY) as copy:

                def write(rows: PlannedRows) -> None:
                    for prepared, event in rows:
                        copy.write_row(insert_row(prepared, event))

                plan = decide(tail, last_recorded_at, state, on_rows=write)
                if not plan.rows:
                    # Atomic failure, or nothing accepted: abandon what was streamed.
                    raise _CancelCopyError
        except _CancelCopyError:
            assert plan is not None
            return plan  # the caller rolls back
        if plan.rows:
            last = plan.rows[-1][1]
            conn.execute(_MOVE_TAIL, (last.log_seq, last.recorded_at, tenant_id))
        return plan

    # ------------------------------------------------------------------- reads

    def _select_rows(self, tenant_id: str, query: EventQuery) -> list[tuple[Any, ...]]:
        sql = [f"SELECT {EVENT_COLUMNS} FROM dg_event_log WHERE tenant_id = %s AND log_seq > %s"]
        params: list[object] = [tenant_id, query.since_log_seq]
        upper = query.until_log_seq
        if query.limit is not None and query.event_types is None and query.trace_id is None:
            # log_seq has no gaps: an unfiltered page lies within (since, since + limit].
            bound = query.since_log_seq + query.limit
            upper = bound if upper is None else min(upper, bound)
        if upper is not None:
            sql.append("AND log_seq <= %s")
            params.append(upper)
        if query.event_types is not None:
            sql.append("AND event_type = ANY(%s::text[])")
            params.append(list(query.event_types))
        if query.trace_id is not None:
            sql.append("AND trace_id = %s")
            params.append(query.trace_id)
        sql.append("ORDER BY log_seq")
        if query.limit is not None:
            sql.append("LIMIT %s")
            params.append(query.limit)
        return self._fetch_rows(" ".join(sql), params)

    def _select_trace_events(
        self, tenant_id: str, trace_id: str, since_trace_seq: int | None, limit: int | None
    ) -> list[StoredEvent]:
        sql = f"SELECT {EVENT_COLUMNS} FROM dg_event_log WHERE tenant_id = %s AND trace_id = %s"
        params: list[object] = [tenant_id, trace_id]
        if since_trace_seq is not None:
            sql += " AND trace_seq > %s"
            params.append(since_trace_seq)
        sql += " ORDER BY trace_seq"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        return self._fetch_events(sql, params)

    def _fetch_events(self, sql: str, params: list[object]) -> list[StoredEvent]:
        return rows_to_events(self._fetch_rows(sql, params))

    def _fetch_rows(self, sql: str, params: list[object]) -> list[tuple[Any, ...]]:
        with self._read_connection() as conn:
            # Not prepared: a read is planned with its real parameters and the table's
            # current size, never with a generic plan fixed while the table was young.
            return conn.execute(sql, params, prepare=False).fetchall()

    def _scalar(self, sql: str, params: tuple[object, ...]) -> Any:
        with self._read_connection() as conn:
            row = conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def get_last_log_seq(self, tenant_id: str) -> int:
        validate_tenant_id(tenant_id)
        value = self._scalar(
            "SELECT last_log_seq FROM dg_tenants WHERE tenant_id = %s", (tenant_id,)
        )
        return int(value) if value is not None else 0

    def get_next_trace_seq(self, tenant_id: str, trace_id: str) -> int:
        validate_tenant_id(tenant_id)
        value = self._scalar(
            "SELECT max(trace_seq) FROM dg_event_log WHERE tenant_id = %s AND trace_id = %s",
            (tenant_id, trace_id),
        )
        return int(value) + 1 if value is not None else 0

    def is_trace_finished(self, tenant_id: str, trace_id: str) -> bool:
        validate_tenant_id(tenant_id)
        # The last event of a finished trace is its TraceFinished (one index probe).
        last_type = self._scalar(
            "SELECT event_type FROM dg_event_log WHERE tenant_id = %s AND trace_id = %s "
            "ORDER BY trace_seq DESC LIMIT 1",
            (tenant_id, trace_id),
        )
        return bool(last_type == "TraceFinished")

    def trace_seq_heads(
        self, tenant_id: str, trace_ids: Sequence[str], up_to_log_seq: int
    ) -> dict[str, int]:
        with self._read_connection() as conn:
            rows = conn.execute(
                "SELECT t.id, (SELECT max(e.trace_seq) FROM dg_event_log e"
                ' WHERE e.tenant_id = %s AND e.trace_id = t.id COLLATE "C"'
                " AND e.log_seq <= %s) FROM unnest(%s::text[]) AS t(id)",
                (tenant_id, up_to_log_seq, list(trace_ids)),
                prepare=False,
            ).fetchall()
        return {trace_id: head for trace_id, head in rows if head is not None}

    def get_events_of_traces(self, tenant_id: str, trace_ids: Sequence[str]) -> list[StoredEvent]:
        return self._fetch_events(
            f"SELECT {EVENT_COLUMNS} FROM dg_event_log WHERE tenant_id = %s "
            'AND trace_id = ANY(%s::text[] COLLATE "C") ORDER BY trace_id, trace_seq',
            [tenant_id, list(trace_ids)],
        )

    def list_tenants(self) -> list[str]:
        with self._read_connection() as conn:
            rows = conn.execute(
                "SELECT tenant_id FROM dg_tenants WHERE last_log_seq > 0 ORDER BY tenant_id"
            ).fetchall()
        return [row[0] for row in rows]


def _open_pool(url: str, size: int, *, autocommit: bool, name: str) -> ConnectionPool[Any]:
    """An open pool of up to ``size`` connections, its first one ready."""
    pool: ConnectionPool[Any] = ConnectionPool(
        url,
        min_size=1,
        max_size=size,
        kwargs={"autocommit": autocommit},
        open=True,
        timeout=30.0,
        name=name,
    )
    pool.wait(timeout=30.0)
    return pool


def _load_one(
    conn: psycopg.Connection[Any],
    tenant_id: str,
    key: tuple[str, str],
    trace_id: str,
    event_id: str,
) -> tuple[int, str | None, LoadedState]:
    """Lock the tenant and read what one event's checks need (``dg_begin_append_one``)."""
    row = conn.execute(
        _BEGIN_APPEND_ONE, (tenant_id, key[0], key[1], trace_id, event_id)
    ).fetchone()
    assert row is not None  # the function always returns its one row
    tail, last_recorded_at, last_seq, last_type, taken, reuse_log_seq = row
    state = LoadedState()
    state.traces[trace_id] = TraceState(last_seq, last_type == "TraceFinished")
    if taken:
        state.existing_event_ids.add(event_id)
    if reuse_log_seq is not None:
        stored = conn.execute(_EVENT_AT, (tenant_id, reuse_log_seq)).fetchone()
        assert stored is not None  # same transaction, under the tenant lock
        state.by_idempotency[key] = row_to_event(stored)
    return tail, last_recorded_at or None, state


def _loaded_state(rows: list[tuple[Any, ...]]) -> tuple[int, str | None, LoadedState]:
    """Decode the rows of ``dg_begin_append`` (see the migration for their kinds)."""
    state = LoadedState()
    tail, last_recorded_at = 0, None
    for row in rows:
        kind = row[0]
        if kind == 0:
            tail, last_recorded_at = row[1], row[3] or None
        elif kind == 1:
            state.traces[row[3]] = TraceState(row[1], row[2])
        elif kind == 2:
            state.existing_event_ids.add(row[3])
        else:
            event = row_to_event(row[4:])
            state.by_idempotency[(event.source.producer_id, event.idempotency_key)] = event
    return tail, last_recorded_at, state


def _translate(exc: psycopg.Error) -> DecisionGraphError:
    """The one place PostgreSQL errors become DecisionGraph errors (spec 4.2, 13.3)."""
    constraint = getattr(exc.diag, "constraint_name", None) or ""
    text = str(exc).lower()
    if "trace_finished" in text or constraint == "idx_event_log_trace_finished":
        return Conflict("The trace is already finished", {"reason": "trace_finished"})
    if isinstance(exc, psycopg.errors.UniqueViolation):
        if constraint == "idx_event_log_event_id":
            return Conflict("Duplicate event_id", {"reason": "duplicate_event_id"})
        if constraint == "idx_event_log_trace_seq":
            return EventSequenceInvalid("trace_seq already exists for trace")
        if constraint == "idx_event_log_idempotency":
            return IdempotencyConflict("Idempotency key already used")
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StorageError(f"Database error: {first_line}")
