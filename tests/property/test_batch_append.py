"""Batch append == one-by-one append (issue 2, spec 4.1, 14.4).

Each example builds a stored state (a prefix appended one by one to three fresh tenants
A, B and C) and then appends the same random envelopes, valid and invalid:

* to B one by one: the outcomes must match :class:`AppendModel`;
* to A with ``append_batch(atomic=False)``: the same per-index outcomes (error code, or
  accepted/reused with the same ``log_seq`` and event) and the same stored log as B
  (every field but ``tenant_id`` and ``recorded_at``);
* to C with ``append_batch(atomic=True)``: when every envelope is accepted one by one,
  the same outcomes and log as B; otherwise the error of the first failing index, with
  ``details["index"]`` naming it, and C's log unchanged (nothing of the batch stored).

Tenants share nothing (spec 13.1), so fresh tenants in one store per test stand in for
fresh stores; see :mod:`tests.property.test_append_model`.
"""

from __future__ import annotations

import pytest
from hypothesis import given

from decisiongraph.errors import DecisionGraphError
from decisiongraph.store.base import SqlEventStore
from tests.property.budgets import BATCH_BUDGETS
from tests.property.model import (
    AppendModel,
    Op,
    append_one,
    batch_scenarios,
    envelopes,
    event_fields,
    fresh_tenant,
    observe,
)
from tests.property.profiles import property_settings


def test_batch_append_equals_one_by_one(store: SqlEventStore, backend: str) -> None:
    budget = BATCH_BUDGETS[backend]

    @property_settings(budget.max_examples)
    @given(scenario=batch_scenarios(budget.max_prefix, budget.max_ops))
    def check(scenario: tuple[list[Op], list[Op]]) -> None:
        prefix, batch = scenario
        batch_envelopes = envelopes(batch)
        non_atomic, one_by_one, atomic = fresh_tenant(), fresh_tenant(), fresh_tenant()

        def log(tenant: str) -> list[dict[str, object]]:
            return [event_fields(e) for e in store.list_events(tenant)]

        model = AppendModel()
        for op in prefix:
            expected = model.apply(op)
            for tenant in (non_atomic, one_by_one, atomic):
                assert observe(append_one(store, tenant, op.envelope)) == expected
        prefix_log = list(model.log)

        expected_outcomes = [model.apply(op) for op in batch]
        singles = [observe(append_one(store, one_by_one, env)) for env in batch_envelopes]
        assert singles == expected_outcomes
        assert log(one_by_one) == model.log

        results = store.append_batch(non_atomic, batch_envelopes, atomic=False)
        assert [observe(r) for r in results] == singles
        assert log(non_atomic) == log(one_by_one)

        first_error = next(
            (i for i, (outcome, _) in enumerate(singles) if outcome[0] == "error"), None
        )
        if first_error is None:
            results = store.append_batch(atomic, batch_envelopes, atomic=True)
            assert [observe(r) for r in results] == singles
            assert log(atomic) == log(one_by_one)
        else:
            with pytest.raises(DecisionGraphError) as info:
                store.append_batch(atomic, batch_envelopes, atomic=True)
            assert (info.value.code, info.value.details.get("index")) == (
                singles[first_error][0][1],
                first_error,
            )
            assert log(atomic) == prefix_log
            assert store.get_last_log_seq(atomic) == len(prefix_log)

    check()
