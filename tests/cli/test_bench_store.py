"""``decisiongraph bench store``: a tiny run on each backend prints every figure.

Only the shape of the report is checked: benchmarks never assert timings in tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from decisiongraph.cli.bench_store import FIGURES
from tests.cli.helpers import Cli

EVENTS = 200
RATE_FIELDS = ("ours_events_per_s", "raw_events_per_s", "ratio_pct")


def _bench(cli: Cli, *args: str) -> dict[str, Any]:
    result = cli.ok("bench", "store", "--events", str(EVENTS), "--json", *args)
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _assert_figures(report: dict[str, Any], backend: str) -> None:
    assert list(report["backends"]) == [backend]
    assert report["workload"]["events_per_figure"] == EVENTS
    assert report["machine"]["cpu_count"] >= 1
    result = report["backends"][backend]
    assert result["setup"]["version"]
    figures = result["figures"]
    assert set(figures) == set(FIGURES)
    for key, figure in figures.items():
        for name in RATE_FIELDS:
            value = figure[name]
            assert isinstance(value, int | float), (key, name, value)
            assert value > 0, (key, name, value)
        assert figure["events"] > 0, key
    # Each append figure writes its own EVENTS; the read covers all of them (and warm-ups).
    appends = [key for key in FIGURES if key != "batch_read"]
    for key in appends:
        assert figures[key]["events"] == EVENTS, key
    assert figures["batch_read"]["events"] >= len(appends) * EVENTS


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
    schema = setup["schema"]
    assert setup["settings"]["fsync"] in {"on", "off"}
    with psycopg.connect(pg_url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,)
        ).fetchone()
    assert left == (0,)  # the throwaway schema is dropped


def test_unreachable_postgres_exits_1(cli: Cli) -> None:
    result = cli(
        "bench",
        "store",
        "--events",
        "10",
        "--backend",
        "postgres",
        "--postgres-url",
        "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2",
    )
    assert result.exit_code == 1
    assert "Cannot use PostgreSQL" in result.stderr
    assert result.stdout == ""
