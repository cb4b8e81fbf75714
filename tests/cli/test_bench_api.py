"""``decisiongraph bench api``: a tiny run against a real ``serve`` process on
PostgreSQL prints every figure, both sides, and cleans up after itself.

Only the report's shape and its exact counts are checked: benchmarks never assert
timings in tests.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from decisiongraph.cli.bench_api_report import FIGURES, TARGETS
from tests.cli.helpers import Cli

#: 3 traces per round, 2 rounds: 60 events per append figure.
EVENTS = 60
CLIENTS = 2
BATCH = 10
#: Accepted by the API: each append figure's events plus one warm-up trace per client
#: and round; the batch figure sends at least 20 batches (200 events) plus one warm-up
#: batch per round.
ACCEPTED = (EVENTS + 2 * 10) + (EVENTS + 2 * CLIENTS * 10) + (20 * BATCH + 2 * BATCH)
#: At least 20 reads per read figure, 10 per round.
READS = 20


def _positive(side: dict[str, Any], where: str) -> None:
    for name in ("seconds", "requests_per_s", "units_per_s", "p50_ms", "mean_ms"):
        assert side[name] > 0, (where, name, side[name])
    assert side["p50_ms"] <= side["p95_ms"] <= side["p99_ms"] <= side["max_ms"], where
    cpu = side["cpu_us_per_unit"]
    assert set(cpu) == {"server", "postgres", "clients"}, where
    assert cpu["clients"] > 0, where  # the client processes did the work they report
    assert all(value >= 0 for value in cpu.values()), (where, cpu)


@pytest.mark.postgres
def test_tiny_run_reports_every_figure_and_drops_its_schema(cli: Cli, pg_url: str) -> None:
    result = cli.ok(
        "bench", "api", "--db", pg_url, "--events", str(EVENTS), "--clients", str(CLIENTS),
        "--batch-size", str(BATCH), "--json",
    )  # fmt: skip
    report: dict[str, Any] = json.loads(result.stdout)

    assert report["benchmark"] == "api"
    assert report["machine"]["cpu_count"] >= 1
    assert 0 <= report["machine"]["cpu_idle_pct_at_start"] <= 100
    server = report["server"]
    assert " serve " in server["command"]
    assert "--no-projector" in server["command"]
    assert (server["workers"], server["projector"]) == (1, False)
    assert server["rate_limiter"] == "no rate limiter in this version"
    workload = report["workload"]
    assert (workload["events_per_append_figure"], workload["events_per_batch_figure"]) == (
        EVENTS,
        20 * BATCH,
    )
    # The bench checked the tenant holds exactly what the API accepted, then projected it.
    assert workload["projection_catch_up"]["events"] == ACCEPTED

    figures = report["figures"]
    assert list(figures) == list(FIGURES)
    for key, figure in figures.items():
        _positive(figure["api"], f"{key} api")
        _positive(figure["raw"], f"{key} raw")
        assert figure["api"]["units"] == figure["raw"]["units"], key
        assert figure["api_over_raw_pct"] > 0, key
        if key in TARGETS:
            assert figure["target"] == TARGETS[key].text()
            assert isinstance(figure["meets_target"], bool)
        else:
            assert "target" not in figure
    assert figures["append_1_client"]["clients"] == 1
    assert figures["append_n_clients"]["clients"] == CLIENTS
    for key in ("append_1_client", "append_n_clients"):
        assert figures[key]["api"]["requests"] == EVENTS
    batch = figures["batch_append"]
    assert (batch["api"]["requests"], batch["api"]["units"]) == (20, 20 * BATCH)
    assert batch["raw"]["requests"] == 20
    for key in ("trace_read", "trace_read_n_clients"):
        assert figures[key]["api"]["requests"] == READS

    with psycopg.connect(pg_url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = %s",
            (report["database"]["schema"],),
        ).fetchone()
    assert left == (0,)  # the throwaway schema is dropped


def test_unreachable_postgres_exits_1(cli: Cli) -> None:
    result = cli("bench", "api", "--db", "postgresql://postgres@127.0.0.1:1/x", "--events", "10")
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Cannot use PostgreSQL" in result.stderr
    assert "--backend" not in result.stderr  # bench store's hint is not ours
