"""Fixtures of the service-layer tests: accounts and audit log over every backend, and a
raw reader of the tables (to check what is really stored)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from decisiongraph.projections.tables import Sql
from decisiongraph.service.accounts import Accounts
from decisiongraph.service.audit import AuditLog
from decisiongraph.store.base import SqlEventStore

#: Runs a query (``%s`` placeholders) in a read snapshot and returns every row.
Rows = Callable[..., list[tuple[Any, ...]]]


@pytest.fixture
def accounts(store: SqlEventStore) -> Accounts:
    return Accounts(store)


@pytest.fixture
def audit(store: SqlEventStore) -> AuditLog:
    return AuditLog(store)


@pytest.fixture
def rows(store: SqlEventStore) -> Rows:
    def read(query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with store.read_snapshot() as conn:
            return Sql(conn, store.dialect).all(query, params)

    return read


@pytest.fixture
def execute(store: SqlEventStore) -> Callable[..., None]:
    """Runs one statement in a write transaction (to age a key, for instance)."""

    def run(query: str, params: Sequence[Any] = ()) -> None:
        with store.transaction() as conn:
            Sql(conn, store.dialect).execute(query, params)

    return run
