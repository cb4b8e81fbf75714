"""Fixtures of the client tests: a real uvicorn server on a free loopback port, in a
background thread, over a real store (SQLite file and PostgreSQL), with its projector.

One server per backend and test module (starting one costs migrations); each test
gets its own tenant and keys (:class:`Service`), so tests never see each other's data.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
import uvicorn

from decisiongraph.api import create_app
from decisiongraph.client import Client
from decisiongraph.service.account_tables import ApiKey, ServiceAccount
from decisiongraph.service.accounts import Accounts
from decisiongraph.service.settings import ServiceSettings
from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.factory import open_store
from tests.conftest import FILE_BACKENDS, POSTGRES_URL, require_postgres

_START_TIMEOUT_S = 15.0


@dataclass
class Server:
    """A running server: its base URL and the store it serves."""

    base_url: str
    store: SqlEventStore
    url: str
    backend: str


@contextlib.contextmanager
def run_server(url: str, backend: str, **settings: Any) -> Iterator[Server]:
    """Serve ``url`` with uvicorn on 127.0.0.1 (a free port) until the block ends."""
    store = open_store(url)
    options = {"projector": True, **settings}
    app = create_app(ServiceSettings(database_url=url, **options), store=store)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # The default loop (uvloop when installed, as uvicorn[standard] does): with plain
    # asyncio every request here took about 40 ms (a Nagle/delayed-ACK stall).
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        ws="none",
        http="h11",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        yield Server(f"http://127.0.0.1:{port}", store, url, backend)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        store.close()


@contextlib.contextmanager
def fresh_database(backend: str, directory: Path) -> Iterator[str]:
    """A fresh database URL of ``backend`` (a PostgreSQL schema is dropped after)."""
    if backend == "sqlite-file":
        yield f"sqlite:///{directory / f'dg-{uuid.uuid4().hex[:8]}.db'}"
        return
    require_postgres()
    schema = f"dgc_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    option = quote(f"-csearch_path={schema}", safe="")
    try:
        yield f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}options={option}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(b, marks=[pytest.mark.postgres] if b == "postgres" else [])
        for b in FILE_BACKENDS
    ],
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server per backend (SQLite file, PostgreSQL), shared by a module's tests."""
    with (
        fresh_database(request.param, tmp_path_factory.mktemp("client")) as url,
        run_server(url, request.param) as running,
    ):
        yield running


@dataclass
class Service:
    """One test's view of a server: a tenant of its own and keys on it."""

    server: Server
    tenant: str

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def account(
        self, role: str = "writer", tenants: list[str] | None = None, **options: Any
    ) -> tuple[ServiceAccount, ApiKey]:
        """A new account and its key (bound to this tenant unless ``tenants`` is given)."""
        name = f"{role}-{uuid.uuid4().hex[:12]}"
        accounts = Accounts(self.server.store)
        return accounts.create_account(name, role, tenants or [self.tenant], **options)

    def key(self, role: str = "writer", tenants: list[str] | None = None, **options: Any) -> str:
        """A new account's key token (see :meth:`account`)."""
        _account, key = self.account(role, tenants, **options)
        assert key.token is not None
        return key.token

    def client(self, role: str = "writer", **options: Any) -> Client:
        """A client of this tenant with a new key of ``role``."""
        return Client(self.base_url, self.key(role), tenant=self.tenant, **options)


@pytest.fixture
def service(server: Server) -> Service:
    return Service(server, f"t-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def client(service: Service) -> Iterator[Client]:
    """A writer client of the test's tenant."""
    with service.client() as opened:
        yield opened
