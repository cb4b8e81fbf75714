"""Storage failures and the database guarantees behind the store: a closed store,
the append-only log, opening without creating, unsupported URLs, corrupt rows, and
durability across reopening."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from decisiongraph.domain.envelope import StoredEvent
from decisiongraph.errors import DecisionGraphError
from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.factory import open_store
from tests.contract.spec_tables import INVALID_ARGUMENT, STORAGE
from tests.contract.support import TENANT, append_all, snapshot
from tests.helpers import make_envelope, trace_envelopes

OPERATIONS: dict[str, Callable[[SqlEventStore], Any]] = {
    "append": lambda s: s.append(TENANT, make_envelope("t", 0)),
    "append_batch": lambda s: s.append_batch(TENANT, [make_envelope("t", 0)]),
    "append_batch_non_atomic": lambda s: s.append_batch(
        TENANT, [make_envelope("t", 0)], atomic=False
    ),
    "list_events": lambda s: s.list_events(TENANT),
    "iter_event_batches": lambda s: list(s.iter_event_batches(TENANT)),
    "get_trace_events": lambda s: s.get_trace_events(TENANT, "t"),
    "get_last_log_seq": lambda s: s.get_last_log_seq(TENANT),
    "get_next_trace_seq": lambda s: s.get_next_trace_seq(TENANT, "t"),
    "is_trace_finished": lambda s: s.is_trace_finished(TENANT, "t"),
    "list_tenants": lambda s: s.list_tenants(),
}


def test_every_operation_on_a_closed_store_is_a_storage_error(store: SqlEventStore) -> None:
    store.append(TENANT, make_envelope("t", 0))
    store.close()
    store.close()  # closing twice is harmless
    for name, operation in OPERATIONS.items():
        with pytest.raises(DecisionGraphError) as caught:
            operation(store)
        assert caught.value.code == STORAGE, name


def test_the_sqlite_log_is_append_only(sqlite_file_url: str, tmp_path: Path) -> None:
    store = open_store(sqlite_file_url)
    try:
        append_all(store, TENANT, trace_envelopes("t", 2))
        before = snapshot(store, TENANT)
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "dg.db") as conn:
        for statement in (
            "UPDATE dg_event_log SET trace_id = 'x'",
            "UPDATE dg_event_log SET payload_json = '{}' WHERE log_seq = 1",
            "DELETE FROM dg_event_log",
            "DELETE FROM dg_event_log WHERE log_seq = 2",
        ):
            with pytest.raises(sqlite3.DatabaseError):
                conn.execute(statement)
    reopened = open_store(sqlite_file_url)
    try:
        assert snapshot(reopened, TENANT) == before
    finally:
        reopened.close()


@pytest.mark.postgres
def test_the_postgres_log_is_append_only(pg_url: str) -> None:
    store = open_store(pg_url)
    try:
        append_all(store, TENANT, trace_envelopes("t", 2))
        before = snapshot(store, TENANT)
        for statement in (
            "UPDATE dg_event_log SET trace_id = 'x'",
            "DELETE FROM dg_event_log WHERE log_seq = 2",
            "TRUNCATE dg_event_log",
        ):
            with psycopg.connect(pg_url, autocommit=True) as conn, pytest.raises(psycopg.Error):
                conn.execute(statement)
        assert snapshot(store, TENANT) == before
    finally:
        store.close()


def test_open_without_create_on_a_missing_sqlite_file_fails_and_creates_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "missing" / "dg.db"
    with pytest.raises(DecisionGraphError) as caught:
        open_store(f"sqlite:///{path}", create=False)
    assert caught.value.code == STORAGE
    assert not path.exists()
    assert not path.parent.exists()


def test_open_without_create_on_an_existing_sqlite_file_reads_it(
    sqlite_file_url: str,
) -> None:
    store = open_store(sqlite_file_url)
    try:
        stored = append_all(store, TENANT, [make_envelope("t", 0)])
    finally:
        store.close()
    again = open_store(sqlite_file_url, create=False)
    try:
        assert again.list_events(TENANT) == stored
    finally:
        again.close()


@pytest.mark.parametrize(
    "url",
    [
        "mysql://localhost/db",
        "http://example.com/db",
        "postgresq://localhost/db",
        "sqlite://relative.db",
        "sqlite:relative.db",
        "sqlite:///",
        "file:///tmp/dg.db",
    ],
)
def test_an_unsupported_database_url_is_an_invalid_argument(url: str) -> None:
    with pytest.raises(DecisionGraphError) as caught:
        open_store(url)
    assert caught.value.code == INVALID_ARGUMENT


def test_corrupt_stored_json_is_a_storage_error_when_the_payload_is_read(
    sqlite_file_url: str, tmp_path: Path
) -> None:
    store = open_store(sqlite_file_url)
    try:
        append_all(store, TENANT, trace_envelopes("t", 2))
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "dg.db") as conn:
        conn.execute("DROP TRIGGER dg_event_log_no_update")
        conn.execute("UPDATE dg_event_log SET payload_json = '{not json' WHERE log_seq = 2")
    reopened = open_store(sqlite_file_url)
    try:
        # Payloads are parsed on first access: the event is listed, its payload fails.
        reads: list[Callable[[], list[StoredEvent]]] = [
            lambda: reopened.list_events(TENANT),
            lambda: reopened.get_trace_events(TENANT, "t"),
            lambda: [e for page in reopened.iter_event_batches(TENANT) for e in page],
        ]
        for read in reads:
            events = read()
            assert events[0].payload["workflow"] == "wf"  # the intact one parses
            with pytest.raises(DecisionGraphError) as caught:
                _ = events[1].payload
            assert caught.value.code == STORAGE
            assert "log_seq=2" in caught.value.message
        assert len(reopened.list_events(TENANT, until_log_seq=1)) == 1
    finally:
        reopened.close()


def test_events_survive_closing_and_reopening_the_store(shared_store_url: str) -> None:
    store = open_store(shared_store_url)
    try:
        stored = append_all(store, TENANT, trace_envelopes("t", 3, finish=False))
    finally:
        store.close()
    reopened = open_store(shared_store_url)
    try:
        assert reopened.list_events(TENANT) == stored
        assert reopened.list_tenants() == [TENANT]
        assert reopened.append(TENANT, stored[0].envelope()).reused
        assert reopened.append(TENANT, make_envelope("t", 3)).event.log_seq == 4
    finally:
        reopened.close()
