"""The report of ``decisiongraph bench api``: figures as JSON-ready objects (beside the
issue's targets) and the same report as Rich tables.

A figure's *unit* is an event for appends (a batch request carries ``--batch-size`` of
them) and a trace read for reads; rates are units per wall-clock second of the timed
windows, latencies are per request. CPU is split per unit between the server process
tree, every ``postgres`` process of the machine and the client processes; the machine's
busy share (all cores) tells whether a figure was CPU-bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from decisiongraph.cli.bench_api_load import Measurement
from decisiongraph.cli.bench_projector import _percentile

__all__ = ["FIGURES", "TARGETS", "Target", "figure_report", "render_api_report", "size_stats"]


@dataclass(frozen=True, slots=True)
class Target:
    """The issue's target for a figure: ``metric`` of the API side against ``limit``
    (latencies at most, rates at least)."""

    metric: str
    limit: float

    def met(self, side: dict[str, Any]) -> bool:
        value = float(side[self.metric])
        return value <= self.limit if self.metric.endswith("_ms") else value >= self.limit

    def text(self) -> str:
        if self.metric.endswith("_ms"):
            return f"{self.metric.removesuffix('_ms')} <= {self.limit:g} ms"
        return f">= {self.limit:,.0f}/s"


TARGETS: dict[str, Target] = {
    "append_1_client": Target("p50_ms", 2.0),
    "append_n_clients": Target("units_per_s", 1000.0),
    "batch_append": Target("units_per_s", 30_000.0),
    "trace_read": Target("p50_ms", 3.0),
}

#: key -> (short label, API side, raw side, unit); ``{n}`` is --clients, ``{b}``
#: --batch-size.
FIGURES: dict[str, tuple[str, str, str, str]] = {
    "append_1_client": (
        "append, 1 client",
        "POST /api/v1/events, 1 client",
        "INSERT+COMMIT per row, 1 connection",
        "event",
    ),
    "append_n_clients": (
        "append, {n} clients",
        "POST /api/v1/events, {n} clients",
        "INSERT+COMMIT per row, {n} connections",
        "event",
    ),
    "batch_append": (
        "batch of {b}, 1 client",
        "POST /api/v1/events/batch, {b} events, atomic, 1 client",
        "COPY {b} rows + COMMIT, 1 connection",
        "event",
    ),
    "trace_read": (
        "trace read, 1 client",
        "GET /api/v1/traces/{{id}} (strict), 1 client",
        "SELECT of the trace's rows, 1 connection",
        "read",
    ),
    "trace_read_n_clients": (
        "trace read, {n} clients",
        "GET /api/v1/traces/{{id}} (strict), {n} clients",
        "SELECT of the trace's rows, {n} connections",
        "read",
    ),
}


def size_stats(sizes: Sequence[int]) -> dict[str, int] | None:
    """Mean, min and max of ``sizes`` (None when empty)."""
    if not sizes:
        return None
    return {"mean": round(sum(sizes) / len(sizes)), "min": min(sizes), "max": max(sizes)}


def _side(rounds: Sequence[Measurement], units: int, cores: int) -> dict[str, Any]:
    requests = sum(m.items for m in rounds)
    seconds = sum(m.seconds for m in rounds)
    latencies = sorted(1000.0 * value for m in rounds for value in m.latencies)
    sampled = sum(m.sampled_seconds for m in rounds)

    def per_unit(cpu_s: float) -> float:
        return round(1e6 * cpu_s / units, 1)

    return {
        "requests": requests,
        "units": units,
        "seconds": round(seconds, 3),
        "requests_per_s": round(requests / seconds, 1),
        "units_per_s": round(units / seconds, 1),
        "p50_ms": round(_percentile(latencies, 0.50), 3),
        "p95_ms": round(_percentile(latencies, 0.95), 3),
        "p99_ms": round(_percentile(latencies, 0.99), 3),
        "mean_ms": round(sum(latencies) / len(latencies), 3),
        "max_ms": round(latencies[-1], 3),
        "cpu_us_per_unit": {
            "server": per_unit(sum(m.server_cpu_s for m in rounds)),
            "postgres": per_unit(sum(m.postgres_cpu_s for m in rounds)),
            "clients": per_unit(sum(m.clients_cpu_s for m in rounds)),
        },
        "machine_busy_pct": round(
            100.0 * sum(m.machine_busy_s for m in rounds) / (sampled * cores), 1
        ),
    }


def figure_report(
    key: str,
    rounds: dict[str, list[Measurement]],
    units: int,
    cores: int,
    batch_size: int,
    n_clients: int,
) -> dict[str, Any]:
    """One figure: both sides (``units`` each: events written or traces read), the
    API/raw rate ratio, and the target if it has one. ``n_clients``: ``--clients``
    (a figure uses fewer client processes when it has fewer traces than that)."""
    label, api_text, raw_text, unit = FIGURES[key]
    api = _side(rounds["api"], units, cores)
    raw = _side(rounds["raw"], units, cores)
    clients = max(m.clients for m in rounds["api"])
    figure: dict[str, Any] = {
        "label": label.format(n=n_clients, b=batch_size),
        "description": api_text.format(n=n_clients, b=batch_size),
        "unit": unit,
        "clients": clients,
        "api": api,
        "raw": {"method": raw_text.format(n=n_clients, b=batch_size), **raw},
        "api_over_raw_pct": round(100.0 * api["units_per_s"] / raw["units_per_s"], 1),
    }
    target = TARGETS.get(key)
    if target is not None:
        figure["target"] = target.text()
        figure["meets_target"] = target.met(api)
    return figure


def _setting_line(setup: dict[str, Any]) -> str:
    settings = ", ".join(f"{key}={value}" for key, value in setup["settings"].items())
    where = f"{setup['url']}, schema {setup['schema']}"
    return f"{setup['backend']} {setup['version']} at {where}; {settings}"


def render_api_report(report: dict[str, Any], console: Console) -> None:
    """The report as Rich text: setup lines, the figures table, the CPU table."""
    machine, server, workload = report["machine"], report["server"], report["workload"]
    payload, single = workload["payload_bytes"], workload["single_request_body_bytes"]
    console.print(
        f"[bold]Machine:[/] {machine['cpu_count']} cores, {machine['memory_gib']} GiB RAM, "
        f"{machine['platform']}, Python {machine['python']}, load average at start "
        f"{machine['load_average_at_start']}, CPU idle {machine['cpu_idle_pct_at_start']}% "
        "just before; server, clients and PostgreSQL share it"
    )
    console.print(
        f"[bold]Server:[/] {server['command']} ({server['workers']} worker(s), projector "
        f"{'on' if server['projector'] else 'off'}, pool {server['pool_size']}, "
        f"{server['rate_limiter']})"
    )
    console.print(f"[bold]Database:[/] {_setting_line(report['database'])}")
    console.print(
        f"[bold]Workload:[/] {workload['events_per_append_figure']:,} events per append "
        f"figure, {workload['events_per_batch_figure']:,} in batches, "
        f"{workload['reads_per_read_figure']:,} reads per read figure "
        f"(traces of {workload['trace_length']}, tenant {workload['tenant']}), "
        f"{workload['rounds']} rounds per side; payload JSON {payload['min']}-{payload['max']} B "
        f"(mean {payload['mean']}), POST body mean {single['mean']} B, batch body mean "
        f"{workload['batch_request_body_bytes']['mean']:,} B; {workload['client']}"
    )
    for figure in report["figures"].values():
        console.print(
            f"  [bold]{figure['label']}[/]: {figure['description']}; raw: {figure['raw']['method']}"
        )
    console.print(_api_table(report["figures"]))
    console.print(_raw_table(report["figures"]))


def _table(title: str, columns: Sequence[str]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title=title, title_justify="left")
    for index, name in enumerate(columns):
        table.add_column(name, justify="left" if index == 0 else "right")
    return table


def _api_table(figures: dict[str, Any]) -> Table:
    table = _table(
        "API (rates per wall-clock second, latencies per request)",
        ("Figure", "Requests", "Rate", "p50 ms", "p95 ms", "p99 ms", "Target"),
    )
    for figure in figures.values():
        api = figure["api"]
        target = figure.get("target", "")
        if target:
            target += " [green]ok[/]" if figure["meets_target"] else " [red]MISS[/]"
        table.add_row(
            figure["label"],
            f"{api['requests']:,}",
            f"{api['units_per_s']:,.0f} {figure['unit']}s/s",
            f"{api['p50_ms']:.2f}",
            f"{api['p95_ms']:.2f}",
            f"{api['p99_ms']:.2f}",
            target,
        )
    return table


def _raw_table(figures: dict[str, Any]) -> Table:
    table = _table(
        "Raw database, and CPU µs per unit: server / postgres / clients (machine busy %)",
        ("Figure", "Raw/s", "Raw p50", "API/raw", "CPU, API", "CPU, raw"),
    )
    for figure in figures.values():
        api, raw = figure["api"], figure["raw"]
        table.add_row(
            figure["label"],
            f"{raw['units_per_s']:,.0f}",
            f"{raw['p50_ms']:.2f}",
            f"{figure['api_over_raw_pct']:.1f}%",
            _cpu_text(api),
            _cpu_text(raw),
        )
    return table


def _cpu_text(side: dict[str, Any]) -> str:
    used = side["cpu_us_per_unit"]
    return (
        f"{used['server']:,.0f} / {used['postgres']:,.0f} / {used['clients']:,.0f} "
        f"({side['machine_busy_pct']:.0f}%)"
    )
