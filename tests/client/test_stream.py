"""``stream_events``: catch-up then live delivery, filters, resumption with
``Last-Event-ID`` after the server ends a stream, error frames; and the frame parser."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from decisiongraph.client import Client
from decisiongraph.client._sse import Frame, iter_frames
from decisiongraph.errors import Unauthorized
from decisiongraph.service.accounts import Accounts
from tests.client.conftest import Service, fresh_database, run_server
from tests.conftest import FILE_BACKENDS
from tests.helpers import make_envelope

# Keeps a broken stream test from waiting for long: the server sends a frame (or a
# heartbeat) well within this.
READ_TIMEOUT_S = 20.0


def test_the_frame_parser() -> None:
    lines = [
        "retry: 5000", "",
        ": heartbeat", "",
        "id: 7", "event: PolicyEvaluated", "data: {\"a\":", "data:1}", "",
        "event: error", "data: {}", "",
        "data: no space", "unknown: x", "retry: soon", "",
        "id: 8", "",
        "data: cut off",
    ]  # fmt: skip
    assert list(iter_frames(lines)) == [
        Frame("message", None, None, 5000),
        Frame("PolicyEvaluated", '{"a":\n1}', "7", None),
        Frame("error", "{}", None, None),
        Frame("message", "no space", None, None),
        Frame("message", None, "8", None),
    ]


def test_events_are_streamed_from_the_log_then_live(service: Service, client: Client) -> None:
    client.append_batch([make_envelope("a", 0), make_envelope("b", 0), make_envelope("a", 1)])
    stream = client.stream_events(since_log_seq=0, read_timeout=READ_TIMEOUT_S)
    try:
        assert [e.log_seq for e in itertools.islice(stream, 3)] == [1, 2, 3]
        appended = client.append(make_envelope("b", 1)).event
        assert next(stream) == appended
    finally:
        stream.close()
    only_b = client.stream_events(1, trace_id="b", read_timeout=READ_TIMEOUT_S)
    assert [(e.trace_id, e.trace_seq) for e in itertools.islice(only_b, 1)] == [("b", 0)]
    only_b.close()
    started = client.stream_events(0, event_types=["TraceStarted"], read_timeout=READ_TIMEOUT_S)
    assert [e.trace_id for e in itertools.islice(started, 2)] == ["a", "b"]
    started.close()


def test_opening_a_stream_with_a_bad_key_raises(service: Service) -> None:
    with Client(service.base_url, "dg_bad", tenant=service.tenant) as stranger:
        with pytest.raises(Unauthorized) as caught:
            next(stranger.stream_events(0))
        assert caught.value.status == 401


BACKENDS = [
    pytest.param(b, marks=[pytest.mark.postgres] if b == "postgres" else []) for b in FILE_BACKENDS
]


def _dedicated(backend: str, directory: Path, **settings: float) -> Iterator[Service]:
    with (
        fresh_database(backend, directory) as url,
        run_server(url, backend, **settings) as server,
    ):
        yield Service(server, "acme")


@pytest.fixture(params=BACKENDS)
def short_streams(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    """A server whose streams end after 1 s."""
    yield from _dedicated(request.param, tmp_path, stream_max_duration_s=1.0)


@pytest.fixture(params=BACKENDS)
def rechecked_streams(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    """A server that rechecks a stream's key every 0.1 s."""
    yield from _dedicated(request.param, tmp_path, stream_auth_recheck_s=0.1)


def test_a_stream_the_server_ends_resumes_after_the_last_event(short_streams: Service) -> None:
    sent: list[httpx.Request] = []
    with (
        httpx.Client(event_hooks={"request": [sent.append]}) as http,
        short_streams.client(http_client=http) as client,
    ):
        client.append_batch([make_envelope("t", i) for i in range(3)])
        stream = client.stream_events(0, reconnect_delay=0.01, read_timeout=READ_TIMEOUT_S)
        try:
            assert [e.log_seq for e in itertools.islice(stream, 3)] == [1, 2, 3]
            time.sleep(2.0)  # the server ends this stream meanwhile (max duration 1 s)
            client.append_batch([make_envelope("t", i) for i in range(3, 6)])
            assert [e.trace_seq for e in itertools.islice(stream, 3)] == [3, 4, 5]
        finally:
            stream.close()
    opened = [r for r in sent if r.url.path == "/api/v1/events/stream"]
    assert len(opened) >= 2
    assert opened[0].url.params.get("since_log_seq") == "0"
    assert "last-event-id" not in opened[0].headers
    assert opened[1].headers["last-event-id"] == "3"
    assert "since_log_seq" not in opened[1].url.params


def test_an_error_frame_is_raised(rechecked_streams: Service) -> None:
    account, key = rechecked_streams.account("reader")
    assert key.token is not None
    with rechecked_streams.client() as writer:
        writer.append(make_envelope("t", 0))
    with Client(rechecked_streams.base_url, key.token, tenant="acme") as reader:
        stream = reader.stream_events(0, read_timeout=READ_TIMEOUT_S)
        assert next(stream).log_seq == 1
        Accounts(rechecked_streams.server.store).revoke_key(account.account_id, key.key_id)
        with pytest.raises(Unauthorized) as caught:
            next(stream)
        # From the error frame (no HTTP status of its own), not from a reconnection.
        assert caught.value.status is None
        assert caught.value.api_code == "unauthorized"
