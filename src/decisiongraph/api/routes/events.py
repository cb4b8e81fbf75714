"""Ingestion and the event log: ``POST /api/v1/events`` (2.2),
``POST /api/v1/events/batch`` (2.3) and ``GET /api/v1/events`` (2.4).

Appends run the reference pipeline of the store (the library's checks, codes and
order); this module only shapes requests and results. A batch's size limits are judged
before its events' shapes (413 before 422, HTTP_API 1.6 steps 7 and 9); an event's size
is the length of its compact JSON encoding (UTF-8, no insignificant whitespace,
non-ASCII characters unescaped), which does not depend on how the client formatted it.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from decisiongraph.api.envelopes import envelope_from_body, schema_error
from decisiongraph.api.errors import error_body, status_for
from decisiongraph.api.models.events import (
    BatchIn,
    BatchResults,
    EventAppended,
    EventEnvelopeIn,
    EventPageOut,
)
from decisiongraph.api.operations import Call, Operation, Result
from decisiongraph.api.params import Param, query_error
from decisiongraph.api.rendering import event_json
from decisiongraph.domain.envelope import EventEnvelope
from decisiongraph.domain.event_types import ALL_EVENT_TYPES
from decisiongraph.errors import DecisionGraphError, PayloadTooLarge, make_error
from decisiongraph.query import MAX_QUERY_LIMIT, list_events_page
from decisiongraph.service.settings import ServiceSettings
from decisiongraph.store.base import AppendResult, BatchOutcome, SqlEventStore

__all__ = ["OPERATIONS"]

_BATCH_MEMBERS = frozenset({"events", "atomic"})
# A non-atomic batch commits in transactions of this many events, so a database failure
# midway keeps what was committed before it (HTTP_API 2.3).
NON_ATOMIC_CHUNK = 250


def in_body(error: DecisionGraphError, prefix: str = "$") -> DecisionGraphError:
    """The pipeline's error with ``details.errors[]`` in the contract's shape (HTTP_API
    1.5): each item gets ``location: "body"``, its path rebased under ``prefix`` (a
    batch's ``$.events[i]``). Errors without ``errors`` are returned unchanged."""
    items = error.details.get("errors")
    if not isinstance(items, list):
        return error
    rebased = [
        {
            **item,
            "location": item.get("location", "body"),
            "path": prefix + str(item.get("path", "$"))[1:],
        }
        for item in items
        if isinstance(item, dict)
    ]
    return make_error(error.code, error.message, {**error.details, "errors": rebased})


def append_event(call: Call) -> Result:
    """Append one event through the reference pipeline; 201 (reuse: header
    ``Idempotent-Replayed: true`` and the original event)."""
    envelope = envelope_from_body(call.body)
    try:
        outcome = call.state.store.append(call.tenant, envelope)
    except DecisionGraphError as error:
        raise in_body(error) from None
    headers = {"Idempotent-Replayed": "true"} if outcome.reused else {}
    data = {"event": event_json(outcome.event), "reused": outcome.reused}
    return Result(data, 201, headers)


def _encoded_size(item: Any) -> int:
    """Bytes of ``item``'s compact JSON encoding (see the module docstring)."""
    try:
        return len(orjson.dumps(item))
    except TypeError:  # integers beyond 64 bits, lone surrogates: the exact encoder
        text = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
        return len(text.encode("utf-8", "surrogatepass"))


def _batch_items(body: Any, body_size: int, settings: ServiceSettings) -> tuple[list[Any], bool]:
    """The ``events`` and ``atomic`` of a batch body, after the limits (413) and the
    body's own shape (422)."""
    if not isinstance(body, dict):
        raise schema_error("$", "must be an object with an events array")
    unknown = sorted(set(body) - _BATCH_MEMBERS)
    if unknown:
        raise schema_error(f"$.{unknown[0]}", "unknown member")
    if "events" not in body:
        raise schema_error("$.events", "is required")
    items = body["events"]
    if not isinstance(items, list):
        raise schema_error("$.events", "must be an array of events")
    atomic = body.get("atomic", True)
    if not isinstance(atomic, bool):
        raise schema_error("$.atomic", "must be true or false")
    if not items:
        raise schema_error("$.events", "must hold at least one event")
    if len(items) > settings.max_batch_events:
        raise PayloadTooLarge(
            f"A batch holds at most {settings.max_batch_events} events; send several",
            {"limit_events": settings.max_batch_events},
        )
    limit = settings.max_event_bytes
    # An event's compact encoding is never longer than its text in the body, so every
    # event is within the limit when the whole body is (the usual case: no encoding),
    # or when all events encoded together are; otherwise find the first one beyond it.
    if body_size <= limit or _encoded_size(items) - len(items) - 1 <= limit:
        return items, atomic
    for index, item in enumerate(items):
        if _encoded_size(item) > limit:
            raise PayloadTooLarge(
                f"$.events[{index}] is larger than {limit} bytes",
                {"limit_bytes": limit, "index": index},
            )
    return items, atomic


def _accepted(index: int, outcome: AppendResult) -> dict[str, Any]:
    return {
        "index": index,
        "status": 201,
        "event": event_json(outcome.event),
        "reused": outcome.reused,
    }


def _rejected(index: int, error: DecisionGraphError) -> dict[str, Any]:
    error = in_body(error, f"$.events[{index}]")
    return {"index": index, "status": status_for(error.code), "error": error_body(error)}


def _append_each(
    store: SqlEventStore, tenant: str, envelopes: list[EventEnvelope]
) -> list[dict[str, Any]]:
    """Non-atomic: every event accepted or rejected on its own, in chunks of
    :data:`NON_ATOMIC_CHUNK`. A chunk the database failed (503: it may or may not have
    committed; resending is safe) ends the batch: it and the rest report that error."""
    results: list[dict[str, Any]] = []
    for start in range(0, len(envelopes), NON_ATOMIC_CHUNK):
        chunk = envelopes[start : start + NON_ATOMIC_CHUNK]
        try:
            outcomes: list[BatchOutcome] = store.append_batch(tenant, chunk, atomic=False)
        except DecisionGraphError as failure:
            if status_for(failure.code) != 503:
                raise
            results.extend(_rejected(i, failure) for i in range(start, len(envelopes)))
            return results
        for index, outcome in enumerate(outcomes, start):
            if isinstance(outcome, DecisionGraphError):
                results.append(_rejected(index, outcome))
            else:
                results.append(_accepted(index, outcome))
    return results


def append_batch(call: Call) -> Result:
    """Append the events of a batch in index order: atomic (201, or the first failing
    event's error with ``details.index``) or each on its own (207)."""
    items, atomic = _batch_items(call.body, call.body_size, call.state.settings)
    envelopes = [envelope_from_body(item, f"$.events[{i}]") for i, item in enumerate(items)]
    store = call.state.store
    if not atomic:
        return Result({"results": _append_each(store, call.tenant, envelopes)}, 207)
    try:
        outcomes = store.append_batch(call.tenant, envelopes, atomic=True)
    except DecisionGraphError as error:  # the first failing event, with details.index
        index = error.details.get("index")
        raise (in_body(error, f"$.events[{index}]") if isinstance(index, int) else error) from None
    results = []
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, DecisionGraphError):  # pragma: no cover - atomic raises
            raise in_body(outcome, f"$.events[{index}]").with_details(index=index)
        results.append(_accepted(index, outcome))
    return Result({"results": results}, 201)


def list_log_events(call: Call) -> Result:
    """A page of the tenant's log in ``log_seq`` order (no freshness check)."""
    params = call.params
    since, cursor, until = params["since_log_seq"], params["cursor"], params["until_log_seq"]
    if since is not None and cursor is not None:
        raise query_error("cursor", "cannot be combined with since_log_seq (same meaning)")
    position = cursor if cursor is not None else since or 0
    if until is not None and until < position:
        raise query_error("until_log_seq", f"must not be below the start position {position}")
    page = list_events_page(
        call.state.store,
        call.tenant,
        since_log_seq=position,
        until_log_seq=until,
        event_types=params["event_type"],
        trace_id=params["trace_id"],
        limit=params["limit"],
    )
    return Result({"items": [event_json(e) for e in page.items], "next_cursor": page.next_cursor})


_LOG_PARAMS = (
    Param("since_log_seq", "int", "Events after this log_seq (exclusive).", minimum=0),
    Param("until_log_seq", "int", "Events up to this log_seq (inclusive).", minimum=0),
    Param("event_type", "list", "Only these event types.", choices=ALL_EVENT_TYPES),
    Param("trace_id", "str", "Only events of this trace."),
    Param(
        "cursor",
        "int",
        "The `next_cursor` of the previous page (a decimal log_seq, meaning since_log_seq).",
        minimum=0,
    ),
    Param("limit", "int", "Page size.", default=100, minimum=1, maximum=MAX_QUERY_LIMIT),
)

OPERATIONS = [
    Operation(
        operation_id="appendEvent",
        method="POST",
        path="/api/v1/events",
        summary="Append one event",
        handler=append_event,
        permission="events:write",
        rate_scope="write",
        body=EventEnvelopeIn,
        body_limit="max_event_bytes",
        success_status=201,
        success_model=EventAppended,
        error_statuses=(409, 413, 415, 422),
        description=(
            "Runs the reference append pipeline in the request tenant; 201 only after a "
            "durable commit. An idempotent reuse answers 201 with the original event, "
            "`reused: true` and `Idempotent-Replayed: true`."
        ),
    ),
    Operation(
        operation_id="appendEventBatch",
        method="POST",
        path="/api/v1/events/batch",
        summary="Append many events",
        handler=append_batch,
        permission="events:write",
        rate_scope="write",
        body=BatchIn,
        body_limit="max_batch_bytes",
        success_status=201,
        success_model=BatchResults,
        error_statuses=(409, 413, 415, 422),
        extra_responses={
            207: {"description": "`atomic: false`: per-event results", "model": BatchResults}
        },
        ordering="results in index order",
        description=(
            "1..1000 events applied in index order as if appended one by one; each event "
            "at most 1 MiB (its compact JSON encoding), the body at most 10 MiB. "
            "`atomic: true` (default): one transaction, 201 with every result, or the "
            "first failing event's error envelope and status with `details.index`. "
            "`atomic: false`: 207, each result 201 or its own error status and `error`; "
            "if the database fails midway, committed events stay committed and the "
            "remaining items report 503 `storage` (resending them is safe)."
        ),
    ),
    Operation(
        operation_id="listEvents",
        method="GET",
        path="/api/v1/events",
        summary="The tenant's event log",
        handler=list_log_events,
        permission="traces:read",
        rate_scope="read",
        params=_LOG_PARAMS,
        success_model=EventPageOut,
        ordering="log_seq ascending",
        description=(
            "For export and catch-up; no freshness check. `next_cursor` (the last item's "
            "log_seq) is non-null exactly when more matching events existed at read time."
        ),
    ),
]
