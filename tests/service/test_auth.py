"""Authentication, tenant resolution and permission checks (HTTP_API 3) on every backend."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from decisiongraph.domain.clock import format_rfc3339, utc_now
from decisiongraph.errors import DecisionGraphError, Forbidden, InvalidArgument, Unauthorized
from decisiongraph.projections.tables import Sql
from decisiongraph.service import account_tables
from decisiongraph.service.accounts import Accounts, ApiKey
from decisiongraph.service.audit import AuditLog
from decisiongraph.service.auth import (
    Authenticator,
    Principal,
    hash_secret,
    is_well_formed_credential,
    issue_credentials,
    require_permission,
    resolve_tenant,
)
from decisiongraph.service.permissions import (
    ACCOUNTS_MANAGE,
    EVENTS_WRITE,
    ROLE_PERMISSIONS,
    TRACES_READ,
)
from decisiongraph.store.base import SqlEventStore
from tests.service.conftest import Rows

TOKEN = re.compile(r"dg_[a-z0-9]{16}_[A-Za-z0-9_-]{43}")


def _bearer(token: str | None) -> str:
    assert token is not None
    return f"Bearer {token}"


def _unauthorized_message(authenticator: Authenticator, header: str | None) -> str:
    with pytest.raises(Unauthorized) as caught:
        authenticator.authenticate(header)
    assert caught.value.details == {}
    return caught.value.message


@pytest.fixture
def authenticator(store: SqlEventStore) -> Authenticator:
    return Authenticator(store)


# ------------------------------------------------------------------ credentials


def test_issued_credentials_have_the_spec_format() -> None:
    issued = [issue_credentials() for _ in range(200)]
    for credentials in issued:
        assert TOKEN.fullmatch(credentials.token)
        assert credentials.token == f"dg_{credentials.key_id}_{credentials.secret}"
        assert len(credentials.secret) == 43
        assert credentials.secret not in repr(credentials)
    assert len({c.key_id for c in issued}) == len(issued)
    assert hash_secret("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# ------------------------------------------------------------------ authenticate


def test_a_valid_key_gives_its_principal(accounts: Accounts, authenticator: Authenticator) -> None:
    account, key = accounts.create_account(
        "ingest",
        "writer",
        ["beta", "acme"],
        permissions=[EVENTS_WRITE, TRACES_READ],
        rate_limits={"write": 10},
    )

    principal = authenticator.authenticate(_bearer(key.token))

    assert principal == Principal(
        account_id=account.account_id,
        key_id=key.key_id,
        name="ingest",
        role="writer",
        tenants=frozenset({"acme", "beta"}),
        permissions=frozenset({EVENTS_WRITE, TRACES_READ}),
        rate_limits={"write": 10},
    )
    assert principal.has(EVENTS_WRITE)
    assert not principal.has("graph:read")
    assert not principal.all_tenants
    assert hash(principal) == hash(principal)  # usable as a dict key despite rate_limits
    # The scheme is case-insensitive (RFC 7235).
    assert authenticator.authenticate(f"bearer  {key.token}").key_id == key.key_id


def test_a_secret_with_underscores_splits_at_the_first_two(
    store: SqlEventStore, accounts: Accounts, authenticator: Authenticator
) -> None:
    account, _ = accounts.create_account("ingest", "writer", ["acme"])
    secret = "a_b_c" + "x" * 38
    key = ApiKey("k0k1k2k3k4k5k6k7", account.account_id, account.created_at, None, None, None, None)
    with store.transaction() as conn:
        account_tables.insert_key(Sql(conn, store.dialect), key, hash_secret(secret))

    principal = authenticator.authenticate(f"Bearer dg_{key.key_id}_{secret}")

    assert principal.key_id == key.key_id


def _tamper(token: str) -> str:
    """The same key id with another (well-formed) secret."""
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Basic dg_aaaaaaaaaaaaaaaa_" + "a" * 43,
        "Bearer dg_aaaaaaaaaaaaaaaa_" + "a" * 42,  # short secret
        "Bearer dg_aaaaaaaaaaaaaaaa_" + "a" * 44,  # long secret
        "Bearer dg_AAAAAAAAAAAAAAAA_" + "a" * 43,  # upper-case key id
        "Bearer dg_aaaaaaaaaaaaaaa_" + "a" * 44,  # 15-character key id
        "Bearer xx_aaaaaaaaaaaaaaaa_" + "a" * 43,
        "Bearer dg_aaaaaaaaaaaaaaaa_" + "a" * 42 + "=",
        "Bearer dg_aaaaaaaaaaaaaaaa_" + "a" * 43 + " extra",
    ],
)
def test_malformed_headers_are_unauthorized(authenticator: Authenticator, header: str) -> None:
    _unauthorized_message(authenticator, header)


def test_every_bad_key_gets_the_same_answer(
    accounts: Accounts, authenticator: Authenticator, execute: Callable[..., None]
) -> None:
    account, key = accounts.create_account("ingest", "writer", ["acme"])
    assert key.token is not None
    revoked = accounts.create_key(account.account_id)
    accounts.revoke_key(account.account_id, revoked.key_id)
    expired = accounts.create_key(account.account_id)
    past = format_rfc3339(utc_now() - timedelta(seconds=1))
    execute("UPDATE dg_api_keys SET expires_at = %s WHERE key_id = %s", (past, expired.key_id))
    other, disabled = accounts.create_account("gone", "writer", ["acme"])
    accounts.disable_account(other.account_id)
    unknown = issue_credentials().token

    messages = {
        name: _unauthorized_message(authenticator, header)
        for name, header in {
            "malformed": "Bearer dg_nope",
            "unknown": _bearer(unknown),
            "wrong secret": _bearer(_tamper(key.token)),
            "revoked": _bearer(revoked.token),
            "expired": _bearer(expired.token),
            "disabled account": _bearer(disabled.token),
        }.items()
    }

    assert len(set(messages.values())) == 1, messages
    assert authenticator.authenticate(_bearer(key.token)).key_id == key.key_id
    assert _unauthorized_message(authenticator, None)  # missing: its own message


def test_revocation_takes_effect_on_the_next_request(
    accounts: Accounts, authenticator: Authenticator
) -> None:
    account, key = accounts.create_account("ingest", "writer", ["acme"])
    authenticator.authenticate(_bearer(key.token))

    accounts.revoke_key(account.account_id, key.key_id)

    _unauthorized_message(authenticator, _bearer(key.token))


def test_last_used_at_is_written_at_most_once_a_minute(
    store: SqlEventStore,
    accounts: Accounts,
    rows: Rows,
    execute: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, key = accounts.create_account("ingest", "writer", ["acme"])
    header = _bearer(key.token)
    writes: list[str] = []
    original = account_tables.touch_key

    def counting(sql: Sql, key_id: str, at: str, cutoff: str) -> None:
        writes.append(at)
        original(sql, key_id, at, cutoff)

    monkeypatch.setattr(account_tables, "touch_key", counting)

    def last_used() -> Any:
        return rows("SELECT last_used_at FROM dg_api_keys WHERE key_id = %s", (key.key_id,))[0][0]

    first = Authenticator(store)
    first.authenticate(header)
    written = last_used()
    assert written is not None
    assert writes == [written]

    for _ in range(3):
        first.authenticate(header)
    Authenticator(store).authenticate(header)  # another process: it reads the recent value
    assert last_used() == written
    assert len(writes) == 1

    a_while_ago = format_rfc3339(utc_now() - timedelta(seconds=61))
    execute("UPDATE dg_api_keys SET last_used_at = %s", (a_while_ago,))
    first.authenticate(header)  # this process wrote less than a minute ago: no write
    assert last_used() == a_while_ago
    assert len(writes) == 1
    Authenticator(store).authenticate(header)
    assert last_used() > written
    assert len(writes) == 2


# ------------------------------------------------------------------ tenant resolution

ONE = Principal("sa_1", "k1", "one", "reader", frozenset({"acme"}), frozenset({TRACES_READ}))
SEVERAL = Principal(
    "sa_2", "k2", "two", "reader", frozenset({"acme", "beta"}), frozenset({TRACES_READ})
)
ALL = Principal("sa_3", "k3", "all", "reader", frozenset({"*"}), frozenset({TRACES_READ}))


@pytest.mark.parametrize(
    ("principal", "header", "expected"),
    [
        (ONE, None, "acme"),
        (ONE, "acme", "acme"),
        (ONE, "beta", Forbidden),
        (SEVERAL, None, InvalidArgument),
        (SEVERAL, "beta", "beta"),
        (SEVERAL, "gamma", Forbidden),
        (ALL, None, InvalidArgument),
        (ALL, "anything.at_all-1", "anything.at_all-1"),
    ],
)
def test_tenant_resolution_table(
    principal: Principal, header: str | None, expected: str | type[DecisionGraphError]
) -> None:
    if isinstance(expected, str):
        assert resolve_tenant(principal, header) == expected
        return
    with pytest.raises(expected) as caught:
        resolve_tenant(principal, header)
    if expected is Forbidden:
        assert caught.value.details == {"tenant_id": header}
    else:
        (error,) = caught.value.details["errors"]
        assert (error["location"], error["path"]) == ("header", "X-Tenant-Id")


@pytest.mark.parametrize("principal", [ONE, SEVERAL, ALL])
@pytest.mark.parametrize("header", ["", "*", "-acme", "a b", "x" * 65, "acme\x00"])
def test_a_malformed_tenant_header_is_invalid_for_every_binding(
    principal: Principal, header: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        resolve_tenant(principal, header)
    assert caught.value.details["errors"][0]["path"] == "X-Tenant-Id"


def test_a_tenant_denial_is_audited_under_the_refused_tenant(audit: AuditLog) -> None:
    with pytest.raises(Forbidden) as caught:
        resolve_tenant(ONE, "beta")

    audit.record_tenant_denied(
        ONE, caught.value.details["tenant_id"], "/api/v1/traces/{trace_id}", "req-1", "10.0.0.1"
    )

    (entry,) = audit.list_entries("beta")
    assert entry.to_dict() | {"audit_id": 0, "at": ""} == {
        "audit_id": 0,
        "at": "",
        "tenant_id": "beta",
        "account_id": "sa_1",
        "request_id": "req-1",
        "action": "tenant.denied",
        "target": "/api/v1/traces/{trace_id}",
        "reason": None,
        "outcome": "denied",
        "client_address": "10.0.0.1",
        "details": {"key_id": "k1"},
    }
    assert audit.list_entries("acme") == []


# ------------------------------------------------------------------ permissions


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        ("reader", TRACES_READ, True),
        ("reader", EVENTS_WRITE, False),
        ("writer", EVENTS_WRITE, True),
        ("writer", ACCOUNTS_MANAGE, False),
        ("admin", ACCOUNTS_MANAGE, True),
    ],
)
def test_require_permission(role: str, permission: str, allowed: bool) -> None:
    principal = Principal("sa", "k", "n", role, frozenset({"acme"}), ROLE_PERMISSIONS[role])
    if allowed:
        require_permission(principal, permission)
        return
    with pytest.raises(Forbidden) as caught:
        require_permission(principal, permission)
    assert caught.value.details == {"required_permission": permission}


def test_narrowed_accounts_lose_the_other_permissions(
    accounts: Accounts, authenticator: Authenticator
) -> None:
    _, key = accounts.create_account("auditor", "admin", ["*"], permissions=["audit:read"])

    principal = authenticator.authenticate(_bearer(key.token))

    assert principal.all_tenants
    require_permission(principal, "audit:read")
    with pytest.raises(Forbidden):
        require_permission(principal, ACCOUNTS_MANAGE)


def test_well_formed_credentials_are_told_apart_without_a_lookup() -> None:
    token = issue_credentials().token
    assert is_well_formed_credential(f"Bearer {token}")
    assert is_well_formed_credential(f"bearer  {token} ")
    for header in (None, "", "Bearer", f"Basic {token}", "Bearer dg_short_x", f"Bearer {token}x"):
        assert not is_well_formed_credential(header), header
