"""``replay``, ``project``, ``projection-status`` and ``verify``: output formats, exit
codes, tenants, and the rule that they need an existing database."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from decisiongraph.projections.engine import PROJECTION_NAMES
from tests.cli.helpers import Cli, golden_events, write_fixture
from tests.conftest import GOLDEN_SCENARIOS, expected_digests
from tests.projections.support import (
    CliProcess,
    execute_sql,
    poison_policy_event,
    raw_insert,
    wait_until,
)

DIGEST_KEYS = {"context_graph", "trace_summary", "precedent_index", "full_projection"}


def import_scenario(cli: Cli, tmp_path: Path, db_url: str, scenario: str, tenant: str) -> None:
    path = write_fixture(tmp_path / f"{scenario}.json", golden_events(scenario))
    cli.ok("import", str(path), "--db", db_url, "--tenant", tenant)


def status_json(cli: Cli, db_url: str, tenant: str, *extra: str) -> dict[str, Any]:
    result = cli.ok("projection-status", "--json", "--db", db_url, "--tenant", tenant, *extra)
    health: dict[str, Any] = json.loads(result.stdout)
    return health


@pytest.fixture
def dealdesk_db(cli: Cli, tmp_path: Path, db_url: str) -> str:
    """A SQLite database whose tenant ``acme`` holds the dealdesk scenario, unprojected."""
    import_scenario(cli, tmp_path, db_url, "dealdesk", "acme")
    return db_url


# ------------------------------------------------------------------------ replay


def test_replay_prints_the_spec_text_format(cli: Cli, dealdesk_db: str) -> None:
    result = cli.ok("replay", "--db", dealdesk_db, "--tenant", "acme")
    expected = expected_digests("dealdesk")
    assert result.stdout == (
        "Projection digests after replay:\n"
        f"  context_graph: {expected['context_graph']}\n"
        f"  full_projection: {expected['full_projection']}\n"
        f"  precedent_index: {expected['precedent_index']}\n"
        f"  trace_summary: {expected['trace_summary']}\n"
    )
    assert result.stderr == ""
    # The rebuilt projections are live: the tenant is up to date.
    health = status_json(cli, dealdesk_db, "acme")
    assert health["is_stale"] is False
    assert {p["status"] for p in health["projections"]} == {"ok"}


def test_replay_json_is_one_object_with_the_four_digests(cli: Cli, dealdesk_db: str) -> None:
    result = cli.ok(
        "replay", "--json", "--batch-size", "2", "--db", dealdesk_db, "--tenant", "acme"
    )
    digests = json.loads(result.stdout)
    assert set(digests) == DIGEST_KEYS
    assert digests == expected_digests("dealdesk")


def test_replay_repairs_a_damaged_live_projection(cli: Cli, dealdesk_db: str) -> None:
    cli.ok("project", "--db", dealdesk_db, "--tenant", "acme")
    execute_sql(dealdesk_db, [("DELETE FROM dg_precedent_index WHERE tenant_id = %s", ("acme",))])
    assert cli("verify", "--db", dealdesk_db, "--tenant", "acme").exit_code == 1
    result = cli.ok("replay", "--json", "--db", dealdesk_db, "--tenant", "acme")
    assert json.loads(result.stdout) == expected_digests("dealdesk")
    cli.ok("verify", "--db", dealdesk_db, "--tenant", "acme")


# ----------------------------------------------------------------------- project


def test_project_all_catches_every_tenant_up_once(cli: Cli, tmp_path: Path, db_url: str) -> None:
    for scenario in GOLDEN_SCENARIOS:
        import_scenario(cli, tmp_path, db_url, scenario, f"t-{scenario}")
    result = cli.ok("project", "--all", "--json", "--batch-size", "4", "--db", db_url)
    report = json.loads(result.stdout)
    assert set(report["tenants"]) == {f"t-{s}" for s in GOLDEN_SCENARIOS}
    for scenario in GOLDEN_SCENARIOS:
        info = report["tenants"][f"t-{scenario}"]
        tail = len(golden_events(scenario))
        assert info["applied"] == dict.fromkeys(PROJECTION_NAMES, tail)
        assert info["cursors"] == dict.fromkeys(PROJECTION_NAMES, tail)
        assert (info["tail_log_seq"], info["failed"]) == (tail, [])
        health = status_json(cli, db_url, f"t-{scenario}", "--include-digests")
        assert health["digests"] == expected_digests(scenario)
    assert report["total_applied"] == 3 * sum(len(golden_events(s)) for s in GOLDEN_SCENARIOS)

    again = cli.ok("project", "--all", "--db", db_url)
    for scenario in GOLDEN_SCENARIOS:
        assert f"Tenant 't-{scenario}': applied 0 event(s)" in again.stdout


def test_project_one_tenant_leaves_the_others(cli: Cli, tmp_path: Path, db_url: str) -> None:
    import_scenario(cli, tmp_path, db_url, "support", "one")
    import_scenario(cli, tmp_path, db_url, "support", "two")
    result = cli.ok("project", "--tenant", "one", "--db", db_url)
    assert result.stdout.startswith("Tenant 'one': applied 24 event(s) (context_graph 8, ")
    assert "'two'" not in result.stdout
    assert status_json(cli, db_url, "two")["projected_last_seq"] == 0


def test_project_refuses_tenant_and_all_together(cli: Cli, dealdesk_db: str) -> None:
    result = cli("project", "--all", "--tenant", "acme", "--db", dealdesk_db)
    assert result.exit_code == 2
    assert "either --tenant or --all" in result.stderr


def test_project_reports_a_parked_event_on_stderr(cli: Cli, dealdesk_db: str) -> None:
    trace_id = golden_events("dealdesk")[0]["trace_id"]
    cli.ok("project", "--db", dealdesk_db, "--tenant", "acme")
    # dealdesk's trace is finished; the poison opens a new trace after it.
    raw_insert(dealdesk_db, "acme", poison_policy_event(f"{trace_id}-p", 0))
    result = cli.ok("project", "--json", "--db", dealdesk_db, "--tenant", "acme")
    info = json.loads(result.stdout)["tenants"]["acme"]
    assert info["failed"] == ["trace_summary"]
    assert "projection trace_summary of tenant 'acme' is stopped" in result.stderr


def test_project_follow_runs_until_sigint(tmp_path: Path, cli: Cli, db_url: str) -> None:
    cli.ok("migrate", "--db", db_url)
    with CliProcess(
        tmp_path, "project", "--follow", "--all", "--json", "--db", db_url, name="follow"
    ) as worker:
        wait_until(lambda: "Projecting every tenant" in worker.stderr, timeout=30)
        import_scenario(cli, tmp_path, db_url, "release_rejected", "late")
        wait_until(
            lambda: status_json(cli, db_url, "late")["is_stale"] is False,
            timeout=10,
            what="the worker to project the new tenant",
        )
        worker.proc.send_signal(2)  # SIGINT, as Ctrl-C
        assert worker.wait(timeout=30) == 0, worker.stderr
        report = worker.json()
    assert report["tenants"]["late"]["applied"] == dict.fromkeys(PROJECTION_NAMES, 7)


# ------------------------------------------------------------- projection-status


def test_projection_status_json_is_the_sorted_health_object(cli: Cli, dealdesk_db: str) -> None:
    time.sleep(0.01)
    result = cli.ok("projection-status", "--json", "--db", dealdesk_db, "--tenant", "acme")
    health = json.loads(result.stdout)
    assert result.stdout == json.dumps(health, indent=2, sort_keys=True) + "\n"
    assert health["digests"] is None
    assert (health["tenant_id"], health["tail_log_seq"], health["event_count"]) == ("acme", 9, 9)
    assert (health["trace_count"], health["pending_events"], health["is_stale"]) == (1, 9, True)
    assert [p["projection"] for p in health["projections"]] == list(PROJECTION_NAMES)
    assert all(p["status"] == "catching_up" and p["lag_events"] == 9 for p in health["projections"])
    assert all(p["lag_seconds"] > 0 for p in health["projections"])

    cli.ok("project", "--db", dealdesk_db, "--tenant", "acme")
    health = status_json(cli, dealdesk_db, "acme", "--include-digests")
    assert health["digests"] == expected_digests("dealdesk")
    assert health["projected_last_seq"] == 9


def test_projection_status_text_has_a_row_per_projection(cli: Cli, dealdesk_db: str) -> None:
    cli.ok("project", "--db", dealdesk_db, "--tenant", "acme")
    result = cli.ok(
        "projection-status", "--include-digests", "--db", dealdesk_db, "--tenant", "acme"
    )
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Tenant 'acme': 9 event(s) in 1 trace(s), tail log_seq 9;")
    rows = [[cell.strip() for cell in line.split("\u2502")[1:-1]] for line in lines]
    assert [row[:3] for row in rows if row and row[0] in PROJECTION_NAMES] == [
        [name, "ok", "9"] for name in PROJECTION_NAMES
    ]
    assert f"  full_projection: {expected_digests('dealdesk')['full_projection']}" in lines


# ------------------------------------------------------------------------ verify


def test_verify_exit_codes(cli: Cli, dealdesk_db: str) -> None:
    cli.ok("project", "--db", dealdesk_db, "--tenant", "acme")
    result = cli.ok("verify", "--json", "--db", dealdesk_db, "--tenant", "acme")
    report = json.loads(result.stdout)
    assert (report["all_equal"], report["exit_code"], report["tail_log_seq"]) == (True, 0, 9)
    for check in report["projections"]:
        assert check["cursor"] == 9
        assert check["live_digest"] == check["replay_digest"]
        assert check["live_digest"] == expected_digests("dealdesk")[check["projection"]]
        assert (check["equal"], check["status"], check["error"]) == (True, "ok", None)
    text = cli.ok("verify", "--db", dealdesk_db, "--tenant", "acme").stdout
    assert "match a replay of the log" in text

    # A live row changed behind the projector's back: a difference, exit 1.
    execute_sql(
        dealdesk_db,
        [("UPDATE dg_trace_summary SET title = %s WHERE tenant_id = %s", ("edited", "acme"))],
    )
    result = cli("verify", "--json", "--db", dealdesk_db, "--tenant", "acme")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert {c["projection"]: c["equal"] for c in report["projections"]} == {
        "context_graph": True,
        "precedent_index": True,
        "trace_summary": False,
    }
    plain = cli("verify", "--db", dealdesk_db, "--tenant", "acme")
    assert plain.exit_code == 1
    assert "MISMATCH in tenant 'acme': trace_summary" in plain.stdout

    # A failed projection wins: exit 3.
    cli.ok("replay", "--db", dealdesk_db, "--tenant", "acme")
    trace_id = golden_events("dealdesk")[0]["trace_id"]
    raw_insert(dealdesk_db, "acme", poison_policy_event(f"{trace_id}-p", 0))
    cli.ok("project", "--db", dealdesk_db, "--tenant", "acme")
    result = cli("verify", "--json", "--db", dealdesk_db, "--tenant", "acme")
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    checks = {c["projection"]: c for c in report["projections"]}
    assert checks["trace_summary"]["status"] == "failed"
    assert checks["trace_summary"]["cursor"] == 9
    assert checks["trace_summary"]["equal"] is True  # right up to where it stopped
    # The graph went past the poison, which the scratch store refuses to append.
    assert checks["context_graph"]["cursor"] == 10
    assert checks["context_graph"]["equal"] is False
    assert "DG_ERR_SCHEMA_VIOLATION" in checks["context_graph"]["error"]
    plain = cli("verify", "--db", dealdesk_db, "--tenant", "acme")
    assert plain.exit_code == 3
    assert "Failed projection(s) in tenant 'acme': trace_summary" in plain.stdout


def test_verify_of_an_empty_tenant_passes(cli: Cli, dealdesk_db: str) -> None:
    result = cli.ok("verify", "--json", "--db", dealdesk_db, "--tenant", "nobody")
    assert json.loads(result.stdout)["exit_code"] == 0


# ----------------------------------------------------------- databases, backends


@pytest.mark.parametrize(
    "command",
    [
        ["replay"],
        ["replay", "--json"],
        ["project"],
        ["project", "--all"],
        ["projection-status"],
        ["projection-status", "--json"],
        ["verify"],
    ],
)
def test_commands_refuse_a_missing_database(
    cli: Cli, db_path: Path, db_url: str, command: list[str]
) -> None:
    result = cli(*command, "--db", db_url)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: DG_ERR_STORAGE: Database file ")
    assert not db_path.exists()


@pytest.mark.postgres
def test_the_commands_on_postgresql(cli: Cli, tmp_path: Path, pg_url: str) -> None:
    import_scenario(cli, tmp_path, pg_url, "release_rejected", "acme")
    expected = expected_digests("release_rejected")
    report = json.loads(cli.ok("project", "--all", "--json", "--db", pg_url).stdout)
    assert report["tenants"]["acme"]["cursors"] == dict.fromkeys(PROJECTION_NAMES, 7)
    assert status_json(cli, pg_url, "acme", "--include-digests")["digests"] == expected
    assert json.loads(cli.ok("replay", "--json", "--db", pg_url, "--tenant", "acme").stdout) == (
        expected
    )
    cli.ok("verify", "--db", pg_url, "--tenant", "acme")
    execute_sql(pg_url, [("DELETE FROM dg_cg_edges WHERE tenant_id = %s", ("acme",))])
    assert cli("verify", "--db", pg_url, "--tenant", "acme").exit_code == 1
