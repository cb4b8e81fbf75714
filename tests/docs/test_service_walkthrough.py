"""The walkthrough of ``docs/api/SERVICE_API.md``, run for real.

A real ``decisiongraph serve`` process (SQLite file and PostgreSQL) gets the documented
key command, every documented ``curl`` command in page order (then the smoke test of
``docs/operations/API_RUNTIME.md``) and the documented Python program. Each step must
answer the documented status; the documented headers (except date, request id and
length) must be sent with the documented values; every JSON member name the page shows
must exist in the answer and every scalar shown whole (ids, positions, digests,
statuses) must be in it, except the server's clock and request ids. The Python output
must be the documented one, up to the uuid4 trace and event ids.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.docs.markdown import (
    DOCS,
    Step,
    documented_pairs,
    fenced_blocks,
    json_members,
    parse_curl,
    read_steps,
)
from tests.server_process import SCRIPT, ServerProcess, clean_env

PAGE = DOCS / "api" / "SERVICE_API.md"
RUNTIME = DOCS / "operations" / "API_RUNTIME.md"
README = DOCS.parent / "README.md"
QUICKSTART = "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/decisiongraph serve"

VOLATILE_MEMBERS = frozenset({"request_id", "recorded_at", "checked_at", "updated_at"})
VOLATILE_HEADERS = frozenset({"date", "x-request-id", "content-length"})
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_METRIC_LINE = re.compile(r"([a-z_]+)[{ ]")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'walkthrough.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def server(database: str) -> Iterator[ServerProcess]:
    running = ServerProcess("--db", database)
    try:
        running.wait_ready()
        yield running
    finally:
        code = running.stop()
    assert code == 0, running.stderr


def create_key(step: Step, db: str) -> str:
    """The documented ``accounts create`` command against ``db``, with ``--json``."""
    words = shlex.split(step.command)
    assert words[0].endswith("decisiongraph")
    assert words[1:3] == ["accounts", "create"]
    done = subprocess.run(
        [str(SCRIPT), *words[1:], "--db", db, "--json"],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    token: str = json.loads(done.stdout)["key"]["token"]
    return token


def check_json(documented: str, actual: Any) -> None:
    keys, pairs = documented_pairs(documented)
    actual_keys, actual_pairs = json_members(actual)
    assert keys <= actual_keys, f"documented members missing: {keys - actual_keys}"
    for pair in pairs:
        if pair[0] not in VOLATILE_MEMBERS:
            assert pair in actual_pairs, f"documented {pair} not in {actual}"


def check_headers(documented: str, response: httpx.Response) -> str:
    """Check the status line and headers of a ``curl -i`` output; returns its body."""
    head, _, body = documented.partition("\n\n")
    status_line, *lines = head.splitlines()
    assert status_line == f"HTTP/1.1 {response.status_code} {response.reason_phrase}"
    for line in lines:
        name, _, value = line.partition(": ")
        if name not in VOLATILE_HEADERS:
            assert response.headers.get(name) == value, (name, response.headers)
    return body


def check_stream(step: Step, client: httpx.Client, api: str, token: str) -> None:
    request = parse_curl(step.command, api, token)
    documented = step.output.splitlines()
    frames = sum(line.startswith("id: ") for line in documented)
    received: list[str] = []
    with client.stream("GET", request.url, headers=request.headers) as response:
        assert response.status_code == step.status
        for line in response.iter_lines():
            received.append(line)
            if sum(r.startswith("id: ") for r in received) == frames and line == "":
                break
    assert len(received) >= len(documented) - 1, received
    for doc_line, line in zip(documented, received, strict=False):
        if doc_line.startswith("data: "):
            check_json(doc_line, json.loads(line.removeprefix("data: ")))
        else:
            assert line == doc_line


def run_curl(step: Step, client: httpx.Client, api: str, token: str) -> None:
    request = parse_curl(step.command, api, token)
    if request.stream:
        check_stream(step, client, api, token)
        return
    response = client.request(
        request.method, request.url, headers=request.headers, content=request.body
    )
    assert response.status_code == step.status, response.text
    body = check_headers(step.output, response) if request.show_headers else step.output
    if response.headers["content-type"].startswith("application/json"):
        check_json(body, response.json())
        return
    # Prometheus text: every documented metric is exposed.
    exposed = {m.group(1) for m in map(_METRIC_LINE.match, response.text.splitlines()) if m}
    shown = {m.group(1) for m in map(_METRIC_LINE.match, body.splitlines()) if m}
    assert shown, "no metric shown"
    assert shown <= exposed, shown - exposed


def run_python(step: Step, api: str, token: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", step.command],
        capture_output=True,
        text=True,
        env=clean_env(API=api, TOKEN=token),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert _UUID.sub("<uuid>", done.stdout) == _UUID.sub("<uuid>", step.output)


def test_documented_flow(server: ServerProcess, database: str) -> None:
    steps = read_steps(PAGE)
    assert [s.name for s in steps][:1] == ["create-key"]
    token = create_key(steps[0], database)
    with httpx.Client(timeout=30) as client:
        for step in [*steps[1:], *read_steps(RUNTIME)]:
            if step.language == "python":
                run_python(step, server.url, token)
            else:
                run_curl(step, client, server.url, token)


@pytest.mark.parametrize("page", [PAGE, RUNTIME], ids=lambda p: p.name)
def test_every_curl_command_is_a_checked_step(page: Path) -> None:
    curl_blocks = [text for language, text in fenced_blocks(page) if "curl " in text]
    steps = [s.command for s in read_steps(page) if s.language == "bash"]
    assert curl_blocks, page
    assert all(block in steps for block in curl_blocks), "a curl command is not marked"


def test_quickstart_runs_the_service() -> None:
    """README's Quickstart and the walkthrough start the service the same way."""
    readme_blocks = [text.strip() for language, text in fenced_blocks(README) if language]
    assert readme_blocks[:2] == [QUICKSTART, "bash scripts/test.sh"]
    assert QUICKSTART in [text.strip() for _, text in fenced_blocks(PAGE)]
