"""``decisiongraph events list``: paging by log_seq, the JSON shape, the table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from decisiongraph.domain.envelope import envelope_from_dict
from tests.cli.helpers import Cli, golden_events, import_json, listed
from tests.conftest import GOLDEN_DIR

STORED_FIELDS = {
    "tenant_id",
    "log_seq",
    "event_id",
    "trace_id",
    "trace_seq",
    "event_type",
    "occurred_at",
    "recorded_at",
    "source",
    "actor",
    "correlation_id",
    "causation_event_id",
    "idempotency_key",
    "schema_version",
    "tags",
    "payload_hash",
    "payload",
}


@pytest.fixture
def dealdesk_url(cli: Cli, db_url: str) -> str:
    """A database whose default tenant holds the dealdesk scenario (9 events)."""
    import_json(cli, db_url, GOLDEN_DIR / "dealdesk" / "events.json")
    return db_url


def test_json_lists_every_stored_field_in_log_seq_order(cli: Cli, dealdesk_url: str) -> None:
    events = listed(cli, dealdesk_url)
    expected = golden_events("dealdesk")

    assert [e["log_seq"] for e in events] == list(range(1, 10))
    for stored, given in zip(events, expected, strict=True):
        assert set(stored) == STORED_FIELDS
        assert stored["tenant_id"] == "default"
        assert stored["payload_hash"].startswith("sha256:")
        assert stored["recorded_at"].endswith("Z")
        envelope = {k: v for k, v in stored.items() if k in given}
        assert envelope_from_dict(envelope) == envelope_from_dict(given)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], list(range(1, 10))),
        (["--since", "3"], list(range(4, 10))),
        (["--since", "3", "--limit", "4"], [4, 5, 6, 7]),
        (["--limit", "1"], [1]),
        (["--since", "9"], []),
        (["--since", "1000"], []),
    ],
)
def test_since_is_exclusive_and_limit_caps(
    cli: Cli, dealdesk_url: str, args: list[str], expected: list[int]
) -> None:
    assert [e["log_seq"] for e in listed(cli, dealdesk_url, *args)] == expected


def test_json_output_is_exactly_one_document(cli: Cli, dealdesk_url: str) -> None:
    result = cli.ok("events", "list", "--json", "--db", dealdesk_url)

    decoder = json.JSONDecoder()
    document, end = decoder.raw_decode(result.stdout)
    assert isinstance(document, list)
    assert result.stdout[end:] == "\n"
    assert result.stderr == ""


@pytest.mark.parametrize(
    "args",
    [["--limit", "0"], ["--limit", "10001"], ["--since", "-1"], ["--limit", "x"]],
)
def test_out_of_range_paging_is_a_usage_error(cli: Cli, dealdesk_url: str, args: list[str]) -> None:
    result = cli("events", "list", "--db", dealdesk_url, *args)

    assert result.exit_code == 2
    assert result.stdout == ""


def test_the_table_shows_each_event_and_how_to_page_on(cli: Cli, dealdesk_url: str) -> None:
    result = cli.ok("events", "list", "--db", dealdesk_url, "--since", "2", "--limit", "3")

    for event in golden_events("dealdesk")[2:5]:
        assert event["event_id"] in result.stdout
        assert event["event_type"] in result.stdout
    assert golden_events("dealdesk")[5]["event_id"] not in result.stdout
    assert "3 event(s) of tenant 'default' after log_seq 2" in result.stdout
    assert "more may follow: --since 5" in result.stdout


def test_the_table_of_an_empty_tenant_says_so(cli: Cli, dealdesk_url: str) -> None:
    result = cli.ok("events", "list", "--db", dealdesk_url, "--tenant", "empty")

    assert result.stdout.strip() == "No events in tenant 'empty' after log_seq 0."


def test_events_with_no_subcommand_is_a_usage_error(cli: Cli) -> None:
    assert cli("events").exit_code == 2


def test_non_ascii_text_is_written_as_utf8(cli: Cli, db_url: str, tmp_path: Path) -> None:
    event = golden_events("support")[0]
    event = {**event, "payload": {**event["payload"], "title": "Réclamation ✓ 日本"}}
    path = tmp_path / "u.json"
    path.write_text(json.dumps([event], ensure_ascii=False), encoding="utf-8")
    import_json(cli, db_url, path)

    result = cli.ok("events", "list", "--json", "--db", db_url)

    assert "Réclamation ✓ 日本" in result.stdout  # not \\u-escaped
    assert json.loads(result.stdout)[0]["payload"]["title"] == "Réclamation ✓ 日本"
