"""``decisiongraph accounts ...``: service accounts of the HTTP service, run against the
database (HTTP_API 3.2). ``accounts create`` is how the first admin is bootstrapped; it
prints the new key once, and the key can never be shown again."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from decisiongraph.cli.options import DEFAULT_DATABASE_URL, DbOption, JsonOption
from decisiongraph.cli.output import (
    exit_on_domain_error,
    stdout_console,
    warn,
    write_json,
    write_stdout,
)
from decisiongraph.cli.stores import opened_store
from decisiongraph.domain.clock import now_rfc3339
from decisiongraph.domain.tenant import TENANT_ID_PATTERN
from decisiongraph.errors import Conflict, InvalidArgument
from decisiongraph.service.accounts import Accounts, ServiceAccount, audit_tenant_for
from decisiongraph.service.audit import AuditLog
from decisiongraph.service.auth import ALL_TENANTS

__all__ = ["accounts_app", "create_command", "list_command"]

#: Width of the table when stdout is not a terminal (a pipe or a file): ids stay whole.
_PIPE_WIDTH = 200
_SHOWN_ONCE = (
    "Store this API key now: it is shown only once and cannot be retrieved again "
    "(create another key if it is lost)."
)

accounts_app = typer.Typer(
    help="Manage the HTTP service's service accounts and API keys.",
    no_args_is_help=True,
)


class Role(StrEnum):
    """The roles of HTTP_API 3.1."""

    reader = "reader"
    writer = "writer"
    admin = "admin"


def _check_tenants(values: list[str]) -> list[str]:
    """Tenant ids without duplicates, or exactly ``['*']``; anything else is a usage
    error (exit 2)."""
    tenants = list(dict.fromkeys(values))
    if ALL_TENANTS in tenants:
        if len(tenants) > 1:
            raise typer.BadParameter("'*' (all tenants) cannot be combined with other tenants")
        return tenants
    for tenant in tenants:
        if TENANT_ID_PATTERN.fullmatch(tenant) is None:
            raise typer.BadParameter(
                f"invalid tenant id {tenant!r}: use 1-64 characters from A-Z a-z 0-9 . _ -, "
                "starting with a letter or digit, or '*' for all tenants"
            )
    return tenants


@accounts_app.command("create")
def create_command(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="Unique account name (1 to 100 characters).")
    ],
    role: Annotated[Role, typer.Option("--role", help="Role of the account.")],
    tenants: Annotated[
        list[str],
        typer.Option(
            "--tenant",
            metavar="TENANT",
            callback=_check_tenants,
            help="Tenant the account is bound to; repeat for several, '*' for all tenants.",
        ),
    ],
    db: DbOption = DEFAULT_DATABASE_URL,
    as_json: JsonOption = False,
) -> None:
    """Create a service account and its first API key, and print the key once.

    Creates the database if needed. Records an account.create audit entry (no acting
    account, details.via "cli"). With --json, prints {"account": ServiceAccount, "key":
    ApiKey}, the key's secret at key.token.
    """
    with exit_on_domain_error(), opened_store(db, create=True) as store:
        try:
            account, key = Accounts(store).create_account(name, role.value, tenants, via="cli")
        except (Conflict, InvalidArgument) as error:
            # Every outcome of account.create is audited (HTTP_API 5); a storage error is
            # not, as the audit write would fail the same way.
            AuditLog(store).record_refusal(
                "account.create",
                error,
                tenant_id=audit_tenant_for(tenants),
                details={"via": "cli", "name": name},
            )
            raise
    now = now_rfc3339()
    if as_json:
        write_json({"account": account.to_dict(now), "key": key.to_dict(now)})
    else:
        write_stdout(
            f"Created service account {account.name!r} ({account.account_id}), role "
            f"{account.role}, tenants: {', '.join(account.tenants)}.\n"
            f"API key {key.key_id}:\n\n    {key.token}\n\n"
        )
    warn(_SHOWN_ONCE)


def _table(accounts: list[ServiceAccount], now: str) -> Table:
    table = Table()
    table.add_column("account_id", no_wrap=True)
    table.add_column("name", overflow="fold")
    table.add_column("role", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("tenants", overflow="fold")
    table.add_column("permissions", overflow="fold")
    table.add_column("active keys", justify="right", no_wrap=True)
    table.add_column("created_at", no_wrap=True)
    for account in accounts:
        active = sum(1 for key in account.keys if key.status_at(now) == "active")
        table.add_row(
            Text(account.account_id),
            Text(account.name),
            Text(account.role),
            Text(account.status),
            Text(", ".join(account.tenants)),
            Text("(role)" if account.permissions is None else ", ".join(account.permissions)),
            Text(f"{active}/{len(account.keys)}"),
            Text(account.created_at),
        )
    return table


@accounts_app.command("list")
def list_command(db: DbOption = DEFAULT_DATABASE_URL, as_json: JsonOption = False) -> None:
    """List every service account, oldest first, with its keys (never their secrets).

    With --json, prints one JSON array of ServiceAccount objects.
    """
    with exit_on_domain_error(), opened_store(db) as store:
        accounts = Accounts(store).list_accounts()
    now = now_rfc3339()
    if as_json:
        write_json([account.to_dict(now) for account in accounts])
        return
    if not accounts:
        write_stdout("No service accounts.\n")
        return
    console = stdout_console()
    if not console.is_terminal:
        console.width = _PIPE_WIDTH
    console.print(_table(accounts, now))
