"""Fixtures of the concurrency tests: stores that are always closed, and the spawn
context every multi-process test uses."""

from __future__ import annotations

import multiprocessing.context
from collections.abc import Callable, Iterator

import pytest

from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.factory import open_store
from tests.concurrency.support import spawn_context


@pytest.fixture
def open_stores(shared_store_url: str) -> Iterator[Callable[[], SqlEventStore]]:
    """A factory of store objects (each with its own connections) on the test's
    database; every store it opened is closed after the test."""
    opened: list[SqlEventStore] = []

    def make() -> SqlEventStore:
        store = open_store(shared_store_url, pool_size=4)
        opened.append(store)
        return store

    try:
        yield make
    finally:
        for store in opened:
            store.close()


@pytest.fixture
def shared_store(open_stores: Callable[[], SqlEventStore]) -> SqlEventStore:
    """One store on the test's database (migrated before any worker starts)."""
    return open_stores()


@pytest.fixture(scope="session")
def spawn_ctx() -> multiprocessing.context.SpawnContext:
    """The multiprocessing context of every child process: ``spawn``."""
    return spawn_context()
