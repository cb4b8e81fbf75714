"""Machinery of the projection tests: deterministic logs, fast bulk loading, raw (poison)
inserts, scratch replays, CLI worker processes and bounded waits.

* :func:`big_log` builds a deterministic log of traces (same ids every run), so its
  expected digests can be computed once per process (:func:`expected_digests_of`).
* :func:`bulk_load` writes a fresh, valid log straight into ``dg_event_log`` and
  ``dg_tenants`` (every event prepared by the domain exactly as an append would, with
  ``log_seq`` 1..N): seeding 20,000 events this way takes a second instead of the
  append path's tens of seconds, and the tests' subject is the projector anyway.
* :func:`raw_insert` adds one event row as written by hand (a poison event), bumping the
  tenant tail as an append would.
* :class:`CliProcess` runs ``decisiongraph ...`` as a real child process.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg

from decisiongraph.domain.canonical import compute_payload_hash
from decisiongraph.domain.clock import now_rfc3339
from decisiongraph.domain.envelope import EventEnvelope, StoredEvent
from decisiongraph.domain.validation import prepare_event
from decisiongraph.projections.engine import PROJECTION_NAMES
from decisiongraph.projections.runner import Projector
from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.factory import open_store, sqlite_path_from_url
from decisiongraph.store.rows import EVENT_COLUMNS, INSERT_COLUMNS, insert_row
from tests.helpers import make_envelope

__all__ = [
    "CliProcess",
    "big_log",
    "bulk_load",
    "count_rows",
    "cursors",
    "execute_sql",
    "expected_digests_of",
    "poison_policy_event",
    "raw_insert",
    "scratch_digests",
    "wait_until",
]

_NAMESPACE = uuid.UUID("6f1c3c4e-3d44-4b0c-9d7e-1f0b4c1d2e3f")
_TRACE_SHAPE = ("TraceStarted", "PolicyEvaluated", "InputObserved", "TraceFinished")


def big_log(events: int, *, seed: str = "big") -> list[EventEnvelope]:
    """``events`` envelopes (a multiple of 4): traces of TraceStarted, PolicyEvaluated,
    InputObserved and TraceFinished, each trace citing the one before it. Same ids and
    payloads on every call with the same arguments."""
    assert events % len(_TRACE_SHAPE) == 0
    envelopes: list[EventEnvelope] = []
    previous = None
    for index in range(events // len(_TRACE_SHAPE)):
        trace_id = str(uuid.uuid5(_NAMESPACE, f"{seed}/trace/{index}"))
        for seq, event_type in enumerate(_TRACE_SHAPE):
            payload: dict[str, Any] | None = None
            if event_type == "PolicyEvaluated":
                payload = {
                    "policy": {"policy_id": f"pol-{index % 7}", "policy_version": "v1"},
                    "inputs": [],
                    "decision": "allow",
                }
            elif event_type == "InputObserved":
                payload = {
                    "input_id": f"in-{index}",
                    "source": {"system": "crm", "object_type": "account", "object_id": "a"},
                    "facts": [],
                    "cites": previous,
                }
            envelopes.append(
                make_envelope(
                    trace_id,
                    seq,
                    event_type,
                    payload=payload,
                    event_id=str(uuid.uuid5(_NAMESPACE, f"{seed}/{trace_id}/{seq}")),
                    occurred_at=f"2025-06-01T{index % 24:02d}:{seq:02d}:00Z",
                )
            )
        previous = trace_id
    return envelopes


def _rows(tenant: str, envelopes: Sequence[EventEnvelope], first_log_seq: int) -> list[Any]:
    recorded_at = now_rfc3339()
    rows = []
    for offset, envelope in enumerate(envelopes):
        prepared = prepare_event(envelope)
        stored = StoredEvent(
            tenant_id=tenant,
            log_seq=first_log_seq + offset,
            event_id=envelope.event_id,
            trace_id=envelope.trace_id,
            trace_seq=envelope.trace_seq,
            event_type=envelope.event_type,
            occurred_at=envelope.occurred_at,
            recorded_at=recorded_at,
            source=envelope.source,
            actor=envelope.actor,
            idempotency_key=envelope.idempotency_key,
            payload=envelope.payload,
            payload_hash=prepared.payload_hash,
            correlation_id=envelope.correlation_id,
            causation_event_id=envelope.causation_event_id,
            schema_version=envelope.schema_version,
            tags=envelope.tags,
        )
        rows.append(insert_row(prepared, stored))
    return rows


def _write_rows(url: str, tenant: str, rows: Sequence[Sequence[Any]], tail: int) -> None:
    """Insert event rows and move the tenant tail to ``tail``, in one transaction."""
    last_recorded_at = rows[-1][INSERT_COLUMNS.index("recorded_at")]
    if url.startswith("sqlite:"):
        conn = sqlite3.connect(sqlite_path_from_url(url), timeout=60, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            marks = ", ".join("?" for _ in INSERT_COLUMNS)
            conn.executemany(f"INSERT INTO dg_event_log ({EVENT_COLUMNS}) VALUES ({marks})", rows)
            conn.execute(
                "INSERT INTO dg_tenants (tenant_id, last_log_seq, last_recorded_at) "
                "VALUES (?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET "
                "last_log_seq = excluded.last_log_seq, "
                "last_recorded_at = excluded.last_recorded_at",
                (tenant, tail, last_recorded_at),
            )
            conn.execute("COMMIT")
        finally:
            conn.close()
        return
    with psycopg.connect(url) as pg:
        with (
            pg.cursor() as cur,
            cur.copy(f"COPY dg_event_log ({EVENT_COLUMNS}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        pg.execute(
            "INSERT INTO dg_tenants (tenant_id, last_log_seq, last_recorded_at) "
            "VALUES (%s, %s, %s) ON CONFLICT (tenant_id) DO UPDATE SET "
            "last_log_seq = excluded.last_log_seq, last_recorded_at = excluded.last_recorded_at",
            (tenant, tail, last_recorded_at),
        )


def bulk_load(url: str, tenant: str, envelopes: Sequence[EventEnvelope]) -> None:
    """Write ``envelopes`` as the whole log of a new, empty tenant (log_seq 1..N) of the
    migrated database at ``url`` (a file or server database)."""
    _write_rows(url, tenant, _rows(tenant, envelopes, 1), len(envelopes))


def raw_insert(
    url: str,
    tenant: str,
    envelope: EventEnvelope,
    *,
    payload_json: str | None = None,
    payload_hash: str | None = None,
) -> int:
    """Insert one event at the tenant's tail + 1 with a raw driver connection, bypassing
    every check of the store (the payload as given, its hash computed unless given);
    returns its log_seq."""
    with _Opened(url) as store:
        tail = store.get_last_log_seq(tenant)
    row = list(_rows_unchecked(tenant, envelope, tail + 1))
    if payload_json is not None:
        row[INSERT_COLUMNS.index("payload_json")] = payload_json
    if payload_hash is not None:
        row[INSERT_COLUMNS.index("payload_hash")] = payload_hash
    _write_rows(url, tenant, [row], tail + 1)
    return tail + 1


class _Opened:
    """``open_store(url)`` as a context manager that closes it."""

    def __init__(self, url: str) -> None:
        self.store = open_store(url)

    def __enter__(self) -> SqlEventStore:
        return self.store

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.store.close()


def _rows_unchecked(tenant: str, envelope: EventEnvelope, log_seq: int) -> tuple[Any, ...]:
    """An insert row for ``envelope`` without validating it (its payload may be invalid)."""
    values = {
        "tenant_id": tenant,
        "log_seq": log_seq,
        "event_id": envelope.event_id,
        "trace_id": envelope.trace_id,
        "trace_seq": envelope.trace_seq,
        "event_type": envelope.event_type,
        "occurred_at": envelope.occurred_at,
        "recorded_at": now_rfc3339(),
        "producer_id": envelope.source.producer_id,
        "system": envelope.source.system,
        "subsystem": envelope.source.subsystem,
        "actor_type": envelope.actor.actor_type,
        "actor_id": envelope.actor.actor_id,
        "correlation_id": envelope.correlation_id,
        "causation_event_id": envelope.causation_event_id,
        "idempotency_key": envelope.idempotency_key,
        "schema_version": envelope.schema_version,
        "payload_json": json.dumps(envelope.payload),
        "payload_hash": compute_payload_hash(envelope.payload),
        "tags_json": json.dumps(list(envelope.tags)),
    }
    return tuple(values[c] for c in INSERT_COLUMNS)


def poison_policy_event(trace_id: str, trace_seq: int) -> EventEnvelope:
    """A PolicyEvaluated whose policy lacks ``policy_version``: the store refuses it, the
    trace summary and precedent projections cannot apply it."""
    return make_envelope(
        trace_id,
        trace_seq,
        "PolicyEvaluated",
        payload={"policy": {"policy_id": "pol-x"}, "inputs": [], "decision": "deny"},
        idempotency_key=f"poison-{trace_id}-{trace_seq}",
    )


def execute_sql(url: str, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
    """Run statements (``%s`` placeholders) in one transaction with a raw connection."""
    if url.startswith("sqlite:"):
        conn = sqlite3.connect(sqlite_path_from_url(url), timeout=60, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            for sql, params in statements:
                conn.execute(sql.replace("%s", "?"), params)
            conn.execute("COMMIT")
        finally:
            conn.close()
        return
    with psycopg.connect(url) as pg:
        for sql, params in statements:
            pg.execute(sql.encode(), params)


def count_rows(store: SqlEventStore, sql: str, params: Sequence[Any]) -> int:
    """A ``SELECT COUNT(*)``-like scalar read in a snapshot of ``store``."""
    with store.read_snapshot() as conn:
        query = sql.replace("%s", "?") if store.dialect == "sqlite" else sql
        row = conn.execute(query, params).fetchone()
    return int(row[0] or 0)


def cursors(store: SqlEventStore, tenant: str) -> dict[str, int]:
    """The live cursor of each projection of ``tenant``."""
    return Projector(store).cursors(tenant)


def scratch_digests(
    store: SqlEventStore, tenant: str, *, until: int | None = None
) -> dict[str, str]:
    """The digests of a clean replay of ``tenant``'s log (up to ``until``) into a fresh
    in-memory store."""
    scratch = open_store("sqlite:///:memory:")
    try:
        for page in store.iter_event_batches(tenant, until_log_seq=until, batch_size=1000):
            scratch.append_batch(tenant, [e.envelope() for e in page])
        projector = Projector(scratch)
        projector.catch_up(tenant)
        return projector.digests(tenant).as_dict()
    finally:
        scratch.close()


@functools.cache
def expected_digests_of(events: int, seed: str = "big") -> dict[str, str]:
    """The digests of :func:`big_log` (``events``, ``seed``) replayed cleanly (cached per
    process: bulk loaded into a temporary SQLite file and projected there)."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'expected.db'}"
        store = open_store(url)
        try:
            bulk_load(url, "t", big_log(events, seed=seed))
            projector = Projector(store)
            projector.catch_up("t")
            assert projector.cursors("t") == dict.fromkeys(PROJECTION_NAMES, events)
            return projector.digests("t").as_dict()
        finally:
            store.close()


def wait_until(
    predicate: Callable[[], bool], *, timeout: float = 30.0, interval: float = 0.02, what: str = ""
) -> None:
    """Poll ``predicate`` until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


#: Variables that would change what the CLI does; unset for every child process.
_CLEAN_ENV_KEYS = ("DG_DATABASE_URL", "DG_TENANT", "FORCE_COLOR")


class CliProcess:
    """``decisiongraph ARGS`` as a child process (the installed package, this Python);
    stdout and stderr go to files under ``workdir``. Leaving the context kills it if it
    still runs."""

    def __init__(self, workdir: Path, *args: str, name: str = "cli") -> None:
        env = {k: v for k, v in os.environ.items() if k not in _CLEAN_ENV_KEYS}
        env["NO_COLOR"] = "1"
        self.stdout_path = workdir / f"{name}.out"
        self.stderr_path = workdir / f"{name}.err"
        self._stdout = self.stdout_path.open("wb")
        self._stderr = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "decisiongraph.cli.main", *args],
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=self._stderr,
            env=env,
        )

    def __enter__(self) -> CliProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self._stdout.close()
        self._stderr.close()

    def wait(self, timeout: float = 60.0) -> int:
        """Wait for the exit code."""
        return self.proc.wait(timeout=timeout)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, then the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        """SIGKILL, and reap the process."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    @property
    def stdout(self) -> str:
        self._stdout.flush()
        return self.stdout_path.read_text(encoding="utf-8")

    @property
    def stderr(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text(encoding="utf-8")

    def json(self) -> Any:
        return json.loads(self.stdout)
