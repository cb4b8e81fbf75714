"""Fixtures of the store contract suite.

``validation_store`` is a module-scoped store of each backend, pre-populated with two
tenants, for the large tables of stateless checks (validation, secret guard): those
appends are rejected before the store is touched, and every such test still proves
with a full before/after snapshot that its reject changed nothing, so sharing the
store only makes the check stricter (the store is not empty) and the suite faster.
Tests that need a pristine database use the function-scoped ``store`` fixture.

``icu_pg_url`` is a PostgreSQL database whose default collation is ICU ``en-US`` (a
locale order in which "a" < "B"), to prove the store orders ids in code-point order
even where the database default would not.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest

from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.factory import open_store
from tests.conftest import BACKENDS, POSTGRES_URL, require_postgres
from tests.contract.support import OTHER_TENANT, TENANT, append_all
from tests.helpers import make_envelope, trace_envelopes

#: The trace of ``validation_store`` that holds a TraceStarted (next trace_seq is 1)
#: in both tenants, and a finished trace of the first tenant.
SEEDED_TRACE = "seeded"
FINISHED_TRACE = "finished"


def _marks(backend: str) -> list[pytest.MarkDecorator]:
    return [pytest.mark.postgres] if backend == "postgres" else []


def _search_path_url(url: str, schema: str) -> str:
    option = quote(f"-csearch_path={schema}", safe="")
    return f"{url}{'&' if '?' in url else '?'}options={option}"


def _populate(store: SqlEventStore) -> None:
    append_all(store, TENANT, [make_envelope(SEEDED_TRACE, 0)])
    append_all(store, TENANT, trace_envelopes(FINISHED_TRACE, 3))
    append_all(store, OTHER_TENANT, [make_envelope(SEEDED_TRACE, 0)])


@pytest.fixture(scope="module", params=[pytest.param(b, marks=_marks(b)) for b in BACKENDS])
def validation_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SqlEventStore]:
    """A populated store of each backend, shared by one module's stateless-check tests."""
    backend: str = request.param
    schema: str | None = None
    if backend == "sqlite-memory":
        url = "sqlite:///:memory:"
    elif backend == "sqlite-file":
        url = f"sqlite:///{tmp_path_factory.mktemp('validation') / 'dg.db'}"
    else:
        require_postgres()
        schema = f"dgt_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        url = _search_path_url(POSTGRES_URL, schema)
    store = open_store(url)
    try:
        _populate(store)
        yield store
    finally:
        store.close()
        if schema is not None:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session")
def icu_pg_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database whose default collation is ICU en-US."""
    require_postgres()
    name = f"dgt_icu_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(
            f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\' '
            "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
        )
    parts = urlsplit(POSTGRES_URL)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_file_url(tmp_path: Path) -> str:
    """URL of a new SQLite file database (not yet created)."""
    return f"sqlite:///{tmp_path / 'dg.db'}"
