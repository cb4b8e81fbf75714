"""``import`` and ``events list`` against PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.helpers import (
    BIG,
    Cli,
    big_int_event,
    golden_events,
    import_json,
    listed,
    write_fixture,
    write_ndjson,
)
from tests.conftest import GOLDEN_DIR, GOLDEN_SCENARIOS, load_golden

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("scenario", GOLDEN_SCENARIOS)
def test_golden_import_and_reimport_on_postgres(cli: Cli, pg_url: str, scenario: str) -> None:
    path = GOLDEN_DIR / scenario / "events.json"
    expected = golden_events(scenario)

    first = import_json(cli, pg_url, path, "--tenant", "pg-a")
    second = import_json(cli, pg_url, path, "--tenant", "pg-a")

    assert (first["new"], first["reused"]) == (len(expected), 0)
    assert (second["new"], second["reused"]) == (0, len(expected))
    stored = listed(cli, pg_url, "--tenant", "pg-a")
    assert [e["event_id"] for e in stored] == [e["event_id"] for e in expected]
    assert [e["log_seq"] for e in stored] == list(range(1, len(expected) + 1))
    assert listed(cli, pg_url, "--tenant", "pg-b") == []


def test_failure_in_a_later_batch_on_postgres(cli: Cli, pg_url: str, tmp_path: Path) -> None:
    events = golden_events("dealdesk")
    events[6] = {**events[6], "trace_seq": 42}
    path = write_fixture(tmp_path / "bad.json", events)

    result = cli("import", str(path), "--db", pg_url, "--batch-size", "4", "--json")

    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["error"]["index"] == 6
    assert report["error"]["code"] == "DG_ERR_EVENT_SEQUENCE_INVALID"
    assert "event 6 " in result.stderr
    assert [e["event_id"] for e in listed(cli, pg_url)] == [e["event_id"] for e in events[:6]]


def test_big_integer_and_paging_on_postgres(cli: Cli, pg_url: str, tmp_path: Path) -> None:
    path = write_ndjson(tmp_path / "big.ndjson", [big_int_event("t-big")])
    import_json(cli, pg_url, path)
    import_json(cli, pg_url, GOLDEN_DIR / "support" / "events.json")

    stored = listed(cli, pg_url)
    page = listed(cli, pg_url, "--since", "2", "--limit", "3")

    assert stored[0]["payload"]["amount_minor_units"] == BIG
    assert [e["log_seq"] for e in page] == [3, 4, 5]


def test_dump_trace_on_postgres(cli: Cli, pg_url: str) -> None:
    import_json(cli, pg_url, GOLDEN_DIR / "dealdesk" / "events.json")
    trace_id = load_golden("dealdesk")["trace_id"]

    first = cli.ok("dump-trace", trace_id, "--db", pg_url, "--include-payload")
    second = cli.ok("dump-trace", trace_id, "--db", pg_url, "--include-payload")

    assert first.stdout_bytes == second.stdout_bytes
    assert [row["log_seq"] for row in json.loads(first.stdout)] == list(range(1, 10))
