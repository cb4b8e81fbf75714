"""``decisiongraph import``: formats, idempotent re-import, big integers, and stopping at
the first rejected event with exactly the events before it committed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.helpers import (
    BIG,
    Cli,
    big_int_event,
    golden_events,
    import_json,
    listed,
    trace_dicts,
    write_array,
    write_fixture,
    write_ndjson,
)
from tests.conftest import GOLDEN_DIR, GOLDEN_SCENARIOS


@pytest.mark.parametrize("scenario", GOLDEN_SCENARIOS)
def test_golden_fixture_imports_then_reimport_adds_nothing(
    cli: Cli, db_url: str, scenario: str
) -> None:
    path = GOLDEN_DIR / scenario / "events.json"
    expected = golden_events(scenario)

    first = import_json(cli, db_url, path)
    second = import_json(cli, db_url, path)

    assert first["format"] == "fixture"
    assert (first["new"], first["reused"], first["total"]) == (len(expected), 0, len(expected))
    assert (second["new"], second["reused"]) == (0, len(expected))
    assert second["last_log_seq"] == len(expected)
    stored = listed(cli, db_url)
    assert [e["event_id"] for e in stored] == [e["event_id"] for e in expected]
    assert [e["log_seq"] for e in stored] == list(range(1, len(expected) + 1))
    assert [e["payload"] for e in stored] == [e["payload"] for e in expected]


def test_text_report_names_new_reused_and_total(cli: Cli, db_url: str, tmp_path: Path) -> None:
    path = write_array(tmp_path / "t.json", trace_dicts("t-1", 3))

    first = cli.ok("import", str(path), "--db", db_url)
    second = cli.ok("import", str(path), "--db", db_url)

    assert "Imported 3 event(s)" in first.stdout
    assert "3 new, 0 reused" in first.stdout
    assert "0 new, 3 reused" in second.stdout
    assert first.stderr == ""  # no progress bar or noise when stderr is not a terminal


@pytest.mark.parametrize("writer", [write_array, write_ndjson, write_fixture])
def test_each_file_format_imports_in_file_order(
    cli: Cli, db_url: str, tmp_path: Path, writer: Any
) -> None:
    events = trace_dicts("t-a", 4) + trace_dicts("t-b", 2, finish=False)
    path = writer(tmp_path / "events.in", events)

    report = import_json(cli, db_url, path)

    assert report["new"] == 6
    assert [e["event_id"] for e in listed(cli, db_url)] == [e["event_id"] for e in events]


def test_ndjson_from_stdin(cli: Cli, db_url: str) -> None:
    events = trace_dicts("t-stdin", 3)
    text = "".join(json.dumps(e) + "\n" for e in events)

    result = cli.ok("import", "-", "--db", db_url, "--json", stdin=text)

    report = json.loads(result.stdout)
    assert (report["source"], report["format"], report["new"]) == ("<stdin>", "ndjson", 3)
    assert [e["event_id"] for e in listed(cli, db_url)] == [e["event_id"] for e in events]


def test_fixture_from_stdin(cli: Cli, db_url: str) -> None:
    data = (GOLDEN_DIR / "support" / "events.json").read_bytes()

    result = cli.ok("import", "-", "--db", db_url, "--json", stdin=data)

    assert json.loads(result.stdout)["new"] == len(golden_events("support"))


def test_fourth_event_rejected_stops_with_exactly_three_committed(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    events = golden_events("dealdesk")
    events[3] = {**events[3], "trace_seq": 7}  # a gap in the trace
    path = write_fixture(tmp_path / "bad.json", events)

    result = cli("import", str(path), "--db", db_url)

    assert result.exit_code == 1
    message = result.stderr.strip()
    assert "\n" not in message
    assert message.startswith("Error: event 3 ")
    assert repr(events[3]["event_id"]) in message
    assert "DG_ERR_EVENT_SEQUENCE_INVALID" in message
    assert "3 new, 0 reused" in result.stdout
    assert "Traceback" not in result.stderr
    assert [e["event_id"] for e in listed(cli, db_url)] == [e["event_id"] for e in events[:3]]


def test_rejected_event_with_json_reports_the_failure_in_one_document(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    events = golden_events("dealdesk")
    events[3] = {**events[3], "trace_seq": 7}
    path = write_fixture(tmp_path / "bad.json", events)

    result = cli("import", str(path), "--db", db_url, "--json")

    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["error"] == {
        "index": 3,
        "event_id": events[3]["event_id"],
        "code": "DG_ERR_EVENT_SEQUENCE_INVALID",
        "message": report["error"]["message"],
    }
    assert (report["new"], report["reused"], report["last_log_seq"]) == (3, 0, 3)


@pytest.mark.parametrize(("batch_size", "bad_index"), [(4, 6), (2, 5), (1, 5), (500, 8)])
@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("event_type", "NoSuchType", "DG_ERR_SCHEMA_VIOLATION"),  # rejected before the store
        ("trace_seq", 99, "DG_ERR_EVENT_SEQUENCE_INVALID"),  # rejected by the store's plan
    ],
)
def test_failure_inside_a_later_batch_keeps_the_valid_events_before_it(
    cli: Cli,
    db_url: str,
    tmp_path: Path,
    batch_size: int,
    bad_index: int,
    field: str,
    value: object,
    code: str,
) -> None:
    events = golden_events("dealdesk")
    events[bad_index] = {**events[bad_index], field: value}
    path = write_ndjson(tmp_path / "bad.ndjson", events)

    result = cli("import", str(path), "--db", db_url, "--batch-size", str(batch_size))

    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: event {bad_index} (line {bad_index + 1}, event_id ")
    assert code in result.stderr
    stored = listed(cli, db_url)
    assert [e["event_id"] for e in stored] == [e["event_id"] for e in events[:bad_index]]


def test_rerun_after_fixing_the_file_resumes_with_reuses(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    events = golden_events("release_rejected")
    broken = [*events[:4], {**events[4], "trace_seq": 9}, *events[5:]]
    assert cli("import", str(write_array(tmp_path / "b.json", broken)), "--db", db_url).exit_code

    report = import_json(
        cli, db_url, write_array(tmp_path / "ok.json", events), "--batch-size", "3"
    )

    assert (report["new"], report["reused"]) == (len(events) - 4, 4)


def test_malformed_envelope_is_reported_by_index_after_committing_the_ones_before(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    events = trace_dicts("t-m", 4)
    del events[2]["payload"]
    path = write_array(tmp_path / "m.json", events)

    result = cli("import", str(path), "--db", db_url, "--batch-size", "10")

    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: event 2 (event_id {events[2]['event_id']!r})")
    assert "DG_ERR_SCHEMA_VIOLATION: $.payload is required" in result.stderr
    assert len(listed(cli, db_url)) == 2


def test_a_record_that_is_not_an_object_is_reported_by_index(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    events: list[Any] = [*trace_dicts("t-n", 2, finish=False), 42]
    path = write_array(tmp_path / "n.json", events)

    result = cli("import", str(path), "--db", db_url)

    assert result.exit_code == 1
    assert "event 2 (no event_id) rejected: DG_ERR_SCHEMA_VIOLATION" in result.stderr
    assert len(listed(cli, db_url)) == 2


def test_a_big_integer_survives_import_and_events_list_exactly(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    path = write_ndjson(tmp_path / "big.ndjson", [big_int_event("t-big")])

    import_json(cli, db_url, path)
    result = cli.ok("events", "list", "--json", "--db", db_url)

    assert str(BIG) in result.stdout
    payload = json.loads(result.stdout)[0]["payload"]
    assert payload["amount_minor_units"] == BIG
    assert type(payload["amount_minor_units"]) is int
    assert payload["nested"] == {"n": [BIG]}


def test_a_float_in_a_payload_is_rejected_with_its_path(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    event = trace_dicts("t-f", 1, finish=False)[0]
    event["payload"]["ratio"] = 0.5
    path = write_array(tmp_path / "f.json", [event])

    result = cli("import", str(path), "--db", db_url)

    assert result.exit_code == 1
    assert "DG_ERR_SCHEMA_VIOLATION" in result.stderr
    assert "$.payload.ratio" in result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[{"event_id": "a", "event_id": "b"}]', "duplicate object key 'event_id'"),
        ('[{"payload": {"n": NaN}}]', "NaN is not allowed"),
        ('{"events": [{"x": -Infinity}]}', "-Infinity is not allowed"),
        ('[{"event_id": ', "Invalid JSON in"),
        ('"just a string"', "holds no envelopes"),
        ('{"events": {"not": "a list"}}', "'events' must be a JSON array"),
    ],
)
def test_invalid_input_is_exit_1_and_creates_nothing(
    cli: Cli, db_path: Path, db_url: str, tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")

    result = cli("import", str(path), "--db", db_url)

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: DG_ERR_INVALID_ARGUMENT: ")
    assert expected in result.stderr
    assert result.stderr.count("\n") == 1
    assert not db_path.exists()


def test_a_bad_ndjson_line_is_named_and_nothing_is_imported(
    cli: Cli, db_path: Path, db_url: str, tmp_path: Path
) -> None:
    lines = [json.dumps(e) for e in trace_dicts("t-l", 3)]
    lines[1] = lines[1][:-1] + ', "tags": []}'  # a duplicate "tags" key on line 2
    path = tmp_path / "l.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = cli("import", str(path), "--db", db_url)

    assert result.exit_code == 1
    assert f"{path} line 2: duplicate object key 'tags'" in result.stderr
    assert not db_path.exists()


def test_a_missing_input_file_is_exit_1(cli: Cli, db_url: str, tmp_path: Path) -> None:
    result = cli("import", str(tmp_path / "nope.json"), "--db", db_url)

    assert result.exit_code == 1
    assert "Cannot read" in result.stderr
    assert "No such file or directory" in result.stderr


def test_an_empty_input_imports_nothing(cli: Cli, db_url: str) -> None:
    result = cli.ok("import", "-", "--db", db_url, "--json", stdin="")

    assert json.loads(result.stdout)["total"] == 0


@pytest.mark.parametrize(
    "args",
    [
        ["import"],
        ["import", "x.json", "--batch-size", "0"],
        ["import", "x.json", "--batch-size", "many"],
        ["import", "x.json", "--tenant", "not a tenant"],
        ["import", "x.json", "--tenant", "*"],
        ["import", "x.json", "--db", ""],
    ],
)
def test_bad_arguments_exit_2(cli: Cli, args: list[str]) -> None:
    result = cli(*args)

    assert result.exit_code == 2
    assert result.stdout == ""


def test_tenants_are_isolated(cli: Cli, db_url: str, tmp_path: Path) -> None:
    path = write_array(tmp_path / "t.json", trace_dicts("t-iso", 3))

    first = import_json(cli, db_url, path, "--tenant", "a")
    in_b = import_json(cli, db_url, path, "--tenant", "b")

    assert first["new"] == in_b["new"] == 3  # the same keys are unrelated across tenants
    assert {e["tenant_id"] for e in listed(cli, db_url, "--tenant", "a")} == {"a"}
    assert listed(cli, db_url, "--tenant", "c") == []
    assert listed(cli, db_url) == []  # the default tenant holds nothing


def test_dg_tenant_environment_variable_selects_the_tenant(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    path = write_array(tmp_path / "t.json", trace_dicts("t-env", 2))

    result = cli("import", str(path), "--db", db_url, env={"DG_TENANT": "from-env"})

    assert result.exit_code == 0, result.stderr
    assert len(listed(cli, db_url, "--tenant", "from-env")) == 2
