"""``decisiongraph bench projector``: a tiny run on each backend prints every figure.

Only the shape of the report is checked: benchmarks never assert timings in tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from decisiongraph.cli.bench_projector import CATCH_UP_TARGETS, PRECEDENTS_ALL, QUERIES
from tests.cli.helpers import Cli

TRACES = 30
CALLS = 5
RATES = ("load", "catch_up", "rebuild")
RATE_FIELDS = ("events_per_s", "seconds", "client_cpu_us_per_event")
LATENCY_FIELDS = ("p50_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms")


def _bench(cli: Cli, *args: str) -> dict[str, Any]:
    result = cli.ok(
        "bench", "projector", "--traces", str(TRACES), "--queries", str(CALLS), "--json", *args
    )
    report: dict[str, Any] = json.loads(result.stdout)
    assert "catch-up" in result.stderr  # progress goes to stderr
    return report


def _positive(value: object, where: tuple[str, ...]) -> None:
    assert isinstance(value, int | float), (where, value)
    assert not isinstance(value, bool), (where, value)
    assert value > 0, (where, value)


def _assert_figures(report: dict[str, Any], backend: str) -> None:
    assert report["benchmark"] == "projector"
    assert list(report["backends"]) == [backend]
    assert report["machine"]["cpu_count"] >= 1
    workload = report["workload"]
    assert workload["traces"] == TRACES
    assert workload["events"] == TRACES * 10
    assert workload["queries_per_kind"] == CALLS
    for name in ("mean", "min", "max"):
        _positive(workload["payload_bytes"][name], ("payload_bytes", name))
    result = report["backends"][backend]
    assert result["setup"]["version"]
    rows = result["projection_rows"]
    assert rows["trace_summaries"] == TRACES
    assert rows["precedent_rows"] == 2 * TRACES  # PolicyEvaluated + ExceptionRequested
    for name in ("graph_nodes", "graph_edges"):
        _positive(rows[name], ("projection_rows", name))
    for key in RATES:
        figure = result[key]
        assert figure["events"] == TRACES * 10, key
        for name in RATE_FIELDS:
            _positive(figure[name], (key, name))
    for key in ("catch_up", "rebuild"):
        assert result[key]["applied"] == 3 * TRACES * 10, key  # three projections
    catch_up = result["catch_up"]
    assert catch_up["target_events_per_s"] == CATCH_UP_TARGETS[backend]
    assert isinstance(catch_up["meets_target"], bool)
    queries = result["queries"]
    assert set(queries) == {*QUERIES, PRECEDENTS_ALL}
    for key, figure in queries.items():
        expected_calls = CALLS * 7 if key == PRECEDENTS_ALL else CALLS
        assert figure["calls"] == expected_calls, key
        for name in LATENCY_FIELDS:
            _positive(figure[name], (key, name))
        assert figure["p50_ms"] <= figure["p95_ms"] <= figure["p99_ms"] <= figure["max_ms"]
        if "target" in figure:
            assert isinstance(figure["meets_target"], bool), key
    # Queries that always find something: the answers are real, not empty.
    for key in ("precedents_common_policy", "subgraph_trace", "subgraph_entity"):
        _positive(queries[key]["mean_results"], (key, "mean_results"))
    assert queries["trace_read"]["mean_results"] == 10
    assert queries["trace_summary"]["mean_results"] == 10


def test_sqlite_only(cli: Cli, tmp_path: Path) -> None:
    report = _bench(cli, "--backend", "sqlite", "--sqlite-dir", str(tmp_path))
    _assert_figures(report, "sqlite")
    assert report["backends"]["sqlite"]["setup"]["settings"] == {
        "journal_mode": "wal",
        "synchronous": "FULL",
    }
    assert list(tmp_path.iterdir()) == []  # the throwaway database is removed


@pytest.mark.postgres
def test_postgres_only(cli: Cli, pg_url: str) -> None:
    report = _bench(cli, "--backend", "postgres", "--postgres-url", pg_url)
    _assert_figures(report, "postgres")
    setup = report["backends"]["postgres"]["setup"]
    assert setup["settings"]["autovacuum"] in {"on", "off"}
    with psycopg.connect(pg_url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (setup["schema"],)
        ).fetchone()
    assert left == (0,)  # the throwaway schema is dropped


def test_batch_size(cli: Cli, tmp_path: Path) -> None:
    args = ("--batch-size", "7", "--backend", "sqlite", "--sqlite-dir", str(tmp_path))
    report = _bench(cli, *args)
    _assert_figures(report, "sqlite")
    assert report["workload"]["projector_batch_size"] == 7
    result = report["backends"]["sqlite"]
    assert "Projector(batch_size=7)" in result["catch_up"]["description"]
    assert "Projector(batch_size=7)" in result["rebuild"]["description"]


def test_text_output(cli: Cli, tmp_path: Path) -> None:
    result = cli.ok(
        "bench",
        "projector",
        "--traces",
        "12",
        "--queries",
        "2",
        "--backend",
        "sqlite",
        "--sqlite-dir",
        str(tmp_path),
    )
    for text in ("Machine:", "SQLite", "catch-up", "rebuild", "precedents: all kinds"):
        assert text in result.stdout, text
    assert "trace summary read" in result.stdout
    assert result.stdout.count(" ok") + result.stdout.count("MISS") == 2 + len(
        [key for key, (_, _, target) in QUERIES.items() if target is not None]
    )  # catch-up, every query with a target, and the row of all precedent searches


def test_unreachable_postgres_exits_1(cli: Cli) -> None:
    result = cli(
        "bench",
        "projector",
        "--traces",
        "1",
        "--backend",
        "postgres",
        "--postgres-url",
        "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2",
    )
    assert result.exit_code == 1
    assert "Cannot use PostgreSQL" in result.stderr
    assert result.stdout == ""
