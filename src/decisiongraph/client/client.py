"""``Client``: the DecisionGraph HTTP service through the façade's methods (HTTP_API 8).

The client adds no semantics: every call is one or more requests of the contract, every
result is the library's type, every failure the library's exception class (with the
HTTP ``status``, ``request_id`` and ``api_code`` attached). See
``docs/reference/PYTHON_SDK.md``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import OrderedDict
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from decisiongraph.client._convert import (
    AppendResult,
    BatchItem,
    append_result_from_dict,
    batch_item_from_dict,
    event_page_from_dict,
    stored_event_from_dict,
)
from decisiongraph.client._errors import error_from_body
from decisiongraph.client._http import QueryValue, Transport
from decisiongraph.client._reads import ReadMethods
from decisiongraph.client._sse import iter_frames
from decisiongraph.client._traces import TraceLog
from decisiongraph.domain.envelope import EventEnvelope, StoredEvent
from decisiongraph.domain.ids import generate_event_id
from decisiongraph.domain.payload_builders import EventMethods
from decisiongraph.domain.validation import prepare_event
from decisiongraph.errors import DecisionGraphError, Unavailable
from decisiongraph.query.models import EventPage

__all__ = ["DEFAULT_READ_WAIT_MS", "DEFAULT_TIMEOUT_S", "Client"]

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_READ_WAIT_MS = 5000
# A stream with no byte for this long is taken as dropped (heartbeats come every 15 s).
DEFAULT_STREAM_READ_TIMEOUT_S = 60.0
# Error frames after which the stream is resumed rather than raised (HTTP_API 2.5).
_RESUMABLE_STREAM_ERRORS = frozenset({"DG_ERR_UNAVAILABLE", "DG_ERR_STORAGE"})

EnvelopeLike = EventEnvelope | Mapping[str, Any]


def _envelope_json(envelope: EnvelopeLike) -> Any:
    # A mapping goes out as given, so the service judges it exactly as sent.
    return envelope.to_dict() if isinstance(envelope, EventEnvelope) else dict(envelope)


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None  # judged as an error without an envelope


@contextlib.contextmanager
def _library_errors_first(envelopes: list[EnvelopeLike]) -> Iterator[None]:
    """A body that cannot be sent (a value JSON cannot carry) fails locally; run the
    library's checks on the envelopes first, so the error is the one the embedded
    library raises, in its order (U+0000, idempotency key, ..., floats)."""
    try:
        yield
    except DecisionGraphError as error:
        if error.status is None:  # raised before sending, not by the server
            for envelope in envelopes:
                if isinstance(envelope, EventEnvelope):
                    prepare_event(envelope)
        raise


class Client(EventMethods, ReadMethods):
    """One tenant of a DecisionGraph service (HTTP_API.md), with the embedded
    ``DecisionGraph``'s methods.

    ``tenant`` is sent as ``X-Tenant-Id`` (needed when the key is bound to several
    tenants or to ``*``). ``http_client``: an ``httpx.Client`` to send through (kept
    open by :meth:`close`). ``read_wait_ms``: how long projection-backed reads let the
    server wait for the projector to reach this client's writes.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        tenant: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        http_client: httpx.Client | None = None,
        read_wait_ms: int = DEFAULT_READ_WAIT_MS,
    ) -> None:
        self._tenant = tenant
        self._transport = Transport(
            base_url, api_key, tenant, timeout=timeout, http_client=http_client
        )
        self._traces = TraceLog(self._transport)
        self._read_wait_ms = read_wait_ms
        self._last_log_seq = 0
        self._edge_tokens = OrderedDict()

    # --------------------------------------------------------------- lifecycle

    @property
    def tenant(self) -> str | None:
        return self._tenant

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def last_log_seq(self) -> int:
        """The highest ``log_seq`` this client appended or reused (0 before any)."""
        return self._last_log_seq

    def close(self) -> None:
        """Close the HTTP connections (unless the ``httpx.Client`` was passed in)."""
        self._transport.close()

    def __repr__(self) -> str:
        return f"Client({self.base_url!r}, tenant={self._tenant!r})"

    # ----------------------------------------------------------------- appends

    def _accepted(self, event: StoredEvent) -> StoredEvent:
        self._last_log_seq = max(self._last_log_seq, event.log_seq)
        self._traces.saw(event.trace_id, event.trace_seq, event.event_type)
        return event

    def append(self, envelope: EnvelopeLike) -> AppendResult:
        """``POST /events``: append one envelope (an ``EventEnvelope`` or its JSON object)."""
        with _library_errors_first([envelope]):
            reply = self._transport.call("POST", "/api/v1/events", body=_envelope_json(envelope))
        result = append_result_from_dict(reply.data)
        self._accepted(result.event)
        return result

    def append_batch(
        self, envelopes: Iterable[EnvelopeLike], atomic: bool = True
    ) -> list[BatchItem]:
        """``POST /events/batch``: append in index order. ``atomic=True`` raises the first
        failing event's error (``details.index`` names it) and writes nothing;
        ``atomic=False`` returns every item's outcome."""
        envelopes = list(envelopes)
        body = {"events": [_envelope_json(e) for e in envelopes], "atomic": atomic}
        with _library_errors_first(envelopes):
            reply = self._transport.call("POST", "/api/v1/events/batch", body=body)
        items = [batch_item_from_dict(r, reply.request_id) for r in reply.data["results"]]
        for item in items:
            if item.event is not None:
                self._accepted(item.event)
        return items

    # append_event and the typed event helpers (start_trace ... commit_action) come
    # from EventMethods, as in the embedded DecisionGraph; these hooks send through
    # POST /events, with the trace_seq read from the log.

    def _next_trace_seq(self, trace_id: str) -> int:
        return self._traces.next_trace_seq(trace_id)

    def _new_event_id(self) -> str:
        return generate_event_id()  # looked up here at call time: tests pin event ids

    def _append_envelope(self, envelope: EventEnvelope) -> StoredEvent:
        return self.append(envelope).event

    # --------------------------------------------------------------- event log

    def list_events(
        self,
        since_log_seq: int | None = None,
        until_log_seq: int | None = None,
        event_types: Sequence[str] | None = None,
        trace_id: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> EventPage:
        """One page of the tenant's log in ``log_seq`` order (``GET /events``)."""
        params: dict[str, QueryValue] = {
            "since_log_seq": since_log_seq,
            "until_log_seq": until_log_seq,
            "event_type": event_types,
            "trace_id": trace_id,
            "cursor": cursor,
            "limit": limit,
        }
        return event_page_from_dict(self._transport.call("GET", "/api/v1/events", params).data)

    def iter_events(
        self,
        since_log_seq: int | None = None,
        until_log_seq: int | None = None,
        event_types: Sequence[str] | None = None,
        trace_id: str | None = None,
        page_size: int = 1000,
    ) -> Iterator[StoredEvent]:
        """Every matching event of the log, following ``next_cursor`` until caught up."""
        page = self.list_events(
            since_log_seq, until_log_seq, event_types, trace_id, None, page_size
        )
        while True:
            yield from page.items
            if page.next_cursor is None:
                return
            page = self.list_events(
                None, until_log_seq, event_types, trace_id, page.next_cursor, page_size
            )

    def stream_events(
        self,
        since_log_seq: int | None = None,
        event_types: Sequence[str] | None = None,
        trace_id: str | None = None,
        *,
        reconnect_delay: float | None = None,
        read_timeout: float = DEFAULT_STREAM_READ_TIMEOUT_S,
    ) -> Generator[StoredEvent, None, None]:
        """Matching events after ``since_log_seq`` (default: the tenant tail), live, in
        ``log_seq`` order (``GET /events/stream``). When the server ends the stream or
        the connection drops, it reconnects with ``Last-Event-ID`` and resumes right
        after the last event yielded, waiting ``reconnect_delay`` seconds (default: the
        server's ``retry``). Endless: stop by leaving the loop (or ``close()`` it)."""
        last_id: str | None = None
        delay = 5.0
        resuming = False  # a reconnection: transport failures retry instead of raising
        while True:
            params: dict[str, QueryValue] = {"event_type": event_types, "trace_id": trace_id}
            headers = {"Accept": "text/event-stream"}
            if last_id is None:
                params["since_log_seq"] = since_log_seq
            else:
                headers["Last-Event-ID"] = last_id
            try:
                with self._transport.stream(
                    "/api/v1/events/stream", params, headers, read_timeout
                ) as response:
                    for frame in iter_frames(response.iter_lines()):
                        if frame.retry_ms is not None:
                            delay = frame.retry_ms / 1000
                        if frame.id is not None and frame.event != "error":
                            # The opening frame's id is the start position: resume
                            # there even when no event has arrived yet.
                            last_id = frame.id
                        if frame.data is None:
                            continue
                        if frame.event == "error":
                            error = error_from_body(None, _json_or_none(frame.data), None)
                            if error.code not in _RESUMABLE_STREAM_ERRORS:
                                raise error
                            break
                        event = stored_event_from_dict(json.loads(frame.data))
                        last_id = frame.id if frame.id is not None else str(event.log_seq)
                        yield event
            except httpx.TransportError:
                pass  # dropped mid-stream: resume below
            except Unavailable as error:
                # The server unreachable while resuming (it restarts, say): try again.
                if not (resuming and error.status is None):
                    raise
            resuming = True
            time.sleep(reconnect_delay if reconnect_delay is not None else delay)
