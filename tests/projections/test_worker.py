"""The catch-up worker in process: woken by commits (SQLite) and by LISTEN/NOTIFY
(PostgreSQL) rather than by its poll, retries storage errors with capped backoff, and
stops gracefully."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from decisiongraph.errors import StorageError
from decisiongraph.projections.engine import PROJECTION_NAMES
from decisiongraph.projections.runner import Projector, StepResult
from decisiongraph.projections.worker import Backoff, ProjectionWorker, WorkerStats
from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.factory import open_store
from tests.helpers import trace_envelopes
from tests.projections.support import cursors, wait_until

#: Long enough that only a wake-up (not the poll) can explain a quick catch-up.
NO_POLL = 60.0


@contextmanager
def running(worker: ProjectionWorker) -> Iterator[threading.Event]:
    """Run ``worker`` on a thread for the block; stop and join it after."""
    stop = threading.Event()
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["stats"] = worker.run(stop)
        except BaseException as exc:  # pragma: no cover - reported below
            result["error"] = exc

    thread = threading.Thread(target=target, name="test-worker", daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(10)
        assert not thread.is_alive(), "the worker did not stop within 10 s"
    assert "error" not in result, result.get("error")
    assert isinstance(result["stats"], WorkerStats)


def at_tail(store: SqlEventStore, tenant: str) -> Callable[[], bool]:
    def check() -> bool:
        tail = store.get_last_log_seq(tenant)
        return tail > 0 and set(cursors(store, tenant).values()) == {tail}

    return check


def test_backoff_doubles_up_to_its_cap_and_resets() -> None:
    backoff = Backoff(0.1, 0.5)
    assert [backoff.next() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    backoff.reset()
    assert backoff.next() == 0.1


def test_a_commit_wakes_the_worker_at_once(store: SqlEventStore) -> None:
    worker = ProjectionWorker(store, poll_interval=NO_POLL, batch_size=2)
    with running(worker):
        store.append_batch("acme", trace_envelopes("t-1", 5))
        wait_until(at_tail(store, "acme"), timeout=5, what="first commit projected")
        store.append("acme", trace_envelopes("t-2", 1, finish=False)[0])
        store.append_batch("other", trace_envelopes("t-9", 3))
        wait_until(at_tail(store, "acme"), timeout=5, what="second commit projected")
        wait_until(at_tail(store, "other"), timeout=5, what="a new tenant projected")
    assert worker.stats.applied["acme"] == dict.fromkeys(PROJECTION_NAMES, 6)
    assert worker.stats.applied["other"] == dict.fromkeys(PROJECTION_NAMES, 3)
    assert worker.stats.errors == 0


def test_a_single_tenant_worker_leaves_other_tenants_alone(store: SqlEventStore) -> None:
    worker = ProjectionWorker(store, tenant_id="acme", poll_interval=0.05)
    with running(worker):
        store.append_batch("other", trace_envelopes("t-9", 3))
        store.append_batch("acme", trace_envelopes("t-1", 3))
        wait_until(at_tail(store, "acme"), timeout=5)
    assert cursors(store, "other") == dict.fromkeys(PROJECTION_NAMES, 0)
    assert set(worker.stats.applied) == {"acme"}


def test_a_worker_polls_for_events_of_other_processes(shared_store_url: str) -> None:
    """Appends through another store object (as another process would) reach a SQLite
    worker by its short poll, a PostgreSQL worker by LISTEN/NOTIFY (its poll is off)."""
    worker_store = open_store(shared_store_url)
    writer = open_store(shared_store_url)
    try:
        postgres = worker_store.dialect == "postgres"
        worker = ProjectionWorker(
            worker_store,
            listen_url=shared_store_url,
            poll_interval=NO_POLL if postgres else 0.2,
        )
        with running(worker):
            if postgres:
                wait_until(lambda: worker.listening, timeout=10, what="LISTEN connection")
            writer.append_batch("acme", trace_envelopes("t-1", 4))
            wait_until(at_tail(worker_store, "acme"), timeout=5, what="the other writer's events")
            writer.append("acme", trace_envelopes("t-2", 1, finish=False)[0])
            wait_until(at_tail(worker_store, "acme"), timeout=5, what="one more event")
        assert not worker.listening
        assert not [t for t in threading.enumerate() if t.name == "dg-listen"]
    finally:
        writer.close()
        worker_store.close()


def test_storage_errors_are_retried_with_backoff_and_logged(
    store: SqlEventStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store.append_batch("acme", trace_envelopes("t-1", 3))
    real_step = Projector.step
    failures = {"left": 3}

    def flaky_step(self: Projector, tenant_id: str, **kwargs: Any) -> StepResult:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise StorageError("Database error: connection reset (simulated)")
        return real_step(self, tenant_id, **kwargs)

    monkeypatch.setattr(Projector, "step", flaky_step)
    worker = ProjectionWorker(store, poll_interval=0.05, backoff_initial=0.01, backoff_max=0.04)
    with (
        caplog.at_level(logging.WARNING, logger="decisiongraph.projections.worker"),
        running(worker),
    ):
        wait_until(at_tail(store, "acme"), timeout=5, what="catch-up after the errors")
    assert worker.stats.errors == 3
    assert worker.stats.applied["acme"] == dict.fromkeys(PROJECTION_NAMES, 3)
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 3
    assert all("DG_ERR_STORAGE" in m and "retrying in" in m for m in messages)
    assert worker.backoff.delay == 0.01  # reset by the first successful step


def test_catch_up_once_reports_every_tenant(store: SqlEventStore) -> None:
    store.append_batch("a", trace_envelopes("t-1", 3))
    store.append_batch("b", trace_envelopes("t-2", 5))
    worker = ProjectionWorker(store, batch_size=2)
    assert worker.catch_up_once() == {
        "a": dict.fromkeys(PROJECTION_NAMES, 3),
        "b": dict.fromkeys(PROJECTION_NAMES, 5),
    }
    assert worker.catch_up_once() == {
        "a": dict.fromkeys(PROJECTION_NAMES, 0),
        "b": dict.fromkeys(PROJECTION_NAMES, 0),
    }
    assert worker.stats.to_dict()["total"] == 24


@pytest.mark.postgres
def test_a_worker_whose_listen_connection_fails_falls_back_on_polling(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    broken = urlunsplit(urlsplit(pg_url)._replace(path="/dg_no_such_database"))
    worker_store = open_store(pg_url)
    writer = open_store(pg_url)
    try:
        worker = ProjectionWorker(worker_store, listen_url=broken, poll_interval=NO_POLL)
        with (
            caplog.at_level(logging.WARNING, logger="decisiongraph.projections.worker"),
            running(worker),
        ):
            writer.append_batch("acme", trace_envelopes("t-1", 3))
            wait_until(at_tail(worker_store, "acme"), timeout=5, what="polled catch-up")
        assert not worker.listening
        assert any("LISTEN connection" in r.getMessage() for r in caplog.records)
    finally:
        writer.close()
        worker_store.close()
