"""Tenant isolation (spec 13.1-13.3) and tenant id validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from decisiongraph.errors import DecisionGraphError
from decisiongraph.store.base import SqlEventStore
from tests.contract.spec_tables import EVENT_SEQUENCE_INVALID, INVALID_ARGUMENT
from tests.contract.support import (
    OTHER_TENANT,
    TENANT,
    append_all,
    assert_rejected,
    comparable,
    snapshot,
)
from tests.helpers import make_envelope, trace_envelopes


def test_tenants_with_the_same_trace_ids_event_ids_and_keys_do_not_affect_each_other(
    store: SqlEventStore,
) -> None:
    envelopes = trace_envelopes("t", 4)
    in_first = append_all(store, TENANT, envelopes)
    in_second = append_all(store, OTHER_TENANT, envelopes[:2])
    assert [e.log_seq for e in in_first] == [1, 2, 3, 4]
    assert [e.log_seq for e in in_second] == [1, 2]
    assert store.is_trace_finished(TENANT, "t")
    assert not store.is_trace_finished(OTHER_TENANT, "t")
    assert store.get_next_trace_seq(OTHER_TENANT, "t") == 2
    # The second tenant can go on with the trace the first one finished.
    third = store.append(OTHER_TENANT, envelopes[2])
    assert not third.reused
    assert third.event.log_seq == 3
    assert [comparable(e) for e in store.list_events(OTHER_TENANT)] == [
        comparable(e) for e in in_first[:3]
    ]
    assert [e.tenant_id for e in store.list_events(TENANT)] == [TENANT] * 4
    assert [e.tenant_id for e in store.list_events(OTHER_TENANT)] == [OTHER_TENANT] * 3
    assert [e.tenant_id for e in store.get_trace_events(OTHER_TENANT, "t")] == [OTHER_TENANT] * 3
    assert store.get_last_log_seq(TENANT) == 4
    assert store.get_last_log_seq(OTHER_TENANT) == 3


def test_a_reject_in_one_tenant_leaves_every_tenant_unchanged(store: SqlEventStore) -> None:
    append_all(store, TENANT, trace_envelopes("t", 2, finish=False))
    append_all(store, OTHER_TENANT, trace_envelopes("t", 3))
    assert_rejected(store, TENANT, make_envelope("t", 5), EVENT_SEQUENCE_INVALID)
    assert store.get_last_log_seq(OTHER_TENANT) == 3


def test_a_tenant_whose_appends_were_all_rejected_is_not_listed(store: SqlEventStore) -> None:
    before = snapshot(store, "ghost")
    assert_rejected(store, "ghost", make_envelope("t", 1), EVENT_SEQUENCE_INVALID)
    assert store.list_tenants() == []
    assert snapshot(store, "ghost") == before


INVALID_TENANTS = ["", "*", "a b", "x" * 65, "-lead", ".lead", "_lead", "é", "a/b", "a\x00", "a:b"]

TENANT_OPERATIONS: dict[str, Callable[[SqlEventStore, str], Any]] = {
    "append": lambda s, t: s.append(t, make_envelope("t", 0)),
    "append_batch": lambda s, t: s.append_batch(t, [make_envelope("t", 0)]),
    "append_batch_non_atomic": lambda s, t: s.append_batch(
        t, [make_envelope("t", 0)], atomic=False
    ),
    "list_events": lambda s, t: s.list_events(t),
    "iter_event_batches": lambda s, t: list(s.iter_event_batches(t)),
    "get_trace_events": lambda s, t: s.get_trace_events(t, "t"),
    "get_last_log_seq": lambda s, t: s.get_last_log_seq(t),
    "get_next_trace_seq": lambda s, t: s.get_next_trace_seq(t, "t"),
    "is_trace_finished": lambda s, t: s.is_trace_finished(t, "t"),
}


@pytest.mark.parametrize("operation", list(TENANT_OPERATIONS))
def test_invalid_tenant_ids_are_invalid_arguments_everywhere(
    populated_store: SqlEventStore, operation: str
) -> None:
    before = snapshot(populated_store)
    for tenant in INVALID_TENANTS:
        with pytest.raises(DecisionGraphError) as caught:
            TENANT_OPERATIONS[operation](populated_store, tenant)
        assert caught.value.code == INVALID_ARGUMENT, tenant
    assert snapshot(populated_store) == before


@pytest.mark.parametrize("tenant", ["x" * 64, "0", "A", "a.b_c-d", "default", "T-1.2_3"])
def test_tenant_ids_of_1_to_64_allowed_characters_are_accepted(
    store: SqlEventStore, tenant: str
) -> None:
    event = store.append(tenant, make_envelope("t", 0)).event
    assert event.tenant_id == tenant
    assert event.log_seq == 1
    assert store.list_tenants() == [tenant]
    assert store.list_events(tenant) == [event]
