"""Server-sent events (HTTP_API 2.5): frame encoding and the streaming response.

Frames: ``retry: 5000`` with ``id: <start log_seq>`` first, then per event
``id: <log_seq>`` / ``event: <type>`` /
``data: <StoredEvent as one line of JSON>``, the comment ``: heartbeat``, and before an
error close ``event: error`` with the error envelope as ``data`` and no ``id`` (so a
client's ``Last-Event-ID`` stays the last event it saw).

:class:`EventStreamResponse` runs the frame source in the request's task while a second
task watches for the client's disconnect (which cancels the source at once, freeing its
stream slot). A send the connection does not accept within ``stall_s`` seconds means
the client is too slow: the stream ends without completing the response (the server
closes the connection). The stream's cleanup (``on_close``) always runs, whatever ends
it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from decisiongraph.api.errors import error_body
from decisiongraph.api.rendering import event_json, render_json
from decisiongraph.domain.envelope import StoredEvent
from decisiongraph.errors import DecisionGraphError

__all__ = [
    "HEARTBEAT_FRAME",
    "RETRY_FRAME",
    "EventStreamResponse",
    "error_frame",
    "event_frame",
    "opening_frame",
]

logger = logging.getLogger("decisiongraph.api")

MEDIA_TYPE = "text/event-stream"
RETRY_FRAME = b"retry: 5000\n\n"


def opening_frame(start_log_seq: int) -> bytes:
    """The first frame: the reconnection delay and the start position as the frame's
    ``id``, so a client that saw no event yet still resumes exactly there (EventSource
    sends it back as ``Last-Event-ID``) instead of at a later tail."""
    return b"retry: 5000\nid: %d\n\n" % start_log_seq


HEARTBEAT_FRAME = b": heartbeat\n\n"


def event_frame(event: StoredEvent) -> bytes:
    """The frame of one event; ``render_json`` never emits a raw newline (strings are
    escaped, the stored payload text is single-line), so ``data`` is one line."""
    data = render_json(event_json(event))
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (
        event.log_seq,
        event.event_type.encode("utf-8"),
        data,
    )


def error_frame(error: DecisionGraphError, request_id: str) -> bytes:
    """The ``event: error`` frame carrying the error envelope of ``error``."""
    envelope = {"error": error_body(error), "request_id": request_id}
    return b"event: error\ndata: %s\n\n" % render_json(envelope)


class EventStreamResponse(Response):
    """A ``text/event-stream`` response sending the chunks of ``frames``."""

    media_type = MEDIA_TYPE

    def __init__(
        self,
        frames: AsyncGenerator[bytes, None],
        *,
        stall_s: float,
        on_close: Callable[[], None],
    ) -> None:
        super().__init__(media_type=MEDIA_TYPE)
        self._frames = frames
        self._stall_s = stall_s
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", MEDIA_TYPE.encode("ascii")),
                        (b"cache-control", b"no-store"),
                        (b"x-accel-buffering", b"no"),  # proxies must not buffer a stream
                    ],
                }
            )
            finished = False
            async with anyio.create_task_group() as group:
                group.start_soon(_watch_disconnect, receive, group.cancel_scope)
                finished = await self._pump(send)
                group.cancel_scope.cancel()
            if finished:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            with anyio.CancelScope(shield=True):
                await self._frames.aclose()
            self._on_close()

    async def _pump(self, send: Send) -> bool:
        """Send every chunk; False if the client stopped accepting them (too slow)."""
        async for chunk in self._frames:
            with anyio.move_on_after(self._stall_s) as scope:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if scope.cancelled_caught:
                # The server then closes the connection (uvicorn logs that the response
                # was left incomplete); say why first.
                logger.warning(
                    "Closing an event stream: the client accepted nothing for %.1f s",
                    self._stall_s,
                )
                return False
        return True


async def _watch_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()
