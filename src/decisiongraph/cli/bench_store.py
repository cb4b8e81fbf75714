"""``decisiongraph bench store``: the event store's rates beside the raw database rates.

Every figure is measured twice in the same run, on the same rows: once through the
store (validation, hashing, tenant lock, sequencing, group commit, ``StoredEvent``
materialisation) and once as the plainest SQL the database offers for the same work,
into a scratch table with the same columns and indexes as ``dg_event_log`` but none of
its triggers. The ratio ``ours / raw`` is the price of the store's guarantees.

Run it with ``python -m decisiongraph.cli.bench_store`` or ``decisiongraph bench store``.
"""

from __future__ import annotations

import abc
import contextlib
import os
import platform
import random
import secrets
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from decisiongraph.domain.canonical import storage_payload_json
from decisiongraph.domain.clock import now_rfc3339
from decisiongraph.domain.envelope import ActorRef, EventEnvelope, SourceRef
from decisiongraph.domain.validation import prepare_event
from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.factory import open_store
from decisiongraph.store.rows import EVENT_COLUMNS, INSERT_COLUMNS

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "BACKENDS",
    "DEFAULT_POSTGRES_URL",
    "FIGURES",
    "BenchError",
    "Workload",
    "run_store_bench",
]

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("postgres", "sqlite")
TENANT = "bench"
TRACE_LENGTH = 10
BATCH_SIZE = 1000
CLIENTS = 8
RAW_TABLE = "dg_bench_raw"
PAYLOAD_BYTES = (300, 800)
#: Append figures are measured in this many rounds, ours and raw alternating.
ROUNDS = 10
#: Full reads of the tenant per side (after one warm-up pass each).
READ_PASSES = 3

#: key -> (what we measure, what the raw side does on each backend)
FIGURES: dict[str, tuple[str, dict[str, str]]] = {
    "append_1_client": (
        "append, 1 client",
        dict.fromkeys(BACKENDS, "INSERT+COMMIT per row"),
    ),
    "append_8_clients_shared_store": (
        f"append, {CLIENTS} threads, shared store",
        dict.fromkeys(BACKENDS, f"INSERT+COMMIT per row, {CLIENTS} conns"),
    ),
    "append_8_clients_separate_stores": (
        f"append, {CLIENTS} threads, {CLIENTS} stores",
        dict.fromkeys(BACKENDS, f"INSERT+COMMIT per row, {CLIENTS} conns"),
    ),
    "batch_append": (
        f"append_batch, {BATCH_SIZE}/call",
        {
            "postgres": f"COPY, {BATCH_SIZE} rows/transaction",
            "sqlite": f"executemany, {BATCH_SIZE} rows/transaction",
        },
    ),
    "batch_read": (
        f"iter_event_batches, {BATCH_SIZE}/page",
        {
            "postgres": f"named cursor, itersize {BATCH_SIZE}",
            "sqlite": "cursor iteration",
        },
    ),
}

#: The issue's targets (ours / raw, percent), stated for PostgreSQL.
TARGETS_PCT: dict[str, dict[str, int]] = {
    "postgres": {"append_1_client": 50, "batch_append": 40, "batch_read": 70},
}

Log = Callable[[str], None]
Row = tuple[Any, ...]
ConnT = TypeVar("ConnT")


class BenchError(Exception):
    """The benchmark cannot run (unreachable server, bad arguments)."""


# ----------------------------------------------------------------- workload

_WORDS = (
    "account", "approval", "baseline", "budget", "commitment", "contract", "customer",
    "deadline", "discount", "escalation", "evidence", "exception", "forecast", "history",
    "margin", "owner", "policy", "pricing", "priority", "quarter", "region", "renewal",
    "review", "revenue", "segment", "signal", "support", "term", "threshold", "volume",
)  # fmt: skip
_MIDDLE_TYPES = (
    "EntityObserved",
    "InputObserved",
    "PolicyEvaluated",
    "PrecedentCited",
    "ExceptionRequested",
    "ApprovalRecorded",
    "ActionProposed",
    "ActionCommitted",
)
_SOURCE = SourceRef("bench_agent_service", "bench-orchestrator", None)
_AGENT = ActorRef("agent", "bench_agent_v1")


class Workload:
    """Deterministic, realistic traces of :data:`TRACE_LENGTH` events.

    Each trace is TraceStarted, the eight other non-final types, TraceFinished; each
    payload has the shape its type needs plus realistic extras (facts, explanations,
    changes) padded to a size drawn from :data:`PAYLOAD_BYTES`. Every call returns new
    traces (fresh trace ids, event ids and idempotency keys).
    """

    def __init__(self, seed: int = 20251231) -> None:
        self._rng = random.Random(seed)
        self._clock = datetime(2025, 12, 31, 12, 0, tzinfo=UTC)
        self._count = 0
        self.payload_sizes: list[int] = []

    def traces(self, count: int) -> list[list[EventEnvelope]]:
        return [self._trace() for _ in range(count)]

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _trace(self) -> list[EventEnvelope]:
        self._count += 1
        trace_id = self._uuid()
        number = self._count
        correlation_id = f"case-{number:08d}" if number % 3 else None
        envelopes: list[EventEnvelope] = []
        previous: str | None = None
        types = ("TraceStarted", *_MIDDLE_TYPES, "TraceFinished")
        for seq, event_type in enumerate(types):
            self._clock += timedelta(seconds=1 + self._rng.randrange(5))
            event_id = self._uuid()
            payload = self._payload(event_type, number)
            self.payload_sizes.append(len(storage_payload_json(payload).encode("utf-8")))
            envelopes.append(
                EventEnvelope(
                    event_id=event_id,
                    trace_id=trace_id,
                    trace_seq=seq,
                    event_type=event_type,
                    occurred_at=self._clock.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    source=_SOURCE,
                    actor=ActorRef("person", f"approver_{number % 17:02d}")
                    if event_type == "ApprovalRecorded"
                    else _AGENT,
                    idempotency_key=f"{event_type}:{trace_id}:{seq}",
                    payload=payload,
                    correlation_id=correlation_id,
                    causation_event_id=previous,
                    schema_version=1,
                    tags=("bench", f"region:{('eu', 'us', 'apac')[number % 3]}")
                    if seq in {0, TRACE_LENGTH - 1}
                    else (),
                )
            )
            previous = event_id
        return envelopes

    def _payload(self, event_type: str, number: int) -> dict[str, Any]:
        rng = self._rng
        entity = {
            "entity_type": "opportunity",
            "entity_id": f"sf:opp:{number}",
            "system": "salesforce",
        }
        policy = {"policy_id": f"discount_policy_{number % 7}", "policy_version": "2.1"}
        fact = {
            "key": "annual_recurring_revenue",
            "value": {"type": "int", "value": str(rng.randrange(10_000, 2_000_000))},
            "as_of": "2025-12-31T10:55:00Z",
        }
        payload: dict[str, Any]
        pad: str
        if event_type == "TraceStarted":
            payload = {
                "workflow": "deal_approval",
                "title": f"Discount approval for opportunity {number}",
                "primary_entity": entity,
                "context": {"region": "eu", "segment": "enterprise", "description": ""},
            }
            pad = "context.description"
        elif event_type == "EntityObserved":
            payload = {"entity": entity, "role": "primary", "facts": [fact], "notes": ""}
            pad = "notes"
        elif event_type == "InputObserved":
            payload = {
                "input_id": f"input:crm.arr:{number}",
                "source": {"system": "salesforce", "object_type": "account", "object_id": "a1"},
                "facts": [fact, {**fact, "key": "open_escalations_count"}],
                "notes": "",
            }
            pad = "notes"
        elif event_type == "PolicyEvaluated":
            payload = {
                "policy": policy,
                "inputs": [f"input:crm.arr:{number}"],
                "decision": rng.choice(("allow", "require_exception")),
                "violations": [{"code": "DISCOUNT_ABOVE_BASELINE", "details": {"max": "15"}}],
                "explanation": {"summary": ""},
            }
            pad = "explanation.summary"
        elif event_type == "PrecedentCited":
            payload = {"cited_trace_id": self._uuid(), "reason": "", "similarity": "0.87"}
            pad = "reason"
        elif event_type == "ExceptionRequested":
            payload = {
                "exception_id": f"exc:{number}",
                "policy": policy,
                "reason": "",
                "requested_terms": {"discount_pct": "22", "term_months": "36"},
            }
            pad = "reason"
        elif event_type == "ApprovalRecorded":
            payload = {
                "approval_id": f"appr:{number}",
                "subject": {"subject_type": "exception", "subject_id": f"exc:{number}"},
                "approver": {"actor_type": "person", "actor_id": "vp_sales_emea"},
                "decision": "approved",
                "reason": "",
            }
            pad = "reason"
        elif event_type == "ActionProposed":
            payload = {
                "action_id": f"act:{number}",
                "action_type": "update",
                "target_entity": entity,
                "target_system": "salesforce",
                "changes": [
                    {
                        "path": "discount_pct",
                        "old_value": {"type": "int", "value": "15"},
                        "new_value": {"type": "int", "value": "22"},
                    }
                ],
                "rationale": "",
            }
            pad = "rationale"
        elif event_type == "ActionCommitted":
            payload = {
                "action_id": f"act:{number}",
                "status": "success",
                "external_reference": f"salesforce:opp:{number}:rev:3",
                "detail": "",
            }
            pad = "detail"
        else:
            payload = {"outcome": "success", "summary": ""}
            pad = "summary"
        self._pad(payload, pad, rng.randint(*PAYLOAD_BYTES))
        return payload

    def _pad(self, payload: dict[str, Any], path: str, target: int) -> None:
        *parents, key = path.split(".")
        holder = payload
        for parent in parents:
            holder = holder[parent]
        missing = target - len(storage_payload_json(payload).encode("utf-8"))
        words: list[str] = []
        length = -1
        while length < missing:
            word = self._rng.choice(_WORDS)
            words.append(word)
            length += len(word) + 1
        text = " ".join(words)
        holder[key] = (text[: max(missing, 1)].rstrip() or "ok").capitalize()


def raw_rows(traces: Sequence[Sequence[EventEnvelope]], first_log_seq: int) -> list[Row]:
    """The ``dg_event_log`` rows of ``traces`` as the store would write them."""
    recorded_at = now_rfc3339()
    rows: list[Row] = []
    log_seq = first_log_seq
    for trace in traces:
        for env in trace:
            prepared = prepare_event(env)
            rows.append(
                (
                    TENANT,
                    log_seq,
                    env.event_id,
                    env.trace_id,
                    env.trace_seq,
                    env.event_type,
                    env.occurred_at,
                    recorded_at,
                    env.source.producer_id,
                    env.source.system,
                    env.source.subsystem,
                    env.actor.actor_type,
                    env.actor.actor_id,
                    env.correlation_id,
                    env.causation_event_id,
                    env.idempotency_key,
                    env.schema_version,
                    prepared.payload_json,
                    prepared.payload_hash,
                    prepared.tags_json,
                )
            )
            log_seq += 1
    return rows


# ------------------------------------------------------------------ drivers


class RawDriver(abc.ABC, Generic[ConnT]):
    """One backend: a fresh database for the run, the store on it, and raw SQL on a
    scratch table with the same columns and indexes as ``dg_event_log``."""

    name: str

    @abc.abstractmethod
    def open_store(self, pool_size: int) -> SqlEventStore:
        """A store on the bench database (migrated)."""

    @abc.abstractmethod
    def create_raw_table(self) -> None:
        """Create :data:`RAW_TABLE` like ``dg_event_log``, without triggers."""

    @abc.abstractmethod
    def connect(self) -> ConnT:
        """A new raw connection (not in a transaction)."""

    @abc.abstractmethod
    def close_conn(self, conn: ConnT) -> None:
        """Close a raw connection."""

    @abc.abstractmethod
    def insert_each(self, conn: ConnT, rows: Sequence[Row]) -> None:
        """One INSERT and one COMMIT per row."""

    @abc.abstractmethod
    def insert_batch(self, conn: ConnT, rows: Sequence[Row]) -> None:
        """All rows in one transaction, the fastest bulk way."""

    @abc.abstractmethod
    def read_all(self, conn: ConnT) -> int:
        """Read every raw row of the tenant, all columns, in log_seq order; the count."""

    @abc.abstractmethod
    def setup(self) -> dict[str, Any]:
        """Version and durability settings."""

    @abc.abstractmethod
    def cleanup(self) -> None:
        """Drop the bench database (schema or file)."""


_RAW_COLUMNS = ", ".join(INSERT_COLUMNS)
_SELECT_RAW = f"SELECT {EVENT_COLUMNS} FROM {RAW_TABLE} WHERE tenant_id = {{}} ORDER BY log_seq"


def with_search_path(url: str, schema: str) -> str:
    """``url`` with ``-csearch_path=schema`` added to its libpq ``options``."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = [value for key, value in query if key == "options"]
    kept = [(key, value) for key, value in query if key != "options"]
    kept.append(("options", " ".join([*options, f"-csearch_path={schema}"])))
    return urlunsplit(parts._replace(query=urlencode(kept, quote_via=quote)))


class PostgresDriver(RawDriver["psycopg.Connection[Any]"]):
    """A throwaway schema ``dg_bench_<random>`` on the server at ``url``."""

    name = "postgres"

    def __init__(self, url: str) -> None:
        import psycopg  # noqa: PLC0415 - only PostgreSQL runs load the driver

        if not url.startswith(("postgresql://", "postgres://")):
            raise BenchError(f"--postgres-url must be a postgresql:// URL, got {url!r}")
        self._base_url = url
        self.schema = f"dg_bench_{secrets.token_hex(6)}"
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                conn.execute(f'CREATE SCHEMA "{self.schema}"')
        except psycopg.Error as exc:
            raise BenchError(
                f"Cannot use PostgreSQL at {_mask(url)}: {exc} "
                "(pass --postgres-url, or --backend sqlite to skip PostgreSQL)"
            ) from exc
        self.url = with_search_path(url, self.schema)
        self._insert = (
            f"INSERT INTO {RAW_TABLE} ({_RAW_COLUMNS}) "
            f"VALUES ({', '.join('%s' for _ in INSERT_COLUMNS)})"
        )
        self._copy = f"COPY {RAW_TABLE} ({_RAW_COLUMNS}) FROM STDIN"

    def open_store(self, pool_size: int) -> SqlEventStore:
        return open_store(self.url, pool_size=pool_size)

    def create_raw_table(self) -> None:
        with self.connect() as conn:
            # LIKE ... INCLUDING ALL copies columns, defaults, constraints and indexes,
            # never triggers: the raw table has no finished-trace or append-only guard.
            conn.execute(f"CREATE TABLE {RAW_TABLE} (LIKE dg_event_log INCLUDING ALL)")
            conn.commit()

    def connect(self) -> psycopg.Connection[Any]:
        import psycopg  # noqa: PLC0415

        return psycopg.connect(self.url)

    def close_conn(self, conn: psycopg.Connection[Any]) -> None:
        conn.close()

    def insert_each(self, conn: psycopg.Connection[Any], rows: Sequence[Row]) -> None:
        with conn.cursor() as cur:
            for row in rows:
                cur.execute(self._insert, row)
                conn.commit()

    def insert_batch(self, conn: psycopg.Connection[Any], rows: Sequence[Row]) -> None:
        with conn.cursor() as cur, cur.copy(self._copy) as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()

    def read_all(self, conn: psycopg.Connection[Any]) -> int:
        count = 0
        with conn.cursor(name="dg_bench_read") as cur:
            cur.itersize = BATCH_SIZE
            cur.execute(_SELECT_RAW.format("%s"), (TENANT,))
            for _row in cur:
                count += 1
        conn.commit()
        return count

    def setup(self) -> dict[str, Any]:
        names = (
            "server_version",
            "fsync",
            "synchronous_commit",
            "wal_sync_method",
            "full_page_writes",
            "commit_delay",
            "shared_buffers",
        )
        settings: dict[str, str] = {}
        with self.connect() as conn:
            for name in names:
                row = conn.execute(f"SHOW {name}").fetchone()
                settings[name] = str(row[0]) if row else "?"
        return {
            "backend": "PostgreSQL",
            "version": settings.pop("server_version"),
            "url": _mask(self._base_url),
            "schema": self.schema,
            "settings": settings,
        }

    def cleanup(self) -> None:
        import psycopg  # noqa: PLC0415

        with psycopg.connect(self._base_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


class SqliteDriver(RawDriver[sqlite3.Connection]):
    """A fresh database file ``dg-bench-<random>.db`` in ``directory``."""

    name = "sqlite"

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory.resolve() / f"dg-bench-{secrets.token_hex(6)}.db"
        self._insert = (
            f"INSERT INTO {RAW_TABLE} ({_RAW_COLUMNS}) "
            f"VALUES ({', '.join('?' for _ in INSERT_COLUMNS)})"
        )

    def open_store(self, pool_size: int) -> SqlEventStore:
        return open_store(f"sqlite:///{self.path}")

    def create_raw_table(self) -> None:
        conn = self.connect()
        try:
            found = conn.execute(
                "SELECT type, name, sql FROM sqlite_master "
                "WHERE tbl_name = 'dg_event_log' AND type IN ('table', 'index') "
                "AND sql IS NOT NULL ORDER BY type = 'index'"
            ).fetchall()
            conn.execute("BEGIN IMMEDIATE")
            for kind, name, sql in found:
                statement = sql.replace(name, f"{RAW_TABLE}_{name}" if kind == "index" else name)
                conn.execute(statement.replace(" dg_event_log ", f" {RAW_TABLE} "))
            conn.execute("COMMIT")
        finally:
            conn.close()

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 60000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    def close_conn(self, conn: sqlite3.Connection) -> None:
        conn.close()

    def insert_each(self, conn: sqlite3.Connection, rows: Sequence[Row]) -> None:
        insert = self._insert
        for row in rows:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(insert, row)
            conn.execute("COMMIT")

    def insert_batch(self, conn: sqlite3.Connection, rows: Sequence[Row]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(self._insert, rows)
        conn.execute("COMMIT")

    def read_all(self, conn: sqlite3.Connection) -> int:
        count = 0
        for _row in conn.execute(_SELECT_RAW.format("?"), (TENANT,)):
            count += 1
        return count

    def setup(self) -> dict[str, Any]:
        conn = self.connect()
        try:
            journal = str(conn.execute("PRAGMA journal_mode").fetchone()[0])
            synchronous = int(conn.execute("PRAGMA synchronous").fetchone()[0])
        finally:
            conn.close()
        return {
            "backend": "SQLite",
            "version": sqlite3.sqlite_version,
            "path": str(self.path),
            "filesystem": _filesystem(self.path),
            "settings": {
                "journal_mode": journal,
                "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(
                    synchronous, str(synchronous)
                ),
            },
        }

    def cleanup(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{self.path}{suffix}").unlink()


def _mask(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _filesystem(path: Path) -> str | None:
    """The type of the filesystem holding ``path`` (Linux only), else None."""
    best, kind = "", None
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            fields = line.split()
            mount = fields[1]
            if str(path).startswith(mount) and len(mount) > len(best):
                best, kind = mount, fields[2]
    return kind


# ------------------------------------------------------------------ running


@dataclass(frozen=True, slots=True)
class Timing:
    """Elapsed wall-clock seconds and this process's CPU seconds (all threads)."""

    wall: float = 0.0
    cpu: float = 0.0

    def __add__(self, other: Timing) -> Timing:
        return Timing(self.wall + other.wall, self.cpu + other.cpu)


@dataclass
class Figure:
    """One figure: events per second through the store and raw, on the same rows."""

    key: str
    events: int
    passes: int
    ours: Timing
    raw: Timing
    raw_method: str
    target_pct: int | None = None

    @property
    def ours_rate(self) -> float:
        return self.events * self.passes / self.ours.wall

    @property
    def raw_rate(self) -> float:
        return self.events * self.passes / self.raw.wall

    @property
    def ratio_pct(self) -> float:
        return 100.0 * self.ours_rate / self.raw_rate

    def to_dict(self) -> dict[str, Any]:
        processed = self.events * self.passes
        data: dict[str, Any] = {
            "description": FIGURES[self.key][0],
            "events": self.events,
            "passes": self.passes,
            "ours_events_per_s": round(self.ours_rate, 1),
            "raw_events_per_s": round(self.raw_rate, 1),
            "ratio_pct": round(self.ratio_pct, 1),
            "raw_method": self.raw_method,
            "ours_client_cpu_us_per_event": round(1e6 * self.ours.cpu / processed, 1),
            "raw_client_cpu_us_per_event": round(1e6 * self.raw.cpu / processed, 1),
        }
        if self.target_pct is not None:
            data["target_pct"] = self.target_pct
            data["meets_target"] = self.ratio_pct >= self.target_pct
        return data


@dataclass
class _Run(Generic[ConnT]):
    driver: RawDriver[ConnT]
    workload: Workload
    log: Log
    raw_log_seq: int = 1
    figures: list[Figure] = field(default_factory=list)

    def rows_for(self, traces: Sequence[Sequence[EventEnvelope]]) -> list[Row]:
        rows = raw_rows(traces, self.raw_log_seq)
        self.raw_log_seq += len(rows)
        return rows

    def record(self, key: str, events: int, ours: Timing, raw: Timing, passes: int = 1) -> None:
        name = self.driver.name
        figure = Figure(
            key,
            events,
            passes,
            ours,
            raw,
            FIGURES[key][1][name],
            TARGETS_PCT.get(name, {}).get(key),
        )
        self.figures.append(figure)
        self.log(
            f"[{name}] {key}: ours {figure.ours_rate:,.0f}/s, raw {figure.raw_rate:,.0f}/s "
            f"({figure.ratio_pct:.0f}%)"
        )


def _timed(work: Callable[[], object]) -> Timing:
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return Timing(time.perf_counter() - wall, time.process_time() - cpu)


def _timed_threads(jobs: Sequence[Callable[[], object]]) -> Timing:
    """Run ``jobs`` in threads released together; the time until the last one ends."""
    barrier = threading.Barrier(len(jobs) + 1)
    errors: list[BaseException] = []

    def run(job: Callable[[], object]) -> None:
        barrier.wait()
        try:
            job()
        except BaseException as exc:  # re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,), daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    barrier.wait()
    cpu, wall = time.process_time(), time.perf_counter()
    for thread in threads:
        thread.join()
    timing = Timing(time.perf_counter() - wall, time.process_time() - cpu)
    if errors:
        raise errors[0]
    return timing


def _append_each(store: SqlEventStore, traces: Sequence[Sequence[EventEnvelope]]) -> None:
    for trace in traces:
        for envelope in trace:
            store.append(TENANT, envelope)


def _split(items: Sequence[Any], parts: int) -> list[list[Any]]:
    return [list(items[index::parts]) for index in range(parts)]


def _flatten(traces: Sequence[Sequence[EventEnvelope]]) -> list[EventEnvelope]:
    return [envelope for trace in traces for envelope in trace]


Traces = list[list[EventEnvelope]]
#: The two timed jobs of one round: (ours, raw).
RoundJobs = tuple[Callable[[], Timing], Callable[[], Timing]]


def _interleaved(
    run: _Run[Any],
    key: str,
    trace_count: int,
    per_round: int,
    make_jobs: Callable[[Traces, list[Row]], RoundJobs],
) -> None:
    """Measure ``key`` in rounds of ``per_round`` fresh traces, ours and raw on the same
    rows, alternating which goes first so that both see the same background load.
    The first round is a warm-up and is not counted."""
    ours_total = raw_total = Timing()
    events = 0
    remaining = trace_count
    index = -1
    while remaining > 0:
        count = min(per_round, remaining)
        traces = run.workload.traces(count)
        rows = run.rows_for(traces)
        ours, raw = make_jobs(traces, rows)
        if index % 2:
            ours_timing, raw_timing = ours(), raw()
        else:
            raw_timing, ours_timing = raw(), ours()
        if index >= 0:
            remaining -= count
            events += len(rows)
            ours_total += ours_timing
            raw_total += raw_timing
        index += 1
    run.record(key, events, ours_total, raw_total)


def _per_round(trace_count: int, minimum: int) -> int:
    return max(minimum, -(-trace_count // ROUNDS))


def _single_client(run: _Run[Any], store: SqlEventStore, trace_count: int) -> None:
    driver = run.driver
    conn = driver.connect()
    try:
        _interleaved(
            run,
            "append_1_client",
            trace_count,
            _per_round(trace_count, 1),
            lambda traces, rows: (
                partial(_timed, partial(_append_each, store, traces)),
                partial(_timed, partial(driver.insert_each, conn, rows)),
            ),
        )
    finally:
        driver.close_conn(conn)


def _concurrent(
    run: _Run[Any], stores: Sequence[SqlEventStore], trace_count: int, key: str
) -> None:
    driver = run.driver
    conns = [driver.connect() for _ in range(CLIENTS)]

    def make_jobs(traces: Traces, rows: list[Row]) -> RoundJobs:
        ours = [
            partial(_append_each, stores[index % len(stores)], part)
            for index, part in enumerate(_split(traces, CLIENTS))
        ]
        raw = [
            partial(driver.insert_each, conn, part)
            for conn, part in zip(conns, _split(rows, CLIENTS), strict=True)
        ]
        return partial(_timed_threads, ours), partial(_timed_threads, raw)

    try:
        _interleaved(run, key, trace_count, _per_round(trace_count, CLIENTS), make_jobs)
    finally:
        for conn in conns:
            driver.close_conn(conn)


def _batches(run: _Run[Any], store: SqlEventStore, trace_count: int) -> None:
    driver = run.driver
    conn = driver.connect()

    def make_jobs(traces: Traces, rows: list[Row]) -> RoundJobs:
        envelopes = _flatten(traces)
        return (
            partial(_timed, partial(store.append_batch, TENANT, envelopes)),
            partial(_timed, partial(driver.insert_batch, conn, rows)),
        )

    try:
        _interleaved(run, "batch_append", trace_count, BATCH_SIZE // TRACE_LENGTH, make_jobs)
    finally:
        driver.close_conn(conn)


def _read(run: _Run[Any], store: SqlEventStore) -> None:
    driver = run.driver
    conn = driver.connect()
    counts: dict[str, int] = {}

    def raw() -> None:
        counts["raw"] = driver.read_all(conn)

    def ours() -> None:
        counts["ours"] = sum(len(page) for page in store.iter_event_batches(TENANT))

    ours_total = raw_total = Timing()
    try:
        for index in range(-1, READ_PASSES):  # pass -1 is the warm-up
            if index % 2:
                ours_timing, raw_timing = _timed(ours), _timed(raw)
            else:
                raw_timing, ours_timing = _timed(raw), _timed(ours)
            if index >= 0:
                ours_total += ours_timing
                raw_total += raw_timing
    finally:
        driver.close_conn(conn)
    if counts["raw"] != counts["ours"]:
        raise BenchError(f"Read {counts['ours']} events but the raw table has {counts['raw']}")
    run.record("batch_read", counts["ours"], ours_total, raw_total, passes=READ_PASSES)


def run_backend(
    driver: RawDriver[Any], workload: Workload, events: int, log: Log
) -> dict[str, Any]:
    """Measure every figure on ``driver``; its setup and figures as a JSON object."""
    trace_count = max(1, -(-events // TRACE_LENGTH))
    run: _Run[Any] = _Run(driver, workload, log)
    try:
        log(f"[{driver.name}] preparing a fresh database")
        store = driver.open_store(pool_size=CLIENTS + 2)
        separate: list[SqlEventStore] = []
        try:
            driver.create_raw_table()
            setup = driver.setup()
            _single_client(run, store, trace_count)
            _concurrent(run, [store], trace_count, "append_8_clients_shared_store")
            separate = [driver.open_store(pool_size=2) for _ in range(CLIENTS)]
            _concurrent(run, separate, trace_count, "append_8_clients_separate_stores")
            for other in separate:
                other.close()
            separate = []
            _batches(run, store, trace_count)
            expected = run.raw_log_seq - 1
            if store.get_last_log_seq(TENANT) != expected:
                raise BenchError(
                    f"The store holds {store.get_last_log_seq(TENANT)} events, expected {expected}"
                )
            _read(run, store)
        finally:
            for other in separate:
                other.close()
            store.close()
    finally:
        driver.cleanup()
    return {
        "setup": setup,
        "figures": {figure.key: figure.to_dict() for figure in run.figures},
    }


def _machine() -> dict[str, Any]:
    memory_gib: float | None = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024**2, 1)
    load: list[float] | None = None
    with contextlib.suppress(OSError, AttributeError):
        load = [round(value, 2) for value in os.getloadavg()]
    return {
        "cpu_count": os.cpu_count(),
        "memory_gib": memory_gib,
        # Other work on the machine skews every figure: check this before trusting a run.
        "load_average_at_start": load,
        "platform": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
    }


def run_store_bench(
    *,
    events: int = 5000,
    postgres_url: str = DEFAULT_POSTGRES_URL,
    sqlite_dir: Path | None = None,
    backends: Sequence[str] = BACKENDS,
    log: Log = lambda _message: None,
) -> dict[str, Any]:
    """Run the store benchmark on ``backends``; the report as one JSON-ready object."""
    if events < TRACE_LENGTH:
        raise BenchError(f"--events must be at least {TRACE_LENGTH}, got {events}")
    machine = _machine()
    workload = Workload()
    results: dict[str, Any] = {}
    for name in backends:
        if name == "postgres":
            results[name] = run_backend(PostgresDriver(postgres_url), workload, events, log)
        elif name == "sqlite":
            with contextlib.ExitStack() as stack:
                directory = sqlite_dir or Path(
                    stack.enter_context(tempfile.TemporaryDirectory(prefix="dg-bench-"))
                )
                results[name] = run_backend(SqliteDriver(directory), workload, events, log)
        else:
            raise BenchError(f"Unknown backend {name!r}: use one of {', '.join(BACKENDS)}")
    sizes = workload.payload_sizes
    return {
        "benchmark": "store",
        "machine": machine,
        "workload": {
            "events_per_figure": -(-events // TRACE_LENGTH) * TRACE_LENGTH,
            "trace_length": TRACE_LENGTH,
            "batch_size": BATCH_SIZE,
            "clients": CLIENTS,
            "tenant": TENANT,
            "payload_bytes": {
                "mean": round(sum(sizes) / len(sizes)),
                "min": min(sizes),
                "max": max(sizes),
            },
        },
        "backends": results,
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``bench store`` with ``argv`` (default: the process arguments)."""
    from decisiongraph.cli import bench  # noqa: PLC0415 - bench imports this module

    args = list(sys.argv[1:] if argv is None else argv)
    bench.bench_app(["store", *args], prog_name="decisiongraph bench")


if __name__ == "__main__":  # pragma: no cover - convenience entry point
    main()
