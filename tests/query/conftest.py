"""Fixtures of the query tests.

``qstore`` is one store per backend shared by a module; every test works in a tenant of
its own (``tenant``), which the store keeps invisible to every other tenant, so tests
stay independent while the suite creates few databases.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import psycopg
import pytest

from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.factory import open_store
from tests.conftest import BACKENDS, POSTGRES_URL, require_postgres


@contextmanager
def module_store(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlEventStore]:
    """A fresh store of ``backend`` that lives as long as the ``with`` block."""
    schema: str | None = None
    if backend == "sqlite-memory":
        url = "sqlite:///:memory:"
    elif backend == "sqlite-file":
        url = f"sqlite:///{tmp_path_factory.mktemp('query') / 'dg.db'}"
    else:
        require_postgres()
        schema = f"dgt_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        option = quote(f"-csearch_path={schema}", safe="")
        url = f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}options={option}"
    try:
        store = open_store(url)
        try:
            yield store
        finally:
            store.close()
    finally:
        if schema is not None:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _marks(backend: str) -> list[pytest.MarkDecorator]:
    return [pytest.mark.postgres] if backend == "postgres" else []


@pytest.fixture(scope="module", params=[pytest.param(b, marks=_marks(b)) for b in BACKENDS])
def qstore(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SqlEventStore]:
    """A store of each backend, shared by the tests of one module."""
    with module_store(request.param, tmp_path_factory) as store:
        yield store


@pytest.fixture
def tenant() -> str:
    """A tenant id of this test alone."""
    return f"t-{uuid.uuid4().hex[:12]}"
