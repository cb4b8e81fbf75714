"""``decisiongraph demo``: the built-in refund-approval trace, imported idempotently into
tenant ``demo``."""

from __future__ import annotations

import json

from decisiongraph.cli.demo_trace import DEMO_TENANT, DEMO_TRACE_ID, demo_records
from decisiongraph.domain.event_types import ALL_EVENT_TYPES
from tests.cli.helpers import Cli, listed
from tests.conftest import GOLDEN_SCENARIOS, load_golden


def test_demo_imports_the_trace_and_prints_it(cli: Cli, db_url: str) -> None:
    result = cli.ok("demo", "--db", db_url)

    records = demo_records()
    assert f"Imported {len(records)} events: {len(records)} new, 0 reused" in result.stdout
    stored = listed(cli, db_url, "--tenant", DEMO_TENANT)
    assert [e["event_id"] for e in stored] == [r["event_id"] for r in records]
    assert stored[-1]["event_type"] == "TraceFinished"
    dumped = cli.ok("dump-trace", DEMO_TRACE_ID, "--db", db_url, "--tenant", DEMO_TENANT).stdout
    assert dumped in result.stdout
    assert listed(cli, db_url) == []  # nothing in the default tenant


def test_demo_is_idempotent(cli: Cli, db_url: str) -> None:
    cli.ok("demo", "--db", db_url)

    second = cli.ok("demo", "--db", db_url)

    count = len(demo_records())
    assert f"{count} events: 0 new, {count} reused" in second.stdout
    assert len(listed(cli, db_url, "--tenant", DEMO_TENANT)) == count


def test_demo_include_payload_prints_payloads(cli: Cli, db_url: str) -> None:
    result = cli.ok("demo", "--db", db_url, "--include-payload")

    assert '"workflow": "refund_approval"' in result.stdout
    assert '"payload_hash": "sha256:' in result.stdout


def test_demo_trace_is_our_own_and_uses_the_main_event_types() -> None:
    records = demo_records()
    golden_ids = {
        e["event_id"] for scenario in GOLDEN_SCENARIOS for e in load_golden(scenario)["events"]
    }

    assert not golden_ids & {r["event_id"] for r in records}
    types = [r["event_type"] for r in records]
    assert types[0] == "TraceStarted"
    assert types[-1] == "TraceFinished"
    assert set(types) <= set(ALL_EVENT_TYPES)
    assert {"PolicyEvaluated", "ExceptionRequested", "ApprovalRecorded", "ActionCommitted"} <= (
        set(types)
    )
    assert json.loads(json.dumps(records)) == records  # plain JSON data
    assert demo_records() == records
    assert demo_records() is not records
