"""``decisiongraph serve``: option errors (in process, nothing is served), the README
quickstart on the SQLite default (a real process), TLS with the access log, and the
settings hand-over to multi-process workers."""

from __future__ import annotations

import signal
import socket
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from decisiongraph.api.server import settings_environment
from decisiongraph.cli.serve import is_loopback
from decisiongraph.service.settings import ServiceSettings
from tests.cli.helpers import Cli
from tests.helpers import make_envelope
from tests.server_process import ServerProcess, create_key


def flat(text: str) -> str:
    """Rich's error box folded into one line of single spaces."""
    return " ".join(text.replace("│", " ").split())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "--workers"),
        (["--workers", "65"], "--workers"),
        (["--port", "65536"], "--port"),
        (["--port", "-1"], "--port"),
        (["--db", ""], "must not be empty"),
        (["--db", "sqlite:///:memory:", "--workers", "2"], "in-memory"),
        (["--tls-cert", "/no/such/cert.pem", "--tls-key", "/no/such/key.pem"], "--tls-cert"),
        (["--bogus"], "--bogus"),
    ],
)
def test_bad_options_are_usage_errors(cli: Cli, args: list[str], message: str) -> None:
    result = cli("serve", *args)
    assert result.exit_code == 2
    assert message in flat(result.stderr)
    assert result.stdout == ""


def test_tls_needs_both_files(cli: Cli, tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("not used", encoding="utf-8")
    result = cli("serve", "--tls-cert", str(cert))
    assert result.exit_code == 2
    assert "give both --tls-cert and --tls-key" in flat(result.stderr)


def test_an_unusable_database_is_one_line_and_exit_1(cli: Cli) -> None:
    result = cli("serve", "--db", "mysql://nope/db")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: DG_ERR_INVALID_ARGUMENT")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("10.1.2.3", False), ("api.example.com", False)],
)  # fmt: skip
def test_plain_http_beyond_loopback_is_warned_about(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_settings_reach_the_workers_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = ServiceSettings(
        database_url="postgresql://u@h/db?options=-csearch_path%3Dx",
        port=0,
        workers=3,
        projector=False,
        max_batch_events=7,
        metrics_require_auth=True,
        cursor_secret="s3cret",
        graceful_timeout_s=2.5,
    )
    for name in list(ServiceSettings.model_fields):
        monkeypatch.delenv(f"DG_{name.upper()}", raising=False)
    for name, text in settings_environment(settings).items():
        monkeypatch.setenv(name, text)
    assert ServiceSettings() == settings


def test_the_quickstart_serves_the_sqlite_default_and_stops_on_sigterm(tmp_path: Path) -> None:
    """``decisiongraph serve`` with no option: ./decisiongraph.db, 127.0.0.1, exit 0."""
    server = ServerProcess(cwd=tmp_path)
    try:
        server.wait_ready()
        assert server.url.startswith("http://127.0.0.1:")
        assert "sqlite:///./decisiongraph.db" in server.stderr
        assert (tmp_path / "decisiongraph.db").is_file()
        # The first key comes from the CLI, against the same default database.
        token = create_key("first", "--role", "writer", "--tenant", "acme", cwd=tmp_path)
        response = httpx.post(
            f"{server.url}/api/v1/events",
            json=make_envelope("t-quick", 0).to_dict(),
            headers={"Authorization": f"Bearer {token['key']['token']}"},
        )
        assert response.status_code == 201, response.text
        assert response.json()["data"]["event"]["log_seq"] == 1
    finally:
        code = server.stop()
    assert code == 0, server.stderr
    assert "Traceback" not in server.stderr
    assert '"POST /api/v1/events' not in server.stderr  # no access log by default
    assert "plain HTTP" not in server.stderr  # loopback: no TLS warning


def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def test_tls_with_the_access_log_and_sigint(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    trusted = ssl.create_default_context(cafile=str(cert))
    db = f"sqlite:///{tmp_path / 'tls.db'}"
    server = ServerProcess(
        "--db", db, "--tls-cert", str(cert), "--tls-key", str(key), "--access-log"
    )
    try:
        server.wait_ready(verify=trusted)
        assert server.url.startswith("https://127.0.0.1:")
        assert httpx.get(f"{server.url}/healthz", verify=trusted).json() == {"status": "ok"}
        with pytest.raises(httpx.TransportError):
            httpx.get(server.url.replace("https:", "http:") + "/healthz")
    finally:
        code = server.stop(signal.SIGINT)
    assert code == 0, server.stderr
    assert '"GET /healthz HTTP/1.1" 200' in server.stderr


def test_a_taken_port_is_one_line_and_exit_1(cli: Cli, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("serve", "--port", str(port), "--db", f"sqlite:///{tmp_path / 'p.db'}")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}: ")
    assert result.stderr.count("\n") == 1


def test_an_invalid_setting_is_one_line_and_exit_1_before_any_database(
    cli: Cli, db_path: Path
) -> None:
    result = cli("serve", "--db", f"sqlite:///{db_path}", env={"DG_MAX_BATCH_EVENTS": "many"})
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: invalid setting: DG_MAX_BATCH_EVENTS: ")
    assert result.stderr.count("\n") == 1
    assert not db_path.exists()
