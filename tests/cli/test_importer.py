"""The import engine on its own: prefix re-append after an atomic batch fails."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from decisiongraph.cli.importer import import_records
from decisiongraph.domain.envelope import EventEnvelope
from decisiongraph.errors import Conflict, EventSequenceInvalid, InvalidArgument, StorageError
from decisiongraph.store.base import BatchOutcome
from decisiongraph.store.factory import open_store
from tests.cli.helpers import trace_dicts


class ScriptedStore:
    """Fails the first append_batch calls with the scripted errors, then delegates."""

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.calls: list[list[str]] = []
        self.store = open_store("sqlite:///:memory:")

    def append_batch(
        self, tenant_id: str, envelopes: Sequence[EventEnvelope], *, atomic: bool = True
    ) -> list[BatchOutcome]:
        self.calls.append([e.event_id for e in envelopes])
        if self.failures:
            raise self.failures.pop(0)
        return self.store.append_batch(tenant_id, envelopes, atomic=atomic)


def test_a_prefix_that_fails_again_reports_the_earlier_event() -> None:
    records: list[Any] = trace_dicts("t", 6)
    store = ScriptedStore(
        [
            EventSequenceInvalid("late failure", {"index": 4}),
            Conflict("a concurrent writer got there first", {"index": 1}),
        ]
    )

    report = import_records(store, "default", records, batch_size=10)

    ids = [r["event_id"] for r in records]
    assert store.calls == [ids, ids[:4], ids[:1]]
    assert report.failure is not None
    assert (report.failure.index, report.failure.event_id) == (1, ids[1])
    assert report.failure.error.code == "DG_ERR_CONFLICT"
    assert (report.new, report.reused) == (1, 0)
    store.store.close()


def test_an_error_without_an_index_is_raised() -> None:
    store = ScriptedStore([StorageError("database is gone")])

    with pytest.raises(StorageError, match="database is gone"):
        import_records(store, "default", trace_dicts("t", 2))
    store.store.close()


def test_batch_size_must_be_positive() -> None:
    store = ScriptedStore([])

    with pytest.raises(InvalidArgument, match="batch_size must be >= 1"):
        import_records(store, "default", [], batch_size=0)
    store.store.close()


def test_progress_is_reported_per_committed_batch() -> None:
    store = ScriptedStore([])
    seen: list[int] = []

    report = import_records(store, "t1", trace_dicts("t", 5), batch_size=2, on_progress=seen.append)

    assert seen == [2, 2, 1]
    assert (report.new, report.total, report.failure) == (5, 5, None)
    store.store.close()
