"""Builders of import files and readers of CLI output for the CLI tests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from decisiongraph.cli.main import app
from tests.conftest import load_golden
from tests.helpers import make_envelope, trace_envelopes

BIG = 2**70

#: Variables that would change what the CLI does; unset for every in-process run.
_CLEAN_ENV: dict[str, str | None] = {
    "DG_DATABASE_URL": None,
    "DG_TENANT": None,
    "FORCE_COLOR": None,
    "NO_COLOR": "1",
}


class Cli:
    """Runs ``decisiongraph ARGS`` in process; stdout and stderr stay separate."""

    def __init__(self) -> None:
        self._runner = CliRunner()

    def __call__(
        self,
        *args: str,
        stdin: str | bytes | None = None,
        env: Mapping[str, str | None] | None = None,
    ) -> Result:
        return self._runner.invoke(
            app,
            list(args),
            input=stdin,
            env={**_CLEAN_ENV, **(env or {})},
            catch_exceptions=False,
        )

    def ok(self, *args: str, stdin: str | bytes | None = None) -> Result:
        """Run and assert exit code 0."""
        result = self(*args, stdin=stdin)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return result


def golden_events(scenario: str) -> list[dict[str, Any]]:
    """The envelopes of a golden scenario as JSON objects, in file order."""
    events: list[dict[str, Any]] = load_golden(scenario)["events"]
    return events


def trace_dicts(trace_id: str, length: int, *, finish: bool = True) -> list[dict[str, Any]]:
    """A valid trace of ``length`` events as JSON objects."""
    return [e.to_dict() for e in trace_envelopes(trace_id, length, finish=finish)]


def big_int_event(trace_id: str) -> dict[str, Any]:
    """A TraceStarted whose payload holds ``2**70`` (beyond 64 bits)."""
    envelope = make_envelope(trace_id, 0)
    data = envelope.to_dict()
    data["payload"] = {**data["payload"], "amount_minor_units": BIG, "nested": {"n": [BIG]}}
    return data


def write_array(path: Path, events: list[dict[str, Any]]) -> Path:
    """Write ``events`` as a JSON array."""
    path.write_text(json.dumps(events, indent=2), encoding="utf-8")
    return path


def write_ndjson(path: Path, events: list[dict[str, Any]]) -> Path:
    """Write ``events`` as NDJSON, one compact envelope a line."""
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


def write_fixture(path: Path, events: list[dict[str, Any]]) -> Path:
    """Write ``events`` in the golden fixture format (an object with an events list)."""
    path.write_text(json.dumps({"scenario": "test", "events": events}), encoding="utf-8")
    return path


def listed(cli: Cli, db_url: str, *extra: str) -> list[dict[str, Any]]:
    """``events list --json`` parsed (the result must be one JSON array)."""
    result = cli.ok("events", "list", "--json", "--db", db_url, *extra)
    events: list[dict[str, Any]] = json.loads(result.stdout)
    assert isinstance(events, list)
    return events


def import_json(cli: Cli, db_url: str, path: Path | str, *extra: str) -> dict[str, Any]:
    """``import --json`` of a file that must import fully; its report."""
    result = cli.ok("import", str(path), "--db", db_url, "--json", *extra)
    report: dict[str, Any] = json.loads(result.stdout)
    return report
