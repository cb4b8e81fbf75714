"""Golden scenarios (shared/golden/README.md, spec 10, 13.4) through the store: each
imports into a fresh tenant with log_seq 1..N, a second import reuses every event, and
tenants holding other scenarios do not change a tenant's events."""

from __future__ import annotations

import pytest

from decisiongraph.domain.canonical import compute_payload_hash
from decisiongraph.store.base import SqlEventStore
from tests.conftest import GOLDEN_SCENARIOS, golden_envelopes, load_golden
from tests.contract.spec_tables import DEALDESK_PAYLOAD_HASHES
from tests.contract.support import (
    PAYLOAD_HASH_FORMAT,
    TENANT,
    append_all,
    comparable,
    outcome_view,
    snapshot,
)


@pytest.mark.parametrize("scenario", GOLDEN_SCENARIOS)
def test_golden_scenario_imports_into_a_fresh_tenant_with_log_seq_1_to_n(
    store: SqlEventStore, scenario: str
) -> None:
    envelopes = golden_envelopes(scenario)
    stored = append_all(store, TENANT, envelopes)
    count = len(envelopes)
    assert [e.log_seq for e in stored] == list(range(1, count + 1))
    assert [e.envelope() for e in stored] == envelopes
    for event in stored:
        assert PAYLOAD_HASH_FORMAT.fullmatch(event.payload_hash)
        assert event.payload_hash == compute_payload_hash(event.payload)
    assert store.list_events(TENANT) == stored
    assert store.get_last_log_seq(TENANT) == count
    trace_id = load_golden(scenario)["trace_id"]
    assert store.is_trace_finished(TENANT, trace_id)
    assert store.get_trace_events(TENANT, trace_id) == stored
    if scenario == "dealdesk":
        assert tuple(e.payload_hash for e in stored) == DEALDESK_PAYLOAD_HASHES


@pytest.mark.parametrize("scenario", GOLDEN_SCENARIOS)
def test_a_second_import_of_a_golden_scenario_reuses_every_event_and_adds_nothing(
    store: SqlEventStore, scenario: str
) -> None:
    envelopes = golden_envelopes(scenario)
    stored = append_all(store, TENANT, envelopes)
    before = snapshot(store, TENANT)
    for envelope, original in zip(envelopes, stored, strict=True):
        result = store.append(TENANT, envelope)
        assert result.reused
        assert result.event == original
    again = store.append_batch(TENANT, envelopes)
    assert [outcome_view(o) for o in again] == [("ok", True, comparable(e)) for e in stored]
    assert snapshot(store, TENANT) == before


@pytest.mark.parametrize("scenario", GOLDEN_SCENARIOS)
def test_a_golden_scenario_imported_as_one_batch_equals_the_one_by_one_import(
    store: SqlEventStore, scenario: str
) -> None:
    envelopes = golden_envelopes(scenario)
    one_by_one = append_all(store, TENANT, envelopes)
    batch = store.append_batch("batched", envelopes)
    assert [outcome_view(o) for o in batch] == [("ok", False, comparable(e)) for e in one_by_one]


def test_every_tenant_holds_exactly_its_own_golden_scenario(store: SqlEventStore) -> None:
    layout = {f"tenant-{s}": s for s in GOLDEN_SCENARIOS}
    layout["tenant-dealdesk-2"] = "dealdesk"
    for tenant, scenario in layout.items():
        append_all(store, tenant, golden_envelopes(scenario))
    assert store.list_tenants() == sorted(layout)
    for tenant, scenario in layout.items():
        envelopes = golden_envelopes(scenario)
        events = store.list_events(tenant)
        assert [e.envelope() for e in events] == envelopes
        assert [e.log_seq for e in events] == list(range(1, len(envelopes) + 1))
        assert {e.tenant_id for e in events} == {tenant}
    first = [comparable(e) for e in store.list_events("tenant-dealdesk")]
    second = [comparable(e) for e in store.list_events("tenant-dealdesk-2")]
    assert first == second
