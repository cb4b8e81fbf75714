"""A trace's events from the log (``GET /traces/{id}/events``, HTTP_API 2.8) and what
``append_event`` needs of it: the next ``trace_seq`` and whether the trace is finished.

The façade reads those from the store before each append; the client reads them from
the log route, starting after the last position it already knows for the trace. That
is exact, not a guess: ``trace_seq`` is gap-free from 0, events are immutable, and
nothing follows a ``TraceFinished``, so a known ``(last trace_seq, finished)`` pair only
ever grows. Ids that cannot be one path segment (``/``, ``.``, ``..``, empty) are read
through ``GET /events?trace_id=`` instead (same order within a trace).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from decisiongraph.client._convert import stored_event_from_dict
from decisiongraph.client._http import QueryValue, Transport, path_segment
from decisiongraph.domain.envelope import StoredEvent
from decisiongraph.domain.event_types import EVENT_TYPE_TRACE_FINISHED
from decisiongraph.errors import NotFound

__all__ = ["TraceLog"]

_PAGE = 10_000  # the routes' largest page
_MAX_KNOWN = 4096  # traces whose position is remembered (least recently used dropped)


def addressable(trace_id: str) -> bool:
    """True if ``trace_id`` can be a path segment of ``/traces/{trace_id}``."""
    return trace_id not in ("", ".", "..") and "/" not in trace_id


class TraceLog:
    """Trace reads of one client, with the last known position of recent traces."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._known: OrderedDict[str, tuple[int, bool]] = OrderedDict()

    def _pages(
        self, trace_id: str, after: int | None, include_payload: bool
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of the trace's event objects after trace_seq ``after``; NotFound when
        the trace has no events."""
        if not addressable(trace_id):
            yield from self._pages_from_log(trace_id, after)
            return
        path = f"/api/v1/traces/{path_segment(trace_id)}/events"
        params: dict[str, QueryValue] = {
            "since_trace_seq": after,
            "limit": _PAGE,
            "include_payload": include_payload,
        }
        while True:
            data = self._transport.call("GET", path, params).data
            yield data["items"]
            if data["next_cursor"] is None:
                return
            params = {**params, "since_trace_seq": None, "cursor": data["next_cursor"]}

    def _pages_from_log(self, trace_id: str, after: int | None) -> Iterator[list[dict[str, Any]]]:
        params: dict[str, QueryValue] = {"trace_id": trace_id, "limit": _PAGE}
        seen = False
        while True:
            data = self._transport.call("GET", "/api/v1/events", params).data
            items = data["items"]
            seen = seen or bool(items)
            yield [e for e in items if after is None or e["trace_seq"] > after]
            if data["next_cursor"] is None:
                break
            params = {**params, "cursor": data["next_cursor"]}
        if not seen:
            raise NotFound(f"Trace not found: {trace_id}", {"resource": "trace"})

    def events(self, trace_id: str) -> list[StoredEvent]:
        """Every event of the trace in trace_seq order; NotFound if it has none."""
        events = [
            stored_event_from_dict(item)
            for page in self._pages(trace_id, None, True)
            for item in page
        ]
        if events:
            self.saw(events[-1].trace_id, events[-1].trace_seq, events[-1].event_type)
        return events

    def state(self, trace_id: str) -> tuple[int | None, bool]:
        """``(last trace_seq or None for an unknown trace, finished)``, read from the
        log after the position already known."""
        last, finished = self._known.get(trace_id, (None, False))
        try:
            for page in self._pages(trace_id, last, False):
                for item in page:
                    last = item["trace_seq"]
                    finished = finished or item["event_type"] == EVENT_TYPE_TRACE_FINISHED
        except NotFound:
            return None, False
        if last is not None:
            self._remember(trace_id, last, finished)
        return last, finished

    def next_trace_seq(self, trace_id: str) -> int:
        """``max(trace_seq) + 1`` of the trace, or 0."""
        last, _finished = self.state(trace_id)
        return 0 if last is None else last + 1

    def saw(self, trace_id: str, trace_seq: int, event_type: str) -> None:
        """Record that the trace holds an event at ``trace_seq`` (an append's result)."""
        last, finished = self._known.get(trace_id, (-1, False))
        if trace_seq >= last:
            self._remember(trace_id, trace_seq, finished or event_type == EVENT_TYPE_TRACE_FINISHED)

    def _remember(self, trace_id: str, last: int, finished: bool) -> None:
        self._known[trace_id] = (last, finished)
        self._known.move_to_end(trace_id)
        while len(self._known) > _MAX_KNOWN:
            self._known.popitem(last=False)
