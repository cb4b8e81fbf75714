"""Golden parity of the projector on every backend (spec 6.9, 10, 13.4): the shared
scenarios give their expected digests whether projected live (event by event), in
batches of 1, 7 or 1000, or by a rebuild; scenarios in separate tenants of one store
each give their own; health with digests reports them."""

from __future__ import annotations

import pytest

from decisiongraph.projections.engine import PROJECTION_NAMES
from decisiongraph.projections.runner import Projector
from decisiongraph.query.health import get_projection_health
from decisiongraph.store.base import SqlEventStore
from tests.conftest import GOLDEN_SCENARIOS, expected_digests, golden_envelopes


@pytest.mark.parametrize("scenario", GOLDEN_SCENARIOS)
def test_every_way_of_projecting_gives_the_golden_digests(
    store: SqlEventStore, scenario: str
) -> None:
    envelopes = golden_envelopes(scenario)
    expected = expected_digests(scenario)
    tail = len(envelopes)
    for batch_size in (1, 7, 1000):
        tenant = f"batch-{batch_size}"
        store.append_batch(tenant, envelopes)
        projector = Projector(store, batch_size=batch_size)
        applied = projector.catch_up(tenant)
        assert applied == tail * len(PROJECTION_NAMES)
        assert projector.cursors(tenant) == dict.fromkeys(PROJECTION_NAMES, tail)
        assert projector.digests(tenant).as_dict() == expected, batch_size
        assert projector.catch_up(tenant) == 0  # nothing left, nothing applied twice

    live = Projector(store, batch_size=1000)
    for envelope in envelopes:  # projected right after each append, like the facade
        store.append("live", envelope)
        live.catch_up("live")
    assert live.digests("live").as_dict() == expected

    rebuilt = Projector(store, batch_size=3)
    rebuilt.rebuild("batch-7")
    assert rebuilt.digests("batch-7").as_dict() == expected
    assert rebuilt.cursors("batch-7") == dict.fromkeys(PROJECTION_NAMES, tail)
    rebuilt.rebuild("fresh-never-projected")  # a tenant without events or meta rows
    assert rebuilt.cursors("fresh-never-projected") == dict.fromkeys(PROJECTION_NAMES, 0)


def test_scenarios_in_separate_tenants_keep_their_own_digests(store: SqlEventStore) -> None:
    for scenario in GOLDEN_SCENARIOS:
        store.append_batch(scenario, golden_envelopes(scenario))
    projector = Projector(store, batch_size=5)
    for scenario in reversed(GOLDEN_SCENARIOS):  # projection order does not matter
        projector.catch_up(scenario)
    for scenario in GOLDEN_SCENARIOS:
        health = get_projection_health(store, scenario, include_digests=True)
        assert health.digests == expected_digests(scenario)
        assert health.digests == projector.digests(scenario).as_dict()
        assert not health.is_stale
        assert health.event_count == health.tail_log_seq == len(golden_envelopes(scenario))
    # Rebuilding one tenant leaves the others exactly as they were.
    projector.rebuild(GOLDEN_SCENARIOS[0])
    for scenario in GOLDEN_SCENARIOS:
        assert projector.digests(scenario).as_dict() == expected_digests(scenario)
