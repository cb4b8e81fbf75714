"""Versioned SQL migrations: files ``NNNN_name.sql`` under ``migrations/<backend>/``.

Each backend applies them in version order inside its own lock (SQLite: an IMMEDIATE
transaction; PostgreSQL: a transaction-scoped advisory lock), records each in
``schema_migrations(version, name, applied_at)`` in the same transaction, and skips the
ones already recorded, so two processes migrating at once apply each file exactly once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["Migration", "latest_version", "load_migrations"]

_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str


@cache
def load_migrations(backend: str) -> tuple[Migration, ...]:
    """The migrations of ``backend`` ("sqlite" or "postgres"), in version order."""
    folder = resources.files("decisiongraph.store").joinpath("migrations", backend)
    found = []
    for entry in folder.iterdir():
        match = _NAME.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{backend} migrations must be numbered 1..N, found {versions}")
    return tuple(found)


def latest_version(backend: str) -> int:
    """The newest migration version the code knows for ``backend``."""
    return len(load_migrations(backend))
