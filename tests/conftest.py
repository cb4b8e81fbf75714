"""Shared fixtures: stores over every backend, fresh PostgreSQL schemas, golden data.

PostgreSQL comes from ``DG_TEST_POSTGRES_URL`` (default: the local server on
127.0.0.1:5432 as ``postgres``). Each test gets its own schema, dropped afterwards.
Without a reachable server the PostgreSQL cases skip, except under ``CI=true``, where
they fail: CI must never hide them.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from decisiongraph.domain.envelope import EventEnvelope, envelope_from_dict
from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.factory import open_store

POSTGRES_URL = os.environ.get(
    "DG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
GOLDEN_DIR = Path(
    os.environ.get("DG_GOLDEN_DIR", Path(__file__).resolve().parents[2] / "shared" / "golden")
)
GOLDEN_SCENARIOS = ("dealdesk", "release_rejected", "support")
BACKENDS = ("sqlite-memory", "sqlite-file", "postgres")
FILE_BACKENDS = ("sqlite-file", "postgres")

_pg_status: dict[str, str | None] = {}


def _postgres_unavailable() -> str | None:
    """None if the test server answers, else the reason."""
    if "reason" not in _pg_status:
        try:
            with psycopg.connect(POSTGRES_URL, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
            _pg_status["reason"] = None
        except psycopg.Error as exc:
            _pg_status["reason"] = f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}"
    return _pg_status["reason"]


def require_postgres() -> None:
    """Skip (locally) or fail (under CI=true) when PostgreSQL is unreachable."""
    reason = _postgres_unavailable()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: PostgreSQL tests must run)")
    pytest.skip(reason)


def _with_search_path(url: str, schema: str) -> str:
    option = quote(f"-csearch_path={schema}", safe="")
    return f"{url}{'&' if '?' in url else '?'}options={option}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL schema (dropped after the test)."""
    require_postgres()
    schema = f"dgt_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield _with_search_path(POSTGRES_URL, schema)
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _marks(backend: str) -> list[pytest.MarkDecorator]:
    return [pytest.mark.postgres] if backend == "postgres" else []


@pytest.fixture
def backend_url_for(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Return a function giving a fresh database URL for a backend name."""

    def make(backend: str) -> str:
        if backend == "sqlite-memory":
            return "sqlite:///:memory:"
        if backend == "sqlite-file":
            return f"sqlite:///{tmp_path / f'dg-{uuid.uuid4().hex[:8]}.db'}"
        url: str = request.getfixturevalue("pg_url")
        return url

    return make


@pytest.fixture(params=[pytest.param(b, marks=_marks(b)) for b in BACKENDS])
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend name in turn."""
    name: str = request.param
    return name


@pytest.fixture(params=[pytest.param(b, marks=_marks(b)) for b in FILE_BACKENDS])
def shared_backend(request: pytest.FixtureRequest) -> str:
    """Backends several connections or processes can share (not sqlite-memory)."""
    name: str = request.param
    return name


@pytest.fixture
def store_url(backend: str, backend_url_for: Callable[[str], str]) -> str:
    """A fresh database URL of the current backend."""
    return backend_url_for(backend)


@pytest.fixture
def shared_store_url(shared_backend: str, backend_url_for: Callable[[str], str]) -> str:
    """A fresh database URL that several processes can open."""
    return backend_url_for(shared_backend)


@pytest.fixture
def store(store_url: str) -> Iterator[SqlEventStore]:
    """A fresh, migrated store of the current backend."""
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()


def load_golden(scenario: str) -> dict[str, Any]:
    """The parsed ``events.json`` of a golden scenario."""
    with (GOLDEN_DIR / scenario / "events.json").open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def golden_envelopes(scenario: str) -> list[EventEnvelope]:
    """The scenario's envelopes, exactly as given, in file order."""
    return [envelope_from_dict(e) for e in load_golden(scenario)["events"]]


def expected_digests(scenario: str) -> dict[str, str]:
    """``expected_digest.txt`` as a dict (each line split at its first colon)."""
    text = (GOLDEN_DIR / scenario / "expected_digest.txt").read_text(encoding="utf-8")
    return dict(line.split(":", 1) for line in text.splitlines() if line)
