"""The installed ``decisiongraph`` console script, run as a real process: exit codes,
stdout/stderr separation, stdin, and no tracebacks for domain errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from decisiongraph.store.sqlite import SQLiteEventStore
from tests.cli.helpers import BIG, big_int_event, trace_dicts
from tests.conftest import GOLDEN_DIR, load_golden

LATEST = SQLiteEventStore.latest_schema_version()

SCRIPT = Path(sys.executable).parent / "decisiongraph"


def run(
    *args: str, cwd: Path, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run the console script with a clean DG_* environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DG_")}
    assert SCRIPT.is_file(), f"console script not installed at {SCRIPT}: pip install -e ."
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env={**clean, **(env or {})},
        timeout=120,
        check=False,
    )


def test_a_whole_session_through_the_real_script(tmp_path: Path) -> None:
    migrate = run("migrate", "--json", cwd=tmp_path)
    assert migrate.returncode == 0, migrate.stderr
    assert json.loads(migrate.stdout)["schema_version"] == LATEST

    events = [big_int_event("t-big"), *trace_dicts("t-2", 3)]
    ndjson = "".join(json.dumps(e) + "\n" for e in events).encode()
    imported = run("import", "-", "--json", cwd=tmp_path, stdin=ndjson)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["new"] == 4

    listed = run("events", "list", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr == b""
    stored = json.loads(listed.stdout)
    assert [e["event_id"] for e in stored] == [e["event_id"] for e in events]
    assert stored[0]["payload"]["amount_minor_units"] == BIG

    again = run("import", "-", cwd=tmp_path, stdin=ndjson)
    assert b"0 new, 4 reused" in again.stdout


def test_dump_trace_is_byte_identical_across_processes(tmp_path: Path) -> None:
    fixture = GOLDEN_DIR / "dealdesk" / "events.json"
    env = {"DG_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "DG_TENANT": "acme"}
    assert run("import", str(fixture), cwd=tmp_path, env=env).returncode == 0
    trace_id = load_golden("dealdesk")["trace_id"]

    first = run("dump-trace", trace_id, "--include-payload", cwd=tmp_path, env=env)
    second = run("dump-trace", trace_id, "--include-payload", cwd=tmp_path, env=env)

    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert len(json.loads(first.stdout)) == 9


def test_domain_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    result = run("events", "list", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.startswith(b"Error: DG_ERR_STORAGE: Database file")
    assert result.stderr.count(b"\n") == 1
    assert b"Traceback" not in result.stderr
    assert not (tmp_path / "decisiongraph.db").exists()


def test_a_rejected_import_event_is_exit_1_without_traceback(tmp_path: Path) -> None:
    events = trace_dicts("t-bad", 5)
    events[3]["trace_seq"] = 40
    ndjson = "".join(json.dumps(e) + "\n" for e in events).encode()

    result = run("import", "-", cwd=tmp_path, stdin=ndjson)

    assert result.returncode == 1
    assert b"Traceback" not in result.stderr
    assert result.stderr.startswith(b"Error: event 3 (line 4, event_id ")
    assert b"DG_ERR_EVENT_SEQUENCE_INVALID" in result.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ([], 2),
        (["--help"], 0),
        (["--version"], 0),
        (["no-such-command"], 2),
        (["bench", "--help"], 0),
    ],
)
def test_exit_codes_without_a_store(tmp_path: Path, args: list[str], code: int) -> None:
    result = run(*args, cwd=tmp_path)

    assert result.returncode == code, result.stderr
    assert b"Traceback" not in result.stderr
    if not args:
        assert b"Usage: decisiongraph" in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []
