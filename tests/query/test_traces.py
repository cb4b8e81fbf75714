"""Trace reads: summaries, trace lists with filters and opaque cursors, timelines and
event pages (spec 5; HTTP_API 2.4, 2.6-2.8)."""

from __future__ import annotations

import pytest

from decisiongraph.errors import InvalidArgument, NotFound
from decisiongraph.projections.runner import Projector
from decisiongraph.query import (
    EVENTUAL,
    CursorCodec,
    ReadOptions,
    TraceFilter,
    get_trace,
    get_trace_events,
    get_trace_summary,
    list_events_page,
    list_trace_events,
    list_traces,
)
from decisiongraph.query import traces as trace_module
from decisiongraph.store.base import SqlEventStore
from tests.helpers import MINIMAL_PAYLOADS, make_envelope, trace_envelopes
from tests.query.support import TraceSpec, append, append_and_project, write_summary_row

CODEC = CursorCodec("a secret of at least sixteen bytes")


def test_summary_carries_the_digest_and_service_fields(qstore: SqlEventStore, tenant: str) -> None:
    spec = TraceSpec("t1", [("InputObserved", MINIMAL_PAYLOADS["InputObserved"])])
    append_and_project(qstore, tenant, spec.envelopes())
    result = get_trace_summary(qstore, tenant, "t1")
    assert result.projection_log_seq == 3
    assert result.summary.to_dict() == {
        "trace_id": "t1",
        "workflow": "wf",
        "title": "wf trace",
        "primary_entity_type": "account",
        "primary_entity_id": "acc-1",
        "outcome": "success",
        "started_at": "2025-12-31T12:00:00Z",
        "finished_at": "2025-12-31T12:00:00Z",
        "event_count": 2,
        "last_log_seq": 3,
        "started_log_seq": 1,
        "event_total": 3,
    }


def test_summary_of_an_unknown_trace_is_not_found(qstore: SqlEventStore, tenant: str) -> None:
    append_and_project(qstore, tenant, trace_envelopes("t1"))
    with pytest.raises(NotFound, match="Trace not found: nope"):
        get_trace_summary(qstore, tenant, "nope")
    with pytest.raises(NotFound):
        get_trace_summary(qstore, "other-tenant-x", "t1")  # never another tenant's trace


def test_summary_nulls_stay_null(qstore: SqlEventStore, tenant: str) -> None:
    # The append pipeline always gives a primary entity; a row without one (possible
    # for the reference projector) is written directly.
    write_summary_row(qstore, tenant, "t1", entity=None)
    summary = get_trace_summary(qstore, tenant, "t1").summary
    assert (summary.primary_entity_type, summary.primary_entity_id) == (None, None)
    assert summary.outcome is None
    assert summary.finished_at is None


def _listing(store: SqlEventStore, tenant: str) -> None:
    specs = [
        TraceSpec("t1", [], "success", "deal", ("account", "a1"), "2025-01-01T00:00:00Z"),
        TraceSpec("t2", [], "failure", "refund", ("account", "a2"), "2025-01-01T01:00:00+02:00"),
        TraceSpec("t3", [], None, "deal", ("order", "o1"), "2025-01-02T00:00:00.5Z"),
        TraceSpec("t4", [], "abandoned", "payout", ("order", "o2"), "2024-12-31T23:30:00-01:00"),
        TraceSpec("t5", [], "success", "deal", ("account", "a1"), "2025-01-03T00:00:00Z"),
    ]
    for spec in specs:
        append(store, tenant, spec.envelopes())
    Projector(store).catch_up(tenant)


def _ids(store: SqlEventStore, tenant: str, filters: TraceFilter | None = None) -> list[str]:
    return [s.trace_id for s in list_traces(store, tenant, filters, codec=CODEC).items]


def test_list_traces_orders_newest_first_and_filters(qstore: SqlEventStore, tenant: str) -> None:
    _listing(qstore, tenant)
    assert _ids(qstore, tenant) == ["t5", "t4", "t3", "t2", "t1"]
    assert _ids(qstore, tenant, TraceFilter(workflows=("deal",))) == ["t5", "t3", "t1"]
    assert _ids(qstore, tenant, TraceFilter(workflows=("refund", "payout"))) == ["t4", "t2"]
    assert _ids(qstore, tenant, TraceFilter(outcomes=("success", "failure"))) == ["t5", "t2", "t1"]
    assert _ids(qstore, tenant, TraceFilter(primary_entity_type="account")) == ["t5", "t2", "t1"]
    by_entity = TraceFilter(primary_entity_type="account", primary_entity_id="a1")
    assert _ids(qstore, tenant, by_entity) == ["t5", "t1"]
    assert _ids(qstore, tenant, TraceFilter(finished=False)) == ["t3"]
    assert _ids(qstore, tenant, TraceFilter(finished=True, workflows=("deal",))) == ["t5", "t1"]
    assert _ids(qstore, tenant, TraceFilter(workflows=("none",))) == []


def test_started_bounds_compare_instants_not_text(qstore: SqlEventStore, tenant: str) -> None:
    _listing(qstore, tenant)
    # t2 started 2024-12-31T23:00Z, t4 2025-01-01T00:30Z, t1 2025-01-01T00:00Z.
    after = TraceFilter(started_after="2025-01-01T00:00:00Z")
    assert _ids(qstore, tenant, after) == ["t5", "t4", "t3", "t1"]
    before = TraceFilter(started_before="2025-01-01T00:30:00Z")
    assert _ids(qstore, tenant, before) == ["t2", "t1"]
    window = TraceFilter(
        started_after="2025-01-01T01:00:00+01:00", started_before="2025-01-02T00:00:00.5Z"
    )
    assert _ids(qstore, tenant, window) == ["t4", "t1"]
    fraction = TraceFilter(started_after="2025-01-02T00:00:00.50000001Z")
    assert _ids(qstore, tenant, fraction) == ["t5"]


def test_list_traces_pages_without_duplicates_or_omissions(
    qstore: SqlEventStore, tenant: str
) -> None:
    _listing(qstore, tenant)
    for filters in (
        None,
        TraceFilter(finished=True),
        TraceFilter(started_before="2026-01-01T00:00:00Z"),
    ):
        expected = _ids(qstore, tenant, filters)
        seen: list[str] = []
        cursor = None
        while True:
            page = list_traces(qstore, tenant, filters, codec=CODEC, cursor=cursor, limit=2)
            seen += [s.trace_id for s in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
            assert len(page.items) == 2
        assert seen == expected
    last = list_traces(qstore, tenant, codec=CODEC, limit=5)
    assert last.next_cursor is None
    assert len(last.items) == 5


def test_trace_cursors_are_bound_and_tamper_checked(qstore: SqlEventStore, tenant: str) -> None:
    _listing(qstore, tenant)
    filters = TraceFilter(workflows=("deal",))
    cursor = list_traces(qstore, tenant, filters, codec=CODEC, limit=1).next_cursor
    assert cursor is not None
    # The same filters in another order, and another limit, keep the cursor valid.
    same = TraceFilter(workflows=("deal", "deal"))
    assert _ids(qstore, tenant, filters)[1:] == [
        s.trace_id for s in list_traces(qstore, tenant, same, codec=CODEC, cursor=cursor).items
    ]
    bad_uses = [
        (tenant, TraceFilter(workflows=("refund",)), CODEC, cursor),
        (tenant, None, CODEC, cursor),
        ("another-tenant", filters, CODEC, cursor),
        (tenant, filters, CursorCodec(b"another secret, also long enough"), cursor),
        (tenant, filters, CODEC, cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")),
        (tenant, filters, CODEC, "not-a-cursor"),
        (tenant, filters, CODEC, ""),
    ]
    for use_tenant, use_filters, codec, token in bad_uses:
        with pytest.raises(InvalidArgument, match="cursor"):
            list_traces(qstore, use_tenant, use_filters, codec=codec, cursor=token)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"primary_entity_id": "a1"},
        {"workflows": ()},
        {"outcomes": "success"},
        {"started_after": "2025-01-01"},
        {"started_before": "2025-01-01T00:00:00"},
        {"finished": "yes"},
    ],
)
def test_trace_filters_are_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        TraceFilter(**kwargs)  # type: ignore[arg-type]


def test_list_traces_limit_is_bounded(qstore: SqlEventStore, tenant: str) -> None:
    for limit in (0, 1001):
        with pytest.raises(InvalidArgument, match="limit"):
            list_traces(qstore, tenant, codec=CODEC, limit=limit)


def test_get_trace_returns_timeline_and_summary(qstore: SqlEventStore, tenant: str) -> None:
    append_and_project(qstore, tenant, trace_envelopes("t1", 4))
    view = get_trace(qstore, tenant, "t1")
    assert [e.trace_seq for e in view.events] == [0, 1, 2, 3]
    assert view.events_truncated is False
    assert view.summary is not None
    assert view.summary.outcome == "success"
    assert view.projection_log_seq == 4
    body = view.to_dict(include_payload=False)
    assert "payload" not in body["events"][0]
    assert body["summary"]["trace_id"] == "t1"
    with pytest.raises(NotFound):
        get_trace(qstore, tenant, "unknown")


def test_get_trace_summary_is_null_until_projected(qstore: SqlEventStore, tenant: str) -> None:
    append(qstore, tenant, trace_envelopes("t1", 2, finish=False))
    view = get_trace(qstore, tenant, "t1", options=EVENTUAL)
    assert view.summary is None
    assert view.projection_log_seq == 0
    assert len(view.events) == 2
    Projector(qstore).catch_up(tenant)
    append(qstore, tenant, [make_envelope("t1", 2, "TraceFinished")])
    view = get_trace(qstore, tenant, "t1", options=ReadOptions(min_log_seq=2))
    assert view.summary is not None
    assert view.summary.outcome is None
    assert len(view.events) == 3


def test_get_trace_truncates_long_timelines(
    qstore: SqlEventStore, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    append_and_project(qstore, tenant, trace_envelopes("t1", 5))
    monkeypatch.setattr(trace_module, "MAX_TRACE_EVENTS", 3)
    view = get_trace(qstore, tenant, "t1")
    assert [e.trace_seq for e in view.events] == [0, 1, 2]
    assert view.events_truncated
    monkeypatch.setattr(trace_module, "MAX_TRACE_EVENTS", 5)
    assert get_trace(qstore, tenant, "t1").events_truncated is False


def test_get_trace_events_follows_the_reference(qstore: SqlEventStore, tenant: str) -> None:
    append(qstore, tenant, trace_envelopes("t1", 4))
    assert [e.trace_seq for e in get_trace_events(qstore, tenant, "t1")] == [0, 1, 2, 3]
    assert [e.trace_seq for e in get_trace_events(qstore, tenant, "t1", 1, 2)] == [2, 3]
    with pytest.raises(NotFound):
        get_trace_events(qstore, tenant, "t1", since_trace_seq=3)  # filtered out: not found
    with pytest.raises(NotFound):
        get_trace_events(qstore, tenant, "unknown")
    with pytest.raises(InvalidArgument):
        get_trace_events(qstore, tenant, "t1", limit=10_001)


def test_trace_event_pages(qstore: SqlEventStore, tenant: str) -> None:
    append(qstore, tenant, trace_envelopes("t1", 5))
    pages = []
    cursor = None
    while True:
        since: int | None = None if cursor is None else int(cursor)
        page = list_trace_events(qstore, tenant, "t1", since_trace_seq=since, limit=2)
        pages.append([e.trace_seq for e in page.items])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == [[0, 1], [2, 3], [4]]
    exact = list_trace_events(qstore, tenant, "t1", since_trace_seq=2, limit=2)
    assert exact.next_cursor is None  # nothing after the last item
    empty = list_trace_events(qstore, tenant, "t1", since_trace_seq=4)
    assert empty.items == []
    assert empty.next_cursor is None
    with pytest.raises(NotFound):
        list_trace_events(qstore, tenant, "unknown")
    with pytest.raises(NotFound):
        list_trace_events(qstore, tenant, "unknown", since_trace_seq=1)
    with pytest.raises(InvalidArgument):
        list_trace_events(qstore, tenant, "t1", limit=0)


def test_log_pages(qstore: SqlEventStore, tenant: str) -> None:
    append(qstore, tenant, trace_envelopes("a", 3) + trace_envelopes("b", 3))
    page = list_events_page(qstore, tenant, limit=4)
    assert [e.log_seq for e in page.items] == [1, 2, 3, 4]
    assert page.next_cursor == "4"
    page = list_events_page(qstore, tenant, since_log_seq=4, limit=4)
    assert [e.log_seq for e in page.items] == [5, 6]
    assert page.next_cursor is None
    page = list_events_page(qstore, tenant, until_log_seq=4, limit=4)
    assert page.next_cursor is None
    page = list_events_page(qstore, tenant, event_types=["TraceFinished"], limit=1)
    assert [e.log_seq for e in page.items] == [3]
    assert page.next_cursor == "3"
    with pytest.raises(InvalidArgument):
        list_events_page(qstore, tenant, event_types=["Nope"])
