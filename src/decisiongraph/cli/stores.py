"""Opening the store a command works on, with the CLI's rule that only ``migrate``,
``import`` and ``demo`` may create a database."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from decisiongraph.errors import StorageError
from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.factory import DEFAULT_DATABASE_URL, open_store, sqlite_path_from_url

__all__ = ["opened_store"]


def _require_existing_sqlite_file(url: str) -> None:
    """Raise StorageError, with the command that creates it, if ``url`` names a SQLite
    file that does not exist (nothing is created)."""
    if not url.startswith("sqlite:"):
        return
    path = sqlite_path_from_url(url)
    if path == ":memory:" or Path(path).is_file():
        return
    db_arg = "" if url == DEFAULT_DATABASE_URL else f" --db {shlex.quote(url)}"
    raise StorageError(
        f"Database file {path!r} not found; run 'decisiongraph migrate{db_arg}' first "
        "(or import events with 'decisiongraph import')"
    )


@contextmanager
def opened_store(url: str, *, create: bool = False) -> Iterator[SqlEventStore]:
    """Open (and migrate) the store at ``url`` for the block, then close it.

    With ``create=False`` a missing SQLite file is a :class:`StorageError` and is not
    created.
    """
    if not create:
        _require_existing_sqlite_file(url)
    store = open_store(url, create=create)
    try:
        yield store
    finally:
        store.close()
