"""Reads (spec 4.5, 5): list_events, get_trace_events, iter_event_batches, tails,
trace state and tenants. Read-only tests share ``read_store`` (see support.READ_LOG)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from decisiongraph.errors import DecisionGraphError
from decisiongraph.store.base import SqlEventStore
from tests.contract.spec_tables import INVALID_ARGUMENT
from tests.contract.support import OTHER_TENANT, READ_LOG, TENANT

ALL = list(range(1, len(READ_LOG) + 1))


def _seqs(store: SqlEventStore, **query: Any) -> list[int]:
    return [e.log_seq for e in store.list_events(TENANT, **query)]


def test_list_events_returns_the_tenant_log_in_log_seq_order(read_store: SqlEventStore) -> None:
    events = read_store.list_events(TENANT)
    assert [e.log_seq for e in events] == ALL
    assert [(e.trace_id, e.trace_seq, e.event_type) for e in events] == list(READ_LOG)
    assert all(e.tenant_id == TENANT for e in events)


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        (None, None, ALL),
        (0, None, ALL),
        (3, None, [4, 5, 6, 7]),
        (None, 3, [1, 2, 3]),
        (2, 5, [3, 4, 5]),
        (4, 4, []),
        (4, 5, [5]),
        (0, 0, []),
        (7, None, []),
        (100, None, []),
        (None, 100, ALL),
        (6, 7, [7]),
    ],
)
def test_list_events_since_is_exclusive_and_until_is_inclusive(
    read_store: SqlEventStore, since: int | None, until: int | None, expected: list[int]
) -> None:
    assert _seqs(read_store, since_log_seq=since, until_log_seq=until) == expected


@pytest.mark.parametrize(
    ("event_types", "expected"),
    [
        (["InputObserved"], [3, 5]),
        (["TraceStarted", "TraceFinished"], [1, 2, 6]),
        (["InputObserved", "InputObserved"], [3, 5]),
        (("ActionCommitted",), [7]),
        (["ApprovalRecorded"], []),
    ],
)
def test_list_events_filters_by_event_types(
    read_store: SqlEventStore, event_types: Sequence[str], expected: list[int]
) -> None:
    assert _seqs(read_store, event_types=event_types) == expected


def test_list_events_filters_by_trace_id(read_store: SqlEventStore) -> None:
    assert _seqs(read_store, trace_id="t2") == [2, 4, 5, 7]
    assert _seqs(read_store, trace_id="t1") == [1, 3, 6]
    assert _seqs(read_store, trace_id="T1") == []
    assert _seqs(read_store, trace_id="nope") == []


def test_list_events_filters_are_anded(read_store: SqlEventStore) -> None:
    query: dict[str, Any] = {
        "since_log_seq": 2,
        "until_log_seq": 6,
        "event_types": ["InputObserved", "TraceFinished"],
        "trace_id": "t1",
    }
    assert _seqs(read_store, **query) == [3, 6]
    assert _seqs(read_store, **{**query, "trace_id": "t2"}) == [5]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"limit": 1}, [1]),
        ({"limit": 2}, [1, 2]),
        ({"since_log_seq": 3, "limit": 2}, [4, 5]),
        ({"trace_id": "t2", "limit": 3}, [2, 4, 5]),
        ({"event_types": ["InputObserved"], "since_log_seq": 3, "limit": 5}, [5]),
        ({"limit": 10_000}, ALL),
    ],
)
def test_list_events_limit_applies_after_filtering_and_ordering(
    read_store: SqlEventStore, query: dict[str, Any], expected: list[int]
) -> None:
    assert _seqs(read_store, **query) == expected


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 0},
        {"limit": -1},
        {"limit": 10_001},
        {"since_log_seq": 5, "until_log_seq": 4},
        {"since_log_seq": -1},
        {"until_log_seq": -1},
        {"event_types": ["Nope"]},
        {"event_types": ["InputObserved", "inputobserved"]},
    ],
    ids=repr,
)
def test_list_events_rejects_bad_arguments(
    read_store: SqlEventStore, query: dict[str, Any]
) -> None:
    with pytest.raises(DecisionGraphError) as caught:
        read_store.list_events(TENANT, **query)
    assert caught.value.code == INVALID_ARGUMENT


def test_get_trace_events_returns_one_trace_in_trace_seq_order(read_store: SqlEventStore) -> None:
    events = read_store.get_trace_events(TENANT, "t2")
    assert [e.trace_seq for e in events] == [0, 1, 2, 3]
    assert [e.log_seq for e in events] == [2, 4, 5, 7]
    assert events == read_store.list_events(TENANT, trace_id="t2")


@pytest.mark.parametrize(
    ("since", "limit", "expected"),
    [
        (None, None, [0, 1, 2, 3]),
        (0, None, [1, 2, 3]),
        (1, None, [2, 3]),
        (3, None, []),
        (50, None, []),
        (None, 2, [0, 1]),
        (0, 1, [1]),
        (None, 10_000, [0, 1, 2, 3]),
    ],
)
def test_get_trace_events_since_trace_seq_is_exclusive_and_limit_applies_after_ordering(
    read_store: SqlEventStore, since: int | None, limit: int | None, expected: list[int]
) -> None:
    events = read_store.get_trace_events(TENANT, "t2", since_trace_seq=since, limit=limit)
    assert [e.trace_seq for e in events] == expected


def test_get_trace_events_of_an_unknown_trace_is_an_empty_list(read_store: SqlEventStore) -> None:
    assert read_store.get_trace_events(TENANT, "nope") == []
    assert read_store.get_trace_events(TENANT, "T2") == []


@pytest.mark.parametrize("limit", [0, -1, 10_001])
def test_get_trace_events_rejects_a_limit_out_of_range(
    read_store: SqlEventStore, limit: int
) -> None:
    with pytest.raises(DecisionGraphError) as caught:
        read_store.get_trace_events(TENANT, "t2", limit=limit)
    assert caught.value.code == INVALID_ARGUMENT


@pytest.mark.parametrize("batch_size", [1, 2, 3, 6, 7, 8, 1000, 20_000])
def test_iter_event_batches_covers_every_event_exactly_once_in_full_pages(
    read_store: SqlEventStore, batch_size: int
) -> None:
    batches = list(read_store.iter_event_batches(TENANT, batch_size=batch_size))
    flat = [e for batch in batches for e in batch]
    assert flat == read_store.list_events(TENANT)
    assert all(batches)
    assert all(len(batch) == min(batch_size, 10_000) for batch in batches[:-1])
    assert len(batches[-1]) <= batch_size


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"since_log_seq": 2, "until_log_seq": 5, "batch_size": 2}, [[3, 4], [5]]),
        ({"until_log_seq": 4, "batch_size": 2}, [[1, 2], [3, 4]]),
        ({"since_log_seq": 7, "batch_size": 2}, []),
        ({"trace_id": "t2", "batch_size": 3}, [[2, 4, 5], [7]]),
        ({"event_types": ["InputObserved", "TraceFinished"], "batch_size": 2}, [[3, 5], [6]]),
        ({"since_log_seq": 1, "until_log_seq": 6, "trace_id": "t1", "batch_size": 1}, [[3], [6]]),
    ],
)
def test_iter_event_batches_applies_the_list_events_filters(
    read_store: SqlEventStore, query: dict[str, Any], expected: list[list[int]]
) -> None:
    batches = read_store.iter_event_batches(TENANT, **query)
    assert [[e.log_seq for e in batch] for batch in batches] == expected


@pytest.mark.parametrize("batch_size", [0, -1])
def test_iter_event_batches_rejects_a_batch_size_below_1(
    read_store: SqlEventStore, batch_size: int
) -> None:
    with pytest.raises(DecisionGraphError) as caught:
        list(read_store.iter_event_batches(TENANT, batch_size=batch_size))
    assert caught.value.code == INVALID_ARGUMENT


def test_iter_event_batches_of_an_empty_tenant_yields_nothing(read_store: SqlEventStore) -> None:
    assert list(read_store.iter_event_batches("empty-tenant", batch_size=3)) == []


def test_get_last_log_seq_is_the_tenant_tail(read_store: SqlEventStore) -> None:
    assert read_store.get_last_log_seq(TENANT) == len(READ_LOG)
    assert read_store.get_last_log_seq(OTHER_TENANT) == 1
    assert read_store.get_last_log_seq("empty-tenant") == 0


def test_get_next_trace_seq_is_max_plus_one_or_zero(read_store: SqlEventStore) -> None:
    assert read_store.get_next_trace_seq(TENANT, "t1") == 3
    assert read_store.get_next_trace_seq(TENANT, "t2") == 4
    assert read_store.get_next_trace_seq(TENANT, "nope") == 0
    assert read_store.get_next_trace_seq(OTHER_TENANT, "t1") == 1
    assert read_store.get_next_trace_seq(OTHER_TENANT, "t2") == 0


def test_is_trace_finished_is_true_only_for_traces_with_a_trace_finished(
    read_store: SqlEventStore,
) -> None:
    assert read_store.is_trace_finished(TENANT, "t1")
    assert not read_store.is_trace_finished(TENANT, "t2")
    assert not read_store.is_trace_finished(TENANT, "nope")
    assert not read_store.is_trace_finished(OTHER_TENANT, "t1")


def test_list_tenants_lists_the_tenants_with_events(read_store: SqlEventStore) -> None:
    assert read_store.list_tenants() == [TENANT, OTHER_TENANT]


def test_a_fresh_store_is_empty(store: SqlEventStore) -> None:
    assert store.list_tenants() == []
    assert store.list_events(TENANT) == []
    assert list(store.iter_event_batches(TENANT)) == []
    assert store.get_last_log_seq(TENANT) == 0
    assert store.get_trace_events(TENANT, "t") == []
    assert store.get_next_trace_seq(TENANT, "t") == 0
    assert not store.is_trace_finished(TENANT, "t")


def test_every_read_returns_the_same_stored_events(read_store: SqlEventStore) -> None:
    by_list = read_store.list_events(TENANT)
    by_batches = [e for b in read_store.iter_event_batches(TENANT, batch_size=3) for e in b]
    by_trace = sorted(
        read_store.get_trace_events(TENANT, "t1") + read_store.get_trace_events(TENANT, "t2"),
        key=lambda e: e.log_seq,
    )
    assert by_list == by_batches == by_trace
