"""The server process of ``decisiongraph bench api``: a real ``decisiongraph serve`` on
a free loopback port, started as a child process and stopped with SIGTERM.

Its output goes to a log file (a pipe nobody reads would fill and block the server);
the last lines of that file are quoted when the server fails to start or dies.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from decisiongraph.cli.bench_store import BenchError, _mask

__all__ = ["HOST", "Server", "running_server"]

HOST = "127.0.0.1"
#: Seconds ``/readyz`` may take to answer 200 after the process starts.
READY_TIMEOUT_S = 60.0
#: Seconds the server gets to stop after SIGTERM before it is killed.
STOP_TIMEOUT_S = 30.0
#: A command prefix for the server, shell-split, e.g. a profiler: ``py-spy record -o
#: out.txt --``. Empty by default; the report's server command shows it. With a prefix
#: the bench stops the server with SIGINT, on which py-spy writes its output and then
#: ends the server (SIGTERM would end py-spy alone and leave the server running).
PREFIX_ENV = "DG_BENCH_SERVER_PREFIX"


@dataclass(frozen=True)
class Server:
    """A started server: its process, port and the command (database URL masked)."""

    process: subprocess.Popen[bytes]
    port: int
    command: str

    @property
    def pid(self) -> int:
        return self.process.pid


def free_port() -> int:
    """A TCP port that was free on the loopback interface a moment ago."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def serve_command(url: str, port: int, workers: int, projector: bool) -> list[str]:
    """``decisiongraph serve`` with the bench's options, as an argument list."""
    prefix = shlex.split(os.environ.get(PREFIX_ENV, ""))
    return [
        *prefix,
        sys.executable,
        "-m",
        "decisiongraph.cli.main",
        "serve",
        "--db",
        url,
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--projector" if projector else "--no-projector",
    ]


def _tail(log: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    return ""


def _ready(port: int) -> bool:
    conn = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        conn.request("GET", "/readyz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def _wait_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not _ready(port):
        if process.poll() is not None:
            raise BenchError(
                f"The server exited with code {process.returncode} before it was ready:\n"
                f"{_tail(log)}"
            )
        if time.monotonic() > deadline:
            raise BenchError(
                f"The server was not ready within {READY_TIMEOUT_S:.0f} s:\n{_tail(log)}"
            )
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes], prefixed: bool) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT if prefixed else signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def running_server(
    url: str, *, workers: int, projector: bool, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Start the server on ``url`` and wait for ``/readyz``; SIGTERM it on exit.

    Raises BenchError (with the end of the server's log) if it does not get ready or
    exits with an error when stopped.
    """
    port = free_port()
    command = serve_command(url, port, workers, projector)
    shown = " ".join(shlex.quote(_mask(arg) if arg == url else arg) for arg in command)
    with tempfile.TemporaryDirectory(prefix="dg-bench-api-") as directory:
        log = Path(directory, "server.log")
        with log.open("wb") as output:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
            )
        try:
            _wait_ready(process, port, log)
            yield Server(process, port, shown)
            if process.poll() is not None:
                raise BenchError(f"The server died during the run:\n{_tail(log)}")
        finally:
            _stop(process, prefixed=command[0] != sys.executable)
