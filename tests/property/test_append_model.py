"""Random valid and invalid append sequences against a model (spec 4.1 steps 8-11, 13).

Each example appends a random operation sequence (see :mod:`tests.property.model`) to a
fresh tenant of the backend's store, one event at a time, and to :class:`AppendModel`.
After every step the outcome (accepted with its ``log_seq``, reused with the stored
event's ``log_seq``, or the error code) and the returned event must match the model, and
the tenant's tail must equal the model's; at the end ``list_events`` must return exactly
the model's log.

Why one store per test and a fresh tenant per example is sound: tenants share nothing
(spec 13.1), so a new tenant id is an empty log. The ids of traces, events and keys
repeat across examples on purpose, which also checks that nothing leaks between tenants.
The ``@given`` function is defined inside the test so that no function-scoped fixture is
passed to Hypothesis.
"""

from __future__ import annotations

from hypothesis import given

from decisiongraph.domain.clock import is_rfc3339
from decisiongraph.store.base import SqlEventStore
from tests.property.budgets import SEQUENCE_BUDGETS
from tests.property.model import (
    AppendModel,
    Op,
    append_one,
    event_fields,
    fresh_tenant,
    observe,
    op_sequences,
)
from tests.property.profiles import property_settings


def test_random_append_sequences_match_the_model(store: SqlEventStore, backend: str) -> None:
    budget = SEQUENCE_BUDGETS[backend]

    @property_settings(budget.max_examples)
    @given(ops=op_sequences(budget.max_ops))
    def check(ops: list[Op]) -> None:
        tenant = fresh_tenant()
        model = AppendModel()
        for step, op in enumerate(ops):
            expected = model.apply(op)
            got = observe(append_one(store, tenant, op.envelope))
            assert got == expected, f"step {step} ({op.kind})"
            assert store.get_last_log_seq(tenant) == len(model.log), f"step {step}"
        events = store.list_events(tenant)
        assert [event_fields(e) for e in events] == model.log
        assert {e.tenant_id for e in events} <= {tenant}
        recorded = [e.recorded_at for e in events]
        assert all(is_rfc3339(r) and r.endswith("Z") and len(r) == 27 for r in recorded)
        assert recorded == sorted(recorded), "recorded_at decreased (spec 14.9)"

    check()
