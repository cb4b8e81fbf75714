"""The event stream of a real ``decisiongraph serve`` process on PostgreSQL: while four
writer threads append concurrently over HTTP, one SSE client receives every event
exactly once, in log_seq order, across a reconnection with ``Last-Event-ID``; the
writers use the reader's server process (in-process wake-ups) or a second one (the
reader's server learns of the commits from PostgreSQL)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import httpx
import pytest

from tests.api.stream_server import STREAM, Frame, SseReader
from tests.e2e.conftest import E2E
from tests.helpers import make_envelope
from tests.server_process import ServerProcess

pytestmark = pytest.mark.postgres

WRITERS = 4
TRACES_PER_WRITER = 15
EVENTS_PER_TRACE = 4


def _write(
    url: str, token: str, name: str, appended: list[tuple[int, str]], lock: threading.Lock
) -> None:
    """Append this writer's traces: odd ones event by event, even ones as one batch."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for t in range(TRACES_PER_WRITER):
            trace_id = f"{name}-{t}"
            envelopes = [
                make_envelope(
                    trace_id, seq, "TraceFinished" if seq == EVENTS_PER_TRACE - 1 else None
                ).to_dict()
                for seq in range(EVENTS_PER_TRACE)
            ]
            if t % 2:
                events = []
                for body in envelopes:
                    response = client.post("/api/v1/events", json=body)
                    assert response.status_code == 201, response.text
                    events.append(response.json()["data"]["event"])
            else:
                response = client.post("/api/v1/events/batch", json={"events": envelopes})
                assert response.status_code == 201, response.text
                events = [r["event"] for r in response.json()["data"]["results"]]
            with lock:
                appended.extend((e["log_seq"], e["event_id"]) for e in events)


def _read(client: httpx.Client, count: int, **headers: str) -> list[Frame]:
    with client.stream("GET", STREAM, params={"since_log_seq": 0}, headers=headers) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"] == "text/event-stream"
        reader = SseReader(response)
        assert reader.next_fields()["retry"] == "5000"
        return reader.events(count)


@pytest.mark.parametrize("writers_server", ["same", "other"])
def test_concurrent_writes_reach_one_reader_exactly_once_in_order(
    e2e: E2E, serve: Callable[..., ServerProcess], writers_server: str
) -> None:
    total = WRITERS * TRACES_PER_WRITER * EVENTS_PER_TRACE
    url = e2e.url if writers_server == "same" else serve("--no-projector").url
    appended: list[tuple[int, str]] = []
    lock = threading.Lock()
    writers = [
        threading.Thread(target=_write, args=(url, e2e.tokens["writer"], f"w{i}", appended, lock))
        for i in range(WRITERS)
    ]
    with e2e.client("writer") as client:
        for writer in writers:
            writer.start()
        # Read part of the stream, drop the connection, resume after the last id seen.
        first = _read(client, total // 3)
        last_seen = first[-1].fields["id"]
        rest = _read(client, total - len(first), **{"Last-Event-ID": last_seen})
        for writer in writers:
            writer.join()
    frames = first + rest
    assert [f.id for f in frames] == list(range(1, total + 1))
    assert len(appended) == total
    by_log_seq = dict(appended)
    for frame in frames:
        data = json.loads(frame.fields["data"])  # one data line holding the whole event
        assert (data["log_seq"], data["event_id"]) == (frame.id, by_log_seq[data["log_seq"]])
