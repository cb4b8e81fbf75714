"""``decisiongraph openapi``: print or write the server's OpenAPI 3.1 document.

The text is exactly what ``GET /api/v1/openapi.json`` serves (keys sorted, two-space
indent, final newline, UTF-8), so the committed ``docs/api/openapi.json`` is refreshed
with ``decisiongraph openapi --output docs/api/openapi.json`` and reviewed as a diff.
No database is opened: the document depends on the code only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from decisiongraph.api.openapi import document_text
from decisiongraph.cli.output import warn, write_stdout

__all__ = ["openapi_command"]

#: Exit code of ``--check`` when the file is missing or out of date.
EXIT_OUT_OF_DATE = 1

OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        metavar="PATH",
        dir_okay=False,
        help="Write the document to PATH (parent directories are created) instead of stdout.",
    ),
]

CheckOption = Annotated[
    bool,
    typer.Option(
        "--check",
        help="Write nothing; exit 1 if the --output file differs from a fresh generation.",
    ),
]


def openapi_command(output: OutputOption = None, check: CheckOption = False) -> None:
    """Print the OpenAPI document of this version (or write it with --output)."""
    text = document_text()
    if check:
        if output is None:
            raise typer.BadParameter("--check needs --output PATH", param_hint="--check")
        current = output.read_bytes() if output.is_file() else None
        if current != text.encode("utf-8"):
            warn(f"{output} is out of date; run: decisiongraph openapi --output {output}")
            raise typer.Exit(EXIT_OUT_OF_DATE)
        return
    if output is None:
        write_stdout(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(text.encode("utf-8"))
    warn(f"Wrote {output}")
