"""``GET /api/v1/events/stream`` (HTTP_API 2.5) over a real uvicorn server on SQLite and
PostgreSQL: frames, catch-up then live with no gap or duplicate, start positions
(``since_log_seq``, ``Last-Event-ID``, the tail), filters, heartbeats, the ends of a
stream (maximum duration, revoked key, shutdown) and the per-key cap."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest

from decisiongraph.api.routes.stream import shutdown_streams, stream_hub
from decisiongraph.service.accounts import Accounts
from decisiongraph.store.factory import open_store
from tests.api.conftest import TENANT, ApiHarness
from tests.api.stream_server import STREAM, Frame, SseReader, StreamServer, running_server
from tests.api.test_ingest import BIG, error_of
from tests.helpers import make_envelope, trace_envelopes

Start = Callable[..., AbstractContextManager[StreamServer]]


@pytest.fixture
def start(api_store_url: str) -> Start:
    """``start(**settings)``: a server over this test's fresh database."""

    def make(**settings: Any) -> AbstractContextManager[StreamServer]:
        return running_server(api_store_url, **settings)

    return make


@pytest.fixture
def server(start: Start) -> Iterator[StreamServer]:
    with start() as running:
        yield running


def seed(server: StreamServer, prefix: str, traces: int, length: int = 3) -> None:
    server.append([e for t in range(traces) for e in trace_envelopes(f"{prefix}{t}", length)])


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_frames_catch_up_then_live(server: StreamServer) -> None:
    seed(server, "old-", 10)  # log_seq 1..30
    with server.stream({"since_log_seq": 0}) as reader:
        headers = reader.response.headers
        assert headers["content-type"] == "text/event-stream"
        assert headers["cache-control"] == "no-store"
        assert len(headers["x-request-id"]) == 32
        assert reader.next_fields() == {"retry": "5000", "id": "0"}
        caught_up = reader.events(30)
        seed(server, "new-", 5)  # 31..45, while the stream waits
        server.store.append(TENANT, make_envelope("single", 0))  # 46
        live = reader.events(16)
    frames = caught_up + live
    assert [f.id for f in frames] == list(range(1, 47))
    listed = server.get("/api/v1/events", **server.headers()).json()["data"]["items"]
    for frame, item in zip(frames, listed, strict=True):
        assert set(frame.fields) == {"id", "event", "data"}
        assert frame.fields["event"] == item["event_type"]
        assert json.loads(frame.fields["data"]) == item


def test_no_gap_or_duplicate_while_writers_append(server: StreamServer) -> None:
    seed(server, "pre-", 20)  # 60 events to catch up on while writing goes on
    total = 60 + 4 * 25 * 2

    def writer(name: str) -> None:
        for t in range(25):
            server.append(trace_envelopes(f"{name}-{t}", 2))

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(4)]
    with server.stream({"since_log_seq": 0}) as reader:
        for thread in threads:
            thread.start()
        frames = reader.events(total)
        for thread in threads:
            thread.join()
    assert [f.id for f in frames] == list(range(1, total + 1))


def test_start_positions(server: StreamServer) -> None:
    seed(server, "a-", 2)  # 1..6
    # Default: the tenant tail, so only later events come.
    with server.stream() as reader:
        # The opening frame names the start position as its id, so a client that saw
        # no event yet resumes there (Last-Event-ID), not at a later tail.
        assert reader.next_frame() == Frame({"retry": "5000", "id": "6"})
        server.append([make_envelope("b", 0)])
        assert [f.id for f in reader.events(1)] == [7]
    with server.stream({"since_log_seq": 4}) as reader:
        assert reader.next_frame() == Frame({"retry": "5000", "id": "4"})
        assert [f.id for f in reader.events(3)] == [5, 6, 7]
    # Last-Event-ID overrides since_log_seq; an empty one is no header.
    with server.stream({"since_log_seq": 0}, **{"Last-Event-ID": "5"}) as reader:
        assert reader.next_frame() == Frame({"retry": "5000", "id": "5"})
        assert [f.id for f in reader.events(2)] == [6, 7]
    with server.stream({"since_log_seq": 6}, **{"Last-Event-ID": ""}) as reader:
        assert [f.id for f in reader.events(1)] == [7]


def test_filters(server: StreamServer) -> None:
    seed(server, "t-", 3)  # per trace: TraceStarted, InputObserved, TraceFinished
    params = {"since_log_seq": 0, "event_type": "TraceStarted,TraceFinished"}
    with server.stream(params) as reader:
        assert [f.id for f in reader.events(6)] == [1, 3, 4, 6, 7, 9]
        seed(server, "u-", 1)  # 10..12
        frames = reader.events(2)
    assert [(f.id, f.fields["event"]) for f in frames] == [
        (10, "TraceStarted"),
        (12, "TraceFinished"),
    ]
    with server.stream({"since_log_seq": 0, "trace_id": "t-1"}) as reader:
        assert [f.id for f in reader.events(3)] == [4, 5, 6]
    with server.stream({"since_log_seq": 0, "trace_id": "live"}) as reader:
        server.append([make_envelope("other", 0)])
        server.append([make_envelope("live", 0), make_envelope("live", 1)])
        assert [f.id for f in reader.events(2)] == [14, 15]


def test_big_integers_in_frames(server: StreamServer) -> None:
    payload = {**make_envelope("x", 0).payload, "amount": BIG}
    with server.stream({"since_log_seq": 0}) as reader:
        server.append([make_envelope("x", 0, payload=payload)])
        [frame] = reader.events(1)
    assert re.search(f'"amount": ?{BIG}[,}}]', frame.fields["data"]), frame.fields["data"]
    assert json.loads(frame.fields["data"])["payload"]["amount"] == BIG


def test_heartbeats_when_idle(start: Start) -> None:
    with start(stream_heartbeat_s=0.1) as server, server.stream() as reader:
        assert reader.next_fields()["retry"] == "5000"
        for _ in range(3):
            assert reader.next_frame() == Frame({}, ["heartbeat"])
        server.append([make_envelope("x", 0)])
        frame = reader.next_frame()
        while frame is not None and frame.comments:
            frame = reader.next_frame()
        assert frame is not None
        assert frame.id == 1


def test_maximum_duration_ends_the_stream(start: Start) -> None:
    with start(stream_max_duration_s=0.5) as server, server.stream() as reader:
        # Without the limit the read would time out (heartbeats come every 15 s).
        frames = []
        while (frame := reader.next_frame()) is not None:
            frames.append(frame)
        assert frames[0].fields["retry"] == "5000"
        assert all(f.fields.get("event") != "error" for f in frames)
        # The slot is free again.
        wait_until(lambda: stream_hub(server.state).open_streams(server.key_ids["reader"][1]) == 0)


def _error_frame(reader: SseReader) -> Frame:
    while (frame := reader.next_frame()) is not None:
        if frame.fields.get("event") == "error":
            assert "id" not in frame.fields
            assert reader.next_frame() is None, "the stream must end after an error frame"
            return frame
    raise AssertionError("the stream ended without an error frame")


def test_revoked_key_ends_the_stream_with_an_error(start: Start) -> None:
    with start(stream_auth_recheck_s=0.1) as server:
        server.add_key("doomed")
        with server.stream(name="doomed") as reader:
            assert reader.next_fields()["retry"] == "5000"
            account_id, key_id = server.key_ids["doomed"]
            Accounts(server.store).revoke_key(account_id, key_id)
            frame = _error_frame(reader)
        body = json.loads(frame.fields["data"])
        assert body["error"]["code"] == "unauthorized"
        assert body["request_id"] == reader.response.headers["x-request-id"]


def test_shutdown_ends_streams_with_an_error(server: StreamServer) -> None:
    with server.stream() as reader:
        assert reader.next_fields()["retry"] == "5000"
        shutdown_streams(server.state)
        body = json.loads(_error_frame(reader).fields["data"])
    assert body["error"]["code"] == "unavailable"
    assert body["error"]["details"] == {"retry_after_s": 1, "reason": "shutdown"}
    refused = server.get(STREAM, **server.headers())
    assert error_of(refused, 503, "unavailable")["details"]["reason"] == "shutdown"
    assert refused.headers["retry-after"] == "1"


def test_concurrent_streams_per_key_are_capped(server: StreamServer) -> None:
    key_id = server.key_ids["reader"][1]
    hub = stream_hub(server.state)
    with (
        httpx.Client(base_url=server.base_url, timeout=10) as client,
        contextlib.ExitStack() as streams,
    ):
        opened = [
            streams.enter_context(client.stream("GET", STREAM, headers=server.headers()))
            for _ in range(5)
        ]
        assert all(r.status_code == 200 for r in opened)
        assert hub.open_streams(key_id) == 5
        refused = client.get(STREAM, headers=server.headers())
        error = error_of(refused, 429, "rate_limited")
        assert error["details"] == {
            "scope": "stream",
            "reason": "concurrent_streams",
            "limit": 5,
            "retry_after_s": 5,
        }
        assert refused.headers["retry-after"] == "5"
        # The cap is the admission step (HTTP_API 1.6 step 6): it comes before the
        # parameters (step 8), so a bad parameter at the cap is still a 429.
        bad_param = client.get(STREAM, params={"since_log_seq": "x"}, headers=server.headers())
        error_of(bad_param, 429, "rate_limited")
        # Another key has its own slots.
        with server.stream(name="writer") as reader:
            assert reader.next_fields()["retry"] == "5000"
        # Closing a stream frees its slot.
        opened[0].close()
        wait_until(lambda: hub.open_streams(key_id) == 4)
        with server.stream() as reader:
            assert reader.next_fields()["retry"] == "5000"
    wait_until(lambda: hub.open_streams(key_id) == 0)


def test_stream_errors_before_the_first_byte(api: ApiHarness) -> None:
    # Finite error responses: the TestClient serves them.
    api.add_key("no-stream", "reader", [TENANT], permissions=["traces:read"])
    cases: list[tuple[dict[str, str], Any, int, str]] = [
        ({}, None, 401, "unauthorized"),
        (api.headers("no-stream"), None, 403, "forbidden"),
        ({**api.headers("reader"), "Last-Event-ID": "abc"}, None, 400, "invalid_argument"),
        ({**api.headers("reader"), "Last-Event-ID": "-1"}, None, 400, "invalid_argument"),
        (api.headers("reader"), {"since_log_seq": "x"}, 400, "invalid_argument"),
        (api.headers("reader"), {"event_type": "Nope"}, 400, "invalid_argument"),
        (api.headers("reader"), {"cursor": "1"}, 400, "invalid_argument"),
        ({**api.headers("reader"), "X-Tenant-Id": "other"}, None, 403, "forbidden"),
    ]
    for headers, params, status, code in cases:
        response = api.client.get(STREAM, headers=headers, params=params)
        error = error_of(response, status, code)
        if status == 403 and "X-Tenant-Id" not in headers:
            assert error["details"] == {"required_permission": "events:stream"}
    response = api.client.get(STREAM, headers={**api.headers("reader"), "Last-Event-ID": "x"})
    assert error_of(response, 400, "invalid_argument")["details"]["errors"] == [
        {"location": "header", "path": "Last-Event-ID",
         "message": "must be the decimal log_seq of an event"}
    ]  # fmt: skip


def test_a_client_too_slow_is_disconnected(start: Start) -> None:
    blob = "x" * 600_000
    with start(stream_heartbeat_s=0.3) as server:
        port = int(server.base_url.rsplit(":", 1)[1])
        key_id = server.key_ids["reader"][1]
        hub = stream_hub(server.state)
        with socket.socket() as sock:
            # A tiny receive window and no reading: the server's buffers fill up.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", port))
            request = (
                f"GET {STREAM}?since_log_seq=0 HTTP/1.1\r\nHost: test\r\n"
                f"Authorization: Bearer {server.tokens['reader']}\r\n\r\n"
            )
            sock.sendall(request.encode("ascii"))
            wait_until(lambda: hub.open_streams(key_id) == 1)
            payload = {**make_envelope("p", 0).payload, "blob": blob}
            for i in range(20):
                server.append([make_envelope(f"t-{i}", 0, payload=payload)])
            # The server gives up on the stream (its slot is free) while nothing is read.
            wait_until(lambda: hub.open_streams(key_id) == 0)
            sock.settimeout(10)
            received = 0
            while chunk := sock.recv(1 << 20):
                received += len(chunk)
        assert 0 < received < 20 * len(blob)
        # The server is fine: a new stream of the same key opens.
        with server.stream() as reader:
            assert reader.next_fields()["retry"] == "5000"


def test_events_committed_by_another_process_reach_the_stream(
    api_store_url: str, start: Start
) -> None:
    # Another store object stands for another server process: its commits do not call
    # this server's in-process listeners. PostgreSQL: NOTIFY must wake the stream (the
    # poll is slower than the client's read timeout); SQLite: the poll finds them.
    postgres = api_store_url.startswith("postgres")
    with start(stream_poll_s=60.0 if postgres else 0.2) as server:
        other = open_store(api_store_url)
        try:
            with server.stream() as reader:
                assert reader.next_fields()["retry"] == "5000"
                for i in range(3):
                    other.append(TENANT, make_envelope(f"far-{i}", 0))
                    assert [f.id for f in reader.events(1)] == [i + 1]
        finally:
            other.close()
