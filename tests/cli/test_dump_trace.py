"""``decisiongraph dump-trace``: the spec section 9 JSON format, byte-identical reruns."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cli.helpers import Cli, golden_events, import_json, listed
from tests.conftest import GOLDEN_DIR, load_golden

DEFAULT_FIELDS = {
    "log_seq",
    "event_id",
    "trace_id",
    "trace_seq",
    "event_type",
    "occurred_at",
    "recorded_at",
}
PAYLOAD_FIELDS = {
    "source",
    "actor",
    "correlation_id",
    "causation_event_id",
    "idempotency_key",
    "schema_version",
    "payload",
    "payload_hash",
    "tags",
}


@pytest.fixture
def support_url(cli: Cli, db_url: str) -> str:
    """A database whose default tenant holds the support scenario."""
    import_json(cli, db_url, GOLDEN_DIR / "support" / "events.json")
    return db_url


def _expected(stored: list[dict[str, Any]], fields: set[str]) -> str:
    rows = [{k: v for k, v in event.items() if k in fields} for event in stored]
    return json.dumps(rows, indent=2, sort_keys=True) + "\n"


def test_default_fields_in_the_spec_format(cli: Cli, support_url: str) -> None:
    trace_id = load_golden("support")["trace_id"]

    result = cli.ok("dump-trace", trace_id, "--db", support_url)

    rows = json.loads(result.stdout)
    assert [set(row) for row in rows] == [DEFAULT_FIELDS] * len(rows)
    assert [row["trace_seq"] for row in rows] == list(range(len(golden_events("support"))))
    assert result.stdout == _expected(listed(cli, support_url), DEFAULT_FIELDS)


def test_include_payload_adds_the_envelope_fields(cli: Cli, support_url: str) -> None:
    trace_id = load_golden("support")["trace_id"]

    result = cli.ok("dump-trace", trace_id, "--include-payload", "--db", support_url)

    rows = json.loads(result.stdout)
    assert [set(row) for row in rows] == [DEFAULT_FIELDS | PAYLOAD_FIELDS] * len(rows)
    assert result.stdout == _expected(listed(cli, support_url), DEFAULT_FIELDS | PAYLOAD_FIELDS)
    for row, given in zip(rows, golden_events("support"), strict=True):
        assert row["payload"] == given["payload"]
        assert row["source"] == given["source"]
        assert row["actor"] == given["actor"]
        assert row["tags"] == given["tags"]


@pytest.mark.parametrize("flags", [[], ["--include-payload"]])
def test_reruns_are_byte_identical(cli: Cli, support_url: str, flags: list[str]) -> None:
    trace_id = load_golden("support")["trace_id"]
    args = ["dump-trace", trace_id, "--db", support_url, *flags]

    assert cli.ok(*args).stdout_bytes == cli.ok(*args).stdout_bytes


def test_a_missing_trace_is_exit_1_on_stderr(cli: Cli, support_url: str) -> None:
    result = cli("dump-trace", "no-such-trace", "--db", support_url)

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: DG_ERR_NOT_FOUND: Trace 'no-such-trace' not found in tenant 'default'\n"
    )


def test_a_trace_of_another_tenant_is_not_found(cli: Cli, support_url: str) -> None:
    trace_id = load_golden("support")["trace_id"]

    result = cli("dump-trace", trace_id, "--db", support_url, "--tenant", "other")

    assert result.exit_code == 1
    assert "DG_ERR_NOT_FOUND" in result.stderr
