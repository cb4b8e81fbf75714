"""Rebuild without downtime (spec 6.9, 13.6; HTTP_API 2.13): while a rebuild runs in one
thread, readers in another always see a complete version: the old live one (reported
as ``rebuilding``) until the swap, the new one after it, never anything in between."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from decisiongraph.errors import Conflict
from decisiongraph.projections.engine import PROJECTION_NAMES
from decisiongraph.projections.runner import Projector, StepResult
from decisiongraph.projections.tables import Sql
from decisiongraph.query.health import get_projection_health
from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.factory import open_store
from tests.conftest import expected_digests, golden_envelopes
from tests.projections.support import big_log, bulk_load, execute_sql, wait_until

EVENTS = 1_200


@contextmanager
def opened(url: str) -> Iterator[SqlEventStore]:
    store = open_store(url)
    try:
        yield store
    finally:
        store.close()


def test_readers_see_the_old_or_the_new_complete_state_during_a_rebuild(
    shared_store_url: str,
) -> None:
    url = shared_store_url
    with opened(url) as store:
        envelopes = big_log(EVENTS, seed="online")
        bulk_load(url, "acme", envelopes)
        projector = Projector(store)
        projector.catch_up("acme")
        new = projector.digests("acme").as_dict()
        # Damage the live version so that the old and the rebuilt states differ in
        # every projection: a node, a summary and a precedent row.
        execute_sql(
            url,
            [
                (
                    "UPDATE dg_cg_nodes SET created_at = %s WHERE tenant_id = %s AND node_id = %s",
                    ("1999-01-01T00:00:00Z", "acme", "actor:agent:test-agent"),
                ),
                (
                    "UPDATE dg_trace_summary SET title = %s WHERE tenant_id = %s AND trace_id = %s",
                    ("tampered", "acme", envelopes[0].trace_id),
                ),
                (
                    "DELETE FROM dg_precedent_index WHERE tenant_id = %s AND trace_id = %s",
                    ("acme", envelopes[-1].trace_id),
                ),
            ],
        )
        old = projector.digests("acme").as_dict()
        assert all(old[k] != new[k] for k in new)

        observed: list[tuple[bool, dict[str, str] | None, int]] = []
        rebuilding = threading.Event()
        finished = threading.Event()
        errors: list[BaseException] = []

        def observe() -> None:
            health = get_projection_health(store, "acme", include_digests=True)
            building = any(s.status == "rebuilding" for s in health.projections)
            if building:
                rebuilding.set()
            observed.append((building, health.digests, health.projected_last_seq))

        def read() -> None:
            try:
                while not finished.is_set():
                    observe()
                observe()  # a read that starts after the rebuild returned
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        def rebuild(result: dict[str, Any]) -> None:
            try:
                result["applied"] = Projector(store, batch_size=40).rebuild("acme")
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                finished.set()

        result: dict[str, Any] = {}
        reader = threading.Thread(target=read, name="reader")
        builder = threading.Thread(target=rebuild, args=(result,), name="rebuild")
        reader.start()
        wait_until(lambda: len(observed) >= 1 or bool(errors), timeout=10)
        builder.start()
        builder.join(120)
        reader.join(30)
        assert not builder.is_alive()
        assert not reader.is_alive()
        assert not errors, errors

        assert result["applied"] == EVENTS * len(PROJECTION_NAMES)
        assert rebuilding.is_set(), "no read happened while the rebuild was in progress"
        seen = [digests for _, digests, _ in observed]
        assert all(d in (old, new) for d in seen), "a reader saw a partly built projection"
        assert seen[0] == old
        assert seen[-1] == new
        # While the new version was being built, the old one answered, complete.
        assert all(d == old for building, d, _ in observed if building)
        # Once switched, it stays switched; the cursor never went backwards.
        first_new = seen.index(new)
        assert all(d == new for d in seen[first_new:])
        assert all(position == EVENTS for _, _, position in observed)
        assert projector.cursors("acme") == dict.fromkeys(PROJECTION_NAMES, EVENTS)


def test_a_rebuild_taken_over_by_another_stops_and_the_winner_stays(
    store: SqlEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.append_batch("acme", golden_envelopes("dealdesk"))
    Projector(store).catch_up("acme")
    loser, winner = Projector(store, batch_size=2), Projector(store, batch_size=5)
    real_step = Projector.step
    interrupted: list[bool] = []

    def step(self: Projector, tenant_id: str, **kwargs: Any) -> StepResult:
        result = real_step(self, tenant_id, **kwargs)
        if self is loser and kwargs.get("build") and not interrupted:
            interrupted.append(True)
            winner.rebuild(tenant_id)  # restarts the build, completes and swaps it in
        return result

    monkeypatch.setattr(Projector, "step", step)
    with pytest.raises(Conflict) as raised:
        loser.rebuild("acme")
    assert raised.value.details["reason"] == "rebuild_superseded"
    health = get_projection_health(store, "acme", include_digests=True)
    assert health.digests == expected_digests("dealdesk")
    assert [(s.status, s.cursor, s.active_run_id) for s in health.projections] == [
        ("ok", 9, None)
    ] * 3


def test_a_rebuild_takes_over_one_that_died(store: SqlEventStore) -> None:
    store.append_batch("acme", golden_envelopes("support"))
    projector = Projector(store)
    projector.catch_up("acme")
    with store.transaction() as conn:  # what a killed `replay` leaves behind
        Sql(conn, store.dialect).execute(
            "UPDATE dg_projection_meta SET build_version = live_version + 1, "
            "build_log_seq = 3, build_run_id = 'dead-run' WHERE tenant_id = %s",
            ("acme",),
        )
    assert {s.status for s in get_projection_health(store, "acme").projections} == {"rebuilding"}
    projector.rebuild("acme")
    health = get_projection_health(store, "acme", include_digests=True)
    assert {(s.status, s.active_run_id) for s in health.projections} == {("ok", None)}
    assert health.digests == expected_digests("support")
