"""The ``decisiongraph`` command: the Typer application and its entry point.

Conventions shared by every command (see README "CLI reference"): ``--db URL`` (default
``$DG_DATABASE_URL``, else ``sqlite:///./decisiongraph.db``), ``--tenant T`` (default
``$DG_TENANT``, else ``default``); results on stdout, everything else on stderr; exit
code 0 on success, 1 for a DecisionGraphError (one line naming its code), 2 for bad
arguments or a missing command.
"""

from __future__ import annotations

from typing import Annotated

import typer

from decisiongraph import __version__
from decisiongraph.cli.accounts import accounts_app
from decisiongraph.cli.bench import bench_app
from decisiongraph.cli.demo import demo_command
from decisiongraph.cli.dump_trace import dump_trace_command
from decisiongraph.cli.events import events_app
from decisiongraph.cli.import_command import import_command
from decisiongraph.cli.logs import configure_logging
from decisiongraph.cli.migrate import migrate_command
from decisiongraph.cli.openapi_command import openapi_command
from decisiongraph.cli.project import project_command
from decisiongraph.cli.projection_status import projection_status_command
from decisiongraph.cli.replay import replay_command
from decisiongraph.cli.serve import serve_command
from decisiongraph.cli.verify import verify_command

__all__ = ["app", "main"]

app = typer.Typer(
    name="decisiongraph",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"decisiongraph {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """DecisionGraph: an append-only decision audit trail for AI agents.

    --db URL: env DG_DATABASE_URL, default sqlite:///./decisiongraph.db.

    --tenant T: env DG_TENANT, default 'default'.

    Exit codes: 0 success, 1 error (one line naming its DG_ERR_* code), 2 bad arguments
    (verify: 3 when a projection is failed).
    """


app.command("migrate")(migrate_command)
app.command("import")(import_command)
app.add_typer(events_app, name="events")
app.command("dump-trace")(dump_trace_command)
app.command("demo")(demo_command)
app.add_typer(bench_app, name="bench")
app.command("replay")(replay_command)
app.command("project")(project_command)
app.command("projection-status")(projection_status_command)
app.command("verify")(verify_command)
app.command("serve")(serve_command)
app.command("openapi")(openapi_command)
app.add_typer(accounts_app, name="accounts")


def main() -> None:
    """Console-script entry point (``decisiongraph = decisiongraph.cli.main:main``)."""
    configure_logging()
    app(prog_name="decisiongraph")


if __name__ == "__main__":
    main()
