"""Real ``decisiongraph`` processes for end-to-end tests: the installed console script
run to completion (:func:`cli`), or as a server (:class:`ServerProcess`).

A server is started with ``--port 0``: it binds a free port and announces its URL on
stderr, so tests never race for a port. Stopping sends a signal (SIGTERM by default)
and returns the exit code.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

SCRIPT = Path(sys.executable).parent / "decisiongraph"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
_ANNOUNCEMENT = re.compile(r"DecisionGraph serving (https?://\S+) ")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without DG_* settings (they would leak into the
    child), plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DG_") and k != "PROMETHEUS_MULTIPROC_DIR"
    }
    return {**env, **extra}


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``decisiongraph ARGS`` to completion (exit code not checked)."""
    assert SCRIPT.is_file(), f"console script not installed at {SCRIPT}: pip install -e ."
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean_env(),
        timeout=60,
        check=False,
    )


def create_key(*args: str, cwd: Path | None = None) -> dict[str, Any]:
    """``decisiongraph accounts create ARGS --json``: the ``{account, key}`` document."""
    done = cli("accounts", "create", *args, "--json", cwd=cwd)
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    assert document["key"]["token"].startswith(f"dg_{document['key']['key_id']}_")
    return document


class ServerProcess:
    """``decisiongraph serve --port 0 ARGS`` as a child process.

    Its stderr is drained by a thread (a full pipe would block the server) into
    :attr:`log`; :attr:`url` comes from the announcement line.
    """

    def __init__(
        self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.process = subprocess.Popen(
            [str(SCRIPT), "serve", "--port", "0", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env=clean_env(**(env or {})),
        )
        self.log: list[str] = []
        self.url = ""
        self._announced = threading.Event()
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)
            match = _ANNOUNCEMENT.search(line)
            if match and not self.url:
                self.url = match.group(1)
                self._announced.set()
        self._announced.set()  # exited: stop waiting

    @property
    def stderr(self) -> str:
        return "".join(self.log)

    def wait_ready(self, timeout: float = START_TIMEOUT_S, **client: Any) -> None:
        """Wait for the announcement, then for ``/readyz`` to answer 200 (``client``:
        httpx options, e.g. ``verify``)."""
        deadline = time.monotonic() + timeout
        self._announced.wait(timeout)
        assert self.url, f"the server did not announce a URL:\n{self.stderr}"
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5, **client).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"/readyz never answered 200:\n{self.stderr}"
            assert self.process.poll() is None, f"the server exited:\n{self.stderr}"
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int:
        """Send ``sig`` (unless already exited), wait, and return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        finally:
            self._drainer.join(timeout)
            assert self.process.stderr is not None
            self.process.stderr.close()
