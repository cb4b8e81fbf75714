"""``decisiongraph accounts create|list``: the bootstrap of the first admin (HTTP_API 3.2)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from decisiongraph.service.audit import AuditLog
from decisiongraph.service.auth import Authenticator
from decisiongraph.store.factory import open_store
from tests.cli.helpers import Cli

TOKEN = re.compile(r"dg_([a-z0-9]{16})_([A-Za-z0-9_-]{43})")
ACCOUNT_FIELDS = {
    "account_id", "name", "role", "tenants", "permissions", "effective_permissions",
    "rate_limits", "status", "created_at", "created_by", "disabled_at", "keys",
}  # fmt: skip
KEY_FIELDS = {
    "key_id", "account_id", "prefix", "status", "created_at", "created_by", "expires_at",
    "last_used_at", "revoked_at",
}  # fmt: skip


def _create(cli: Cli, db_url: str, *args: str) -> dict[str, Any]:
    result = cli.ok("accounts", "create", *args, "--db", db_url, "--json")
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_create_json_is_exactly_the_creation_data(cli: Cli, db_url: str, db_path: Path) -> None:
    args = ["root", "--role", "admin", "--tenant", "acme"]
    result = cli.ok("accounts", "create", *args, "--db", db_url, "--json")

    assert db_path.is_file()  # created like migrate
    document = json.loads(result.stdout)
    assert set(document) == {"account", "key"}
    account, key = document["account"], document["key"]
    assert set(account) == ACCOUNT_FIELDS
    assert set(key) == KEY_FIELDS | {"token"}
    assert (account["name"], account["role"], account["tenants"]) == ("root", "admin", ["acme"])
    assert (account["permissions"], account["rate_limits"], account["created_by"]) == (
        None,
        None,
        None,
    )
    assert len(account["effective_permissions"]) == 10
    assert account["keys"] == [{k: v for k, v in key.items() if k != "token"}]
    match = TOKEN.fullmatch(key["token"])
    assert match is not None
    assert match[1] == key["key_id"]
    assert key["prefix"] == f"dg_{key['key_id']}"
    assert (key["status"], key["account_id"]) == ("active", account["account_id"])
    assert "shown only once" in result.stderr

    store = open_store(db_url)
    try:
        principal = Authenticator(store).authenticate(f"Bearer {key['token']}")
        (entry,) = AuditLog(store).list_entries("acme")
    finally:
        store.close()
    assert principal.account_id == account["account_id"]
    assert (entry.action, entry.account_id, entry.request_id, entry.target) == (
        "account.create",
        None,
        None,
        account["account_id"],
    )
    assert entry.details["via"] == "cli"


def test_create_text_prints_the_key_once_with_a_warning(cli: Cli, db_url: str) -> None:
    result = cli.ok(
        "accounts", "create", "ops", "--role", "writer", "--tenant", "b", "--tenant", "a",
        "--db", db_url,
    )  # fmt: skip

    tokens = TOKEN.findall(result.stdout)
    assert len(tokens) == 1
    assert "'ops'" in result.stdout
    assert "writer" in result.stdout
    assert "a, b" in result.stdout
    assert "shown only once" in result.stderr
    listed = cli.ok("accounts", "list", "--db", db_url)
    assert tokens[0][1] not in listed.stdout


def test_all_tenant_accounts_are_audited_under_star(cli: Cli, db_url: str) -> None:
    document = _create(cli, db_url, "root", "--role", "admin", "--tenant", "*")

    assert document["account"]["tenants"] == ["*"]
    store = open_store(db_url)
    try:
        (entry,) = AuditLog(store).list_entries("*")
    finally:
        store.close()
    assert entry.details["tenants"] == ["*"]


def test_a_taken_name_exits_1_and_is_audited_as_rejected(cli: Cli, db_url: str) -> None:
    _create(cli, db_url, "root", "--role", "admin", "--tenant", "acme")

    result = cli(
        "accounts", "create", "root", "--role", "reader", "--tenant", "acme", "--db", db_url
    )

    assert result.exit_code == 1
    assert "DG_ERR_CONFLICT" in result.stderr
    assert result.stdout == ""
    store = open_store(db_url)
    try:
        entries = AuditLog(store).list_entries("acme")
    finally:
        store.close()
    assert [(e.outcome, e.details.get("reason")) for e in entries] == [
        ("rejected", "name_taken"),
        ("succeeded", None),
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["--role", "owner", "--tenant", "acme"],
        ["--role", "admin"],
        ["--role", "admin", "--tenant", "bad tenant"],
        ["--role", "admin", "--tenant", "*", "--tenant", "acme"],
    ],
)
def test_bad_arguments_exit_2(cli: Cli, db_url: str, db_path: Path, args: list[str]) -> None:
    result = cli("accounts", "create", "root", *args, "--db", db_url)

    assert result.exit_code == 2, result.stderr
    assert not db_path.exists()


def test_list_json_orders_accounts_and_never_shows_secrets(cli: Cli, db_url: str) -> None:
    first = _create(cli, db_url, "first", "--role", "admin", "--tenant", "*")
    second = _create(cli, db_url, "second", "--role", "reader", "--tenant", "acme")

    listed = json.loads(cli.ok("accounts", "list", "--db", db_url, "--json").stdout)

    assert listed == [first["account"], second["account"]]
    assert "token" not in json.dumps(listed)


def test_list_text_and_empty_database(cli: Cli, db_url: str) -> None:
    cli.ok("migrate", "--db", db_url)
    assert cli.ok("accounts", "list", "--db", db_url).stdout == "No service accounts.\n"
    assert json.loads(cli.ok("accounts", "list", "--db", db_url, "--json").stdout) == []

    _create(cli, db_url, "ingest", "--role", "writer", "--tenant", "acme")
    table = cli.ok("accounts", "list", "--db", db_url).stdout
    assert "ingest" in table
    assert "writer" in table
    assert "1/1" in table


def test_list_does_not_create_a_database(cli: Cli, db_url: str, db_path: Path) -> None:
    result = cli("accounts", "list", "--db", db_url)

    assert result.exit_code == 1
    assert "DG_ERR_STORAGE" in result.stderr
    assert not db_path.exists()


@pytest.mark.postgres
def test_create_and_list_on_postgres(cli: Cli, pg_url: str) -> None:
    created = _create(cli, pg_url, "root", "--role", "admin", "--tenant", "*")

    listed = json.loads(cli.ok("accounts", "list", "--db", pg_url, "--json").stdout)

    assert listed == [created["account"]]
    store = open_store(pg_url)
    try:
        principal = Authenticator(store).authenticate(f"Bearer {created['key']['token']}")
    finally:
        store.close()
    assert principal.all_tenants
