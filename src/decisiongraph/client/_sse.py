"""A minimal Server-Sent Events frame parser (the WHATWG event-stream format), enough
for ``GET /api/v1/events/stream`` (HTTP_API 2.5) without another dependency.

Lines are ``field: value`` (one optional space after the colon is dropped); a line
starting with ``:`` is a comment (heartbeats); a blank line ends a frame. ``data``
lines of one frame are joined with ``\\n``. ``retry`` takes only ASCII digits. A frame
without ``data`` dispatches nothing, but its ``id`` and ``retry`` still count, which is
how the parser reports them as they arrive.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["Frame", "iter_frames"]


@dataclass(frozen=True, slots=True)
class Frame:
    """One dispatched frame. ``data`` is None for a frame that only set ``retry``
    (or ``id``) and so dispatches no event."""

    event: str
    data: str | None
    id: str | None
    retry_ms: int | None


def _split(line: str) -> tuple[str, str]:
    name, colon, value = line.partition(":")
    if colon and value.startswith(" "):
        value = value[1:]
    return name, value


def iter_frames(lines: Iterable[str]) -> Iterator[Frame]:
    """The frames of an event stream given as lines (without their line breaks).
    An incomplete last frame (the connection dropped mid-frame) is discarded."""
    event = ""
    data: list[str] = []
    frame_id: str | None = None
    retry: int | None = None
    for line in lines:
        if line == "":
            if data or retry is not None or frame_id is not None:
                yield Frame(event or "message", "\n".join(data) if data else None, frame_id, retry)
            event, data, frame_id, retry = "", [], None, None
            continue
        if line.startswith(":"):
            continue
        name, value = _split(line)
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id" and "\0" not in value:
            frame_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            retry = int(value)
