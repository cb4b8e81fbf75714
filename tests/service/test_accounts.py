"""Service accounts and keys (HTTP_API 2.14, 3.1, 3.2, 5, 6.8) on every backend."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from decisiongraph.domain.clock import format_rfc3339, utc_now
from decisiongraph.errors import Conflict, InvalidArgument, NotFound, StorageError
from decisiongraph.service import accounts as accounts_module
from decisiongraph.service.accounts import Accounts
from decisiongraph.service.audit import AuditLog
from decisiongraph.service.audit import insert_entry as original
from decisiongraph.service.permissions import (
    ALL_PERMISSIONS,
    EVENTS_WRITE,
    ROLE_PERMISSIONS,
    TRACES_READ,
    effective_permissions,
)
from decisiongraph.store.base import SqlEventStore
from tests.service.conftest import Rows

TOKEN = re.compile(r"dg_([a-z0-9]{16})_([A-Za-z0-9_-]{43})")
ACCOUNT_FIELDS = [
    "account_id", "name", "role", "tenants", "permissions", "effective_permissions",
    "rate_limits", "status", "created_at", "created_by", "disabled_at", "keys",
]  # fmt: skip
KEY_FIELDS = [
    "key_id", "account_id", "prefix", "status", "created_at", "created_by", "expires_at",
    "last_used_at", "revoked_at",
]  # fmt: skip
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def _in(seconds: float) -> str:
    return format_rfc3339(utc_now() + timedelta(seconds=seconds))


# ------------------------------------------------------------------ permissions


def test_role_sets_follow_the_permission_table() -> None:
    reader = {"traces:read", "graph:read", "precedents:read", "health:read", "events:stream"}
    assert ROLE_PERMISSIONS["reader"] == reader
    assert ROLE_PERMISSIONS["writer"] == reader | {"events:write"}
    assert ROLE_PERMISSIONS["admin"] == set(ALL_PERMISSIONS)
    assert len(ALL_PERMISSIONS) == 10
    assert effective_permissions("writer") == ROLE_PERMISSIONS["writer"]


@pytest.mark.parametrize(
    ("role", "explicit"),
    [
        ("reader", [EVENTS_WRITE]),  # beyond the role
        ("writer", ["accounts:manage", TRACES_READ]),
        ("admin", []),  # empty
        ("admin", ["events:delete"]),  # unknown
        ("admin", "traces:read"),  # a string, not a list
        ("owner", None),  # unknown role
    ],
)
def test_explicit_permissions_can_only_narrow(role: str, explicit: Any) -> None:
    with pytest.raises(InvalidArgument) as caught:
        effective_permissions(role, explicit)
    assert caught.value.details["errors"][0]["location"] == "body"


def test_narrowing_keeps_a_subset() -> None:
    assert effective_permissions("writer", [EVENTS_WRITE, EVENTS_WRITE]) == {EVENTS_WRITE}


# ------------------------------------------------------------------ create


def test_create_account_returns_the_objects_of_the_spec(accounts: Accounts) -> None:
    account, key = accounts.create_account(
        "ingest", "writer", ["acme", "beta", "acme"], rate_limits={"write": 100}
    )
    data, key_data = account.to_dict(), key.to_dict()

    assert list(data) == ACCOUNT_FIELDS
    assert list(key_data) == [*KEY_FIELDS, "token"]
    assert data["tenants"] == ["acme", "beta"]
    assert data["permissions"] is None
    assert data["effective_permissions"] == [
        p for p in ALL_PERMISSIONS if p in ROLE_PERMISSIONS["writer"]
    ]
    assert data["rate_limits"] == {"write": 100}
    assert (data["status"], data["created_by"], data["disabled_at"]) == ("active", None, None)
    assert TIMESTAMP.fullmatch(data["created_at"])
    # The account's key list never carries the secret; only the creation result does.
    assert data["keys"] == [{k: v for k, v in key_data.items() if k != "token"}]
    assert key_data["status"] == "active"
    assert key_data["prefix"] == f"dg_{key.key_id}"
    match = TOKEN.fullmatch(key_data["token"])
    assert match is not None
    assert match[1] == key.key_id
    assert "token" not in repr(key)
    assert key_data["token"] not in repr(key)
    assert accounts.get_account(account.account_id) == account


def test_only_the_hash_of_the_secret_is_stored(accounts: Accounts, rows: Rows) -> None:
    account, key = accounts.create_account("ingest", "writer", ["acme"])
    assert key.token is not None
    secret = key.token.split("_", 2)[2]

    (stored,) = rows("SELECT * FROM dg_api_keys WHERE key_id = %s", (key.key_id,))
    assert hashlib.sha256(secret.encode()).hexdigest() in stored
    everything = json.dumps(
        [rows(f"SELECT * FROM {t}") for t in ("dg_service_accounts", "dg_api_keys", "dg_audit_log")]
    )
    assert secret not in everything
    assert key.token not in json.dumps(accounts.get_account(account.account_id).to_dict())


def test_the_account_its_key_and_its_audit_entry_are_one_transaction(
    accounts: Accounts, audit: AuditLog, rows: Rows, monkeypatch: pytest.MonkeyPatch
) -> None:
    account, key = accounts.create_account(
        "ingest", "writer", ["acme"], created_by="sa_admin", tenant_id="acme", request_id="r-1"
    )
    (entry,) = audit.list_entries("acme")
    assert entry.to_dict() == {
        "audit_id": entry.audit_id,
        "at": account.created_at,
        "tenant_id": "acme",
        "account_id": "sa_admin",
        "request_id": "r-1",
        "action": "account.create",
        "target": account.account_id,
        "reason": None,
        "outcome": "succeeded",
        "client_address": None,
        "details": {
            "name": "ingest",
            "role": "writer",
            "tenants": ["acme"],
            "permissions": None,
            "key_id": key.key_id,
            "via": "api",
        },
    }

    # The audit write fails after the account and key rows: nothing at all remains.
    def failing(*args: Any, **kwargs: Any) -> int:
        original(*args, **kwargs)
        raise StorageError("audit write failed")

    monkeypatch.setattr(accounts_module, "insert_entry", failing)
    with pytest.raises(StorageError):
        accounts.create_account("second", "reader", ["acme"])
    assert [r[0] for r in rows("SELECT name FROM dg_service_accounts")] == ["ingest"]
    assert len(rows("SELECT key_id FROM dg_api_keys")) == 1
    assert len(rows("SELECT audit_id FROM dg_audit_log")) == 1


def test_a_taken_name_is_a_conflict_and_writes_nothing(accounts: Accounts, rows: Rows) -> None:
    accounts.create_account("ingest", "writer", ["acme"])

    with pytest.raises(Conflict) as caught:
        accounts.create_account("ingest", "admin", ["*"])

    assert caught.value.details == {"reason": "name_taken"}
    assert len(rows("SELECT account_id FROM dg_service_accounts")) == 1
    assert len(rows("SELECT key_id FROM dg_api_keys")) == 1
    assert len(rows("SELECT audit_id FROM dg_audit_log")) == 1


@pytest.mark.parametrize(
    ("arguments", "path"),
    [
        ({"name": ""}, "$.name"),
        ({"name": "x" * 101}, "$.name"),
        ({"name": "nul\x00"}, "$.name"),
        ({"role": "owner"}, "$.role"),
        ({"tenants": []}, "$.tenants"),
        ({"tenants": "acme"}, "$.tenants"),
        ({"tenants": ["acme", "bad tenant"]}, "$.tenants[1]"),
        ({"tenants": ["*", "acme"]}, "$.tenants[0]"),
        ({"permissions": []}, "$.permissions"),
        ({"permissions": ["accounts:manage"]}, "$.permissions"),
        ({"rate_limits": {"reads": 5}}, "$.rate_limits.reads"),
        ({"rate_limits": {"read": 0}}, "$.rate_limits.read"),
        ({"rate_limits": {"read": True}}, "$.rate_limits.read"),
        ({"key_expires_at": "tomorrow"}, "$.key_expires_at"),
        ({"key_expires_at": "2001-01-01T00:00:00Z"}, "$.key_expires_at"),
    ],
)
def test_invalid_arguments_name_the_member(
    accounts: Accounts, rows: Rows, arguments: dict[str, Any], path: str
) -> None:
    call: dict[str, Any] = {"name": "n", "role": "writer", "tenants": ["acme"], **arguments}
    name, role, tenants = call.pop("name"), call.pop("role"), call.pop("tenants")

    with pytest.raises(InvalidArgument) as caught:
        accounts.create_account(name, role, tenants, **call)

    assert caught.value.details["errors"][0]["path"] == path
    assert rows("SELECT account_id FROM dg_service_accounts") == []


def test_explicit_permissions_and_all_tenants_are_stored(accounts: Accounts) -> None:
    expires = _in(3600)
    account, key = accounts.create_account(
        "reporting",
        "admin",
        ["*"],
        permissions=["audit:read", TRACES_READ, "audit:read"],
        key_expires_at=expires,
    )

    stored = accounts.get_account(account.account_id)
    assert stored.tenants == ("*",)
    assert stored.permissions == (TRACES_READ, "audit:read")  # the spec's order
    assert stored.effective_permissions == [TRACES_READ, "audit:read"]
    assert key.expires_at == expires


def test_an_expiry_with_an_offset_is_stored_in_utc(accounts: Accounts) -> None:
    _, key = accounts.create_account(
        "later", "reader", ["acme"], key_expires_at="2999-01-01T02:00:00+02:00"
    )
    assert key.expires_at == "2999-01-01T00:00:00.000000Z"


def test_racing_creations_of_one_name_give_one_account(accounts: Accounts) -> None:
    def create(_: int) -> str:
        try:
            accounts.create_account("contested", "reader", ["acme"])
        except Conflict as error:
            return str(error.details["reason"])
        return "created"

    with ThreadPoolExecutor(8) as pool:
        outcomes = sorted(pool.map(create, range(8)))

    assert outcomes == ["created"] + ["name_taken"] * 7
    assert [a.name for a in accounts.list_accounts()] == ["contested"]


# ------------------------------------------------------------------ audit tenant


@pytest.mark.parametrize(
    ("tenants", "tenant_id", "expected"),
    [
        (["acme"], None, "acme"),
        (["acme", "beta"], None, "*"),
        (["*"], None, "*"),
        (["acme", "beta"], "beta", "beta"),
    ],
)
def test_audit_tenant_of_a_creation(
    accounts: Accounts,
    audit: AuditLog,
    tenants: list[str],
    tenant_id: str | None,
    expected: str,
) -> None:
    accounts.create_account("n", "reader", tenants, via="cli", tenant_id=tenant_id)

    (entry,) = audit.list_entries(expected)
    assert entry.account_id is None
    assert entry.details["via"] == "cli"


# ------------------------------------------------------------------ keys


def test_key_limit_counts_active_keys_only(
    accounts: Accounts, execute: Callable[..., None]
) -> None:
    account, first = accounts.create_account("ingest", "writer", ["acme"])
    keys = [first] + [accounts.create_key(account.account_id) for _ in range(4)]

    with pytest.raises(Conflict) as caught:
        accounts.create_key(account.account_id)
    assert caught.value.details["reason"] == "key_limit"

    accounts.revoke_key(account.account_id, keys[0].key_id)
    accounts.create_key(account.account_id)
    execute("UPDATE dg_api_keys SET expires_at = %s WHERE key_id = %s", (_in(-1), keys[1].key_id))
    rotated = accounts.create_key(account.account_id, _in(60))

    statuses = [k.status for k in accounts.get_account(account.account_id).keys]
    assert sorted(statuses) == ["active"] * 5 + ["expired", "revoked"]
    assert rotated.token is not None
    assert rotated.expires_at is not None
    assert all(k.key_id != rotated.key_id or k.token is None for k in keys)


def test_racing_rotations_respect_the_key_limit(accounts: Accounts) -> None:
    account, _ = accounts.create_account("ingest", "writer", ["acme"])

    def rotate(_: int) -> str:
        try:
            accounts.create_key(account.account_id)
        except Conflict as error:
            return str(error.details["reason"])
        return "created"

    with ThreadPoolExecutor(8) as pool:
        outcomes = sorted(pool.map(rotate, range(8)))

    assert outcomes == ["created"] * 4 + ["key_limit"] * 4
    assert len(accounts.get_account(account.account_id).keys) == 5


def test_the_key_limit_is_configurable(store: SqlEventStore) -> None:
    accounts = Accounts(store, max_active_keys=1)
    account, _ = accounts.create_account("ingest", "writer", ["acme"])
    with pytest.raises(Conflict) as caught:
        accounts.create_key(account.account_id)
    assert caught.value.details == {"reason": "key_limit", "limit": 1}


def test_keys_of_unknown_accounts_are_not_found(accounts: Accounts) -> None:
    with pytest.raises(NotFound) as caught:
        accounts.create_key("sa_nope")
    assert caught.value.details == {"resource": "service_account"}
    with pytest.raises(NotFound):
        accounts.get_account("sa_nope")


def test_revoke_is_idempotent_and_scoped_to_the_account(
    accounts: Accounts, audit: AuditLog
) -> None:
    account, key = accounts.create_account("ingest", "writer", ["acme"])
    other, other_key = accounts.create_account("other", "writer", ["acme"])

    revoked = accounts.revoke_key(account.account_id, key.key_id, revoked_by="sa_admin")
    again = accounts.revoke_key(account.account_id, key.key_id)

    assert revoked.status == "revoked"
    assert revoked.revoked_at is not None
    assert again == revoked
    with pytest.raises(NotFound) as caught:
        accounts.revoke_key(account.account_id, other_key.key_id)
    assert caught.value.details == {"resource": "api_key"}
    entries = [e for e in audit.list_entries("acme") if e.action == "key.revoke"]
    assert [e.details["already_revoked"] for e in entries] == [True, False]  # newest first
    assert entries[1].account_id == "sa_admin"
    assert entries[1].target == key.key_id
    assert other.account_id != account.account_id


def test_revoking_the_requests_own_key_is_a_self_lockout(accounts: Accounts) -> None:
    account, key = accounts.create_account("ingest", "writer", ["acme"])
    with pytest.raises(Conflict) as caught:
        accounts.revoke_key(account.account_id, key.key_id, acting_key_id=key.key_id)
    assert caught.value.details == {"reason": "self_lockout"}
    assert accounts.get_account(account.account_id).keys[0].status == "active"


def test_disable_revokes_the_keys_and_blocks_new_ones(accounts: Accounts, audit: AuditLog) -> None:
    account, key = accounts.create_account("ingest", "writer", ["acme"])

    disabled = accounts.disable_account(account.account_id, disabled_by="sa_admin")
    again = accounts.disable_account(account.account_id)

    assert disabled.status == "disabled"
    assert disabled.disabled_at is not None
    assert [k.status for k in disabled.keys] == ["revoked"]
    assert again == disabled
    with pytest.raises(Conflict) as caught:
        accounts.create_key(account.account_id)
    assert caught.value.details == {"reason": "account_disabled"}
    with pytest.raises(Conflict) as lockout:
        accounts.disable_account(account.account_id, disabled_by=account.account_id)
    assert lockout.value.details == {"reason": "self_lockout"}
    entries = [e for e in audit.list_entries("acme") if e.action == "account.disable"]
    assert [e.details["revoked_key_ids"] for e in entries] == [[], [key.key_id]]


# ------------------------------------------------------------------ listing


def test_list_is_ordered_and_filtered(accounts: Accounts) -> None:
    created = [accounts.create_account(f"a{i}", role, ["acme"])[0] for i, role in
               enumerate(["reader", "admin", "reader"])]  # fmt: skip
    accounts.disable_account(created[2].account_id)

    listed = accounts.list_accounts()
    assert [a.account_id for a in listed] == [a.account_id for a in created]
    assert [len(a.keys) for a in listed] == [1, 1, 1]
    assert [a.name for a in accounts.list_accounts(role="reader")] == ["a0", "a2"]
    assert [a.name for a in accounts.list_accounts(role="reader", status="active")] == ["a0"]
    assert accounts.list_accounts(status="disabled")[0].keys[0].status == "revoked"
    with pytest.raises(InvalidArgument):
        accounts.list_accounts(role="owner")


# ------------------------------------------------------------------ audit log


def test_the_audit_log_is_append_only(
    accounts: Accounts, execute: Callable[..., None], rows: Rows
) -> None:
    accounts.create_account("ingest", "writer", ["acme"])
    with pytest.raises(StorageError):
        execute("UPDATE dg_audit_log SET outcome = 'denied'")
    with pytest.raises(StorageError):
        execute("DELETE FROM dg_audit_log")
    assert rows("SELECT outcome FROM dg_audit_log") == [("succeeded",)]


def test_audit_ids_increase_and_refusals_are_recorded(audit: AuditLog) -> None:
    first = audit.record(tenant_id="acme", action="account.list", outcome="denied")
    refusal = Conflict("taken", {"reason": "name_taken"})
    second = audit.record_refusal("account.create", refusal, tenant_id="acme", request_id="r")
    third = audit.record_refusal("key.revoke", NotFound("gone"), tenant_id="*")

    assert first < second < third
    entries = audit.list_entries("acme", include_all_tenants=True)
    assert [e.audit_id for e in entries] == [third, second, first]
    assert (entries[1].outcome, entries[1].details) == (
        "rejected",
        {"error_code": "DG_ERR_CONFLICT", "reason": "name_taken"},
    )
    assert entries[0].outcome == "denied"
    assert [e.audit_id for e in audit.list_entries("acme", before_audit_id=second)] == [first]
