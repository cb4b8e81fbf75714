"""CPU counters of ``decisiongraph bench api``, read from Linux ``/proc``: the server's
process tree, every ``postgres`` process, and the whole machine.

Counters are in clock ticks (``SC_CLK_TCK``, usually 100 per second), so a figure's
CPU shares are only as precise as its window is long.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CpuSample", "machine_idle_pct"]

_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def _process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * _TICK_S


def _processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command name) of every process (Linux /proc)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                head, tail = Path(entry.path, "stat").read_text().rsplit(")", 1)
            except OSError:
                continue
            found.append((int(entry.name), int(tail.split()[1]), head.split("(", 1)[1]))
    return found


def _descendants(root: int, processes: Sequence[tuple[int, int, str]]) -> set[int]:
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, parent, _name in processes:
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return tree


def _machine_busy() -> tuple[float, float]:
    """(busy CPU seconds of the machine so far, all cores; ``perf_counter`` now)."""
    line = Path("/proc/stat").read_text().split("\n", 1)[0]
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in line.split()[1:8])
    # Steal (time the hypervisor gave to others) is neither ours nor idle: left out.
    return (user + nice + system + irq + softirq) * _TICK_S, time.perf_counter()


def machine_idle_pct(seconds: float, cores: int) -> float:
    """The machine's idle share (all cores, percent) over the next ``seconds``."""
    busy, at = _machine_busy()
    time.sleep(seconds)
    busy_after, at_after = _machine_busy()
    idle = 1.0 - (busy_after - busy) / ((at_after - at) * cores)
    return round(100.0 * min(1.0, max(0.0, idle)), 1)  # clock ticks are coarse


@dataclass(frozen=True, slots=True)
class CpuSample:
    """CPU seconds so far of the server's process tree, of each ``postgres`` process
    (by pid), and of the whole machine (busy time, all cores) at ``at``."""

    server_s: float
    postgres_s: dict[int, float]
    machine_busy_s: float
    at: float

    @classmethod
    def take(cls, server_pid: int, *, machine_first: bool) -> CpuSample:
        """Scanning /proc takes a while: read the machine counter (and the clock)
        after the scan for the sample opening a window, before it for the closing one,
        so the window's wall time and machine busy time cover the same instants."""
        if machine_first:
            busy, at = _machine_busy()
        processes = _processes()
        server = sum(_process_cpu_s(pid) for pid in _descendants(server_pid, processes))
        postgres = {pid: _process_cpu_s(pid) for pid, _, name in processes if name == "postgres"}
        if not machine_first:
            busy, at = _machine_busy()
        return cls(server, postgres, busy, at)

    def postgres_since(self, before: CpuSample) -> float:
        """CPU seconds of the postgres processes alive at both samples (a backend that
        ended in between took its counters with it)."""
        return sum(
            used - before.postgres_s[pid]
            for pid, used in self.postgres_s.items()
            if pid in before.postgres_s
        )
