"""Projection health (spec 7, 13.6; HTTP_API 6.7): shape, lag, statuses, digests."""

from __future__ import annotations

import json
import time
from dataclasses import asdict

import pytest

from decisiongraph.errors import InvalidArgument
from decisiongraph.projections.engine import PROJECTION_NAMES
from decisiongraph.projections.runner import Projector
from decisiongraph.projections.tables import Sql
from decisiongraph.query.health import get_projection_health
from decisiongraph.store.base import SqlEventStore
from tests.conftest import expected_digests, golden_envelopes
from tests.helpers import trace_envelopes

HTTP_FIELDS = {"tenant_id", "tail_log_seq", "checked_at", "projections", "digests"}
REFERENCE_FIELDS = {
    "event_count",
    "trace_count",
    "event_log_last_seq",
    "projected_last_seq",
    "pending_events",
    "is_stale",
}
STATUS_FIELDS = {
    "projection",
    "cursor",
    "tail_log_seq",
    "lag_events",
    "lag_seconds",
    "status",
    "last_error",
    "open_failures",
    "active_run_id",
    "updated_at",
}


def test_an_empty_tenant_is_healthy_and_up_to_date(store: SqlEventStore) -> None:
    health = get_projection_health(store, "nobody")
    data = health.to_dict()
    assert set(data) == HTTP_FIELDS | REFERENCE_FIELDS
    assert data == asdict(health) | {"projections": list(asdict(health)["projections"])}
    assert [p["projection"] for p in data["projections"]] == list(PROJECTION_NAMES)
    for status in data["projections"]:
        assert set(status) == STATUS_FIELDS
        assert status == {
            "projection": status["projection"],
            "cursor": 0,
            "tail_log_seq": 0,
            "lag_events": 0,
            "lag_seconds": 0.0,
            "status": "ok",
            "last_error": None,
            "open_failures": 0,
            "active_run_id": None,
            "updated_at": None,
        }
    assert (health.event_count, health.trace_count, health.pending_events) == (0, 0, 0)
    assert health.is_stale is False
    assert health.digests is None
    json.dumps(data)  # plain JSON


def test_lag_status_and_reference_fields_follow_the_cursors(store: SqlEventStore) -> None:
    store.append_batch("acme", trace_envelopes("t-1", 4) + trace_envelopes("t-2", 3))
    time.sleep(0.02)
    health = get_projection_health(store, "acme")
    assert health.tail_log_seq == health.event_log_last_seq == 7
    assert (health.event_count, health.trace_count) == (7, 2)
    for status in health.projections:
        assert (status.status, status.cursor, status.lag_events) == ("catching_up", 0, 7)
        assert status.lag_seconds > 0
        assert status.updated_at is None
    assert (health.projected_last_seq, health.pending_events, health.is_stale) == (0, 7, True)

    projector = Projector(store, batch_size=2)
    projector.catch_up("acme", projections=["context_graph"], until_log_seq=5)
    projector.catch_up("acme", projections=["trace_summary"])
    health = get_projection_health(store, "acme")
    graph = health.projection("context_graph")
    assert (graph.cursor, graph.lag_events, graph.status) == (5, 2, "catching_up")
    assert graph.updated_at is not None
    summary = health.projection("trace_summary")
    assert (summary.cursor, summary.lag_events, summary.lag_seconds) == (7, 0, 0.0)
    assert summary.status == "ok"
    assert health.projection("precedent_index").cursor == 0
    assert (health.projected_last_seq, health.pending_events) == (0, 7)

    projector.catch_up("acme")
    health = get_projection_health(store, "acme", include_digests=True)
    assert [s.status for s in health.projections] == ["ok"] * 3
    assert (health.projected_last_seq, health.pending_events, health.is_stale) == (7, 0, False)
    assert health.digests == projector.digests("acme").as_dict()
    assert set(health.digests) == {
        "context_graph",
        "trace_summary",
        "precedent_index",
        "full_projection",
    }


def test_a_rebuild_in_progress_shows_as_rebuilding_with_its_run(store: SqlEventStore) -> None:
    envelopes = golden_envelopes("support")
    store.append_batch("acme", envelopes)
    Projector(store).catch_up("acme")
    with store.transaction() as conn:
        Sql(conn, store.dialect).execute(
            "UPDATE dg_projection_meta SET build_version = 2, build_log_seq = 3, "
            "build_run_id = %s WHERE tenant_id = %s AND projection_name = %s",
            ("run-42", "acme", "trace_summary"),
        )
    health = get_projection_health(store, "acme", include_digests=True)
    summary = health.projection("trace_summary")
    assert (summary.status, summary.active_run_id, summary.cursor) == (
        "rebuilding",
        "run-42",
        len(envelopes),
    )
    assert health.projection("context_graph").status == "ok"
    assert health.digests == expected_digests("support")  # the live versions answer


def test_a_bad_tenant_id_is_an_invalid_argument(store: SqlEventStore) -> None:
    with pytest.raises(InvalidArgument):
        get_projection_health(store, "not a tenant")
