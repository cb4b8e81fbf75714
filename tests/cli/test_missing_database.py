"""Only ``migrate``, ``import`` and ``demo`` create a database; every other command exits 1
on a missing SQLite file and leaves it missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.helpers import Cli, trace_dicts, write_array

READ_COMMANDS = [
    ["events", "list"],
    ["events", "list", "--json"],
    ["dump-trace", "some-trace"],
    ["dump-trace", "some-trace", "--include-payload"],
]


@pytest.mark.parametrize("command", READ_COMMANDS)
def test_read_commands_refuse_a_missing_file_and_do_not_create_it(
    cli: Cli, db_path: Path, db_url: str, command: list[str]
) -> None:
    result = cli(*command, "--db", db_url)

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: DG_ERR_STORAGE: Database file {str(db_path)!r} not found; "
        f"run 'decisiongraph migrate --db {db_url}' first "
        "(or import events with 'decisiongraph import')\n"
    )
    assert not db_path.exists()


@pytest.mark.parametrize("command", READ_COMMANDS)
def test_the_default_database_is_not_created_either(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)

    result = cli(*command)

    assert result.exit_code == 1
    assert "Database file './decisiongraph.db' not found; run 'decisiongraph migrate' first" in (
        result.stderr
    )
    assert list(tmp_path.iterdir()) == []


def test_migrate_import_and_demo_create_the_default_database(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_array(tmp_path / "events.json", trace_dicts("t-1", 2))
    for index, command in enumerate([["migrate"], ["import", str(path)], ["demo"]]):
        workdir = tmp_path / str(index)
        workdir.mkdir()
        monkeypatch.chdir(workdir)

        cli.ok(*command)

        assert (workdir / "decisiongraph.db").is_file(), command


def test_a_path_that_is_a_directory_is_not_a_database(cli: Cli, tmp_path: Path) -> None:
    result = cli("events", "list", "--db", f"sqlite:///{tmp_path}")

    assert result.exit_code == 1
    assert "DG_ERR_STORAGE" in result.stderr
    assert "not found" in result.stderr
