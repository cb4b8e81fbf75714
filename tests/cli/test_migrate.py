"""``decisiongraph migrate``: creates the database and reports the schema version."""

from __future__ import annotations

import json
from pathlib import Path

from decisiongraph.store.sqlite import SQLiteEventStore
from tests.cli.helpers import Cli

LATEST = SQLiteEventStore.latest_schema_version()


def test_migrate_creates_a_fresh_database_and_prints_the_schema_version(
    cli: Cli, db_path: Path, db_url: str
) -> None:
    result = cli.ok("migrate", "--db", db_url)

    assert db_path.is_file()
    assert f"schema version {LATEST}" in result.stdout
    assert result.stderr == ""


def test_migrate_json_is_one_document_and_rerunning_is_harmless(cli: Cli, db_url: str) -> None:
    first = json.loads(cli.ok("migrate", "--db", db_url, "--json").stdout)
    second = json.loads(cli.ok("migrate", "--db", db_url, "--json").stdout)

    assert first == second
    assert first["schema_version"] == LATEST
    assert first["database"] == db_url


def test_migrate_creates_missing_parent_directories(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "nested" / "dir" / "dg.db"

    cli.ok("migrate", "--db", f"sqlite:///{target}")

    assert target.is_file()


def test_migrate_uses_dg_database_url_from_the_environment(cli: Cli, db_path: Path) -> None:
    result = cli("migrate", env={"DG_DATABASE_URL": f"sqlite:///{db_path}"})

    assert result.exit_code == 0, result.stderr
    assert db_path.is_file()


def test_an_unsupported_database_url_is_a_one_line_domain_error(cli: Cli) -> None:
    result = cli("migrate", "--db", "mysql://localhost/x")

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: DG_ERR_INVALID_ARGUMENT: Unsupported database URL")
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""
