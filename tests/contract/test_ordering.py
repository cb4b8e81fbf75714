"""Ids compare and order in Unicode code-point order on every backend (spec 14.1)."""

from __future__ import annotations

import pytest

from decisiongraph.store.base import SqlEventStore
from tests.contract.support import TENANT, append_all, new_id
from tests.helpers import make_envelope

#: Ids that differ only in case, accents or normalisation form, plus an emoji.
TRICKY_IDS = ("B", "a", "A", "b", "é", "e\u0301", "E", "😀", "\U0001f600\ufe0f", "a ")

#: Valid tenant ids whose code-point order differs from a locale order.
TRICKY_TENANTS = ("b", "B", "a", "A", "0", "Z", "a-b", "a.b", "a_b", "aB", "a0", "Ab")


def test_trace_ids_differing_only_in_case_or_normalisation_are_distinct_traces(
    store: SqlEventStore,
) -> None:
    for trace_id in TRICKY_IDS:
        store.append(TENANT, make_envelope(trace_id, 0, idempotency_key=new_id()))
    store.append(TENANT, make_envelope("a", 1, "TraceFinished", idempotency_key=new_id()))
    for trace_id in TRICKY_IDS:
        events = store.get_trace_events(TENANT, trace_id)
        assert [e.trace_id for e in events] == [trace_id] * len(events)
        assert [e.trace_id for e in store.list_events(TENANT, trace_id=trace_id)] == [
            trace_id
        ] * len(events)
        finished = trace_id == "a"
        assert store.is_trace_finished(TENANT, trace_id) is finished
        assert store.get_next_trace_seq(TENANT, trace_id) == (2 if finished else 1)
    # "A" is not finished, so it continues.
    assert not store.append(TENANT, make_envelope("A", 1, idempotency_key=new_id())).reused


def test_idempotency_keys_and_producers_compare_by_code_point(store: SqlEventStore) -> None:
    for index, key in enumerate(TRICKY_IDS):
        result = store.append(TENANT, make_envelope(f"trace-{index}", 0, idempotency_key=key))
        assert not result.reused
    for index, producer in enumerate(("P", "p", "é", "e\u0301")):
        envelope = make_envelope(f"p-{index}", 0, idempotency_key="same", producer_id=producer)
        assert not store.append(TENANT, envelope).reused
    assert store.get_last_log_seq(TENANT) == len(TRICKY_IDS) + 4


def test_event_ids_differing_only_in_case_or_normalisation_are_not_duplicates(
    store: SqlEventStore,
) -> None:
    envelopes = [
        make_envelope(f"trace-{i}", 0, event_id=event_id) for i, event_id in enumerate(TRICKY_IDS)
    ]
    stored = append_all(store, TENANT, envelopes)
    assert [e.event_id for e in stored] == list(TRICKY_IDS)


def test_list_tenants_is_in_code_point_order(store: SqlEventStore) -> None:
    for tenant in TRICKY_TENANTS:
        store.append(tenant, make_envelope("t", 0))
    assert store.list_tenants() == sorted(TRICKY_TENANTS)
    for tenant in TRICKY_TENANTS:
        assert [e.tenant_id for e in store.list_events(tenant)] == [tenant]


@pytest.mark.postgres
def test_postgres_orders_and_compares_ids_by_code_point_even_in_a_locale_database(
    icu_store: SqlEventStore,
) -> None:
    for tenant in TRICKY_TENANTS:
        icu_store.append(tenant, make_envelope("t", 0))
    assert icu_store.list_tenants() == sorted(TRICKY_TENANTS)
    for trace_id in TRICKY_IDS:
        icu_store.append(TENANT, make_envelope(trace_id, 0, idempotency_key=f"k-{trace_id}"))
    for trace_id in TRICKY_IDS:
        assert [e.trace_id for e in icu_store.get_trace_events(TENANT, trace_id)] == [trace_id]
        assert icu_store.get_next_trace_seq(TENANT, trace_id) == 1
