"""SQLite backend (stdlib ``sqlite3``): the embedded default store.

Concurrency model: one writer connection per store object, guarded by a lock, that
appends inside ``BEGIN IMMEDIATE`` transactions (SQLite's write lock, which also
serialises writers of other processes; ``busy_timeout`` makes them wait instead of
failing). File databases use WAL, so readers run concurrently on per-thread
connections and see only committed transactions. An in-memory database lives in one
connection, shared under the same lock.

Durability: ``synchronous=FULL``, so a committed append survives power loss.
Driver errors are translated to DecisionGraphError in :meth:`_translate` only.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from decisiongraph.domain.envelope import StoredEvent
from decisiongraph.domain.tenant import validate_tenant_id
from decisiongraph.errors import Conflict, DecisionGraphError, StorageError
from decisiongraph.store.base import Decide, EventQuery, SqlEventStore
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

__all__ = ["SQLiteEventStore"]

BUSY_TIMEOUT_MS = 60_000
# SQLite's default limit on host parameters is 32766; stay well below it.
_CHUNK = 500

_INSERT_SQL = (
    f"INSERT INTO dg_event_log ({EVENT_COLUMNS}) VALUES ({', '.join('?' for _ in INSERT_COLUMNS)})"
)


class SQLiteEventStore(SqlEventStore):
    """Event store on a SQLite file (``path``) or in memory (``":memory:"``).

    ``create=False`` refuses to create a missing file (read-side CLI commands).
    Migrations are applied on open.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        create: bool = True,
        observer: StoreObserver | None = None,
        group_commit: bool = True,
    ) -> None:
        super().__init__(observer=observer, group_commit=group_commit)
        self._path = str(path)
        self._memory = self._path == ":memory:"
        if not self._memory and not create and not Path(self._path).is_file():
            raise StorageError(f"Database file {self._path!r} not found")
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._closed = False
        self._writer = self._connect()
        self.migrate()

    @property
    def dialect(self) -> str:
        return "sqlite"

    @property
    def url(self) -> str:
        return "sqlite:///:memory:" if self._memory else f"sqlite:///{self._path}"

    # ------------------------------------------------------------- connections

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self._path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            if not self._memory:
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc
        return conn

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads: per thread on files, the shared one in memory."""
        self._check_open()
        try:
            if self._memory:
                with self._lock:
                    yield self._writer
                return
            conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._connect()
                self._local.conn = conn
                with self._lock:
                    self._readers.append(conn)
            yield conn
        except sqlite3.Error as exc:  # every read: a driver error is DG_ERR_STORAGE
            raise self._translate(exc) from exc

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` on the writer, rollback on any error."""
        self._check_open()
        with self._lock:
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._translate(exc) from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._translate(exc) from exc
                raise

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``) for the layers that keep their own
        tables in this database (projections); commit on success, rollback on error."""
        with self._transaction() as conn:
            yield conn

    def single_read(self) -> AbstractContextManager[sqlite3.Connection]:
        """One-statement reads: the thread's reader connection (statements autocommit)."""
        return self._reader()

    @contextmanager
    def read_snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every statement inside sees the same committed state."""
        with self._reader() as conn:
            if self._memory:
                yield conn  # one connection, serialised by the store lock
                return
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("The store is closed")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for conn in self._readers:
                conn.close()
            self._writer.close()

    @staticmethod
    def _translate(exc: sqlite3.Error) -> DecisionGraphError:
        """The one place SQLite errors become DecisionGraph errors (spec 4.2)."""
        text = str(exc).lower()
        if "trace_finished" in text:
            return Conflict("The trace is already finished", {"reason": "trace_finished"})
        if "unique" in text and ".event_id" in text:
            return Conflict("Duplicate event_id", {"reason": "duplicate_event_id"})
        return StorageError(f"Database error: {exc}")

    # -------------------------------------------------------------- migrations

    def migrate(self) -> int:
        """Apply pending migrations; return the schema version now in force."""
        with self._transaction() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                " applied_at TEXT NOT NULL DEFAULT (datetime('now')))"
            )
            applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for migration in load_migrations("sqlite"):
                if migration.version in applied:
                    continue
                # executescript would COMMIT our transaction; run statement by statement.
                for statement in _split_sql(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                    (migration.version, migration.name),
                )
        return self.schema_version()

    def schema_version(self) -> int:
        """The highest applied migration version (0 if none)."""
        with self._reader() as conn:
            row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    @staticmethod
    def latest_schema_version() -> int:
        return latest_version("sqlite")

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
        warm_up()  # in-process database: nothing to overlap with
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT last_log_seq, last_recorded_at FROM dg_tenants WHERE tenant_id = ?",
                (tenant_id,),
            ).fetchone()
            tail, last_recorded_at = (0, None) if row is None else (row[0], row[1])
            state = self._load_state(conn, tenant_id, keys, trace_ids, event_ids)
            plan = decide(tail, last_recorded_at, state)
            if plan.rows:
                conn.executemany(_INSERT_SQL, [insert_row(p, e) for p, e in plan.rows])
                last = plan.rows[-1][1]
                conn.execute(
                    "INSERT INTO dg_tenants (tenant_id, last_log_seq, last_recorded_at) "
                    "VALUES (?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET "
                    "last_log_seq = excluded.last_log_seq, "
                    "last_recorded_at = excluded.last_recorded_at",
                    (tenant_id, last.log_seq, last.recorded_at),
                )
        return plan

    @staticmethod
    def _load_state(
        conn: sqlite3.Connection,
        tenant_id: str,
        keys: list[tuple[str, str]],
        trace_ids: list[str],
        event_ids: list[str],
    ) -> LoadedState:
        state = LoadedState()
        # One indexed lookup per key: an OR of many key pairs makes SQLite (which keeps
        # no statistics here) scan the whole tenant.
        for producer_id, key in keys:
            row = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM dg_event_log "
                "WHERE tenant_id = ? AND producer_id = ? AND idempotency_key = ?",
                (tenant_id, producer_id, key),
            ).fetchone()
            if row is not None:
                state.by_idempotency[(producer_id, key)] = row_to_event(row)
        for trace_id in trace_ids:
            row = conn.execute(
                "SELECT MAX(trace_seq) FROM dg_event_log WHERE tenant_id = ? AND trace_id = ?",
                (tenant_id, trace_id),
            ).fetchone()
            finished = conn.execute(
                "SELECT 1 FROM dg_event_log WHERE tenant_id = ? AND trace_id = ? "
                "AND event_type = 'TraceFinished'",
                (tenant_id, trace_id),
            ).fetchone()
            state.traces[trace_id] = TraceState(row[0], finished is not None)
        for start in range(0, len(event_ids), _CHUNK):
            id_chunk = event_ids[start : start + _CHUNK]
            marks = ", ".join("?" for _ in id_chunk)
            state.existing_event_ids.update(
                r[0]
                for r in conn.execute(
                    f"SELECT event_id FROM dg_event_log WHERE tenant_id = ? "
                    f"AND event_id IN ({marks})",
                    [tenant_id, *id_chunk],
                )
            )
        return state

    # ------------------------------------------------------------------- reads

    def _select_rows(self, tenant_id: str, query: EventQuery) -> list[Any]:
        sql = [f"SELECT {EVENT_COLUMNS} FROM dg_event_log WHERE tenant_id = ? AND log_seq > ?"]
        params: list[object] = [tenant_id, query.since_log_seq]
        if query.until_log_seq is not None:
            sql.append("AND log_seq <= ?")
            params.append(query.until_log_seq)
        if query.event_types is not None:
            sql.append(f"AND event_type IN ({', '.join('?' for _ in query.event_types)})")
            params.extend(query.event_types)
        if query.trace_id is not None:
            sql.append("AND trace_id = ?")
            params.append(query.trace_id)
        sql.append("ORDER BY log_seq")
        if query.limit is not None:
            sql.append("LIMIT ?")
            params.append(query.limit)
        return self._fetch_rows(" ".join(sql), params)

    def _select_trace_events(
        self, tenant_id: str, trace_id: str, since_trace_seq: int | None, limit: int | None
    ) -> list[StoredEvent]:
        sql = f"SELECT {EVENT_COLUMNS} FROM dg_event_log WHERE tenant_id = ? AND trace_id = ?"
        params: list[object] = [tenant_id, trace_id]
        if since_trace_seq is not None:
            sql += " AND trace_seq > ?"
            params.append(since_trace_seq)
        sql += " ORDER BY trace_seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return self._fetch_events(sql, params)

    def _fetch_events(self, sql: str, params: list[object]) -> list[StoredEvent]:
        return rows_to_events(self._fetch_rows(sql, params))

    def _fetch_rows(self, sql: str, params: list[object]) -> list[Any]:
        with self._reader() as conn:
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._translate(exc) from exc

    def _scalar(self, sql: str, params: tuple[object, ...]) -> object:
        with self._reader() as conn:
            try:
                row = conn.execute(sql, params).fetchone()
            except sqlite3.Error as exc:
                raise self._translate(exc) from exc
        return None if row is None else row[0]

    def get_last_log_seq(self, tenant_id: str) -> int:
        validate_tenant_id(tenant_id)
        value = self._scalar(
            "SELECT last_log_seq FROM dg_tenants WHERE tenant_id = ?", (tenant_id,)
        )
        return int(value) if isinstance(value, int) else 0

    def get_next_trace_seq(self, tenant_id: str, trace_id: str) -> int:
        validate_tenant_id(tenant_id)
        value = self._scalar(
            "SELECT MAX(trace_seq) FROM dg_event_log WHERE tenant_id = ? AND trace_id = ?",
            (tenant_id, trace_id),
        )
        return value + 1 if isinstance(value, int) else 0

    def is_trace_finished(self, tenant_id: str, trace_id: str) -> bool:
        validate_tenant_id(tenant_id)
        return (
            self._scalar(
                "SELECT 1 FROM dg_event_log WHERE tenant_id = ? AND trace_id = ? "
                "AND event_type = 'TraceFinished'",
                (tenant_id, trace_id),
            )
            is not None
        )

    def trace_seq_heads(
        self, tenant_id: str, trace_ids: Sequence[str], up_to_log_seq: int
    ) -> dict[str, int]:
        heads: dict[str, int] = {}
        with self._reader() as conn:
            for start in range(0, len(trace_ids), _CHUNK):
                chunk = list(trace_ids[start : start + _CHUNK])
                marks = ", ".join("?" for _ in chunk)
                heads.update(
                    conn.execute(
                        # "+log_seq": not an index term, so SQLite probes the
                        # (tenant_id, trace_id, trace_seq) index per trace instead of
                        # scanning the whole log below the cursor (quadratic catch-up).
                        "SELECT trace_id, MAX(trace_seq) FROM dg_event_log "
                        f"WHERE tenant_id = ? AND +log_seq <= ? AND trace_id IN ({marks}) "
                        "GROUP BY trace_id",
                        [tenant_id, up_to_log_seq, *chunk],
                    ).fetchall()
                )
        return heads

    def get_events_of_traces(self, tenant_id: str, trace_ids: Sequence[str]) -> list[StoredEvent]:
        events: list[StoredEvent] = []
        for start in range(0, len(trace_ids), _CHUNK):
            chunk = list(trace_ids[start : start + _CHUNK])
            marks = ", ".join("?" for _ in chunk)
            events += self._fetch_events(
                f"SELECT {EVENT_COLUMNS} FROM dg_event_log WHERE tenant_id = ? "
                f"AND trace_id IN ({marks}) ORDER BY trace_id, trace_seq",
                [tenant_id, *chunk],
            )
        events.sort(key=lambda e: (e.trace_id, e.trace_seq))
        return events

    def list_tenants(self) -> list[str]:
        with self._reader() as conn:
            rows = conn.execute("SELECT tenant_id FROM dg_tenants ORDER BY tenant_id").fetchall()
        return [row[0] for row in rows]


def _split_sql(script: str) -> list[str]:
    """Split a migration script into statements, keeping trigger bodies whole."""
    statements: list[str] = []
    buffer: list[str] = []
    for line in script.splitlines():
        if line.strip().startswith("--") and not buffer:
            continue
        buffer.append(line)
        text = "\n".join(buffer)
        if sqlite3.complete_statement(text):
            statements.append(text.strip())
            buffer = []
    if "".join(buffer).strip():
        statements.append("\n".join(buffer).strip())
    return statements
