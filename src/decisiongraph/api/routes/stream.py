"""``GET /api/v1/events/stream`` (HTTP_API 2.5): the tenant's events as server-sent
events, first from the log (catch-up) then live, with no gap and no duplicate.

Before the first byte every failure is an error envelope (the cap of concurrent streams
per key is 429 ``rate_limited``, ``reason: concurrent_streams``). Once streaming, the
stream ends after ``stream_max_duration_s`` (a plain close), or with an ``event: error``
frame when the server shuts down (503 ``unavailable``), the key stops authenticating
(rechecked every ``stream_auth_recheck_s``) or the database fails. The log is followed
by :class:`~decisiongraph.service.streams.LogFollower`; a stream holds at most one page
of ``stream_buffer_events`` undelivered events, and a client that accepts nothing for
``stream_heartbeat_s`` seconds is too slow and is disconnected.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from decisiongraph.api.operations import Call, Operation
from decisiongraph.api.params import Param, query_error
from decisiongraph.api.sse import (
    HEARTBEAT_FRAME,
    EventStreamResponse,
    error_frame,
    event_frame,
    opening_frame,
)
from decisiongraph.api.state import AppState
from decisiongraph.domain.event_types import ALL_EVENT_TYPES
from decisiongraph.errors import DecisionGraphError, Unavailable
from decisiongraph.service.auth import require_permission, resolve_tenant
from decisiongraph.service.streams import LogFollower, StreamHub

__all__ = ["OPERATIONS", "shutdown_streams", "stream_hub"]

PERMISSION = "events:stream"
_HUB_KEY = "streams"
_hub_lock = threading.Lock()
# Frames are sent in chunks of about this many bytes (fewer, larger writes).
_CHUNK_BYTES = 256 * 1024


def stream_hub(state: AppState) -> StreamHub:
    """The app's stream hub, created on first use."""
    hub = state.extras.get(_HUB_KEY)
    if hub is None:
        with _hub_lock:
            hub = state.extras.get(_HUB_KEY)
            if hub is None:
                url = state.settings.database_url
                listen = state.store.dialect == "postgres" and url.startswith("postgres")
                hub = StreamHub(
                    state.store,
                    max_per_key=state.settings.stream_max_per_key,
                    poll_s=state.settings.stream_poll_s,
                    listen_url=url if listen else None,
                )
                state.extras[_HUB_KEY] = hub
    assert isinstance(hub, StreamHub)
    return hub


def shutdown_streams(state: AppState) -> None:
    """End every open stream of the app with an ``unavailable`` error frame and refuse
    new ones: call it when the server starts shutting down (the ASGI server waits for
    open responses before the app's lifespan ends, so the lifespan is too late). Never
    blocks; safe in a signal handler."""
    hub = state.extras.get(_HUB_KEY)
    if isinstance(hub, StreamHub):
        hub.shutdown()


def _shutting_down() -> Unavailable:
    return Unavailable(
        "The server is shutting down; reconnect with Last-Event-ID",
        {"retry_after_s": 1, "reason": "shutdown"},
    )


def _last_event_id(call: Call) -> int | None:
    """The ``Last-Event-ID`` header as a log position (it overrides ``since_log_seq``)."""
    value = call.request.headers.get("last-event-id")
    if value is None or value == "":
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 30:
        raise query_error(
            "Last-Event-ID", "must be the decimal log_seq of an event", location="header"
        )
    return int(value)


def _recheck(call: Call) -> None:
    """Authenticate the stream's request again (the key may have been revoked or have
    expired, its account disabled); raises the request's 401/403."""
    headers = call.request.headers
    principal = call.state.authenticator.authenticate(headers.get("authorization"))
    resolve_tenant(principal, headers.get("x-tenant-id"))
    require_permission(principal, PERMISSION)


async def _frames(call: Call, follower: LogFollower) -> AsyncGenerator[bytes, None]:
    settings = call.state.settings
    clock = anyio.current_time
    yield opening_frame(follower.position)
    started = last_frame = clock()
    deadline = started + settings.stream_max_duration_s
    next_auth = started + settings.stream_auth_recheck_s
    try:
        while True:
            now = clock()
            if now >= deadline:
                return  # a plain close; the client reconnects with Last-Event-ID
            if follower.hub.closing:
                raise _shutting_down()
            if now >= next_auth:
                await run_in_threadpool(_recheck, call)
                next_auth = now + settings.stream_auth_recheck_s
            heartbeat_at = last_frame + settings.stream_heartbeat_s
            wait = max(0.0, min(deadline, next_auth, heartbeat_at) - now)
            events = await follower.next_events(wait)
            if events:
                chunk = bytearray()
                for event in events:
                    chunk += event_frame(event)
                    if len(chunk) >= _CHUNK_BYTES:
                        yield bytes(chunk)
                        chunk.clear()
                        if clock() >= next_auth:  # a long page to a slow reader
                            await run_in_threadpool(_recheck, call)
                            next_auth = clock() + settings.stream_auth_recheck_s
                if chunk:
                    yield bytes(chunk)
                last_frame = clock()
            elif clock() >= heartbeat_at:
                yield HEARTBEAT_FRAME
                last_frame = clock()
    except DecisionGraphError as error:
        yield error_frame(error, call.request_id)


def _admit(call: Call) -> None:
    """Step 6: refuse a key already at its cap of concurrent streams (429)."""
    assert call.principal is not None  # the route requires authentication
    stream_hub(call.state).check_capacity(call.principal.key_id)


async def stream_events(call: Call) -> Response:
    """Open the stream: take a slot of the key, fix the start position, then stream."""
    assert call.principal is not None  # the route requires authentication
    hub = stream_hub(call.state)
    if hub.closing:
        raise _shutting_down()
    release = hub.acquire(call.principal.key_id)
    try:
        start = _last_event_id(call)
        if start is None:
            start = call.params["since_log_seq"]
        if start is None:
            start = await run_in_threadpool(call.state.store.get_last_log_seq, call.tenant)
        follower = hub.follow(
            call.tenant,
            start,
            event_types=call.params["event_type"],
            trace_id=call.params["trace_id"],
            page_size=call.state.settings.stream_buffer_events,
        )
    except BaseException:
        release()
        raise

    def close() -> None:
        follower.close()
        release()

    return EventStreamResponse(
        _frames(call, follower), stall_s=call.state.settings.stream_heartbeat_s, on_close=close
    )


OPERATIONS = [
    Operation(
        operation_id="streamEvents",
        method="GET",
        path="/api/v1/events/stream",
        summary="Live event stream (server-sent events)",
        handler=stream_events,
        admission=_admit,
        permission=PERMISSION,
        rate_scope="stream",
        params=(
            Param(
                "since_log_seq",
                "int",
                "Start after this log_seq (exclusive); default: the tenant tail. "
                "A Last-Event-ID header overrides it.",
                minimum=0,
            ),
            Param(
                "event_type",
                "list",
                "Only these event types.",
                choices=ALL_EVENT_TYPES,
            ),
            Param("trace_id", "str", "Only events of this trace."),
        ),
        ordering="log_seq ascending",
        error_statuses=(429,),
        description=(
            "`text/event-stream`: first `retry: 5000` with `id` the start position, then "
            "one frame per event (`id` the "
            "log_seq, `event` the event type, `data` the StoredEvent as one line of JSON) "
            "and `: heartbeat` comments when no frame was sent for a while. Catch-up from "
            "the log then live delivery, in log_seq order, with no gap or duplicate. "
            "Before an error close the server sends `event: error` with the error envelope "
            "and no id. Resume with `Last-Event-ID`. At most 5 concurrent streams per key "
            "(429 `rate_limited`, `details.reason: concurrent_streams`)."
        ),
        extra_responses={
            200: {
                "description": "The event stream.",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            }
        },
    ),
]
