"""End-to-end fixtures: real ``decisiongraph serve`` processes on PostgreSQL.

Every test gets its own schema (``pg_url``). The ``serve`` fixture starts any number of
servers (:class:`~tests.server_process.ServerProcess`: the installed console script,
``--port 0``, ready once ``/readyz`` answers) and checks at teardown that each one
exits 0 on SIGTERM. ``e2e`` is the common case: one server (projector on) with an
admin key bound to ``*`` and a writer key bound to ``acme`` (made with ``decisiongraph
accounts create ... --json``, the bootstrap path) while the server starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from decisiongraph.service.accounts import Accounts
from decisiongraph.store.factory import open_store
from tests.server_process import ServerProcess, create_key

TENANT = "acme"


def make_key(db: str, name: str, role: str, *tenants: str) -> str:
    """A key made by the CLI against ``db``: its token."""
    args = [name, "--role", role, "--db", db]
    for tenant in tenants:
        args += ["--tenant", tenant]
    token: str = create_key(*args)["key"]["token"]
    return token


@pytest.fixture
def serve(pg_url: str) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers on this test's schema: ``serve(*args, env=None, ready=True)``.
    Each one must exit 0 on SIGTERM (checked at teardown)."""
    started: list[ServerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None, ready: bool = True) -> ServerProcess:
        server = ServerProcess("--db", pg_url, *args, env=env)
        started.append(server)
        if ready:
            server.wait_ready()
        return server

    yield start
    codes = [(server.stop(), server.stderr) for server in started]
    for code, stderr in codes:
        assert code == 0, f"the server exited {code}:\n{stderr}"


@dataclass
class E2E:
    """A running server and its keys: ``admin`` bound to ``*``, ``writer`` to acme."""

    db: str
    server: ServerProcess
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, role: str = "writer", tenant: str | None = None) -> httpx.Client:
        """An HTTP client with the role's key (and ``X-Tenant-Id`` if given)."""
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        if tenant is not None:
            headers["X-Tenant-Id"] = tenant
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture
def e2e(pg_url: str, serve: Callable[..., ServerProcess]) -> E2E:
    """One server (projector on) and two keys made by the CLI while it starts."""
    server = serve(ready=False)
    writer = make_key(pg_url, "e2e-writer", "writer", TENANT)
    # The second key in process: one child process less to start per test.
    store = open_store(pg_url)
    try:
        _account, admin = Accounts(store).create_account("e2e-admin", "admin", ["*"])
    finally:
        store.close()
    assert admin.token is not None
    server.wait_ready()
    return E2E(pg_url, server, {"admin": admin.token, "writer": writer})
