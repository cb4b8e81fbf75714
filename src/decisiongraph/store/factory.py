"""Open an event store from a URL: ``sqlite:///path``, ``sqlite:///:memory:`` or
``postgresql://...`` (also ``postgres://``).

Backends are imported lazily so that a SQLite user never pays for loading psycopg.
"""

from __future__ import annotations

from pathlib import Path

from decisiongraph.errors import InvalidArgument
from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.observer import StoreObserver

__all__ = ["DEFAULT_DATABASE_URL", "open_store", "sqlite_path_from_url"]

DEFAULT_DATABASE_URL = "sqlite:///./decisiongraph.db"


def sqlite_path_from_url(url: str) -> str:
    """The file path of a ``sqlite:///`` URL (``:memory:`` for the in-memory one).

    ``sqlite:///./x.db`` and ``sqlite:///x.db`` are relative; ``sqlite:////abs/x.db`` is
    absolute.
    """
    if not url.startswith("sqlite:///"):
        raise InvalidArgument(f"Not a SQLite URL: {url!r} (expected sqlite:///PATH)")
    path = url[len("sqlite:///") :]
    if not path:
        raise InvalidArgument("The SQLite URL has no path: use sqlite:///./decisiongraph.db")
    return path


def open_store(
    url: str | None = None,
    *,
    create: bool = True,
    observer: StoreObserver | None = None,
    pool_size: int = 10,
) -> SqlEventStore:
    """Open (and migrate) the store at ``url`` (default :data:`DEFAULT_DATABASE_URL`).

    With ``create=False`` a missing SQLite file is an error instead of a new database.
    """
    url = url or DEFAULT_DATABASE_URL
    if url.startswith("sqlite:"):
        from decisiongraph.store.sqlite import SQLiteEventStore  # noqa: PLC0415

        path = sqlite_path_from_url(url)
        if path != ":memory:" and create:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return SQLiteEventStore(path, create=create, observer=observer)
    if url.startswith(("postgresql://", "postgres://")):
        from decisiongraph.store.postgres import PostgresEventStore  # noqa: PLC0415

        return PostgresEventStore(url, observer=observer, pool_size=pool_size)
    raise InvalidArgument(
        f"Unsupported database URL {url!r}: use sqlite:///PATH or postgresql://..."
    )
