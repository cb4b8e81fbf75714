"""Fixtures of the store contract suite.

``populated_store`` is a module-scoped store of each backend, populated with two
tenants (``support.populate``), for the large tables of rejects (validation, secret
guard, sequencing, idempotency conflicts): every such test proves with a full
before/after snapshot that its reject changed nothing, so sharing the store only makes
the check stricter (the store is not empty) and the suite faster. Tests whose appends
are accepted use traces of their own. Tests that need a pristine database use the
function-scoped ``store`` fixture.

``read_store`` is a module-scoped store of each backend holding ``READ_LOG``, for tests
that only read.

``icu_pg_url`` is a PostgreSQL database whose default collation is ICU ``en-US`` (a
locale order in which "a" < "B"), kept on the test server between runs, and
``icu_store`` a store in a fresh schema of it: they prove the store orders ids in
code-point order even where the database default would not.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest

from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.factory import open_store
from tests.conftest import BACKENDS, POSTGRES_URL, require_postgres
from tests.contract.support import OTHER_TENANT, READ_LOG, TENANT, append_all, populate
from tests.helpers import make_envelope


def _marks(backend: str) -> list[pytest.MarkDecorator]:
    return [pytest.mark.postgres] if backend == "postgres" else []


def _search_path_url(url: str, schema: str) -> str:
    option = quote(f"-csearch_path={schema}", safe="")
    return f"{url}{'&' if '?' in url else '?'}options={option}"


@contextmanager
def _module_store(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SqlEventStore]:
    """A fresh store of ``backend`` that lives as long as the ``with`` block."""
    schema: str | None = None
    if backend == "sqlite-memory":
        url = "sqlite:///:memory:"
    elif backend == "sqlite-file":
        url = f"sqlite:///{tmp_path_factory.mktemp('contract') / 'dg.db'}"
    else:
        require_postgres()
        schema = f"dgt_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        url = _search_path_url(POSTGRES_URL, schema)
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


_BACKEND_PARAMS = [pytest.param(b, marks=_marks(b)) for b in BACKENDS]


@pytest.fixture(scope="module", params=_BACKEND_PARAMS)
def populated_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SqlEventStore]:
    """A store of each backend filled by ``support.populate``, shared by one module's
    tests whose appends are rejected or land on traces of their own."""
    with _module_store(request.param, tmp_path_factory) as store:
        populate(store)
        yield store


@pytest.fixture(scope="module", params=_BACKEND_PARAMS)
def read_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SqlEventStore]:
    """A store of each backend holding :data:`READ_LOG`, shared by read-only tests."""
    with _module_store(request.param, tmp_path_factory) as store:
        append_all(store, TENANT, [make_envelope(t, s, k) for t, s, k in READ_LOG])
        append_all(store, OTHER_TENANT, [make_envelope("t1", 0)])
        yield store


#: A database kept on the test server between runs: dropping a database forces a
#: checkpoint, which costs seconds on a busy server. Each test uses its own schema in it.
ICU_DATABASE = "dg_test_icu_en_us"


@pytest.fixture(scope="session")
def icu_pg_url() -> str:
    """URL of a PostgreSQL database whose default collation is ICU en-US."""
    require_postgres()
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (ICU_DATABASE,)
        ).fetchone()
        if exists is None:
            try:
                conn.execute(
                    f"CREATE DATABASE \"{ICU_DATABASE}\" TEMPLATE template0 ENCODING 'UTF8' "
                    "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
                )
            except psycopg.errors.DuplicateDatabase:
                pass  # another test process created it at the same moment
            except psycopg.Error as exc:
                pytest.skip(f"this PostgreSQL server cannot create an ICU database: {exc}")
    return urlunsplit(urlsplit(POSTGRES_URL)._replace(path=f"/{ICU_DATABASE}"))


@pytest.fixture
def icu_store(icu_pg_url: str) -> Iterator[SqlEventStore]:
    """A store in a fresh schema of the ICU en-US database (dropped afterwards)."""
    schema = f"dgt_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(icu_pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        # The premise: this database's default order is not code-point order.
        row = conn.execute("SELECT 'a' < 'B', 'B' < 'a' COLLATE \"C\"").fetchone()
        assert row == (True, True)
    store = open_store(_search_path_url(icu_pg_url, schema))
    try:
        yield store
    finally:
        store.close()
        with psycopg.connect(icu_pg_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def sqlite_file_url(tmp_path: Path) -> str:
    """URL of a new SQLite file database (not yet created)."""
    return f"sqlite:///{tmp_path / 'dg.db'}"
