"""Faults of the projection runtime, with real processes and real databases:

* a worker process killed with SIGKILL in the middle of a large catch-up restarts and
  ends with the digests of a clean replay, every cursor at the tail, nothing applied
  twice;
* a poison event is parked (failure record, health ``failed``, last error), stops only
  the projections that cannot apply it and only for its tenant, and projection resumes
  after a fix (retry) or a rebuild;
* two worker processes on one PostgreSQL with five tenants under concurrent writes
  project every event exactly once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from decisiongraph.domain.canonical import compute_payload_hash
from decisiongraph.errors import DecisionGraphError
from decisiongraph.projections.engine import PROJECTION_NAMES
from decisiongraph.projections.runner import Projector
from decisiongraph.projections.worker import ProjectionWorker
from decisiongraph.query.health import get_projection_health
from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.factory import open_store
from tests.helpers import make_envelope, trace_envelopes
from tests.projections.support import (
    CliProcess,
    big_log,
    bulk_load,
    count_rows,
    cursors,
    execute_sql,
    expected_digests_of,
    poison_policy_event,
    raw_insert,
    scratch_digests,
    wait_until,
)

BIG_LOG_EVENTS = 20_000


@contextmanager
def opened(url: str) -> Iterator[SqlEventStore]:
    store = open_store(url)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def worker_thread(store: SqlEventStore, **options: Any) -> Iterator[ProjectionWorker]:
    worker = ProjectionWorker(store, **options)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), name="test-worker", daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(10)
        assert not thread.is_alive(), "the worker did not stop within 10 s"


def assert_applied_once(store: SqlEventStore, tenant: str) -> None:
    """Rows that count events (not insert-or-ignore): each event applied exactly once."""
    tail = store.get_last_log_seq(tenant)
    version = (
        "(SELECT live_version FROM dg_projection_meta "
        "WHERE tenant_id = %s AND projection_name = %s)"
    )
    total = count_rows(
        store,
        "SELECT SUM(event_total) FROM dg_trace_summary "
        f"WHERE tenant_id = %s AND version = {version}",
        (tenant, tenant, "trace_summary"),
    )
    assert total == tail
    evaluations = count_rows(
        store,
        "SELECT COUNT(*) FROM dg_event_log WHERE tenant_id = %s AND event_type = 'PolicyEvaluated'",
        (tenant,),
    )
    indexed = count_rows(
        store,
        f"SELECT COUNT(*) FROM dg_policy_eval_index WHERE tenant_id = %s AND version = {version}",
        (tenant, tenant, "trace_summary"),
    )
    assert indexed == evaluations


# ------------------------------------------------------------------------ SIGKILL


@pytest.mark.slow
def test_a_worker_killed_mid_catch_up_restarts_and_converges(
    shared_store_url: str, tmp_path: Path
) -> None:
    url = shared_store_url
    with opened(url) as store:
        bulk_load(url, "big", big_log(BIG_LOG_EVENTS))
        with CliProcess(
            tmp_path,
            "project", "--follow", "--tenant", "big", "--batch-size", "100", "--db", url,
            name="doomed",
        ) as doomed:  # fmt: skip
            wait_until(
                lambda: (
                    min(cursors(store, "big").values()) >= 2_000 or doomed.proc.poll() is not None
                ),
                timeout=90,
                interval=0.01,
                what="the worker to be well into the catch-up",
            )
            assert doomed.proc.poll() is None, doomed.stderr
            doomed.kill()
        at_kill = cursors(store, "big")
        assert min(at_kill.values()) > 0, at_kill
        assert max(at_kill.values()) < BIG_LOG_EVENTS, at_kill

        with CliProcess(
            tmp_path,
            "project", "--tenant", "big", "--batch-size", "1000", "--json", "--db", url,
            name="restarted",
        ) as restarted:  # fmt: skip
            assert restarted.wait(timeout=120) == 0, restarted.stderr
            report = restarted.json()
        applied = report["tenants"]["big"]["applied"]
        # The restart applied exactly what the killed worker had not committed.
        assert applied == {n: BIG_LOG_EVENTS - at_kill[n] for n in PROJECTION_NAMES}
        assert cursors(store, "big") == dict.fromkeys(PROJECTION_NAMES, BIG_LOG_EVENTS)
        assert Projector(store).digests("big").as_dict() == expected_digests_of(BIG_LOG_EVENTS)
        assert_applied_once(store, "big")


# ------------------------------------------------------------------------- poison


def poison_scenario(url: str, store: SqlEventStore) -> tuple[int, int]:
    """Tenant ``a``: trace p-1 gets a poison PolicyEvaluated (inserted raw) and then a
    TraceFinished; more traces follow. Tenant ``b``: clean traces. Returns the log_seq
    of the poison event and of p-1's TraceFinished."""
    store.append_batch("a", trace_envelopes("a-0", 3))
    store.append_batch("b", trace_envelopes("b-0", 3))
    store.append("a", make_envelope("p-1", 0))
    poison = raw_insert(url, "a", poison_policy_event("p-1", 1))
    finish = store.append("a", make_envelope("p-1", 2, "TraceFinished")).event.log_seq
    store.append_batch("a", trace_envelopes("a-2", 4))
    store.append_batch("b", trace_envelopes("b-1", 4))
    return poison, finish


def update_logged_event(url: str, tenant: str, log_seq: int, **columns: str) -> None:
    """The operator's fix of a stored event: set ``columns`` of one row of the log,
    lifting the log's append-only guard for that one statement only."""
    assignments = ", ".join(f"{name} = %s" for name in columns)
    update = (
        f"UPDATE dg_event_log SET {assignments} WHERE tenant_id = %s AND log_seq = %s",
        (*columns.values(), tenant, log_seq),
    )
    if url.startswith("sqlite:"):
        trigger = (
            "CREATE TRIGGER dg_event_log_no_update BEFORE UPDATE ON dg_event_log "
            "BEGIN SELECT RAISE(ABORT, 'dg_event_log is append-only'); END"
        )
        execute_sql(url, [("DROP TRIGGER dg_event_log_no_update", ()), update, (trigger, ())])
        return
    execute_sql(
        url,
        [
            ("ALTER TABLE dg_event_log DISABLE TRIGGER dg_event_log_append_only", ()),
            update,
            ("ALTER TABLE dg_event_log ENABLE TRIGGER dg_event_log_append_only", ()),
        ],
    )


def repair_poison(url: str, tenant: str, log_seq: int) -> None:
    """Give the parked event the policy_version it lacked (and the matching hash)."""
    payload = {
        "policy": {"policy_id": "pol-x", "policy_version": "v1"},
        "inputs": [],
        "decision": "deny",
    }
    update_logged_event(
        url,
        tenant,
        log_seq,
        payload_json=json.dumps(payload),
        payload_hash=compute_payload_hash(payload),
    )


def test_a_poison_event_is_parked_and_stops_only_its_projections(shared_store_url: str) -> None:
    url = shared_store_url
    with opened(url) as store:
        poison, finish = poison_scenario(url, store)
        tail_a, tail_b = store.get_last_log_seq("a"), store.get_last_log_seq("b")
        with worker_thread(store, poll_interval=0.05, batch_size=3) as worker:
            wait_until(
                lambda: (
                    cursors(store, "b") == dict.fromkeys(PROJECTION_NAMES, tail_b)
                    and cursors(store, "a")["context_graph"] == tail_a
                ),
                timeout=10,
            )
            # Other tenants keep projecting while the parked ones stay stopped.
            store.append_batch("b", trace_envelopes("b-2", 3))
            store.append_batch("a", trace_envelopes("a-3", 2))
            wait_until(lambda: set(cursors(store, "b").values()) == {tail_b + 3}, timeout=10)
            wait_until(lambda: cursors(store, "a")["context_graph"] == tail_a + 2, timeout=10)
        assert worker.stats.errors == 0
        assert worker.stats.failures == 2
        tail_a += 2

        assert cursors(store, "a") == {
            "context_graph": tail_a,  # the graph has no use for policy_version
            "trace_summary": poison - 1,
            "precedent_index": finish - 1,  # fails when it indexes p-1 at its finish
        }
        health = get_projection_health(store, "a")
        summary, precedent = (
            health.projection("trace_summary"),
            health.projection("precedent_index"),
        )
        assert (summary.status, summary.open_failures, summary.lag_events) == (
            "failed",
            1,
            tail_a - poison + 1,
        )
        assert summary.last_error is not None
        assert (summary.last_error.code, summary.last_error.log_seq) == (
            "DG_ERR_SCHEMA_VIOLATION",
            poison,
        )
        assert precedent.status == "failed"
        assert precedent.last_error is not None
        assert precedent.last_error.log_seq == finish
        assert health.projection("context_graph").status == "ok"
        assert (health.is_stale, health.projected_last_seq) == (True, poison - 1)
        assert [s.status for s in get_projection_health(store, "b").projections] == ["ok"] * 3
        parked = count_rows(
            store,
            "SELECT COUNT(*) FROM dg_projection_failures WHERE tenant_id = %s "
            "AND resolved_at IS NULL AND event_id = (SELECT event_id FROM dg_event_log "
            "WHERE tenant_id = %s AND log_seq = %s)",
            ("a", "a", poison),
        )
        assert parked == 1

        # A rebuild cannot get past the poison either: it fails and discards its new
        # versions; the live ones stay exactly as they were (no new failure record).
        projector = Projector(store, batch_size=4)
        with pytest.raises(DecisionGraphError) as raised:
            projector.rebuild("a")
        assert raised.value.code == "DG_ERR_SCHEMA_VIOLATION"
        after = get_projection_health(store, "a")
        assert [(s.status, s.cursor, s.open_failures, s.last_error) for s in after.projections] == [
            (s.status, s.cursor, s.open_failures, s.last_error) for s in health.projections
        ]
        assert all(s.active_run_id is None for s in after.projections)

        # After the fix, a rebuild resumes every projection and resolves the failures.
        repair_poison(url, "a", poison)
        projector.rebuild("a")
        health = get_projection_health(store, "a", include_digests=True)
        assert [(s.status, s.cursor, s.open_failures) for s in health.projections] == [
            ("ok", tail_a, 0)
        ] * 3
        assert health.digests == scratch_digests(store, "a")
        assert_applied_once(store, "a")


def test_a_bad_payload_hash_parks_every_projection_until_retried(shared_store_url: str) -> None:
    url = shared_store_url
    with opened(url) as store:
        store.append_batch("a", trace_envelopes("a-0", 3))
        envelope = make_envelope("h-1", 0)
        bad = raw_insert(url, "a", envelope, payload_hash="sha256:" + "0" * 64)
        store.append_batch("a", trace_envelopes("a-1", 3))
        tail = store.get_last_log_seq("a")
        with worker_thread(store, poll_interval=0.05) as worker:
            wait_until(lambda: worker.stats.failures == 3, timeout=10)
            health = get_projection_health(store, "a")
            for status in health.projections:
                assert (status.status, status.cursor, status.open_failures) == (
                    "failed",
                    bad - 1,
                    1,
                )
                assert status.last_error is not None
                assert status.last_error.code == "DG_ERR_CONFLICT"
            update_logged_event(url, "a", bad, payload_hash=compute_payload_hash(envelope.payload))
            Projector(store).retry_failed("a")  # the running worker picks it up
            wait_until(lambda: set(cursors(store, "a").values()) == {tail}, timeout=10)
        health = get_projection_health(store, "a", include_digests=True)
        assert [(s.status, s.open_failures) for s in health.projections] == [("ok", 0)] * 3
        assert all(s.last_error is not None for s in health.projections)  # kept as history
        assert health.digests == scratch_digests(store, "a")


# ---------------------------------------------------------------- two workers


TENANTS = ("t1", "t2", "t3", "t4", "t5")


def write_traces(url: str, tenant: str, traces: int, errors: list[BaseException]) -> None:
    try:
        with opened(url) as store:
            for index in range(traces):
                envelopes = trace_envelopes(f"{tenant}-{index}", 5)
                envelopes[2] = make_envelope(f"{tenant}-{index}", 2, "PolicyEvaluated")
                store.append_batch(tenant, envelopes[:3])
                store.append_batch(tenant, envelopes[3:])
    except BaseException as exc:  # pragma: no cover - reported by the test
        errors.append(exc)


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workers_project_every_event_exactly_once(pg_url: str, tmp_path: Path) -> None:
    args = ("project", "--follow", "--all", "--json", "--batch-size", "7", "--db", pg_url)
    with (
        opened(pg_url) as store,
        CliProcess(tmp_path, *args, name="w1") as w1,
        CliProcess(tmp_path, *args, name="w2") as w2,
    ):
        wait_until(
            lambda: "Projecting" in w1.stderr and "Projecting" in w2.stderr,
            timeout=30,
            what="both workers to start",
        )
        errors: list[BaseException] = []
        writers = [
            threading.Thread(target=write_traces, args=(pg_url, t, 40, errors)) for t in TENANTS
        ]
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join(60)
        assert not any(t.is_alive() for t in writers)
        assert not errors, errors

        def all_at_tail() -> bool:
            return all(
                set(cursors(store, t).values()) == {store.get_last_log_seq(t)} for t in TENANTS
            )

        wait_until(all_at_tail, timeout=60, interval=0.1, what="every tenant projected")
        assert w1.terminate() == 0, w1.stderr
        assert w2.terminate() == 0, w2.stderr
        reports = [w1.json(), w2.json()]

        for tenant in TENANTS:
            tail = store.get_last_log_seq(tenant)
            assert tail == 40 * 5
            for name in PROJECTION_NAMES:
                applied = [
                    r["tenants"].get(tenant, {}).get("applied", {}).get(name, 0) for r in reports
                ]
                assert sum(applied) == tail, (tenant, name, applied)
            assert Projector(store).digests(tenant).as_dict() == scratch_digests(store, tenant)
            assert_applied_once(store, tenant)
        # The work was divided: each worker projected part of it.
        assert all(r["total_applied"] > 0 for r in reports), [r["total_applied"] for r in reports]
        assert all(r["errors"] == 0 and r["parked"] == 0 for r in reports)


def test_a_policy_evaluation_of_an_unstarted_trace_is_parked_not_retried_forever(
    shared_store_url: str,
) -> None:
    """Written around the store (no TraceStarted), its policy-eval row would break the
    foreign key to the trace summary: the trace summary parks it, the graph goes on."""
    url = shared_store_url
    with opened(url) as store:
        store.append_batch("a", trace_envelopes("a-1", 3))
        # trace_seq 0 passes the projector's continuity check; the projector does not
        # check "first event must be TraceStarted" (spec 11.11), the store does.
        orphan = make_envelope("ghost", 0, "PolicyEvaluated", idempotency_key="ghost-0")
        orphan_seq = raw_insert(url, "a", orphan)
        store.append_batch("a", trace_envelopes("a-2", 2))
        projector = Projector(store)
        projector.catch_up("a")
        tail = store.get_last_log_seq("a")
        assert cursors(store, "a") == {
            "context_graph": tail,
            "precedent_index": tail,
            "trace_summary": orphan_seq - 1,
        }
        summary = get_projection_health(store, "a").projection("trace_summary")
        assert summary.status == "failed"
        assert summary.last_error is not None
        assert (summary.last_error.code, summary.last_error.log_seq) == (
            "DG_ERR_SCHEMA_VIOLATION",
            orphan_seq,
        )
