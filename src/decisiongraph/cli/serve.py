"""``decisiongraph serve``: run the HTTP service (HTTP_API.md) with uvicorn.

The database is created if needed and migrated before the port is bound, so a bad
``--db`` is a one-line error (exit 1) and never a half-started server. One line on
stderr announces the URL once the port accepts connections; SIGINT or SIGTERM stop
the server gracefully and the command exits 0.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from decisiongraph.api.server import bind_listener, run_server
from decisiongraph.cli.options import DEFAULT_DATABASE_URL, DbOption
from decisiongraph.cli.output import EXIT_DOMAIN_ERROR, exit_on_domain_error, one_line, warn
from decisiongraph.cli.stores import opened_store
from decisiongraph.service.settings import ServiceSettings

__all__ = ["serve_command"]

_MAX_WORKERS = 64

HostOption = Annotated[
    str,
    typer.Option(
        "--host",
        envvar="DG_HOST",
        show_envvar=True,
        help="Interface to bind (0.0.0.0 for every IPv4 interface; use TLS or a proxy then).",
    ),
]
PortOption = Annotated[
    int,
    typer.Option(
        "--port", envvar="DG_PORT", show_envvar=True, min=0, max=65535,
        help="TCP port; 0 picks a free one (announced on stderr).",
    ),
]  # fmt: skip
WorkersOption = Annotated[
    int,
    typer.Option(
        "--workers", envvar="DG_WORKERS", show_envvar=True, min=1, max=_MAX_WORKERS,
        help="Server processes sharing the port (settings reach them as DG_* variables).",
    ),
]  # fmt: skip
ProjectorOption = Annotated[
    bool,
    typer.Option(
        "--projector/--no-projector",
        help="Run a projection worker in each server process (else run "
        "'decisiongraph project --all --follow' beside it).",
    ),
]
TlsCertOption = Annotated[
    Path | None,
    typer.Option(
        "--tls-cert", exists=True, dir_okay=False, readable=True, metavar="FILE",
        help="PEM certificate chain: serve HTTPS (with --tls-key).",
    ),
]  # fmt: skip
TlsKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--tls-key", exists=True, dir_okay=False, readable=True, metavar="FILE",
        help="PEM private key of --tls-cert.",
    ),
]  # fmt: skip
AccessLogOption = Annotated[
    bool, typer.Option("--access-log", help="Log one line per request on stderr.")
]


def _check_options(db: str, workers: int, tls_cert: Path | None, tls_key: Path | None) -> None:
    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter(
            "give both --tls-cert and --tls-key, or neither",
            param_hint="--tls-cert" if tls_cert is None else "--tls-key",
        )
    if workers > 1 and db.startswith("sqlite:///:memory:"):
        raise typer.BadParameter(
            "an in-memory database cannot be shared by several workers", param_hint="--workers"
        )


def is_loopback(host: str) -> bool:
    """True for an address only this machine reaches (plain HTTP is fine there)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: assume it is reachable from elsewhere


def serve_command(
    db: DbOption = DEFAULT_DATABASE_URL,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8080,
    workers: WorkersOption = 1,
    projector: ProjectorOption = True,
    tls_cert: TlsCertOption = None,
    tls_key: TlsKeyOption = None,
    access_log: AccessLogOption = False,
) -> None:
    """Serve the HTTP API until SIGINT or SIGTERM (graceful: in-flight requests finish).

    Creates and migrates the database if needed. Other settings (body limits,
    metrics authentication, graceful timeout, ...) come from DG_* environment
    variables. The first admin key comes from 'decisiongraph accounts create NAME
    --role admin --tenant T' run against the same database.
    """
    _check_options(db, workers, tls_cert, tls_key)
    settings = _settings(
        database_url=db, host=host, port=port, workers=workers, projector=projector
    )
    if tls_cert is None and not is_loopback(host):
        warn(
            f"Warning: serving plain HTTP on {host}; production traffic must reach it over "
            "TLS (--tls-cert/--tls-key, or a proxy that terminates TLS)."
        )
    with exit_on_domain_error(), opened_store(db, create=True) as store:
        shown_db = store.url  # masked: never print a password
    details = (
        f"database {shown_db}, {workers} worker{'s' if workers > 1 else ''}, "
        f"projector {'on' if projector else 'off'}"
    )
    run_server(
        settings,
        _listen(host, port),
        announce=lambda url: warn(
            f"DecisionGraph serving {url} ({details}); stop with Ctrl-C or SIGTERM."
        ),
        tls_cert=tls_cert,
        tls_key=tls_key,
        access_log=access_log,
    )


def _settings(**options: Any) -> ServiceSettings:
    """The options over the DG_* environment; an invalid setting is one line, exit 1."""
    try:
        return ServiceSettings(**options)
    except ValidationError as error:
        problems = "; ".join(
            f"DG_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors()
        )
        typer.echo(f"Error: invalid setting: {one_line(problems)}", err=True)
        raise typer.Exit(EXIT_DOMAIN_ERROR) from None


def _listen(host: str, port: int) -> socket.socket:
    """The bound socket; a port in use (or any bind error) is one line, exit 1."""
    try:
        return bind_listener(host, port)
    except OSError as error:
        report = error.strerror or str(error)
        typer.echo(f"Error: cannot listen on {host}:{port}: {one_line(report)}", err=True)
        raise typer.Exit(EXIT_DOMAIN_ERROR) from None
