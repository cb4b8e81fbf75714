"""Where command output goes: results on stdout (UTF-8, one JSON document with
``--json``), errors, warnings and progress on stderr, and the one-line error report that
turns a :class:`DecisionGraphError` into exit code 1 without a traceback."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console

from decisiongraph.errors import DecisionGraphError

__all__ = [
    "EXIT_DOMAIN_ERROR",
    "exit_on_domain_error",
    "one_line",
    "report_error",
    "stderr_console",
    "stderr_is_terminal",
    "stdout_console",
    "warn",
    "write_json",
    "write_stdout",
]

#: Exit code of a command stopped by a DecisionGraphError (usage errors exit 2).
EXIT_DOMAIN_ERROR = 1


def write_stdout(text: str) -> None:
    """Write ``text`` to stdout as UTF-8 bytes, whatever the locale's encoding."""
    stream = sys.stdout
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        stream.write(text)
        stream.flush()
        return
    stream.flush()
    buffer.write(text.encode("utf-8"))
    buffer.flush()


def write_json(document: Any) -> None:
    """Print ``document`` as one JSON document (stdlib ``json``: big integers stay exact)."""
    write_stdout(json.dumps(document, ensure_ascii=False, indent=2) + "\n")


def one_line(text: str) -> str:
    """``text`` with line breaks folded into spaces, so a report is always one line."""
    return " ".join(text.split("\n")).replace("\r", " ")


def warn(message: str) -> None:
    """Print a warning or notice on stderr."""
    typer.echo(one_line(message), err=True)


def report_error(error: DecisionGraphError, *, prefix: str = "") -> None:
    """Print ``Error: <prefix>CODE: message`` on stderr, on one line."""
    typer.echo(f"Error: {prefix}{one_line(str(error))}", err=True)


@contextmanager
def exit_on_domain_error() -> Iterator[None]:
    """Turn a DecisionGraphError raised in the block into a one-line report and exit 1."""
    try:
        yield
    except DecisionGraphError as error:
        report_error(error)
        raise typer.Exit(EXIT_DOMAIN_ERROR) from None


def stdout_console() -> Console:
    """A Rich console on stdout, for human-readable results (tables)."""
    return Console(highlight=False)


def stderr_console() -> Console:
    """A Rich console on stderr, for progress bars (shown only on a terminal)."""
    return Console(stderr=True, highlight=False)


def stderr_is_terminal() -> bool:
    """True if stderr is an interactive terminal (progress bars are shown only then)."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty is not None and isatty())
