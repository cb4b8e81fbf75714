"""A real uvicorn server in a background thread for the stream tests (a TestClient
cannot follow an endless response), and a small reader of server-sent events."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from decisiongraph.api import create_app
from decisiongraph.api.state import AppState
from decisiongraph.domain.envelope import EventEnvelope
from decisiongraph.service.accounts import Accounts
from decisiongraph.service.settings import ServiceSettings
from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.factory import open_store

TENANT = "acme"
STREAM = "/api/v1/events/stream"
_START_TIMEOUT_S = 15.0


@dataclass
class Frame:
    """One SSE frame: its fields (``id``, ``event``, ``data``, ``retry``) and comments."""

    fields: dict[str, str] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)

    @property
    def id(self) -> int | None:
        value = self.fields.get("id")
        return None if value is None else int(value)


class SseReader:
    """Reads frames off a streaming httpx response (blocking, with the client's read
    timeout)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.iter_lines()

    def next_frame(self) -> Frame | None:
        """The next frame, or None when the server ended the stream."""
        frame = Frame()
        for line in self._lines:
            if line == "":
                if frame.fields or frame.comments:
                    return frame
                continue
            if line.startswith(":"):
                frame.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            frame.fields[name] = value[1:] if value.startswith(" ") else value
        return None

    def next_fields(self) -> dict[str, str]:
        """The fields of the next frame (which must come)."""
        frame = self.next_frame()
        assert frame is not None, "the stream ended"
        return frame.fields

    def events(self, count: int) -> list[Frame]:
        """The next ``count`` event frames (heartbeats skipped)."""
        frames: list[Frame] = []
        while len(frames) < count:
            frame = self.next_frame()
            assert frame is not None, f"the stream ended after {len(frames)} of {count} events"
            if "data" in frame.fields:  # event frames (not the opening frame, heartbeats)
                frames.append(frame)
        return frames


@dataclass
class StreamServer:
    """A running server: its URL, the app's state and store, and keys on ``acme``."""

    base_url: str
    store: SqlEventStore
    state: AppState
    tokens: dict[str, str] = field(default_factory=dict)
    key_ids: dict[str, tuple[str, str]] = field(default_factory=dict)

    def add_key(self, name: str, role: str = "reader", **options: Any) -> str:
        account, key = Accounts(self.store).create_account(name, role, [TENANT], **options)
        assert key.token is not None
        self.tokens[name] = key.token
        self.key_ids[name] = (account.account_id, key.key_id)
        return key.token

    def headers(self, name: str = "reader", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}", **extra}

    def append(self, envelopes: list[EventEnvelope]) -> None:
        self.store.append_batch(TENANT, envelopes)

    @contextlib.contextmanager
    def stream(
        self, params: Any = None, name: str = "reader", **headers: str
    ) -> Iterator[SseReader]:
        """An open stream (status 200 checked)."""
        with (
            httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(10.0)) as client,
            client.stream(
                "GET", STREAM, params=params, headers=self.headers(name, **headers)
            ) as response,
        ):
            assert response.status_code == 200, response.read()
            yield SseReader(response)

    def get(self, url: str, params: Any = None, **headers: str) -> httpx.Response:
        return httpx.get(f"{self.base_url}{url}", params=params, headers=headers, timeout=10)


@contextlib.contextmanager
def running_server(url: str, **settings: Any) -> Iterator[StreamServer]:
    """Serve a fresh store at ``url`` on a free loopback port until the block ends;
    keys ``reader`` and ``writer`` on ``acme``."""
    store = open_store(url)
    app = create_app(ServiceSettings(database_url=url, projector=False, **settings), store=store)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", ws="none", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            assert thread.is_alive(), "the server thread died"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        running = StreamServer(f"http://127.0.0.1:{port}", store, app.state.dg)
        running.add_key("reader", "reader")
        running.add_key("writer", "writer")
        yield running
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        store.close()
