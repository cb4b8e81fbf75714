"""Read consistency (HTTP_API 1.8, spec 5 and 13.6): strict and eventual reads, the
required position, waiting for the projector, and the reported projection position."""

from __future__ import annotations

import threading
import time

import pytest

from decisiongraph.errors import InvalidArgument, NotFound, ProjectionOutOfDate
from decisiongraph.projections.engine import CONTEXT_GRAPH, PRECEDENT_INDEX, TRACE_SUMMARY
from decisiongraph.projections.runner import Projector
from decisiongraph.query import (
    EVENTUAL,
    CursorCodec,
    NodeRef,
    PrecedentQuery,
    ReadOptions,
    find_precedents,
    get_context_subgraph,
    get_trace_summary,
    list_traces,
)
from decisiongraph.store.base import SqlEventStore
from tests.helpers import trace_envelopes
from tests.query.support import append

CODEC = CursorCodec(b"0123456789abcdef0123456789abcdef")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"consistency": "fresh"}, "consistency"),
        ({"consistency": "eventual", "min_log_seq": 3}, "strict reads only"),
        ({"consistency": "eventual", "wait_ms": 10}, "strict reads only"),
        ({"wait_ms": -1}, "wait_ms"),
        ({"wait_ms": 10_001}, "wait_ms"),
        ({"wait_ms": True}, "wait_ms"),
        ({"min_log_seq": -1}, "min_log_seq"),
        ({"min_log_seq": 1.5}, "min_log_seq"),
    ],
)
def test_read_options_are_validated(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(InvalidArgument, match=fragment):
        ReadOptions(**kwargs)  # type: ignore[arg-type]


def test_read_options_accept_the_documented_values() -> None:
    assert ReadOptions() == ReadOptions("strict", None, 0)
    ReadOptions("strict", min_log_seq=0, wait_ms=10_000)
    ReadOptions("eventual")


def _three_traces(store: SqlEventStore, tenant: str) -> None:
    for trace in ("a", "b", "c"):
        append(store, tenant, trace_envelopes(trace, 3))  # log_seq 1-3, 4-6, 7-9


def test_strict_read_of_an_unprojected_tenant_is_out_of_date(
    qstore: SqlEventStore, tenant: str
) -> None:
    _three_traces(qstore, tenant)
    with pytest.raises(ProjectionOutOfDate) as caught:
        get_trace_summary(qstore, tenant, "a")
    error = caught.value
    assert error.message == "Projections at log_seq=0, events at 9"
    assert error.details == {
        "projection": TRACE_SUMMARY,
        "projection_log_seq": 0,
        "required_log_seq": 9,
    }


def test_eventual_read_answers_from_the_current_state(qstore: SqlEventStore, tenant: str) -> None:
    _three_traces(qstore, tenant)
    page = list_traces(qstore, tenant, codec=CODEC, options=EVENTUAL)
    assert page.items == []
    assert page.projection_log_seq == 0
    with pytest.raises(NotFound):
        get_trace_summary(qstore, tenant, "a", options=EVENTUAL)
    Projector(qstore).catch_up(tenant, until_log_seq=4)
    page = list_traces(qstore, tenant, codec=CODEC, options=EVENTUAL)
    assert [s.trace_id for s in page.items] == ["b", "a"]
    assert page.projection_log_seq == 4
    assert page.items[0].outcome is None  # b is only started at log_seq 4


def test_each_read_checks_only_the_projections_it_touches(
    qstore: SqlEventStore, tenant: str
) -> None:
    _three_traces(qstore, tenant)
    projector = Projector(qstore)
    projector.catch_up(tenant, projections=[CONTEXT_GRAPH])
    projector.catch_up(tenant, projections=[TRACE_SUMMARY], until_log_seq=6)
    projector.catch_up(tenant, projections=[PRECEDENT_INDEX], until_log_seq=3)

    graph = get_context_subgraph(qstore, tenant, NodeRef("trace", "a"))
    assert graph.projection_log_seq == 9
    assert graph.nodes

    with pytest.raises(ProjectionOutOfDate) as caught:
        get_trace_summary(qstore, tenant, "a")
    assert caught.value.details["projection"] == TRACE_SUMMARY
    assert caught.value.details["projection_log_seq"] == 6

    with pytest.raises(ProjectionOutOfDate) as caught:
        find_precedents(qstore, tenant, PrecedentQuery())
    # The most-behind of the two projections the search reads.
    assert caught.value.details == {
        "projection": PRECEDENT_INDEX,
        "projection_log_seq": 3,
        "required_log_seq": 9,
    }
    # Eventual reads report the smaller cursor of the two.
    assert (
        find_precedents(qstore, tenant, PrecedentQuery(), options=EVENTUAL).projection_log_seq == 3
    )


def test_min_log_seq_sets_the_required_position(qstore: SqlEventStore, tenant: str) -> None:
    _three_traces(qstore, tenant)
    Projector(qstore).catch_up(tenant, until_log_seq=6)
    result = get_trace_summary(qstore, tenant, "b", options=ReadOptions(min_log_seq=6))
    assert result.summary.outcome == "success"
    assert result.projection_log_seq == 6
    assert get_trace_summary(qstore, tenant, "a", options=ReadOptions(min_log_seq=0)).summary
    with pytest.raises(ProjectionOutOfDate) as caught:
        get_trace_summary(qstore, tenant, "b", options=ReadOptions(min_log_seq=7))
    assert caught.value.details["required_log_seq"] == 7
    # A position beyond the tail is never reached without new events.
    Projector(qstore).catch_up(tenant)
    with pytest.raises(ProjectionOutOfDate) as caught:
        get_trace_summary(qstore, tenant, "b", options=ReadOptions(min_log_seq=10, wait_ms=30))
    assert caught.value.details == {
        "projection": TRACE_SUMMARY,
        "projection_log_seq": 9,
        "required_log_seq": 10,
    }


def test_an_empty_tenant_is_always_fresh(qstore: SqlEventStore, tenant: str) -> None:
    page = list_traces(qstore, tenant, codec=CODEC)
    assert page.items == []
    assert page.next_cursor is None
    assert page.projection_log_seq == 0
    graph = get_context_subgraph(qstore, tenant, NodeRef("trace", "x"), 3)
    assert (graph.nodes, graph.edges, graph.truncated) == ([], [], False)
    assert find_precedents(qstore, tenant, PrecedentQuery(policy_id="p")).items == []
    assert list_traces(qstore, tenant, codec=CODEC, options=ReadOptions(min_log_seq=5)).items == []


def test_wait_ms_waits_for_a_projector_in_another_thread(
    qstore: SqlEventStore, tenant: str
) -> None:
    _three_traces(qstore, tenant)

    def project_later() -> None:
        time.sleep(0.2)
        Projector(qstore).catch_up(tenant)

    worker = threading.Thread(target=project_later)
    started = time.monotonic()
    worker.start()
    try:
        result = get_trace_summary(qstore, tenant, "c", options=ReadOptions(wait_ms=10_000))
    finally:
        worker.join()
    assert time.monotonic() - started >= 0.15
    assert result.projection_log_seq == 9
    assert result.summary.outcome == "success"


def test_wait_ms_gives_up_after_the_wait(qstore: SqlEventStore, tenant: str) -> None:
    _three_traces(qstore, tenant)
    started = time.monotonic()
    with pytest.raises(ProjectionOutOfDate):
        list_traces(qstore, tenant, codec=CODEC, options=ReadOptions(wait_ms=120))
    assert time.monotonic() - started >= 0.12


def test_the_required_position_is_the_tail_at_the_start_of_the_read(
    qstore: SqlEventStore, tenant: str
) -> None:
    """Events appended while a strict read waits do not move its target."""
    _three_traces(qstore, tenant)

    def append_then_project() -> None:
        time.sleep(0.2)
        append(qstore, tenant, trace_envelopes("d", 2, finish=False))  # log_seq 10-11
        Projector(qstore).catch_up(tenant, until_log_seq=9)

    worker = threading.Thread(target=append_then_project)
    worker.start()
    try:
        page = list_traces(qstore, tenant, codec=CODEC, options=ReadOptions(wait_ms=10_000))
    finally:
        worker.join()
    assert page.projection_log_seq == 9
    assert [s.trace_id for s in page.items] == ["c", "b", "a"]


def test_tenant_ids_are_validated(qstore: SqlEventStore) -> None:
    with pytest.raises(InvalidArgument, match="tenant"):
        list_traces(qstore, "not a tenant", codec=CODEC)
    with pytest.raises(InvalidArgument, match="tenant"):
        get_context_subgraph(qstore, "*", NodeRef("trace", "x"))
