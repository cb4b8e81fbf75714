"""Fixtures for the CLI tests: an in-process runner of the Typer app with a clean
environment, and a fresh SQLite database URL per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.helpers import Cli


@pytest.fixture
def cli() -> Cli:
    """The in-process CLI runner."""
    return Cli()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Path of a SQLite database file that does not exist yet."""
    return tmp_path / "dg.db"


@pytest.fixture
def db_url(db_path: Path) -> str:
    """``sqlite:///`` URL of :func:`db_path`."""
    return f"sqlite:///{db_path}"
