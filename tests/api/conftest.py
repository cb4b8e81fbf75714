"""Fixtures of the API tests: the app over a real store (SQLite file and PostgreSQL),
a Starlette ``TestClient`` (httpx) and keys of every role.

``api`` gives an :class:`ApiHarness`: ``api.client`` (server errors become 500
responses, as a real server gives them), ``api.headers(role, tenant=None)`` for the
``Authorization`` (and ``X-Tenant-Id``) headers, ``api.project()`` to catch the
tenant's projections up (the app runs without its projector thread unless a test asks
for it), and ``api.store``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.testclient import TestClient

from decisiongraph.api import create_app
from decisiongraph.projections.runner import Projector
from decisiongraph.service.accounts import Accounts
from decisiongraph.service.settings import ServiceSettings
from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.factory import open_store
from tests.conftest import FILE_BACKENDS

TENANT = "acme"
OTHER_TENANT = "globex"
ROLES = ("reader", "writer", "admin")


@dataclass
class ApiHarness:
    """An app, its client and one key per role bound to :data:`TENANT`."""

    client: TestClient
    store: SqlEventStore
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str = "writer", tenant: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        if tenant is not None:
            headers["X-Tenant-Id"] = tenant
        return headers

    def add_key(self, name: str, role: str, tenants: list[str], **options: Any) -> str:
        """Create an account; returns its token (also under ``tokens[name]``)."""
        _account, key = Accounts(self.store).create_account(name, role, tenants, **options)
        assert key.token is not None
        self.tokens[name] = key.token
        return key.token

    def project(self, tenant: str = TENANT) -> None:
        Projector(self.store).catch_up(tenant)


@pytest.fixture(
    params=[
        pytest.param(b, marks=[pytest.mark.postgres] if b == "postgres" else [])
        for b in FILE_BACKENDS
    ]
)
def api_store_url(request: pytest.FixtureRequest, backend_url_for: Callable[[str], str]) -> str:
    """A fresh database URL: SQLite file, then PostgreSQL."""
    return backend_url_for(request.param)


def make_harness(url: str, **settings: Any) -> Iterator[ApiHarness]:
    store = open_store(url)
    app = create_app(
        ServiceSettings(database_url=url, **{"projector": False, **settings}), store=store
    )
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            harness = ApiHarness(client, store)
            for role in ROLES:
                harness.add_key(role, role, [TENANT])
            yield harness
    finally:
        store.close()


@pytest.fixture
def api(api_store_url: str) -> Iterator[ApiHarness]:
    """The app over a fresh store of each backend, keys for every role on ``acme``."""
    yield from make_harness(api_store_url)
