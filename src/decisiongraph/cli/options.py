"""The options every command shares (``--db``, ``--tenant``, ``--json``), as ``Annotated``
aliases so that each command declares them in one line with the same names, defaults,
environment variables and help."""

from __future__ import annotations

from typing import Annotated

import typer

from decisiongraph.domain.tenant import DEFAULT_TENANT, validate_tenant_id
from decisiongraph.errors import InvalidArgument
from decisiongraph.store.factory import DEFAULT_DATABASE_URL

__all__ = [
    "DB_ENV_VAR",
    "DEFAULT_DATABASE_URL",
    "DEFAULT_TENANT",
    "TENANT_ENV_VAR",
    "DbOption",
    "JsonOption",
    "TenantOption",
]

DB_ENV_VAR = "DG_DATABASE_URL"
TENANT_ENV_VAR = "DG_TENANT"


def _check_tenant(value: str) -> str:
    """Reject a malformed tenant id as a usage error (exit 2), not a domain error."""
    try:
        return validate_tenant_id(value)
    except InvalidArgument as error:
        raise typer.BadParameter(error.message) from None


def _check_db(value: str) -> str:
    """Refuse an empty URL (it would silently mean the default database)."""
    if not value.strip():
        raise typer.BadParameter("the database URL must not be empty")
    return value


DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar=DB_ENV_VAR,
        metavar="URL",
        show_envvar=True,
        callback=_check_db,
        help="Database URL: sqlite:///PATH or postgresql://...",
    ),
]

TenantOption = Annotated[
    str,
    typer.Option(
        "--tenant",
        envvar=TENANT_ENV_VAR,
        metavar="TENANT",
        show_envvar=True,
        callback=_check_tenant,
        help="Tenant to act on.",
    ),
]

JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print exactly one JSON document on stdout."),
]
