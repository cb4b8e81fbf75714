"""The import engine behind ``decisiongraph import`` and ``decisiongraph demo``: append
records in file order, in atomic batches, stopping at the first rejected event with
exactly the events before it committed.

An atomic batch that fails at index ``i`` writes nothing, so the engine appends the
batch's prefix ``[:i]`` again (those events passed before) and then reports the failure
by its index in the whole input. Re-importing the same input reuses every event
(idempotency keys) and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from decisiongraph.domain.envelope import EventEnvelope, envelope_from_dict
from decisiongraph.errors import DecisionGraphError, InvalidArgument
from decisiongraph.store.base import AppendResult, BatchOutcome

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "BatchAppender",
    "ImportFailure",
    "ImportReport",
    "import_records",
]

DEFAULT_BATCH_SIZE = 500


class BatchAppender(Protocol):
    """The one store method an import needs (every ``EventStore`` has it)."""

    def append_batch(
        self, tenant_id: str, envelopes: Sequence[EventEnvelope], *, atomic: bool = True
    ) -> list[BatchOutcome]:
        """Append in one transaction; atomic failures carry ``details["index"]``."""
        ...


@dataclass(frozen=True, slots=True)
class ImportFailure:
    """The first rejected record: its 0-based index in the input, its event id (when it
    has a string one) and the error."""

    index: int
    event_id: str | None
    error: DecisionGraphError

    def describe(self, location: str = "") -> str:
        """``event 3 (line 4, event_id 'e-4') rejected: CODE: message``; ``location``
        (such as ``line 4``) is optional."""
        event_id = "no event_id" if self.event_id is None else f"event_id {self.event_id!r}"
        where = f"{location}, {event_id}" if location else event_id
        return f"event {self.index} ({where}) rejected: {self.error}"

    def to_dict(self) -> dict[str, Any]:
        """The failure as a JSON object (``import --json``)."""
        return {
            "index": self.index,
            "event_id": self.event_id,
            "code": self.error.code,
            "message": self.error.message,
        }


@dataclass(slots=True)
class ImportReport:
    """What an import did: events newly stored, events reused, and the failure if any."""

    new: int = 0
    reused: int = 0
    failure: ImportFailure | None = None

    @property
    def total(self) -> int:
        """Events accepted (new + reused)."""
        return self.new + self.reused

    def count(self, outcomes: Sequence[BatchOutcome]) -> None:
        """Add the accepted outcomes of a batch to the counts."""
        for outcome in outcomes:
            if isinstance(outcome, AppendResult):
                if outcome.reused:
                    self.reused += 1
                else:
                    self.new += 1


def _record_event_id(record: Any) -> str | None:
    value = record.get("event_id") if isinstance(record, Mapping) else None
    return value if isinstance(value, str) else None


def _to_envelopes(
    records: Sequence[Any], offset: int
) -> tuple[list[EventEnvelope], ImportFailure | None]:
    """Convert records until the first malformed one, which becomes the failure."""
    envelopes: list[EventEnvelope] = []
    for position, record in enumerate(records):
        try:
            envelopes.append(envelope_from_dict(record))
        except DecisionGraphError as error:
            return envelopes, ImportFailure(offset + position, _record_event_id(record), error)
    return envelopes, None


def _append_longest_prefix(
    store: BatchAppender, tenant_id: str, envelopes: list[EventEnvelope]
) -> tuple[list[BatchOutcome], tuple[int, DecisionGraphError] | None]:
    """Append ``envelopes`` atomically; if one is rejected, append the events before it
    instead. Returns the committed outcomes and ``(index, error)`` of the rejection.

    The prefix is retried until it commits: should a concurrent writer make an earlier
    event fail meanwhile, that earlier event becomes the reported one.
    """
    rejected: tuple[int, DecisionGraphError] | None = None
    batch = envelopes
    while batch:
        try:
            return store.append_batch(tenant_id, batch, atomic=True), rejected
        except DecisionGraphError as error:
            index = error.details.get("index")
            if not isinstance(index, int) or not 0 <= index < len(batch):
                raise  # not an event's rejection (storage, tenant): nothing to report by index
            rejected = (index, error)
            batch = batch[:index]
    return [], rejected


def import_records(
    store: BatchAppender,
    tenant_id: str,
    records: Sequence[Any],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Append ``records`` (JSON objects) to ``tenant_id`` in order, ``batch_size`` per
    atomic batch. Stops at the first rejected record (reported, not raised); errors that
    concern no single record (storage, tenant id) are raised.

    ``on_progress(n)`` is called after each committed batch of ``n`` records.
    """
    if batch_size < 1:
        raise InvalidArgument(f"batch_size must be >= 1, got {batch_size}")
    report = ImportReport()
    for offset in range(0, len(records), batch_size):
        chunk = records[offset : offset + batch_size]
        envelopes, malformed = _to_envelopes(chunk, offset)
        outcomes, rejected = _append_longest_prefix(store, tenant_id, envelopes)
        report.count(outcomes)
        if rejected is not None:
            index, error = rejected
            report.failure = ImportFailure(offset + index, envelopes[index].event_id, error)
            return report
        if malformed is not None:
            report.failure = malformed
            return report
        if on_progress is not None:
            on_progress(len(chunk))
    return report
